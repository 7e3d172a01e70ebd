//! History, revert and promotion through the API end to end, on both Git backends over one real
//! bare repository (the GitHub committer against the GitHub test server), in direct and
//! pull-request mode: the bytes a revert restores are compared with what `git show` read
//! before, and a commit made with the `git` CLI stands for a person's own change.

use berth_store::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_gitops::GithubPulls;
use berth_http::auth::{Role, TokenGrant};
use berth_http::{ApiConfig, AppState, api_router, webhook_router};
use berth_store::LocalStore;
use berth_tests::api_server::{
    ACME_OPERATOR, ADMIN, VIEWER, deliver_github_event, webhook_secrets,
};
use berth_tests::backend::{BACKENDS, Backend, GITHUB_TOKEN, committer_on, github_config};
use berth_tests::git::folder_log;
use berth_tests::github::GithubServer;
use berth_tests::github::pulls::MergeMethod;
use berth_tests::{git, seed_repo};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    url: String,
    github: GithubServer,
    repo: PathBuf,
    client: reqwest::Client,
    store: Arc<LocalStore>,
    dir: tempfile::TempDir,
    _task: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let github = GithubServer::start(repo.clone(), GITHUB_TOKEN).await;
        let committer = committer_on(backend, &repo, &dir.path().join("work"), &github.url);
        let pulls = Arc::new(GithubPulls::new(&github_config(&github.url), None).unwrap());
        let store = Arc::new(LocalStore::open(dir.path().join("store.json")).unwrap());
        let config = ApiConfig::new(vec![
            TokenGrant::new(ADMIN, Role::Admin, None),
            TokenGrant::new(VIEWER, Role::Viewer, None),
            TokenGrant::new(ACME_OPERATOR, Role::Operator, Some("acme".into())),
        ]);
        let app = AppState::new(committer, store.clone(), config).with_pull_requests(pulls);
        let router = api_router(app.clone())
            .merge(webhook_router(app.clone(), webhook_secrets(&github.url)));
        let (url, task) = berth_tests::serve::serve_loopback(router).await;
        Self {
            url,
            github,
            repo,
            client: reqwest::Client::new(),
            store,
            dir,
            _task: task,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(ADMIN, method, path, body).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        berth_tests::api_server::call_api(&self.client, &self.url, Some(token), method, path, body)
            .await
    }

    /// A write that must land; returns its request.
    async fn write(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {answer}");
        answer
    }

    /// A revert sent with an `Idempotency-Key`.
    async fn revert_once(&self, id: &str, key: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/v1/requests/{id}/revert", self.url))
            .bearer_auth(ADMIN)
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    fn commits(&self) -> usize {
        git(&self.repo, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .unwrap()
    }

    async fn revert(&self, id: &str, query: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/requests/{id}/revert{query}"),
            None,
        )
        .await
    }

    async fn request(&self, id: &str) -> Value {
        let (status, record) = self
            .call(Method::GET, &format!("/v1/requests/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{record}");
        record
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    /// Every file under `tenants/<tenant>/` on main, with its bytes.
    fn tenant_files(&self, tenant: &str) -> BTreeMap<String, String> {
        git(
            &self.repo,
            &[
                "ls-tree",
                "-r",
                "--name-only",
                "main",
                &format!("tenants/{tenant}/"),
            ],
        )
        .lines()
        .map(|path| {
            (
                path.to_owned(),
                git(&self.repo, &["show", &format!("main:{path}")]),
            )
        })
        .collect()
    }

    /// Commits `edit` to main with the `git` CLI, as a person would: a clone, an edit, a push.
    fn hand_commit(&self, message: &str, edit: impl FnOnce(&Path)) {
        berth_tests::git::hand_commit(&self.repo, self.dir.path(), message, edit);
    }

    /// Merges pull request `number` with `method` and tells Berth, as GitHub's webhook would.
    async fn merge(&self, number: u64, method: MergeMethod) -> String {
        let sha = self.github.merge_pull_request(number, method);
        let event = self.github.pull_request_event(number, "closed");
        let (status, answer) = deliver_github_event(
            &self.client,
            &self.url,
            "pull_request",
            &format!("merge-{number}"),
            &event,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["outcome"], "merged", "{answer}");
        sha
    }
}

fn id(request: &Value) -> &str {
    request["id"].as_str().expect("a request id")
}

fn error_of(body: &Value) -> (&str, &str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or("<none>"),
        body["error"]["field"].as_str().unwrap_or("<none>"),
        body["error"]["message"].as_str().unwrap_or("<none>"),
    )
}

async fn create_acme(f: &Fixture) -> Value {
    f.write(
        Method::POST,
        "/v1/tenants",
        Some(json!({"name": "acme", "tier": "standard", "envs": ["dev", "staging", "prod"], "modules": ["postgres"]})),
    )
    .await
}

/// Every page of `tenant`'s history, `limit` entries at a time.
async fn whole_history(f: &Fixture, tenant: &str, limit: usize) -> (Vec<Value>, usize) {
    let (mut entries, mut pages, mut before) = (Vec::new(), 0, None::<String>);
    loop {
        let query = match &before {
            Some(sha) => format!("?limit={limit}&before={sha}"),
            None => format!("?limit={limit}"),
        };
        let (status, page) = f
            .call_as(
                VIEWER,
                Method::GET,
                &format!("/v1/tenants/{tenant}/history{query}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let got = page["entries"].as_array().unwrap();
        assert!(got.len() <= limit);
        entries.extend(got.iter().cloned());
        pages += 1;
        assert!(pages <= 50, "paging must end");
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => return (entries, pages),
        }
    }
}

#[tokio::test]
async fn history_pages_thirty_changes_newest_first_with_a_persons_own_commit() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        let mut requests = vec![create_acme(&f).await];
        // Another tenant's changes are interleaved and must not show.
        f.write(
            Method::POST,
            "/v1/tenants",
            Some(json!({"name": "beta", "tier": "standard", "envs": ["dev"]})),
        )
        .await;
        for i in 0..14 {
            requests.push(
                f.write(
                    Method::PUT,
                    "/v1/tenants/acme/envs/dev/modules/postgres",
                    Some(json!({"values": {"replicas": i + 2}})),
                )
                .await,
            );
            if i == 6 {
                f.hand_commit("Pin the dev quota by hand", |work| {
                    let path = work.join("tenants/acme/dev/base.yaml");
                    let text = std::fs::read_to_string(&path).unwrap();
                    std::fs::write(&path, format!("{text}# reviewed by Pat\n")).unwrap();
                });
            }
            f.write(
                Method::PATCH,
                "/v1/tenants/beta",
                Some(json!({"display_name": format!("Beta {i}")})),
            )
            .await;
            requests.push(
                f.write(
                    Method::PATCH,
                    "/v1/tenants/acme",
                    Some(json!({"display_name": format!("Acme {i}")})),
                )
                .await,
            );
        }
        assert_eq!(requests.len(), 29, "29 requests and one commit by hand");

        let (entries, pages) = whole_history(&f, "acme", 7).await;
        assert_eq!(entries.len(), 30, "{backend:?}");
        assert_eq!(pages, 5, "7 + 7 + 7 + 7 + 2");
        let expected = folder_log(&f.repo, "tenants/acme/");
        let listed: Vec<&str> = entries
            .iter()
            .map(|e| e["commit"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed, expected,
            "newest first, exactly the commits that changed acme"
        );

        let by_hand: Vec<&Value> = entries.iter().filter(|e| e["by_berth"] == false).collect();
        assert_eq!(by_hand.len(), 1, "{backend:?}");
        assert_eq!(by_hand[0]["author"], "Pat Person <pat@acme.test>");
        assert_eq!(by_hand[0]["title"], "Pin the dev quota by hand");
        assert_eq!(by_hand[0]["requests"], json!([]));
        assert_eq!(
            by_hand[0]["files"],
            json!([{"path": "tenants/acme/dev/base.yaml", "change": "modified"}])
        );

        let by_berth: Vec<&Value> = entries.iter().filter(|e| e["by_berth"] == true).collect();
        let ids: Vec<&str> = by_berth
            .iter()
            .map(|e| e["requests"][0]["id"].as_str().unwrap())
            .collect();
        let mut asked: Vec<&str> = requests.iter().map(id).collect();
        asked.reverse();
        assert_eq!(ids, asked, "each request once, newest first");
        for entry in &by_berth {
            let request = &entry["requests"][0];
            assert_eq!(request["source"], "api");
            assert_eq!(request["requested_by"], "token:admin");
            assert_eq!(request["state"], "committed");
            assert!(!entry["files"].as_array().unwrap().is_empty());
        }
        let created = entries.last().unwrap();
        assert_eq!(created["requests"][0]["action"], "create_tenant");
        assert_eq!(created["files"].as_array().unwrap().len(), 7, "{created}");
        assert!(
            created["files"]
                .as_array()
                .unwrap()
                .iter()
                .all(|file| file["change"] == "added")
        );
        let enable = &entries[1];
        assert_eq!(enable["requests"][0]["action"], "enable_module");
        assert_eq!(
            enable["files"],
            json!([{"path": "tenants/acme/dev/modules/postgres.yaml", "change": "modified"}])
        );

        // The cursor is checked, and so is the tenant scope.
        let (status, body) = f
            .call(Method::GET, "/v1/tenants/acme/history?before=main", None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_of(&body).1, "before");
        let (status, body) = f
            .call(Method::GET, "/v1/tenants/acme/history?limit=101", None)
            .await;
        assert_eq!(
            (status, error_of(&body).1),
            (StatusCode::UNPROCESSABLE_ENTITY, "limit")
        );
        let (status, _) = f
            .call_as(ACME_OPERATOR, Method::GET, "/v1/tenants/beta/history", None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_revert_restores_the_earlier_bytes_of_enable_disable_tier_and_values() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        create_acme(&f).await;
        let changes: [(Method, &str, Option<Value>); 4] = [
            (
                Method::PUT,
                "/v1/tenants/acme/envs/dev/modules/vault",
                Some(json!({"version": "1.4.2", "values": {"replicas": 2}})),
            ),
            (
                Method::DELETE,
                "/v1/tenants/acme/envs/staging/modules/postgres",
                None,
            ),
            (
                Method::PATCH,
                "/v1/tenants/acme",
                Some(json!({"tier": "premium"})),
            ),
            (
                Method::PUT,
                "/v1/tenants/acme/envs/prod/modules/postgres",
                Some(json!({"values": {"replicas": 3}})),
            ),
        ];
        for (method, path, body) in changes {
            let before = f.tenant_files("acme");
            let original = f.write(method, path, body).await;
            let after = f.tenant_files("acme");
            assert_ne!(before, after);

            let (status, revert) = f.revert(id(&original), "").await;
            assert_eq!(status, StatusCode::ACCEPTED, "{backend:?} {path}: {revert}");
            assert_eq!(revert["action"], "revert");
            assert_eq!(revert["reverts"], id(&original));
            assert_eq!(
                f.tenant_files("acme"),
                before,
                "{backend:?} {path}: the earlier bytes"
            );
            let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
            assert!(message.starts_with("Revert \""), "{message}");
            assert!(message.contains(&format!("Berth-Reverts: {}", id(&original))));
            assert_eq!(f.request(id(&original)).await["reverted_by"], id(&revert));

            // The revert of a revert is the original state.
            let (status, again) = f.revert(id(&revert), "").await;
            assert_eq!(status, StatusCode::ACCEPTED, "{again}");
            assert_eq!(f.tenant_files("acme"), after, "{backend:?} {path}");
        }
    }
}

#[tokio::test]
async fn a_later_change_makes_a_revert_a_conflict_until_forced() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        let created = create_acme(&f).await;
        let before = f.tenant_files("acme");
        let enabled = f
            .write(
                Method::PUT,
                "/v1/tenants/acme/envs/dev/modules/vault",
                Some(json!({"values": {"replicas": 1}})),
            )
            .await;
        let changed = f
            .write(
                Method::PUT,
                "/v1/tenants/acme/envs/dev/modules/vault",
                Some(json!({"values": {"replicas": 2}})),
            )
            .await;
        let tip = f.tip();

        let (status, body) = f.revert(id(&enabled), "").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (code, field, message) = error_of(&body);
        assert_eq!((code, field), ("conflict", "force"));
        assert!(
            message.contains(id(&changed)),
            "names the later request: {message}"
        );
        assert!(
            message.contains("tenants/acme/dev/modules/vault.yaml"),
            "{message}"
        );
        assert_eq!(f.tip(), tip, "nothing committed");

        // A person's later commit is named by its commit.
        f.hand_commit("Tune vault by hand", |work| {
            let path = work.join("tenants/acme/dev/modules/vault.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, format!("{text}# tuned\n")).unwrap();
        });
        let hand = f.tip();
        let (status, body) = f.revert(id(&changed), "").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(error_of(&body).2.contains(&hand[..12]), "{body}");
        assert!(error_of(&body).2.contains("Pat Person"), "{body}");

        let (status, forced) = f.revert(id(&enabled), "?force=true").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{forced}");
        assert_eq!(
            f.tenant_files("acme"),
            before,
            "restored over the later changes"
        );
        let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
        assert!(
            message.contains(
                "Forced: restored over later changes to tenants/acme/dev/modules/vault.yaml"
            ),
            "{message}"
        );

        // Reverting the creation deletes the tenant, only when confirmed.
        let (status, body) = f.revert(id(&created), "?force=true").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_of(&body).1, "confirm");
        let (status, body) = f.revert(id(&created), "?force=true&confirm=acme").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert!(f.tenant_files("acme").is_empty(), "the tenant is gone");

        // What cannot be reverted says why.
        let (status, body) = f.revert("01ARZ3NDEKTSV4RRFFQ69G5FAV", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = f.revert("not-an-id", "").await;
        assert_eq!(
            (status, error_of(&body).1),
            (StatusCode::UNPROCESSABLE_ENTITY, "id")
        );
    }
}

#[tokio::test]
async fn a_request_shows_the_files_its_commit_changed() {
    for backend in BACKENDS {
        a_request_shows_the_files_its_commit_changed_on(backend).await;
    }
}

async fn a_request_shows_the_files_its_commit_changed_on(backend: Backend) {
    let f = Fixture::new(backend).await;
    create_acme(&f).await;
    let enabled = f
        .write(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(json!({"values": {"replicas": 2}})),
        )
        .await;
    assert_eq!(enabled.get("changes"), None, "a write's answer stays small");
    let record = f.request(id(&enabled)).await;
    let changes = record["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{record}");
    assert_eq!(changes[0]["path"], "tenants/acme/dev/modules/vault.yaml");
    assert_eq!(changes[0]["change"], "added");
    let lines = f.tenant_files("acme")["tenants/acme/dev/modules/vault.yaml"]
        .lines()
        .count();
    assert_eq!(changes[0]["lines_added"], lines as u64);
    assert_eq!(changes[0]["lines_removed"], 0);
    // A commit never changes: polling the request costs GitHub nothing more.
    let calls = f.github.calls();
    assert_eq!(f.request(id(&enabled)).await, record);
    if backend == Backend::Github {
        assert_eq!(f.github.calls(), calls, "answered from the cache");
    }
}

/// A history entry opens as its files' diffs, on both backends: what the console shows under
/// each commit. An unknown commit is 404, a malformed one names the field, and a scoped token
/// reads no other tenant's commits.
#[tokio::test]
async fn a_history_entry_opens_as_its_files_diffs() {
    for backend in BACKENDS {
        a_history_entry_opens_as_its_files_diffs_on(backend).await;
    }
}

async fn a_history_entry_opens_as_its_files_diffs_on(backend: Backend) {
    let f = Fixture::new(backend).await;
    create_acme(&f).await;
    f.write(
        Method::PUT,
        "/v1/tenants/acme/envs/dev/modules/vault",
        Some(json!({"values": {"replicas": 2}})),
    )
    .await;
    let (entries, _) = whole_history(&f, "acme", 10).await;
    let newest = entries[0]["commit"].as_str().unwrap().to_owned();
    let (status, view) = f
        .call_as(
            VIEWER,
            Method::GET,
            &format!("/v1/tenants/acme/history/{newest}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{backend:?}: {view}");
    assert_eq!(view["commit"], newest.as_str());
    let files = view["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{view}");
    assert_eq!(files[0]["path"], "tenants/acme/dev/modules/vault.yaml");
    assert_eq!(files[0]["change"], "added");
    let diff = files[0]["diff"].as_str().unwrap();
    assert!(diff.contains("+replicas: 2"), "{diff}");
    let summary = &entries[0]["files"][0];
    assert_eq!(
        summary["path"], files[0]["path"],
        "the entry summarises the same file"
    );
    assert_eq!(summary["change"], files[0]["change"]);

    let unknown = "0".repeat(40);
    let (status, body) = f
        .call(
            Method::GET,
            &format!("/v1/tenants/acme/history/{unknown}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = f
        .call(Method::GET, "/v1/tenants/acme/history/main", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_of(&body).1, "commit", "{body}");

    f.write(
        Method::POST,
        "/v1/tenants",
        Some(json!({"name": "beta", "tier": "standard", "envs": ["dev"]})),
    )
    .await;
    let (beta, _) = whole_history(&f, "beta", 10).await;
    let beta_commit = beta[0]["commit"].as_str().unwrap();
    let (status, _) = f
        .call_as(
            ACME_OPERATOR,
            Method::GET,
            &format!("/v1/tenants/beta/history/{beta_commit}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a scoped token reads only its tenant"
    );
    // A commit of another tenant changed none of acme's files.
    let (status, view) = f
        .call(
            Method::GET,
            &format!("/v1/tenants/acme/history/{beta_commit}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["files"], json!([]), "{view}");
}

#[tokio::test]
async fn promotion_copies_versions_and_values_and_its_dry_run_commits_nothing() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        create_acme(&f).await;
        f.write(
            Method::PUT,
            "/v1/tenants/acme/envs/staging/modules/postgres",
            Some(json!({"version": "1.4.2", "values": {"replicas": 2}})),
        )
        .await;
        f.write(
            Method::PUT,
            "/v1/tenants/acme/envs/staging/modules/vault",
            Some(json!({"version": "0.9.0", "values": {"replicas": 3}})),
        )
        .await;
        let tip = f.tip();
        let promote = "/v1/tenants/acme/envs/prod/promote";

        let (status, planned) = f
            .call(
                Method::POST,
                &format!("{promote}?dry_run=true"),
                Some(json!({"from": "staging", "modules": ["postgres"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{planned}");
        assert_eq!(f.tip(), tip, "a dry run commits nothing");
        assert_eq!(planned["revision"], tip);
        let files = planned["files"].as_array().unwrap();
        assert_eq!(files.len(), 1, "{planned}");
        assert_eq!(files[0]["path"], "tenants/acme/prod/modules/postgres.yaml");
        assert_eq!(files[0]["change"], "modified");
        let diff = files[0]["diff"].as_str().unwrap();
        assert!(diff.contains("+  version: 1.4.2"), "{diff}");
        assert!(diff.contains("+replicas: 2"), "{diff}");

        let promoted = f
            .write(
                Method::POST,
                promote,
                Some(json!({"from": "staging", "modules": ["postgres"]})),
            )
            .await;
        assert_eq!(promoted["action"], "promote");
        let files = f.tenant_files("acme");
        let as_prod = files["tenants/acme/staging/modules/postgres.yaml"]
            .replace("env: staging", "env: prod");
        assert_eq!(
            files["tenants/acme/prod/modules/postgres.yaml"], as_prod,
            "{backend:?}"
        );
        assert!(
            !files.contains_key("tenants/acme/prod/modules/vault.yaml"),
            "only what was named"
        );
        let message = git(&f.repo, &["log", "-1", "--format=%s", "main"]);
        assert_eq!(
            message.trim(),
            "Promote postgres 1.4.2 from staging to prod for acme"
        );

        // Again: nothing left to copy.
        let (status, again) = f
            .call(
                Method::POST,
                promote,
                Some(json!({"from": "staging", "modules": ["postgres"]})),
            )
            .await;
        assert_eq!(
            (status, again["state"].as_str()),
            (StatusCode::OK, Some("no_change"))
        );

        // The target tier's rules hold: vault now needs premium, and acme is standard.
        f.hand_commit("Vault is premium from now on", |work| {
            let path = work.join("tenants/catalog.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            let raised = text.replacen(
                "  - name: vault\n    description: Secrets storage for the tenant's services\n    min_tier: standard",
                "  - name: vault\n    description: Secrets storage for the tenant's services\n    min_tier: premium",
                1,
            );
            assert_ne!(raised, text, "the catalog changed");
            std::fs::write(&path, raised).unwrap();
        });
        let tip = f.tip();
        let (status, body) = f
            .call(Method::POST, promote, Some(json!({"from": "staging"})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, field, message) = error_of(&body);
        assert_eq!(field, "modules");
        assert!(message.contains("vault"), "{message}");
        let (status, body) = f
            .call(
                Method::POST,
                &format!("{promote}?dry_run=true"),
                Some(json!({"from": "staging", "modules": ["vault"]})),
            )
            .await;
        assert_eq!(
            (status, error_of(&body).1),
            (StatusCode::UNPROCESSABLE_ENTITY, "modules[0]")
        );
        assert_eq!(f.tip(), tip, "nothing committed");

        // Bad bodies name their field.
        for (body, field) in [
            (json!({"from": "prod"}), "from"),
            (json!({"from": "qa"}), "from"),
            (json!({}), "from"),
            (
                json!({"from": "staging", "modules": ["monitoring"]}),
                "modules[0]",
            ),
            (json!({"from": "staging", "extra": 1}), "extra"),
        ] {
            let (status, answer) = f.call(Method::POST, promote, Some(body.clone())).await;
            assert!(status.is_client_error(), "{body}: {answer}");
            assert_eq!(error_of(&answer).1, field, "{body}: {answer}");
        }
    }
}

#[tokio::test]
async fn revert_and_promotion_in_pull_request_mode_land_once_merged() {
    for backend in BACKENDS {
        let f = Fixture::new(backend).await;
        create_acme(&f).await;
        let before = f.tenant_files("acme");
        // A change merged through a pull request, then reverted through another.
        let (status, enabled) = f
            .call(
                Method::PUT,
                "/v1/tenants/acme/envs/staging/modules/vault?mode=pr",
                Some(json!({"version": "0.9.0"})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{enabled}");
        let (status, body) = f.revert(id(&enabled), "").await;
        assert_eq!(status, StatusCode::CONFLICT, "not merged yet: {body}");
        f.merge(enabled["pr_number"].as_u64().unwrap(), MergeMethod::Merge)
            .await;
        let after = f.tenant_files("acme");
        assert_ne!(after, before);

        let (entries, _) = whole_history(&f, "acme", 10).await;
        assert_eq!(entries.len(), 2, "{backend:?}: {entries:?}");
        assert_eq!(entries[0]["requests"][0]["id"], id(&enabled));
        assert_eq!(entries[0]["requests"][0]["state"], "merged");

        let (status, revert) = f.revert(id(&enabled), "?mode=pr").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{revert}");
        assert_eq!(revert["state"], "pr_opened");
        assert_eq!(
            f.tenant_files("acme"),
            after,
            "nothing on main until merged"
        );
        f.merge(revert["pr_number"].as_u64().unwrap(), MergeMethod::Squash)
            .await;
        assert_eq!(f.tenant_files("acme"), before, "{backend:?}");

        f.write(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/postgres",
            Some(json!({"values": {"replicas": 2}})),
        )
        .await;
        let (status, promoted) = f
            .call(
                Method::POST,
                "/v1/tenants/acme/envs/prod/promote?mode=pr",
                Some(json!({"from": "dev"})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{promoted}");
        assert_eq!(promoted["state"], "pr_opened");
    }
}

/// What an API Lambda killed at its timeout leaves in the store for a revert of `original`:
/// the key's claim unanswered and held by request `revert_id`, its lease run out, and that
/// request's record `accepted`.
async fn interrupted_revert(f: &Fixture, original: &str, key: &str, revert_id: &str) {
    use berth_store::{IdempotencyRecord, RequestRecord, RequestState};
    let now = berth_usecases::time::epoch_seconds_now();
    f.store.release_idempotency("api", key).await.unwrap();
    let claim = IdempotencyRecord {
        source: "api".into(),
        key: key.into(),
        request_id: revert_id.into(),
        fingerprint: berth_usecases::fingerprint::fingerprint(
            "POST",
            &format!("/v1/requests/{original}/revert"),
            b"",
        ),
        response: None,
        lease_expires_at: now - 1,
        expires_at: now + 86_400,
    };
    assert_eq!(
        f.store.claim_idempotency(&claim).await.unwrap(),
        berth_store::Claim::Claimed
    );
    let mut record = RequestRecord::new(
        revert_id,
        "revert",
        "api",
        "acme",
        RequestState::Accepted,
        "2026-11-23T12:00:00Z".into(),
    );
    record.reverts = Some(original.into());
    f.store.put_request(&record).await.unwrap();
    let mut original_record = f.store.get_request(original).await.unwrap().unwrap();
    original_record.reverted_by = None;
    f.store.put_request(&original_record).await.unwrap();
}

/// A revert cut off after its commit landed is answered, on retry with the same key, with that
/// commit and never committed twice; one cut off before its commit commits once on retry.
#[tokio::test]
async fn a_revert_killed_mid_request_is_settled_by_its_retry_exactly_once() {
    let f = Fixture::new(Backend::Git2).await;
    create_acme(&f).await;
    let before = f.tenant_files("acme");
    let enabled = f
        .write(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(json!({})),
        )
        .await;

    let (status, first) = f.revert_once(id(&enabled), "revert-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let commits = f.commits();
    // Killed after the push, before the record, `reverted_by` and the answer were stored.
    interrupted_revert(&f, id(&enabled), "revert-1", id(&first)).await;
    let (status, again) = f.revert_once(id(&enabled), "revert-1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        again["commit"], first["commit"],
        "answered with that commit"
    );
    assert_eq!(f.commits(), commits, "nothing committed again");
    assert_eq!(f.tenant_files("acme"), before);
    assert_eq!(f.request(id(&enabled)).await["reverted_by"], first["id"]);

    // Killed before its commit: the retry commits it, once, under the interrupted id.
    let enabled = f
        .write(
            Method::PUT,
            "/v1/tenants/acme/envs/dev/modules/vault",
            Some(json!({})),
        )
        .await;
    let commits = f.commits();
    let revert_id = ulid::Ulid::new().to_string();
    interrupted_revert(&f, id(&enabled), "revert-2", &revert_id).await;
    let (status, answer) = f.revert_once(id(&enabled), "revert-2").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["id"], revert_id.as_str());
    assert_eq!(answer["reverts"], id(&enabled));
    assert_eq!(f.commits(), commits + 1);
    assert_eq!(f.tenant_files("acme"), before);
    let (status, replayed) = f.revert_once(id(&enabled), "revert-2").await;
    assert_eq!((status, &replayed), (StatusCode::ACCEPTED, &answer));
    assert_eq!(f.commits(), commits + 1);
}

/// A tenant that changed rarely on a long branch served by `git daemon`: one page goes on
/// walking, bounded walk after bounded walk, until it is full, so a person is not handed an
/// empty page; and the pages still list exactly what `git log` does.
#[tokio::test]
async fn a_quiet_tenants_page_is_filled_by_several_bounded_walks() {
    use berth_tests::GitDaemon;
    use berth_tests::git::long_history;
    use berth_usecases::history::tenant_history;
    let dir = tempfile::tempdir().unwrap();
    // acme changes every 2,500 commits: further apart than one walk looks.
    let repo = long_history(dir.path(), "quiet", 12_000, 2_500);
    let daemon = GitDaemon::start(dir.path());
    let committer = committer_on(
        Backend::Git2,
        std::path::Path::new(&daemon.url("quiet")),
        &dir.path().join("work"),
        "",
    );
    let store = Arc::new(LocalStore::open(dir.path().join("store.json")).unwrap());
    let services = berth_usecases::App::new(committer, store);
    let acme = berth_core::TenantName::parse("tenant", "acme").unwrap();

    let first = tenant_history(&services, &acme, 3, None).await.unwrap();
    let expected = folder_log(&repo, "tenants/acme/");
    assert_eq!(expected.len(), 5, "the root and 4 changes");
    let listed: Vec<&str> = first.entries.iter().map(|e| e.commit.as_str()).collect();
    assert_eq!(listed, expected[..3], "a full page, not an empty one");
    let rest = tenant_history(&services, &acme, 3, first.next_before.clone())
        .await
        .unwrap();
    let listed: Vec<&str> = rest.entries.iter().map(|e| e.commit.as_str()).collect();
    assert_eq!(listed, expected[3..]);
    assert!(
        rest.entries.iter().all(|e| e.requests.is_empty()),
        "made without Berth"
    );
}

/// A group commit carries several requests: reverting one of them restores the tenant's
/// files as they were before the commit, which undoes the others of the same tenant too, so
/// it needs `force`, and the refusal names them.
#[tokio::test]
async fn reverting_one_request_of_a_shared_commit_names_the_others_and_needs_force() {
    use berth_store::{RequestRecord, RequestState};
    let f = Fixture::new(Backend::Git2).await;
    create_acme(&f).await;
    let before = f.tenant_files("acme");
    let (first, second, other) = (
        ulid::Ulid::new().to_string(),
        ulid::Ulid::new().to_string(),
        ulid::Ulid::new().to_string(),
    );
    let message = format!(
        "Berth: 3 changes\n\nBerth-Request: {first}\nBerth-Tenant: acme\nBerth-Action: enable_module\n\
         Berth-Request: {other}\nBerth-Tenant: beta\nBerth-Action: create_tenant\n\
         Berth-Request: {second}\nBerth-Tenant: acme\nBerth-Action: update_tenant"
    );
    f.hand_commit(&message, |work| {
        let modules = work.join("tenants/acme/dev/modules");
        let postgres = std::fs::read_to_string(modules.join("postgres.yaml")).unwrap();
        std::fs::write(
            modules.join("monitoring.yaml"),
            postgres.replace("postgres", "monitoring"),
        )
        .unwrap();
    });
    let sha = f.tip();
    for id in [&first, &second] {
        let mut record = RequestRecord::new(
            id,
            "enable_module",
            "api",
            "acme",
            RequestState::Committed,
            "2026-11-23T12:00:00Z".into(),
        );
        record.commit = Some(sha.clone());
        record.batch_size = Some(3);
        f.store.put_request(&record).await.unwrap();
    }

    let (status, body) = f.revert(&first, "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, field, message) = error_of(&body);
    assert_eq!(field, "force");
    assert!(
        message.contains(&second),
        "names the other request of acme: {message}"
    );
    assert!(!message.contains(&other), "not another tenant's: {message}");
    assert_eq!(f.tip(), sha, "nothing committed");

    let (status, body) = f.revert(&first, "?force=true").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(f.tenant_files("acme"), before);
}
