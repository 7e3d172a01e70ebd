//! Fleet rollouts end to end: the plan (`dry_run=true`), then the real thing on `berth dev`'s
//! pieces: the API records it, the status sweep (over the Kubernetes API test server, on a
//! clock the test moves) commits each wave once the one before is ready and soaked, pauses on a
//! failure or on no data, reverts, and survives a crash between a commit and its record.

use std::sync::Arc;
use std::time::Duration;

use berth_core::body::{parse_create_tenant, parse_module_change};
use berth_core::{Action, RepoFiles, Request, TenantName, plan};
use berth_status::Sweeper;
use berth_store::prelude::*;
use berth_tests::api_server::{ACME_OPERATOR, ApiServer, OPERATOR, VIEWER, call_api};
use berth_tests::fleet;
use berth_tests::kube_server::KubeServer;
use berth_tests::{dynamo_store, git};
use berth_usecases::App;
use berth_usecases::time::Clock;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const KUBE_TOKEN: &str = "kube-test-token-0123456789";

struct Fixture {
    api: ApiServer,
    repo: std::path::PathBuf,
    client: Client,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

fn apply(files: &mut RepoFiles, request: Request) {
    plan(&request, files).unwrap().apply_to(files);
}

/// The project's catalog and charts with `premium` premium and `standard` standard tenants
/// (`acme` among the standard ones), each with postgres 16.4 in dev and prod, seeded as one
/// commit.
async fn fleet(premium: usize, standard: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut files = berth_tests::git::project_charts_and_catalog();
    let names = (0..premium)
        .map(|i| (format!("p{i:02}"), "premium"))
        .chain((0..standard).map(|i| {
            (
                if i == 0 {
                    "acme".to_owned()
                } else {
                    format!("s{i:02}")
                },
                "standard",
            )
        }));
    for (tenant, tier) in names {
        let (name, new) =
            parse_create_tenant(&json!({"name": tenant, "tier": tier, "envs": ["dev", "prod"]}))
                .unwrap();
        apply(
            &mut files,
            Request {
                id: "01CREATE".into(),
                tenant: name,
                action: Action::CreateTenant(new),
            },
        );
        for env in ["dev", "prod"] {
            let change = parse_module_change(env, "postgres", &json!({"version": "16.4"})).unwrap();
            let tenant = TenantName::parse("t", &tenant).unwrap();
            apply(
                &mut files,
                Request {
                    id: "01ENABLE".into(),
                    tenant,
                    action: Action::EnableModule(change),
                },
            );
        }
    }
    let repo = dir.path().join("origin.git");
    berth_gitops::seed_bare_repository(&repo, "main", &files, "Seed").unwrap();
    let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
    let api = ApiServer::start(
        repo.to_str().unwrap(),
        &dir.path().join("api"),
        Arc::clone(&store),
    )
    .await;
    Fixture {
        api,
        repo,
        client: Client::new(),
        store,
        dir,
    }
}

impl Fixture {
    async fn plan(&self, token: &str, body: Value) -> (StatusCode, Value) {
        call_api(
            &self.client,
            &self.api.url,
            Some(token),
            Method::POST,
            "/v1/rollouts?dry_run=true",
            Some(body),
        )
        .await
    }

    fn tip(&self) -> String {
        git(&self.repo, &["rev-parse", "main"]).trim().to_owned()
    }

    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call_api(&self.client, &self.api.url, Some(token), method, path, body).await
    }

    /// Starts a rollout; answers its id.
    async fn start(&self, body: Value) -> String {
        self.start_at("/v1/rollouts", body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Starts a rollout by `path` (a mode in its query); answers the rollout.
    async fn start_at(&self, path: &str, body: Value) -> Value {
        let (status, rollout) = self.call(OPERATOR, Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{rollout}");
        assert_eq!(rollout["state"], "running");
        rollout
    }

    async fn rollout(&self, id: &str) -> Value {
        let (status, rollout) = self
            .call(VIEWER, Method::GET, &format!("/v1/rollouts/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{rollout}");
        rollout
    }

    /// The cluster, the status sweep over it, and the clock its gates are measured on.
    async fn cluster(&self, name: &str) -> Cluster {
        let kube = KubeServer::start().await;
        kube.require_token(KUBE_TOKEN);
        let clock = Clock::manual(1_800_000_000);
        let sweeper = self.sweeper(name, &kube, &clock).await;
        Cluster {
            kube,
            clock,
            sweeper,
        }
    }

    async fn sweeper(&self, name: &str, kube: &KubeServer, clock: &Clock) -> Sweeper {
        let remote = self.repo.to_str().unwrap();
        let committer = berth_tests::backend::committer(remote, &self.dir.path().join(name)).await;
        let app = App::new(committer, Arc::clone(&self.store));
        let connector = berth_tests::kube_server::connector(&kube.url, KUBE_TOKEN);
        Sweeper::new(app, Some(connector)).with_clock(clock.clone())
    }

    /// Commits on the branch carrying the rollout's trailer `trailer` (`Berth-Rollout-Wave`,
    /// `Berth-Rollout-Revert`), newest first, as `(number, sha)`.
    fn rollout_commits(&self, id: &str, trailer: &str) -> Vec<(u32, String)> {
        let log = git(&self.repo, &["log", "--format=%H%x00%B%x01", "main"]);
        log.split('\u{1}')
            .filter_map(|entry| {
                let (sha, message) = entry.trim().split_once('\0')?;
                if !message.contains(&format!("Berth-Request: {id}")) {
                    return None;
                }
                let number = message
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{trailer}: ")))?;
                Some((number.trim().parse().ok()?, sha.to_owned()))
            })
            .collect()
    }

    fn file_at(&self, rev: &str, path: &str) -> String {
        git(&self.repo, &["show", &format!("{rev}:{path}")])
    }

    /// The paths under `tenants/` that differ between `a` and `b`.
    fn tenant_diff(&self, a: &str, b: &str) -> Vec<String> {
        git(&self.repo, &["diff", "--name-only", a, b, "--", "tenants/"])
            .lines()
            .filter(|l| !l.ends_with("catalog.yaml"))
            .map(str::to_owned)
            .collect()
    }
}

struct Cluster {
    kube: KubeServer,
    clock: Clock,
    sweeper: Sweeper,
}

impl Cluster {
    /// Argo CD has synced `revision` for `tenants` (both envs, the tenant chart and postgres):
    /// healthy, except the postgres Applications of `degraded`.
    fn synced(&self, tenants: &[String], revision: &str, degraded: &[&str]) {
        for tenant in tenants {
            let health = if degraded.contains(&tenant.as_str()) {
                "Degraded"
            } else {
                "Healthy"
            };
            for env in ["dev", "prod"] {
                self.kube.replace(
                    fleet::APPLICATIONS,
                    fleet::application(tenant, env, None, revision, "Healthy"),
                );
                self.kube.replace(
                    fleet::APPLICATIONS,
                    fleet::application(tenant, env, Some("postgres"), revision, health),
                );
                self.kube.replace(
                    fleet::STATEFULSETS,
                    fleet::statefulset(tenant, env, "postgres", 1, 1),
                );
            }
        }
    }

    async fn sweep(&self) -> Vec<String> {
        self.sweeper.sweep().await.unwrap().rollouts
    }
}

/// Every tenant of the fixture: `premium` of them `p00`.., then `standard` (`acme`, `s01`..).
fn names(premium: usize, standard: usize) -> Vec<String> {
    (0..premium)
        .map(|i| format!("p{i:02}"))
        .chain((0..standard).map(|i| {
            if i == 0 {
                "acme".to_owned()
            } else {
                format!("s{i:02}")
            }
        }))
        .collect()
}

/// The tenants of wave `n` (from 1) as the rollout shows them.
fn wave_tenants(rollout: &Value, n: usize) -> Vec<String> {
    rollout["waves"][n - 1]["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap().to_owned())
        .collect()
}

fn tenant_state<'a>(rollout: &'a Value, tenant: &str) -> &'a Value {
    rollout["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["tenants"].as_array().unwrap())
        .find(|t| t["tenant"] == tenant)
        .unwrap_or(&Value::Null)
}

fn upgrade() -> Value {
    json!({
        "selector": {"tiers": ["premium"], "has_module": "postgres"},
        "change": {"reconfigure": {"module": "postgres", "version": "16.6"}},
        "canaries": ["p00"]
    })
}

#[tokio::test]
async fn a_dry_run_answers_the_waves_with_each_tenants_diff_and_commits_nothing() {
    let f = fleet(12, 3).await;
    let before = f.tip();
    let (status, plan) = f.plan(OPERATOR, upgrade()).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["revision"], before.as_str());
    let waves: Vec<Vec<String>> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(waves[0], ["p00"], "the canary first");
    let sizes: Vec<usize> = waves.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [1, 2, 4, 5],
        "10 % and 50 % of the 11 after the canary, rounded up, then the rest"
    );
    assert_eq!(plan["tenants"], 12);
    let first = &plan["waves"][0]["tenants"][0];
    assert_eq!(first["envs"], json!(["dev", "prod"]));
    let diff = first["files"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-  version: '16.4'") || diff.contains("-  version: 16.4"),
        "{diff}"
    );
    assert!(diff.contains("16.6"), "{diff}");
    assert_eq!(f.tip(), before, "nothing committed");
    let (_, again) = f.plan(OPERATOR, upgrade()).await;
    assert_eq!(
        again["hash"], plan["hash"],
        "the same tip and body plan the same bytes"
    );
}

#[tokio::test]
async fn an_invalid_tenant_refuses_the_plan_unless_skipped_and_no_ops_are_listed() {
    let f = fleet(1, 2).await;
    // data-lake needs premium (and vault first): every tenant's result is invalid.
    let enable = json!({"change": {"enable": {"module": "data-lake"}}});
    let (status, body) = f.plan(OPERATOR, enable.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("tenants.acme."),
        "{body}"
    );
    let (status, body) = f
        .call(OPERATOR, Method::POST, "/v1/rollouts", Some(enable.clone()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("tenants.acme."),
        "a rollout, not only its dry run: {body}"
    );
    let mut skipping = enable;
    skipping["skip_invalid"] = json!(true);
    let (status, plan) = f.plan(OPERATOR, skipping).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["tenants"], 0);
    assert_eq!(plan["left_out"].as_array().unwrap().len(), 3);
    assert!(
        plan["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["reason"] == "invalid"),
        "{plan}"
    );
    // Everyone already on 16.4: a no-op for each, listed.
    let same = json!({"change": {"reconfigure": {"module": "postgres", "version": "16.4"}}});
    let (_, plan) = f.plan(OPERATOR, same).await;
    assert!(
        plan["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["reason"] == "no_change"),
        "{plan}"
    );
    let (status, body) = f
        .plan(
            OPERATOR,
            json!({"change": {"reconfigure": {"module": "postgres"}}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("change.reconfigure"))
    );
}

#[tokio::test]
async fn who_may_plan_and_start() {
    let f = fleet(1, 2).await;
    let (status, _) = f.plan(VIEWER, upgrade()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer may not");
    let (status, body) = f.plan(ACME_OPERATOR, upgrade()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["field"], "selector.tenants");
    let own = json!({"selector": {"tenants": ["acme"]}, "change": {"reconfigure": {"module": "postgres", "version": "16.6"}}});
    let (status, plan) = f.plan(ACME_OPERATOR, own).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["tenants"], 1);
    let (status, _) = f
        .call(VIEWER, Method::POST, "/v1/rollouts", Some(upgrade()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer may not start one");
    let (status, body) = f
        .call(ACME_OPERATOR, Method::POST, "/v1/rollouts", Some(upgrade()))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("selector.tenants")),
        "a tenant-scoped operator cannot start one that selects other tenants"
    );
}

fn upgrade_with(extra: Value) -> Value {
    let mut body = upgrade();
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

const SOAK: Duration = Duration::from_secs(600);

/// `premium` and `standard` tenants (see [`fleet`]), the cluster running each of them at the
/// seed commit, and their names.
async fn running(premium: usize, standard: usize) -> (Fixture, Cluster, Vec<String>) {
    let f = fleet(premium, standard).await;
    let c = f.cluster("status").await;
    let everyone = names(premium, standard);
    c.synced(&everyone, &f.tip(), &[]);
    (f, c, everyone)
}

/// Syncs every tenant to the tip, sweeps (the wave is seen ready), waits out the soak and
/// sweeps again: the next wave's commit, if any.
async fn pass_wave(f: &Fixture, c: &Cluster, tenants: &[String]) {
    c.synced(tenants, &f.tip(), &[]);
    c.sweep().await;
    c.clock.advance(SOAK);
    c.sweep().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_premium_tenants_move_to_16_6_canaries_first_each_wave_gated_on_the_one_before() {
    let (f, c, everyone) = running(40, 2).await;
    let id = f
        .start(upgrade_with(json!({"then_set_default": true})))
        .await;
    let rollout = f.rollout(&id).await;
    let sizes: Vec<usize> = (1..=4).map(|n| wave_tenants(&rollout, n).len()).collect();
    assert_eq!(sizes, [1, 4, 16, 19], "the canary, 10 %, 50 %, the rest");
    assert_eq!(rollout["counts"]["planned"], 40);
    assert!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").is_empty(),
        "nothing before a sweep"
    );

    c.sweep().await;
    let commits = f.rollout_commits(&id, "Berth-Rollout-Wave");
    assert_eq!(commits.len(), 1, "the canary's wave first");
    let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.contains("Berth-Rollout-Wave: 1") && message.contains("Berth-Tenant: p00"),
        "{message}"
    );
    assert!(!message.contains("Berth-Tenant: p01"), "{message}");

    // Argo CD has not synced it yet; then it has, but the soak has not passed.
    c.sweep().await;
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 1);
    c.synced(&everyone, &f.tip(), &[]);
    c.sweep().await;
    let shown = f.rollout(&id).await;
    assert_eq!(shown["waves"][0]["state"], "soaking", "{shown}");
    assert_eq!(tenant_state(&shown, "p00")["state"], "soaking");
    c.clock.advance(SOAK - Duration::from_secs(1));
    c.sweep().await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        1,
        "still soaking"
    );
    c.clock.advance(Duration::from_secs(1));
    c.sweep().await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "10 % next"
    );

    for wave in 2..=4 {
        pass_wave(&f, &c, &everyone).await;
        let committed = f.rollout_commits(&id, "Berth-Rollout-Wave").len();
        assert_eq!(committed, 4.min(wave + 1), "wave {wave} passed");
    }
    let done = f.rollout(&id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["counts"]["ready"], 40, "{}", done["counts"]);
    let numbers: Vec<u32> = f
        .rollout_commits(&id, "Berth-Rollout-Wave")
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1], "one commit per wave, in order");
    for tenant in names(40, 0) {
        let file = f.file_at(
            "main",
            &format!("tenants/{tenant}/prod/modules/postgres.yaml"),
        );
        assert!(file.contains("16.6"), "{tenant}: {file}");
    }
    let standard = f.file_at("main", "tenants/acme/prod/modules/postgres.yaml");
    assert!(standard.contains("16.4"), "not selected: {standard}");
    let catalog = f.file_at("main", "tenants/catalog.yaml");
    assert!(
        catalog.contains("version: \"16.6\""),
        "then_set_default: {catalog}"
    );
    assert!(done["default_commit"].is_string(), "{done}");
    // A tenant created later gets the new default.
    let newco =
        json!({"name": "newco", "tier": "premium", "envs": ["dev"], "modules": ["postgres"]});
    let (status, body) = f
        .call(OPERATOR, Method::POST, "/v1/tenants", Some(newco))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let file = f.file_at("main", "tenants/newco/dev/modules/postgres.yaml");
    assert!(file.contains("16.6"), "{file}");
    // Each tenant's history names the rollout, whichever of the wave's tenants it is.
    let last = wave_tenants(&rollout, 4).pop().unwrap();
    let (_, history) = f
        .call(
            VIEWER,
            Method::GET,
            &format!("/v1/tenants/{last}/history?limit=1"),
            None,
        )
        .await;
    let entry = &history["entries"][0];
    assert_eq!(entry["by_berth"], true, "{history}");
    assert_eq!(entry["requests"][0]["id"], id.as_str(), "{history}");
    assert_eq!(entry["requests"][0]["action"], "rollout", "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_degraded_by_its_wave_pauses_the_rollout_or_reverts_every_wave() {
    let (f, c, everyone) = running(40, 0).await;
    let base = f.tip();
    let id = f.start(upgrade()).await;
    let rollout = f.rollout(&id).await;
    let victim = wave_tenants(&rollout, 2)[1].clone();
    c.sweep().await;
    pass_wave(&f, &c, &everyone).await;
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 2);
    // The 10 % wave lands; one of its tenants turns degraded after the sync.
    c.synced(&everyone, &f.tip(), &[victim.as_str()]);
    c.sweep().await;
    let paused = f.rollout(&id).await;
    assert_eq!(paused["state"], "paused", "{paused}");
    let reason = paused["pause_reason"].as_str().unwrap();
    assert!(reason.contains(&victim), "{reason}");
    assert_eq!(tenant_state(&paused, &victim)["state"], "failed");
    c.clock.advance(Duration::from_secs(3600));
    c.sweep().await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "no later wave"
    );

    // Reverting through the API: every applied wave, newest first, back to its bytes.
    let (status, reverting) = f
        .call(
            OPERATOR,
            Method::POST,
            &format!("/v1/rollouts/{id}/revert"),
            None,
        )
        .await;
    assert_eq!(
        (status, reverting["state"].as_str()),
        (StatusCode::OK, Some("reverting"))
    );
    c.sweep().await;
    let reverts: Vec<u32> = f
        .rollout_commits(&id, "Berth-Rollout-Revert")
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(
        reverts,
        [1, 2],
        "wave 2 reverted first (the log is newest first)"
    );
    assert!(
        f.tenant_diff(&base, "main").is_empty(),
        "every tenant's files as before the rollout"
    );
    let reverted = f.rollout(&id).await;
    assert_eq!(reverted["state"], "reverted", "{reverted}");
    assert_eq!(tenant_state(&reverted, "p00")["state"], "reverted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_failure_revert_the_spent_budget_reverts_by_itself() {
    let (f, c, everyone) = running(20, 0).await;
    let base = f.tip();
    let id = f.start(upgrade_with(json!({"on_failure": "revert"}))).await;
    let rollout = f.rollout(&id).await;
    let victim = wave_tenants(&rollout, 2)[0].clone();
    c.sweep().await;
    pass_wave(&f, &c, &everyone).await;
    c.synced(&everyone, &f.tip(), &[victim.as_str()]);
    c.sweep().await;
    let reverted = f.rollout(&id).await;
    assert_eq!(reverted["state"], "reverted", "{reverted}");
    assert!(reverted["pause_reason"].as_str().unwrap().contains(&victim));
    let reverts: Vec<u32> = f
        .rollout_commits(&id, "Berth-Rollout-Revert")
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(reverts, [1, 2]);
    assert!(f.tenant_diff(&base, "main").is_empty());
}

/// Adds `hold_until` to `tenant`'s tenant.yaml by hand.
fn hold(f: &Fixture, tenant: &str, until: &str) {
    berth_tests::git::hand_commit(&f.repo, f.dir.path(), "Hold", |work| {
        let path = work.join(format!("tenants/{tenant}/tenant.yaml"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("hold_until: \"{until}\"\n"));
        std::fs::write(&path, text).unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_degraded_before_do_not_count_holds_are_listed_and_a_silent_cluster_pauses() {
    let (f, c, everyone) = running(20, 0).await;
    hold(&f, "p05", "2099-01-01T00:00:00Z");
    let id = f.start(upgrade()).await;
    let rollout = f.rollout(&id).await;
    assert_eq!(rollout["counts"]["held"], 1, "{}", rollout["counts"]);
    assert_eq!(rollout["left_out"][0]["tenant"], "p05");
    assert_eq!(rollout["left_out"][0]["reason"], "held");
    let sick = wave_tenants(&rollout, 2)[0].clone();

    c.sweep().await;
    // The sick tenant is degraded before its wave is committed, and stays so.
    c.synced(&everyone, &f.tip(), &[sick.as_str()]);
    c.sweep().await;
    c.clock.advance(SOAK);
    c.sweep().await;
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 2);
    c.synced(&everyone, &f.tip(), &[sick.as_str()]);
    c.sweep().await;
    c.clock.advance(SOAK);
    c.sweep().await;
    let shown = f.rollout(&id).await;
    assert_eq!(shown["state"], "running", "{shown}");
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        3,
        "not counted against the change"
    );
    let reason = tenant_state(&shown, &sick)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("degraded before"), "{shown}");

    // The cluster stops answering: no data pauses, it never passes.
    c.kube.stop();
    c.clock.advance(SOAK);
    c.sweep().await;
    let paused = f.rollout(&id).await;
    assert_eq!(paused["state"], "paused", "{paused}");
    let reason = paused["pause_reason"].as_str().unwrap();
    assert!(
        reason.contains("no data") && reason.contains("could not be read"),
        "{reason}"
    );
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_changed_since_the_plan_is_re_planned_or_skipped_when_the_change_conflicts() {
    let (f, c, everyone) = running(10, 0).await;
    let id = f.start(upgrade_with(json!({"waves": ["100%"]}))).await;
    c.sweep().await;
    // Between the plan and wave 2: p03's values change, p04's prod postgres is disabled,
    // p06 is put on hold.
    let (status, body) = f
        .call(
            OPERATOR,
            Method::PUT,
            "/v1/tenants/p03/envs/prod/modules/postgres",
            Some(json!({"version": "16.4", "values": {"replicas": 3}})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = f
        .call(
            OPERATOR,
            Method::DELETE,
            "/v1/tenants/p04/envs/prod/modules/postgres",
            None,
        )
        .await;
    assert!(status.is_success(), "{body}");
    hold(&f, "p06", "2099-01-01T00:00:00Z");
    pass_wave(&f, &c, &everyone).await;
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 2);
    let p03 = f.file_at("main", "tenants/p03/prod/modules/postgres.yaml");
    assert!(
        p03.contains("16.6") && p03.contains("replicas: 3"),
        "re-planned: {p03}"
    );
    let p04 = git(
        &f.repo,
        &[
            "ls-tree",
            "--name-only",
            "main",
            "tenants/p04/prod/modules/",
        ],
    );
    assert!(!p04.contains("postgres"), "left as it is: {p04}");
    let message = git(&f.repo, &["log", "-1", "--format=%B", "main"]);
    assert!(
        !message.contains("Berth-Tenant: p04") && !message.contains("Berth-Tenant: p06"),
        "{message}"
    );
    let shown = f.rollout(&id).await;
    let p04 = tenant_state(&shown, "p04");
    assert_eq!(p04["state"], "skipped", "{shown}");
    assert!(
        p04["reason"]
            .as_str()
            .unwrap()
            .contains("no longer enabled in prod"),
        "{p04}"
    );
    let p06 = tenant_state(&shown, "p06");
    assert_eq!(p06["state"], "skipped");
    assert!(
        p06["reason"].as_str().unwrap().contains("held until"),
        "{p06}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_is_the_plan_started_and_a_key_answers_its_first_rollout() {
    let f = fleet(6, 0).await;
    let (_, dry) = f.plan(OPERATOR, upgrade()).await;
    let key = |k: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("Idempotency-Key", k.parse().unwrap());
        headers
    };
    let post = |body: Value, k: &'static str| {
        f.client
            .post(format!("{}/v1/rollouts", f.api.url))
            .bearer_auth(OPERATOR)
            .headers(key(k))
            .json(&body)
            .send()
    };
    let first = post(upgrade(), "upgrade-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        first["hash"], dry["hash"],
        "the dry run is the plan recorded"
    );
    assert_eq!(first["base"], dry["revision"]);
    let again: Value = post(upgrade(), "upgrade-1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["id"], first["id"],
        "a retry answers the first rollout"
    );
    let other = post(upgrade_with(json!({"on_failure": "revert"})), "upgrade-1")
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["error"]["field"], "Idempotency-Key", "{other}");
    let (_, list) = f.call(VIEWER, Method::GET, "/v1/rollouts", None).await;
    assert_eq!(list["rollouts"].as_array().unwrap().len(), 1, "{list}");
    let (status, body) = f
        .call(VIEWER, Method::GET, "/v1/rollouts/not-a-ulid", None)
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let (status, _) = f
        .call(
            VIEWER,
            Method::POST,
            &format!("/v1/rollouts/{}/pause", first["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer cannot steer");
    // A tenant-scoped token sees only rollouts of its own tenant.
    let (_, scoped) = f
        .call(ACME_OPERATOR, Method::GET, "/v1/rollouts", None)
        .await;
    assert!(
        scoped["rollouts"].as_array().unwrap().is_empty(),
        "{scoped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_killed_after_its_commit_commits_nothing_new_and_racing_steps_commit_once() {
    let f = fleet(10, 0).await;
    let c = f.cluster("status-a").await;
    let other = f.sweeper("status-b", &c.kube, &c.clock).await;
    let everyone = names(10, 0);
    c.synced(&everyone, &f.tip(), &[]);
    let id = f.start(upgrade()).await;

    let (a, b) = tokio::join!(c.sweeper.sweep(), other.sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        1,
        "{:?} {:?}",
        a.rollouts,
        b.rollouts
    );

    let before = f.store.get_rollout(&id).await.unwrap().unwrap();
    pass_wave(&f, &c, &everyone).await;
    let commits = f.rollout_commits(&id, "Berth-Rollout-Wave");
    assert_eq!(commits.len(), 2);
    // As if the step died after wave 2's commit and before recording it: the record as it
    // was, with the step's claim on wave 2.
    let after = f.store.get_rollout(&id).await.unwrap().unwrap();
    let mut killed = after.clone();
    killed.committed = before.committed.clone();
    killed.claim = Some(berth_store::CommitClaim {
        kind: "wave".into(),
        number: 2,
        since: c.clock.now(),
    });
    assert!(
        f.store
            .update_rollout(&killed, after.version)
            .await
            .unwrap()
    );
    c.sweep().await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "the claim holds"
    );
    c.clock.advance(Duration::from_secs(5 * 60));
    let stepped = c.sweep().await;
    assert!(stepped[0].contains("Recovered"), "{stepped:?}");
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "found, not made again"
    );
    let shown = f.rollout(&id).await;
    assert_eq!(shown["waves"][1]["commit"], commits[0].1.as_str());
    pass_wave(&f, &c, &everyone).await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        3,
        "and goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_abort_steer_the_waves() {
    let (f, c, everyone) = running(10, 0).await;
    let id = f.start(upgrade()).await;
    c.sweep().await;
    let f = &f;
    let steer = |action: &str| {
        let path = format!("/v1/rollouts/{id}/{action}");
        async move { f.call(OPERATOR, Method::POST, &path, None).await }
    };
    let (status, paused) = steer("pause").await;
    assert_eq!(
        (status, paused["state"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    assert!(
        paused["pause_reason"].as_str().unwrap().contains("token:"),
        "{paused}"
    );
    pass_wave(f, &c, &everyone).await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        1,
        "no wave while paused"
    );
    let (_, resumed) = steer("resume").await;
    assert_eq!(resumed["state"], "running");
    c.sweep().await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "resumed"
    );
    let (_, aborted) = steer("abort").await;
    assert_eq!(aborted["state"], "aborted");
    pass_wave(f, &c, &everyone).await;
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        2,
        "nothing after an abort"
    );
    let (status, body) = steer("resume").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::CONFLICT, Some("state"))
    );
    let (status, _) = steer("launch").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The aborted rollout is listed among the finished ones, a page at a time, to the end.
    let (status, page) = f
        .call(VIEWER, Method::GET, "/v1/rollouts?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["rollouts"][0]["id"], id.as_str(), "{page}");
    assert_eq!(page["rollouts"].as_array().unwrap().len(), 1, "{page}");
    if let Some(next) = page["next_before"].as_str() {
        let (_, older) = f
            .call(
                VIEWER,
                Method::GET,
                &format!("/v1/rollouts?before={next}"),
                None,
            )
            .await;
        assert_eq!(older["rollouts"], json!([]), "{older}");
        assert_eq!(older.get("next_before"), None, "the last page says so");
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("before=nope", "before"),
    ] {
        let (status, body) = f
            .call(VIEWER, Method::GET, &format!("/v1/rollouts?{query}"), None)
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{query}: {body}"
        );
    }
}

/// The webhook Lambda cannot reach the cluster: an Argo CD notification for a tenant a wave
/// waits on moves the rollout at once from the recorded statuses (its soak starts; a failure
/// pauses it), and leaves committing the next wave to the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd_notifications_move_a_rollout_at_once() {
    use berth_tests::api_server::ARGOCD_TOKEN;
    let (f, c, everyone) = running(10, 0).await;
    let follow_up = berth_status::AdvanceFromStore(f.sweeper("follow-up", &c.kube, &c.clock).await);
    let webhooks = ApiServer::start_with_refresh(
        f.repo.to_str().unwrap(),
        &f.dir.path().join("webhooks"),
        Arc::clone(&f.store),
        Arc::new(follow_up),
    )
    .await;
    let id = f.start(upgrade()).await;
    c.sweep().await;
    c.sweep().await;
    let notify = |tenant: String, revision: String, postgres: &'static str| {
        let (client, url) = (f.client.clone(), webhooks.url.clone());
        async move {
            for env in ["dev", "prod"] {
                for (module, health) in [(None, "Healthy"), (Some("postgres"), postgres)] {
                    let mut event = json!({"tenant": tenant, "env": env, "health": health, "sync": "Synced",
                                           "revision": revision, "application": format!("{tenant}-{env}")});
                    if let Some(m) = module {
                        event["module"] = json!(m);
                        event["application"] = json!(format!("{tenant}-{env}-{m}"));
                    }
                    let answer = client
                        .post(format!("{url}/webhooks/argocd"))
                        .bearer_auth(ARGOCD_TOKEN)
                        .json(&event)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(answer.status(), StatusCode::OK);
                }
            }
        }
    };
    assert_eq!(f.rollout(&id).await["waves"][0]["state"], "syncing");
    notify("p00".into(), f.tip(), "Healthy").await;
    let shown = f.rollout(&id).await;
    assert_eq!(shown["waves"][0]["state"], "soaking", "at once: {shown}");
    assert_eq!(
        f.rollout_commits(&id, "Berth-Rollout-Wave").len(),
        1,
        "the sweep commits"
    );
    // The cluster agrees at the next sweep; the soak counts from the notification.
    c.synced(&everyone, &f.tip(), &[]);
    c.clock.advance(SOAK);
    c.sweep().await;
    assert_eq!(f.rollout_commits(&id, "Berth-Rollout-Wave").len(), 2);
    c.sweep().await;
    let victim = wave_tenants(&shown, 2)[0].clone();
    notify(victim.clone(), f.tip(), "Degraded").await;
    let paused = f.rollout(&id).await;
    assert_eq!(paused["state"], "paused", "at once: {paused}");
    assert!(
        paused["pause_reason"].as_str().unwrap().contains(&victim),
        "{paused}"
    );
}

/// `?mode=pr`: each wave is committed onto a branch of its own for a person to approve, and
/// counts from its merge: nothing lands on main, and no deadline runs, until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_pr_mode_each_wave_waits_for_its_merge() {
    let (f, c, everyone) = running(10, 0).await;
    let started = f.start_at("/v1/rollouts?mode=pr", upgrade()).await;
    assert_eq!(started["mode"], "pr");
    let id = started["id"].as_str().unwrap().to_owned();
    let main_before = f.tip();
    c.sweep().await;
    assert_eq!(f.tip(), main_before, "nothing on main before a merge");
    let branch = format!("berth/{id}-wave-1");
    let head = git(&f.repo, &["rev-parse", &branch]).trim().to_owned();
    let message = git(&f.repo, &["log", "-1", "--format=%B", &head]);
    assert!(message.contains("Berth-Rollout-Wave: 1"), "{message}");
    let shown = f.rollout(&id).await;
    assert_eq!(shown["waves"][0]["state"], "awaiting_merge", "{shown}");
    assert_eq!(shown["waves"][0]["pull_request"], branch.as_str());
    assert_eq!(tenant_state(&shown, "p00")["state"], "committed");

    c.clock.advance(Duration::from_secs(2 * 3600));
    c.sweep().await;
    let waiting = f.rollout(&id).await;
    assert_eq!(
        waiting["state"], "running",
        "approval has no deadline: {waiting}"
    );

    // A person merges it (a fast-forward here); the wave's gates start.
    git(&f.repo, &["update-ref", "refs/heads/main", &head]);
    c.sweep().await;
    c.synced(&everyone, &f.tip(), &[]);
    c.sweep().await;
    assert_eq!(f.rollout(&id).await["waves"][0]["state"], "soaking");
    c.clock.advance(SOAK);
    c.sweep().await;
    assert_eq!(f.tip(), head, "the next wave goes to its own branch");
    let next = git(&f.repo, &["rev-parse", &format!("berth/{id}-wave-2")]);
    assert!(!next.trim().is_empty());
    assert_eq!(f.rollout(&id).await["waves"][1]["state"], "awaiting_merge");
}

/// With GitHub, each wave of a `pr` rollout is a pull request: a squash merge counts by the
/// commit the base got, and a pull request closed unmerged pauses the rollout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_github_each_wave_is_a_pull_request_and_closing_one_pauses() {
    use berth_tests::backend::{Backend, committer_on, github_config};
    use berth_tests::github::{GithubServer, pulls::MergeMethod};
    let (f, c, everyone) = running(10, 0).await;
    let github = GithubServer::start(f.repo.clone(), berth_tests::backend::GITHUB_TOKEN).await;
    let committer = committer_on(
        Backend::Github,
        &f.repo,
        &f.dir.path().join("gh"),
        &github.url,
    );
    let mut app = App::new(committer, Arc::clone(&f.store));
    app.pulls = Some(Arc::new(
        berth_gitops::GithubPulls::new(&github_config(&github.url), None).unwrap(),
    ));
    let connector = berth_tests::kube_server::connector(&c.kube.url, KUBE_TOKEN);
    let sweeper = Sweeper::new(app, Some(connector)).with_clock(c.clock.clone());
    let started = f.start_at("/v1/rollouts?mode=pr", upgrade()).await;
    let id = started["id"].as_str().unwrap().to_owned();

    sweeper.sweep().await.unwrap();
    let pulls = github.pull_requests();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head_ref, format!("berth/{id}-wave-1"));
    assert!(pulls[0].title.contains("wave 1"), "{}", pulls[0].title);
    let shown = f.rollout(&id).await;
    let first = pulls[0].number;
    let url = shown["waves"][0]["pull_request"].as_str().unwrap();
    assert!(url.ends_with(&format!("/pull/{first}")), "{shown}");
    let merged = github.merge_pull_request(first, MergeMethod::Squash);
    sweeper.sweep().await.unwrap();
    c.synced(&everyone, &merged, &[]);
    sweeper.sweep().await.unwrap();
    let soaking = f.rollout(&id).await;
    assert_eq!(
        soaking["waves"][0]["commit"],
        merged.as_str(),
        "judged by the squash commit"
    );
    assert_eq!(soaking["waves"][0]["state"], "soaking", "{soaking}");
    c.clock.advance(SOAK);
    sweeper.sweep().await.unwrap();
    let pulls = github.pull_requests();
    assert_eq!(pulls.len(), 2, "the next wave's pull request");
    github.close_pull_request(pulls[1].number);
    sweeper.sweep().await.unwrap();
    let paused = f.rollout(&id).await;
    assert_eq!(paused["state"], "paused", "{paused}");
    assert!(
        paused["pause_reason"]
            .as_str()
            .unwrap()
            .contains("closed without merging"),
        "{paused}"
    );
}
