//! Group commit end to end: bursts of API requests, each through an API instance of its own
//! (its own committer cache and store client) on one moto table, land as a few commits with one
//! trailer per request, on the GitHub test server and on `git daemon`; refusals inside a batch,
//! holders that die before or after committing, and duplicate keys and event ids.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_core::request::trailer_request_ids;
use berth_core::{Action, Request};
use berth_http::{AppState, webhook_router};
use berth_store::{RequestRecord, RequestState, Store};
use berth_tests::api_server::{SIGNUP_SECRET, signup_headers, webhook_secrets};
use berth_tests::burst::{Answer, Backend, Burst, create_body, send, send_request};
use berth_tests::dynamodb_endpoint;
use berth_usecases::App;
use berth_usecases::write::group_commit::{self, GroupCommit, Leader};

const BURST: usize = 200;

/// One burst at a time in this binary (nextest also runs each alone: `.config/nextest.toml`).
static ONE_BURST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn burst_of_creates(burst: &Burst, count: usize) -> Vec<(String, Answer)> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let _alone = ONE_BURST.lock().await;
    let group = Some(GroupCommit::default());
    let sends = (0..count).map(|i| {
        let name = format!("t{i:03}");
        let router = burst.instance(i, group);
        tokio::spawn(async move {
            let answer = send(router, "POST", "/v1/tenants", &create_body(&name), None).await;
            (name, answer)
        })
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|joined| joined.expect("a request task"))
        .collect()
}

/// Every request committed exactly once, its caller answered with the commit carrying its
/// trailer; returns how many commits the burst made.
fn check_burst(burst: &Burst, answers: &[(String, Answer)]) -> usize {
    let messages = burst.messages();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (_, a) in answers {
        *by_status.entry(a.status).or_default() += 1;
    }
    let slowest = answers.iter().map(|(_, a)| a.latency).max();
    println!(
        "answers by status {by_status:?}, {} commits, slowest {slowest:?}",
        messages.len()
    );
    let mut carried: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (sha, message) in &messages {
        for id in trailer_request_ids(message) {
            carried.entry(id.to_owned()).or_default().push(sha.clone());
        }
    }
    for (name, answer) in answers {
        assert_eq!(answer.status, 202, "{name}: {}", answer.body);
        let id = answer.body["id"].as_str().expect("a request id");
        let commit = answer.body["commit"].as_str().expect("a commit");
        assert_eq!(
            carried.get(id).map(Vec::as_slice),
            Some(&[commit.to_owned()][..]),
            "{name}: its trailer is on main exactly once, in the commit it was answered with"
        );
        let shared = messages
            .iter()
            .find(|(sha, _)| sha == commit)
            .map(|(_, m)| trailer_request_ids(m).count())
            .unwrap_or_default();
        assert_eq!(
            answer.body["batch_size"].as_u64(),
            Some(shared as u64),
            "{name}: the record says how many requests shared its commit"
        );
        let spec = berth_tests::git(
            &burst.repo,
            &["show", &format!("main:tenants/{name}/tenant.yaml")],
        );
        assert!(spec.contains(&format!("name: {name}")), "{spec}");
    }
    assert_eq!(carried.len(), answers.len(), "no other request landed");
    messages.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_on_github_lands_in_few_commits_each_request_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let burst = Burst::start(Backend::Github, dir.path(), &dynamodb_endpoint()).await;
    let answers = burst_of_creates(&burst, BURST).await;
    let commits = check_burst(&burst, &answers);
    let server = burst.github.as_ref().unwrap();
    let (mutations, races) = (server.commit_mutations(), server.stale_commits());
    println!(
        "{BURST} requests: {commits} commits, {mutations} commit mutations, {races} lost races"
    );
    assert!(
        commits <= BURST / 4,
        "{commits} commits for {BURST} requests"
    );
    assert_eq!(
        mutations,
        commits + races,
        "every mutation either landed a commit or lost a race: none was sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_on_git_daemon_lands_in_few_commits_each_request_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let burst = Burst::start(Backend::GitDaemon, dir.path(), &dynamodb_endpoint()).await;
    let answers = burst_of_creates(&burst, BURST).await;
    let commits = check_burst(&burst, &answers);
    let pushes = burst.pushes().expect("git daemon counts pushes");
    println!(
        "{BURST} requests: {commits} commits, {pushes} pushes, {} lost races",
        burst.lost_races()
    );
    assert!(pushes >= commits, "every commit came in a push");
    assert!(
        commits <= BURST / 4,
        "{commits} commits for {BURST} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_request_in_a_batch_gets_422_with_its_field_and_the_others_commit() {
    let dir = tempfile::tempdir().unwrap();
    let burst = Burst::start(Backend::Github, dir.path(), &dynamodb_endpoint()).await;
    // Someone holds the lease while the burst arrives: every request waits, then one batch.
    let store = burst.store();
    store
        .take_commit_lease("someone", epoch_now() + 600)
        .await
        .unwrap()
        .unwrap();
    let group = Some(GroupCommit::default());
    let sends = (0..10).map(|i| {
        let body = if i == 4 {
            serde_json::json!({"name": "t004", "tier": "platinum", "envs": ["dev"]})
        } else {
            create_body(&format!("t{i:03}"))
        };
        let router = burst.instance(i, group);
        tokio::spawn(async move { send(router, "POST", "/v1/tenants", &body, None).await })
    });
    let sending = futures::future::join_all(sends);
    let release = async {
        wait_for_pending(&*store, 10).await;
        store.release_commit_lease("someone", true).await.unwrap();
    };
    let (answers, ()) = tokio::join!(sending, release);
    let answers: Vec<Answer> = answers.into_iter().map(Result::unwrap).collect();

    let refused = &answers[4];
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["error"]["field"], "tier", "{}", refused.body);
    let id = refused.body["request"]["id"]
        .as_str()
        .or_else(|| refused.body["id"].as_str());
    if let Some(id) = id {
        let record = store.get_request(id).await.unwrap().unwrap();
        assert_eq!(record.state, RequestState::Rejected);
    }
    let commits: BTreeSet<&str> = answers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, a)| {
            assert_eq!(a.status, 202, "{}", a.body);
            assert_eq!(a.body["batch_size"], 9, "{}", a.body);
            a.body["commit"].as_str().unwrap()
        })
        .collect();
    assert_eq!(commits.len(), 1, "the nine landed together");
    assert_eq!(burst.commits(), 1);
}

/// Waits (bounded) until `count` requests are pending in `store`.
async fn wait_for_pending(store: &dyn Store, count: usize) {
    for _ in 0..400 {
        if store.list_pending(count).await.unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{count} requests never waited together");
}

fn epoch_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Records `names`' creation as pending, as their callers do before taking the lease.
async fn pending_creates(store: &dyn Store, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let (tenant, new) = berth_core::body::parse_create_tenant(&create_body(name)).unwrap();
        let request = Request {
            id: ulid::Ulid::new().to_string(),
            tenant,
            action: Action::CreateTenant(new),
        };
        let mut record = RequestRecord::new(
            &request.id,
            "create_tenant",
            "api",
            name,
            RequestState::Accepted,
            "2026-11-22T00:00:00Z".into(),
        );
        record.payload = Some(serde_json::to_string(&request).unwrap());
        assert!(store.put_pending(&record).await.unwrap());
        ids.push(request.id);
    }
    ids
}

/// A second function instance: its own committer cache and store client.
fn services(burst: &Burst, n: usize) -> App {
    App::new(burst.committer(n), burst.store())
}

#[tokio::test]
async fn a_holder_that_died_after_committing_is_recorded_by_the_next_and_nothing_commits_twice() {
    for backend in [Backend::Github, Backend::GitDaemon] {
        let dir = tempfile::tempdir().unwrap();
        let burst = Burst::start(backend, dir.path(), &dynamodb_endpoint()).await;
        let group = GroupCommit::default();
        let first = services(&burst, 0);
        let ids = pending_creates(&*first.store, &["a1", "a2", "a3"]).await;

        // The first holder's lease has run out by the time anyone looks: it died holding it.
        let taken = first
            .store
            .take_commit_lease("dead", epoch_now() - 1)
            .await
            .unwrap();
        assert!(taken.is_some());
        let pending = first.store.list_pending(100).await.unwrap();
        let batch = Leader::new(&first, &group, false)
            .commit_batch(pending)
            .await
            .unwrap();
        let landed = batch.commit.clone().expect("the batch committed");
        drop(batch); // killed here: no outcome recorded, the lease never released
        assert_eq!(burst.commits(), 1);
        for id in &ids {
            let record = first.store.get_request(id).await.unwrap().unwrap();
            assert!(record.is_pending(), "{backend:?}: nothing was recorded");
        }

        let next = services(&burst, 1);
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        let settled = group_commit::drain(&next, &group, until).await.unwrap();
        assert_eq!(settled, 3, "{backend:?}");
        assert_eq!(
            burst.commits(),
            1,
            "{backend:?}: found on the branch, not committed again"
        );
        for id in &ids {
            let record = next.store.get_request(id).await.unwrap().unwrap();
            assert_eq!(record.state, RequestState::Committed, "{backend:?}");
            assert_eq!(record.commit.as_deref(), Some(landed.as_str()));
            assert_eq!(record.batch_size, Some(3));
            assert_eq!(record.payload, None);
        }
        let indexed = next.store.get_tenant("a2").await.unwrap();
        assert!(indexed.is_some(), "{backend:?}: the tenant index caught up");
    }
}

#[tokio::test]
async fn a_holder_that_died_before_committing_is_taken_over_and_the_batch_commits_once() {
    for backend in [Backend::Github, Backend::GitDaemon] {
        let dir = tempfile::tempdir().unwrap();
        let burst = Burst::start(backend, dir.path(), &dynamodb_endpoint()).await;
        let group = GroupCommit::default();
        let next = services(&burst, 1);
        let ids = pending_creates(&*next.store, &["b1", "b2"]).await;

        // Held and live: nobody takes over.
        let store = burst.store();
        store
            .take_commit_lease("alive", epoch_now() + 600)
            .await
            .unwrap()
            .unwrap();
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        assert_eq!(group_commit::drain(&next, &group, until).await.unwrap(), 0);
        assert_eq!(burst.commits(), 0);

        // Its holder died before committing, and its lease ran out.
        store.release_commit_lease("alive", false).await.unwrap();
        store
            .take_commit_lease("dead", epoch_now() - 1)
            .await
            .unwrap()
            .unwrap();
        let settled = group_commit::drain(&next, &group, until).await.unwrap();
        assert_eq!(settled, 2, "{backend:?}");
        assert_eq!(burst.commits(), 1, "{backend:?}");
        let messages = burst.messages();
        for id in &ids {
            let record = next.store.get_request(id).await.unwrap().unwrap();
            assert_eq!(record.state, RequestState::Committed, "{backend:?}");
            let carried: usize = messages
                .iter()
                .map(|(_, m)| trailer_request_ids(m).filter(|c| c == id).count())
                .sum();
            assert_eq!(carried, 1, "{backend:?}: committed once");
        }
        let lease = store.commit_lease().await.unwrap().unwrap();
        assert!(lease.released, "the new holder let go cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_keys_and_event_ids_in_a_burst_have_one_effect_each() {
    let _alone = ONE_BURST.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let burst = Burst::start(Backend::Github, dir.path(), &dynamodb_endpoint()).await;
    let group = Some(GroupCommit::default());
    let mut sends = Vec::new();
    for copy in 0..5 {
        for key in 0..8 {
            let router = burst.instance(copy * 8 + key, group);
            let (name, key) = (format!("k{key}"), format!("key-{key}"));
            sends.push(tokio::spawn(async move {
                send(
                    router,
                    "POST",
                    "/v1/tenants",
                    &create_body(&name),
                    Some(&key),
                )
                .await
            }));
        }
        for event in 0..8 {
            let app = webhook_instance(&burst, 100 + copy * 8 + event);
            let body = serde_json::json!({"type": "tenant.signup", "data": {"name": format!("w{event}"), "tier": "standard", "envs": ["dev"]}}).to_string();
            let id = format!("msg_{event}");
            sends.push(tokio::spawn(async move {
                deliver_signup(app, &id, &body).await
            }));
        }
    }
    let answers: Vec<Answer> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for answer in &answers {
        // A copy that arrives while the first is in flight is told so (409); the rest answer
        // as the first did.
        assert!(
            [200, 202, 409].contains(&answer.status),
            "{} {}",
            answer.status,
            answer.body
        );
    }
    // Whatever the callers saw, each key and each event id had one effect: one request, one
    // trailer, one tenant.
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    group_commit::drain(&services(&burst, 999), &GroupCommit::default(), until)
        .await
        .unwrap();
    let mut carried: BTreeMap<String, usize> = BTreeMap::new();
    for (_, message) in burst.messages() {
        for id in trailer_request_ids(&message) {
            *carried.entry(id.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(carried.len(), 16, "{carried:?}");
    assert!(carried.values().all(|n| *n == 1), "{carried:?}");
    let tree = berth_tests::git(&burst.repo, &["ls-tree", "--name-only", "main", "tenants/"]);
    for name in (0..8).flat_map(|i| [format!("k{i}"), format!("w{i}")]) {
        assert!(
            tree.lines().any(|l| l == format!("tenants/{name}")),
            "{name}: {tree}"
        );
    }
}

/// A webhook function instance of its own.
fn webhook_instance(burst: &Burst, n: usize) -> axum::Router {
    let config = berth_http::ApiConfig::new(Vec::new());
    let mut app = AppState::new(burst.committer(n), burst.store(), config);
    app.app.group_commit = Some(GroupCommit::default());
    webhook_router(app, webhook_secrets("http://127.0.0.1:9"))
}

async fn deliver_signup(app: axum::Router, id: &str, body: &str) -> Answer {
    let mut request = axum::http::Request::builder()
        .method("POST")
        .uri("/webhooks/signup");
    for (name, value) in signup_headers(id, body, SIGNUP_SECRET, epoch_now()) {
        request = request.header(name, value);
    }
    let request = request
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap();
    send_request(app, request).await
}
