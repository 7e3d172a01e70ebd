//! The external tools `scripts/test` installs (helm, kubernetes-validate, cfn-lint), found
//! through the variables it exports, and helpers to run them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes version rendered manifests are validated against.
pub const KUBERNETES_VERSION: &str = "1.33.0";

/// The path in `var`, which `scripts/test` exports.
pub fn tool(var: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with scripts/test, which installs the tool")
    });
    PathBuf::from(path)
}

/// Runs a command; panics with its output when it fails; returns standard output.
pub fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `helm template` of `chart` with `value_files` in order, as Argo CD renders an Application.
pub fn helm_template(
    chart: &Path,
    value_files: &[PathBuf],
    release: &str,
    namespace: &str,
) -> String {
    let mut command = Command::new(tool("BERTH_HELM"));
    command
        .args(["template", release])
        .arg(chart)
        .args(["--namespace", namespace]);
    for file in value_files {
        command.arg("-f").arg(file);
    }
    run(&mut command)
}

/// Validates Kubernetes manifests (any number of documents) strictly against the schemas of
/// [`KUBERNETES_VERSION`].
pub fn kubernetes_validate(manifests: &str) {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(file.path(), manifests).expect("write manifests");
    run(Command::new(tool("BERTH_KUBERNETES_VALIDATE"))
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .arg(file.path()));
}
