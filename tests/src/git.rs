//! Real Git repositories for tests: bare repositories seeded with this project's catalog, the
//! `git` CLI to read them back, and `git daemon` serving them on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_core::RepoFiles;

use crate::net::{free_port, wait_for_port};

/// This project's catalog, which seeded repositories carry.
pub const CATALOG: &str = include_str!("../../tenants/catalog.yaml");

/// The project's root folder: the nearest ancestor of this crate holding `charts/` (the tests
/// crate and the bench crate, which includes this file, sit at different depths).
pub fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("charts").is_dir() && dir.join("tenants").is_dir())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// This project's `charts/` and `tenants/catalog.yaml` (not its example tenants), keyed by path.
pub fn project_charts_and_catalog() -> RepoFiles {
    let mut files = RepoFiles::from([(
        "tenants/catalog.yaml".to_owned(),
        CATALOG.as_bytes().to_vec(),
    )]);
    collect(&project_root().join("charts"), "charts", &mut files);
    files
}

fn collect(dir: &Path, prefix: &str, files: &mut RepoFiles) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read a project folder")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let key = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().expect("file type").is_dir() {
            collect(&entry.path(), &key, files);
        } else {
            files.insert(
                key,
                std::fs::read(entry.path()).expect("read a project file"),
            );
        }
    }
}

/// Creates `<dir>/<name>.git`, a bare repository whose `main` holds this project's charts and
/// catalog, as a user's GitOps repository would.
pub fn seed_repo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.git"));
    berth_gitops::seed_bare_repository(&path, "main", &project_charts_and_catalog(), "Seed")
        .expect("seed a bare repository");
    path
}

/// Runs the `git` CLI and returns its standard output; panics with its error output on failure.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git daemon --export-all --enable=receive-pack` on 127.0.0.1, killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    /// Serves every repository under `base` as `git://127.0.0.1:<port>/<name>.git`.
    pub fn start(base: &Path) -> Self {
        let port = free_port();
        // `git daemon` runs `git-daemon` as a child of its own, which killing `git` would leave
        // behind, serving on: run `git-daemon` itself, so the kill on drop stops it.
        let child = Command::new(git_daemon_program())
            .args([
                "--export-all",
                "--enable=receive-pack",
                "--reuseaddr",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        let daemon = Self { child, port };
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "git daemon did not start on port {port}"
        );
        daemon
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }
}

/// `git-daemon` in git's exec path.
fn git_daemon_program() -> std::path::PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon")
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `<dir>/<name>.git` with `commits` commits on main after a root commit holding
/// `tenants/acme/tenant.yaml`: every `every`th changes `tenants/acme/notes.yaml`, the others
/// another tenant's file. Built with `git fast-import`, which takes thousands in a blink.
pub fn long_history(dir: &Path, name: &str, commits: usize, every: usize) -> std::path::PathBuf {
    use std::io::Write;
    let repo = dir.join(format!("{name}.git"));
    git(
        &repo.clone(),
        &["init", "--quiet", "--bare", "--initial-branch=main"],
    );
    let mut stream = String::new();
    for n in 0..=commits {
        let message = format!("change {n}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Pat <pat@acme.test> {} +0000\ndata {}\n{message}",
            1_700_000_000 + n,
            message.len()
        ));
        let (path, text) = match n {
            0 => (
                "tenants/acme/tenant.yaml".to_owned(),
                "name: acme\n".to_owned(),
            ),
            n if n % every == 0 => ("tenants/acme/notes.yaml".to_owned(), format!("n: {n}\n")),
            n => ("tenants/other/x.yaml".to_owned(), format!("n: {n}\n")),
        };
        stream.push_str(&format!(
            "M 100644 inline {path}\ndata {}\n{text}\n",
            text.len()
        ));
    }
    stream.push_str("done\n");
    let mut import = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&repo)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(import.wait().unwrap().success());
    repo
}

/// The commits of `main`'s mainline that changed `folder`, newest first, as `git log` lists them.
pub fn folder_log(repo: &Path, folder: &str) -> Vec<String> {
    git(
        repo,
        &["log", "--first-parent", "--format=%H", "main", "--", folder],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Creates `<dir>/<name>.git` seeded as `berth dev` seeds its repository: this project's
/// charts, catalog and example tenants, as a repository Berth did not write would hold them.
pub fn seed_repo_with_tenants(dir: &Path, name: &str) -> PathBuf {
    let mut files = project_charts_and_catalog();
    collect(&project_root().join("tenants"), "tenants", &mut files);
    let path = dir.join(format!("{name}.git"));
    berth_gitops::seed_bare_repository(&path, "main", &files, "Seed")
        .expect("seed a bare repository");
    path
}

/// Who [`hand_commit`] commits as.
pub const HAND_AUTHOR: (&str, &str) = ("Pat Person", "pat@acme.test");

/// Commits `edit` to `repo`'s main with the `git` CLI as [`HAND_AUTHOR`], as a person would: a
/// clone under `scratch`, an edit, a push. Returns the commit's id.
pub fn hand_commit(repo: &Path, scratch: &Path, message: &str, edit: impl FnOnce(&Path)) -> String {
    let work = scratch.join(format!("hand-{}", ulid::Ulid::new()));
    run_git(
        None,
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    edit(&work);
    run_git(Some(&work), &["add", "-A"]);
    let (name, email) = HAND_AUTHOR;
    run_git(
        Some(&work),
        &[
            "-c",
            &format!("user.name={name}"),
            "-c",
            &format!("user.email={email}"),
            "commit",
            "-q",
            "-m",
            message,
        ],
    );
    run_git(Some(&work), &["push", "-q", "origin", "main"]);
    git(repo, &["rev-parse", "main"]).trim().to_owned()
}

fn run_git(dir: Option<&Path>, args: &[&str]) {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command.args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
