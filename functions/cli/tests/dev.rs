//! `berth dev` as a user runs it: the real binary, seeding its repository from this project,
//! serving on a loopback port, and picking up its repository, token and store after a restart.

mod support;

use std::time::Duration;

use support::{Dev, admin_token, get_json, poll_json};

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
        // The seeded tenants were in Git before Berth: its sweep lists them.
        let listed = poll_json(&client, &format!("{}/v1/tenants", dev.url), &token, |b| {
            b["tenants"].as_array().is_some_and(|t| t.len() == 3)
        })
        .await;
        let names: Vec<&str> = listed["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["globex", "initech", "umbrella"]);
        let response = create_acme(&client, &dev.url, &token).await;
        assert_eq!(response.status(), 202);
        token
    };
    let log = berth_tests::git(
        &state.path().join("repo.git"),
        &["log", "--format=%s", "main"],
    );
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
    // No cluster is a fact about the deployment, not an outage: 200, said plainly.
    assert_eq!(health["status"], "not_configured", "{health}");
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
    let tenants: serde_json::Value =
        get_json(&client, &format!("{}/v1/tenants", dev.url), &token).await;
    assert_eq!(
        tenants["tenants"][0]["name"], "acme",
        "the store survived the restart"
    );
}

/// `berth dev` against GitHub's API (here the GitHub test server): the banner says so, and a
/// tenant created through the API lands on the repository as GitHub's commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_dev_commits_through_githubs_api_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let repo = berth_tests::seed_repo(dir.path(), "origin");
    let github = berth_tests::github::GithubServer::start(repo.clone(), "ghp_dev_test").await;
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let dev = Dev::start_with(
        &state,
        &[],
        &[
            ("BERTH_GIT_BACKEND", "github"),
            ("BERTH_GIT_REMOTE", "https://github.com/acme/gitops"),
            ("BERTH_GITHUB_API_URL", &github.url),
            ("BERTH_GITHUB_TOKEN", "ghp_dev_test"),
        ],
    );
    assert!(
        dev.banner.contains("GitHub's API at") && dev.banner.contains("acme/gitops"),
        "{}",
        dev.banner
    );
    assert!(!dev.banner.contains("ghp_dev_test"), "{}", dev.banner);
    assert!(!state.join("repo.git").exists(), "nothing seeded");
    let token = admin_token(&state);
    let response = create_acme(&reqwest::Client::new(), &dev.url, &token).await;
    assert_eq!(response.status(), 202);
    let log = berth_tests::git(&repo, &["log", "-1", "--format=%an %s", "main"]);
    assert!(
        log.starts_with("berth-test[bot] Create tenant acme"),
        "{log}"
    );
    assert!(github.commit_mutations() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_dev_sweeps_a_cluster_and_moves_requests_to_ready() {
    let kube = berth_tests::kube_server::KubeServer::start().await;
    let kube_token = "dev-kube-token-0123456789";
    kube.require_token(kube_token);
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start_sweeping(state.path(), &kube.url, kube_token);
    assert!(
        dev.banner.contains("Cluster: reading kubeconfig"),
        "{}",
        dev.banner
    );
    assert!(
        !dev.banner.contains(kube_token),
        "the banner never shows the cluster token"
    );
    let token = admin_token(state.path());
    let token = token.as_str();
    let client = reqwest::Client::new();
    let record: serde_json::Value = create_acme(&client, &dev.url, token)
        .await
        .json()
        .await
        .unwrap();
    let commit = record["commit"].as_str().unwrap();
    // Argo CD syncs the commit and the database comes up.
    kube.sync_postgres("acme", "dev", commit, 1, 1);
    let url = format!("{}/v1/requests/{}", dev.url, record["id"].as_str().unwrap());
    poll_json(&client, &url, token, |b| b["state"] == "ready").await;
    let at = |path: &str| format!("{}{path}", dev.url);
    let cluster_read = |b: &serde_json::Value| b["status"] == "ok";
    let health = poll_json(&client, &at("/v1/cluster/health"), token, cluster_read).await;
    assert_eq!(health["version"], "v1.33.0");
    let healthy = |b: &serde_json::Value| b["health"] == "healthy";
    let status = poll_json(&client, &at("/v1/tenants/acme/status"), token, healthy).await;
    assert_eq!(status["statuses"][1]["ready"], 1, "{status}");
}

/// The crash a Lambda timeout or a lost machine makes, on the real binary: 40 keyed creates at
/// once, `berth dev` killed (SIGKILL) 0.2 s in, restarted, and every request retried with its
/// key. Within the lease each key settles on the commit its request landed in; every tenant is
/// on main exactly once; no trailer appears twice; no record stays `accepted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyed_burst_killed_mid_flight_settles_on_retry() {
    const REQUESTS: usize = 40;
    let state = tempfile::tempdir().unwrap();
    // One commit per request, so a kill lands between commits of the same burst: the group
    // commit's holder killed before and after its commit is tests/tests/suite/group_commit.rs.
    let lease = [("BERTH_CLAIM_LEASE", "2s"), ("BERTH_GROUP_COMMIT", "off")];
    let client = reqwest::Client::new();
    let token = {
        let _seed = Dev::start_with(state.path(), &[], &lease);
        std::fs::read_to_string(state.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let create = |url: String, i: usize| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .post(format!("{url}/v1/tenants"))
                .bearer_auth(&token)
                .header("idempotency-key", format!("crash-key-{i}"))
                .json(&serde_json::json!({"name": format!("crash{i:02}"), "tier": "bronze", "envs": ["dev"]}))
                .timeout(Duration::from_secs(30))
                .send()
                .await
        }
    };

    let mut dev = Dev::start_with(state.path(), &[], &lease);
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let burst: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let (answered, request) = (answered.clone(), create(dev.url.clone(), i));
            tokio::spawn(async move {
                let ok = matches!(request.await, Ok(r) if r.status() == 202);
                if ok {
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Killed mid-flight: once a few have answered (0.2 s in, on a release build; longer on a
    // debug build beside other tests), so some requests were answered, some landed unanswered
    // and some never landed.
    for _ in 0..3000 {
        if answered.load(std::sync::atomic::Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    dev.child.kill().unwrap(); // SIGKILL
    dev.child.wait().unwrap();
    for request in burst {
        request.await.unwrap();
    }
    let repo = state.path().join("repo.git");
    let git = |args: &[&str]| berth_tests::git(&repo, args);
    println!(
        "killed with {} of {REQUESTS} answered and {} commits on main",
        answered.load(std::sync::atomic::Ordering::SeqCst),
        git(&["rev-list", "--count", "main"]).trim()
    );

    // Read from the file each time: it is berth dev's, which writes it on every change.
    let accepted = || {
        let bytes = std::fs::read(state.path().join("store.json")).unwrap();
        let data: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let requests = data["requests"].as_object().unwrap();
        requests
            .values()
            .filter(|r| r["state"] == "accepted")
            .count()
    };
    let left_accepted = accepted();
    println!("the kill left {left_accepted} records accepted");
    assert!(left_accepted > 0, "the kill came mid-flight");

    // Left alone past the lease, one sweep settles every record the kill left `accepted`.
    let dev = Dev::start_with(state.path(), &["--sweep-every", "1"], &lease);
    let mut still_accepted = left_accepted;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        still_accepted = accepted();
        if still_accepted == 0 {
            break;
        }
    }
    assert_eq!(
        still_accepted, 0,
        "no record is left accepted after a sweep"
    );

    let mut settled: Vec<Option<serde_json::Value>> = vec![None; REQUESTS];
    // Every 0.5 s for at most 12 s: the lease is 2 s.
    for _ in 0..24 {
        for (i, slot) in settled.iter_mut().enumerate().filter(|(_, s)| s.is_none()) {
            let response = create(dev.url.clone(), i).await.unwrap();
            match response.status().as_u16() {
                200 | 202 => *slot = Some(response.json().await.unwrap()),
                409 => assert!(
                    response.headers().contains_key("retry-after"),
                    "a 409 says when to retry"
                ),
                other => panic!("key {i}: {other} {}", response.text().await.unwrap()),
            }
        }
        if settled.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let messages = git(&["log", "--format=%B%x00", "main"]);
    let trailers: Vec<&str> = messages
        .lines()
        .filter_map(|l| l.strip_prefix("Berth-Request: "))
        .collect();
    let unique: std::collections::BTreeSet<&&str> = trailers.iter().collect();
    assert_eq!(unique.len(), trailers.len(), "no trailer appears twice");
    for (i, record) in settled.iter().enumerate() {
        let record = record
            .as_ref()
            .unwrap_or_else(|| panic!("key {i} never settled"));
        let tenant = format!("crash{i:02}");
        let creates = messages
            .split('\0')
            .filter(|m| {
                m.trim_start()
                    .starts_with(&format!("Create tenant {tenant}"))
            })
            .count();
        assert_eq!(creates, 1, "{tenant} is created exactly once");
        assert_eq!(record["state"], "committed", "key {i}: {record}");
        let sha = record["commit"].as_str().unwrap();
        let message = git(&["log", "-1", "--format=%B", sha]);
        assert!(
            message.contains(&format!(
                "Berth-Request: {}",
                record["id"].as_str().unwrap()
            )),
            "key {i} answers with the commit its request landed in: {message}"
        );
        let url = format!("{}/v1/requests/{}", dev.url, record["id"].as_str().unwrap());
        let stored = get_json(&client, &url, &token).await;
        assert_ne!(stored["state"], "accepted", "key {i}: {stored}");
    }
}

/// `POST /v1/tenants` for tenant acme (standard, dev, postgres) on `berth dev` at `url`.
async fn create_acme(client: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    client
        .post(format!("{url}/v1/tenants"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
        .send()
        .await
        .unwrap()
}
