//! `berth dev` as a user runs it: the real binary, seeding its repository from this project,
//! serving on a loopback port, and picking up its repository, token and store after a restart.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Dev {
    child: Child,
    banner: String,
    url: String,
}

impl Dev {
    /// Starts `berth dev` and waits (at most 30 s) for its banner.
    fn start(state: &Path) -> Self {
        Self::start_with(state, &[], &[])
    }

    /// Starts `berth dev` with extra arguments and environment variables; the environment names
    /// no cluster unless `env` does.
    fn start_with(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
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

#[tokio::test]
async fn berth_dev_seeds_serves_and_survives_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let token = {
        let dev = Dev::start(state.path());
        assert!(
            dev.banner.contains("seeded now from charts/ and tenants/"),
            "{}",
            dev.banner
        );
        let token = std::fs::read_to_string(state.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        assert!(
            dev.banner.contains(&token),
            "the banner shows the token to use"
        );
        assert!(
            dev.banner.contains("curl"),
            "the banner shows example curl lines"
        );
        let response = client
            .post(format!("{}/v1/tenants", dev.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        token
    };
    let log = Command::new("git")
        .arg("--git-dir")
        .arg(state.path().join("repo.git"))
        .args(["log", "--format=%s", "main"])
        .output()
        .unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    assert!(log.starts_with("Create tenant acme"), "{log}");
    assert!(log.ends_with("Seed from the Berth project\n"), "{log}");

    let dev = Dev::start(state.path());
    assert!(dev.banner.contains("(reused)"), "{}", dev.banner);
    assert!(
        dev.banner.contains("Cluster: none. No kubeconfig found"),
        "{}",
        dev.banner
    );
    let health = poll_json(
        &client,
        &format!("{}/v1/cluster/health", dev.url),
        &token,
        |b| {
            b["message"]
                .as_str()
                .is_some_and(|m| m.contains("no cluster is configured"))
        },
    )
    .await;
    assert_eq!(health["status"], "error", "{health}");
    assert!(
        dev.banner.contains("webhook-secrets.env"),
        "the banner says where the webhook secrets are"
    );
    let secrets = std::fs::read_to_string(state.path().join("webhook-secrets.env")).unwrap();
    let argocd = secrets
        .lines()
        .find_map(|l| l.strip_prefix("BERTH_WEBHOOK_SECRETS_ARGOCD="))
        .unwrap();
    let event =
        serde_json::json!({"tenant": "acme", "env": "dev", "health": "Healthy", "sync": "Synced"});
    let delivered = client
        .post(format!("{}/webhooks/argocd", dev.url))
        .bearer_auth(argocd)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(
        delivered.status(),
        200,
        "berth dev serves the webhooks with its kept secrets"
    );
    let refused = client
        .post(format!("{}/webhooks/argocd", dev.url))
        .bearer_auth("wrong-token-0123456789")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let again = std::fs::read_to_string(state.path().join("admin-token")).unwrap();
    assert_eq!(again.trim(), token, "the token is kept");
    let tenants: serde_json::Value = client
        .get(format!("{}/v1/tenants", dev.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tenants["tenants"][0]["name"], "acme",
        "the store survived the restart"
    );
}

/// GETs `url` every 200 ms until `done` holds for the body (at most 30 s); returns that body.
async fn poll_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..150 {
        last = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} never answered as expected; last: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_dev_sweeps_a_cluster_and_moves_requests_to_ready() {
    use berth_tests::fleet;
    let kube = berth_tests::kube_server::KubeServer::start().await;
    let kube_token = "dev-kube-token-0123456789";
    kube.require_token(kube_token);
    let state = tempfile::tempdir().unwrap();
    // A kubeconfig as kubectl reads it, with a bearer token for the user.
    let kubeconfig = state.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters: [{{name: test, cluster: {{server: \"{}\"}}}}]\n\
             users: [{{name: tester, user: {{token: {kube_token}}}}}]\n\
             contexts: [{{name: test, context: {{cluster: test, user: tester}}}}]\n",
            kube.url
        ),
    )
    .unwrap();
    let dev = Dev::start_with(
        state.path(),
        &["--sweep-every", "1"],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert!(
        dev.banner.contains("Cluster: reading kubeconfig"),
        "{}",
        dev.banner
    );
    assert!(
        !dev.banner.contains(kube_token),
        "the banner never shows the cluster token"
    );
    let token = std::fs::read_to_string(state.path().join("admin-token")).unwrap();
    let token = token.trim();
    let client = reqwest::Client::new();
    let record: serde_json::Value = client
        .post(format!("{}/v1/tenants", dev.url))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let commit = record["commit"].as_str().unwrap();
    // Argo CD syncs the commit and the database comes up.
    kube.add(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", None, commit, "Healthy"),
    );
    kube.add(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", Some("postgres"), commit, "Healthy"),
    );
    kube.add(
        fleet::STATEFULSETS,
        fleet::statefulset("acme", "dev", "postgres", 1, 1),
    );
    let url = format!("{}/v1/requests/{}", dev.url, record["id"].as_str().unwrap());
    poll_json(&client, &url, token, |b| b["state"] == "ready").await;
    let health = poll_json(
        &client,
        &format!("{}/v1/cluster/health", dev.url),
        token,
        |b| b["status"] == "ok",
    )
    .await;
    assert_eq!(health["version"], "v1.33.0");
    let status = poll_json(
        &client,
        &format!("{}/v1/tenants/acme/status", dev.url),
        token,
        |b| b["health"] == "healthy",
    )
    .await;
    assert_eq!(status["statuses"][1]["ready"], 1, "{status}");
}
