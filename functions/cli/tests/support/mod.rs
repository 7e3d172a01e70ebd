//! What the CLI's integration tests share: `berth dev` started as a user runs it, the `berth`
//! binary run as a client against it, and polling.

#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Dev {
    /// The `berth dev` process; a test may kill it.
    pub child: Child,
    pub banner: String,
    pub url: String,
}

impl Dev {
    /// Starts `berth dev` and waits (at most 30 s) for its banner.
    pub fn start(state: &Path) -> Self {
        Self::start_with(state, &[], &[])
    }

    /// Starts `berth dev` reading the Kubernetes API at `kube_url` with `kube_token` (through a
    /// kubeconfig in `state`), sweeping every second.
    pub fn start_sweeping(state: &Path, kube_url: &str, kube_token: &str) -> Self {
        Self::start_sweeping_with(state, kube_url, kube_token, &[])
    }

    /// [`Dev::start_sweeping`] with more environment variables (tokens besides the admin's).
    pub fn start_sweeping_with(
        state: &Path,
        kube_url: &str,
        kube_token: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let kubeconfig = kubeconfig(state, kube_url, kube_token);
        let mut env = env.to_vec();
        env.push(("KUBECONFIG", kubeconfig.to_str().unwrap()));
        Self::start_with(state, &["--sweep-every", "1"], &env)
    }

    /// Starts `berth dev` with extra arguments and environment variables; the environment names
    /// no cluster unless `env` does.
    pub fn start_with(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--state")
            .arg(state)
            .arg("--project")
            .arg(&project)
            .args(args)
            .env("HOME", state)
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("BERTH_KUBE_SERVER")
            .env_remove("BERTH_KUBE_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start berth dev");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        while let Ok(line) = received.recv_timeout(Duration::from_secs(30)) {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Cluster:") {
                break;
            }
        }
        assert!(
            banner.contains("Berth dev is serving"),
            "no banner: {banner}"
        );
        Self {
            child,
            banner,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON answer of `GET url` with `token`; `null` when the answer is not JSON.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    response.json().await.unwrap_or_default()
}

/// GETs `url` every 200 ms until `done` holds for the body (at most 30 s); returns that body.
pub async fn poll_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..150 {
        last = get_json(client, url, token).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} never answered as expected; last: {last}");
}

/// The admin token `berth dev` keeps in its state folder.
pub fn admin_token(state: &Path) -> String {
    std::fs::read_to_string(state.join("admin-token"))
        .expect("the admin token")
        .trim()
        .to_owned()
}

/// Runs the `berth` binary as a client against `dev` with `token`; returns its exit code and
/// its standard output and error.
pub fn berth(dev: &Dev, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("BERTH_URL", &dev.url)
        .env("BERTH_TOKEN", token)
        .env("NO_COLOR", "1")
        .output()
        .expect("run berth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `berth` binary as a person with a profile would: no `BERTH_URL` or `BERTH_TOKEN`,
/// `home` as their home, `stdin` as what they type. Returns its exit code, stdout and stderr.
pub fn berth_at_home(home: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_remove("BERTH_URL")
        .env_remove("BERTH_TOKEN")
        .env_remove("BERTH_PROFILE")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run berth");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("berth runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A kubeconfig as kubectl reads it, pointing at `server` with a bearer `token`, written into
/// `dir`.
pub fn kubeconfig(dir: &Path, server: &str, token: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters: [{{name: test, cluster: {{server: \"{server}\"}}}}]\n\
             users: [{{name: tester, user: {{token: {token}}}}}]\n\
             contexts: [{{name: test, context: {{cluster: test, user: tester}}}}]\n"
        ),
    )
    .expect("write the kubeconfig");
    path
}
