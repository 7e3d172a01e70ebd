//! The tenant index follows Git: tenants that were in the repository before Berth, changed or
//! deleted by hand, or broken by a direct push are listed as Git holds them, after one sweep or
//! at once on a push event; what a reconciliation costs, counted by the store recorder.
//! Runs on both Git backends (`BERTH_TEST_GIT_BACKEND=github`).

use std::path::Path;
use std::sync::Arc;

use berth_status::Sweeper;
use berth_store::Store;
use berth_tests::api_server::{ADMIN, ApiServer, call_api, deliver_github_event};
use berth_tests::fleet::{self, Fleet};
use berth_tests::git::HAND_AUTHOR;
use berth_tests::{dynamo_store, hand_commit, seed_repo_with_tenants};
use berth_usecases::App;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KUBE_TOKEN: &str = "index-kube-token-0123456789";

async fn sweeper(remote: &Path, work: &Path, store: Arc<dyn Store>) -> Sweeper {
    let committer = berth_tests::backend::committer(remote.to_str().unwrap(), work).await;
    Sweeper::new(App::new(committer, store), None)
}

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        call_api(&self.http, &self.url, Some(ADMIN), method, path, body).await
    }

    /// A write to initech: its display name.
    async fn rename_initech(&self) -> (StatusCode, Value) {
        let body = json!({"display_name": "Initech Corp"});
        self.call(Method::PATCH, "/v1/tenants/initech", Some(body))
            .await
    }

    /// `GET /v1/tenants`, by name.
    async fn listed(&self) -> std::collections::BTreeMap<String, Value> {
        let (status, body) = self.call(Method::GET, "/v1/tenants", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
            .collect()
    }
}

/// The repository `berth dev` seeds (this project's example tenants, written before Berth ran),
/// the API over it, and a sweeper, sharing a table on moto.
struct World {
    dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    api: Client,
    sweeper: Sweeper,
    _server: ApiServer,
}

impl World {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo_with_tenants(dir.path(), "origin");
        let store: Arc<dyn Store> = Arc::new(dynamo_store().await);
        let remote = repo.to_str().unwrap();
        let server = ApiServer::start(remote, &dir.path().join("api"), Arc::clone(&store)).await;
        let api = Client {
            url: server.url.clone(),
            http: reqwest::Client::new(),
        };
        let sweeper = sweeper(&repo, &dir.path().join("sweep"), store).await;
        Self {
            dir,
            repo,
            api,
            sweeper,
            _server: server,
        }
    }
}

/// Rewrites every file under `tenants/<tenant>/` of the work tree `work` with `edit`.
fn edit_tenant_files(work: &Path, tenant: &str, edit: impl Fn(&str) -> String) {
    fn walk(dir: &Path, edit: &dyn Fn(&str) -> String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, edit);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, edit(&text)).unwrap();
            }
        }
    }
    walk(&work.join("tenants").join(tenant), &edit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_lists_what_git_holds_whoever_changed_it() {
    let World {
        dir,
        repo,
        api,
        sweeper,
        _server,
    } = World::start().await;

    // The repository held tenants before Berth: the first sweep lists them.
    assert!(api.listed().await.is_empty(), "Berth wrote none of them");
    let first = sweeper.sweep().await.unwrap();
    assert_eq!(first.index.pass.written, 3, "{:?}", first.index);
    let listed = api.listed().await;
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        ["globex", "initech", "umbrella"]
    );
    let globex = &listed["globex"];
    assert_eq!(
        (&globex["tier"], &globex["state"], &globex["owner"]),
        (
            &json!("premium"),
            &json!("active"),
            &json!("platform@globex.test")
        )
    );
    assert_eq!(globex["display_name"], "Globex");
    assert!(globex["problems"].as_array().unwrap().is_empty());

    // Berth's own request is listed at once; the next sweep finds its entry current.
    let body =
        json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]});
    let (status, created) = api.call(Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let acme = &api.listed().await["acme"];
    assert_eq!(acme["last_change"]["source"], "berth", "{acme}");
    assert_eq!(acme["last_change"]["request"], created["id"]);
    let after_create = sweeper.sweep().await.unwrap();
    assert_eq!(
        (
            after_create.index.pass.written,
            after_create.index.pass.removed
        ),
        (0, 0),
        "the entry Berth wrote already matches Git: {:?}",
        after_create.index
    );

    // A tier change pushed by hand, as a reviewed pull request would merge it.
    let by_hand = hand_commit(&repo, dir.path(), "Move acme to premium", |work| {
        edit_tenant_files(work, "acme", |text| {
            text.replace("tier: standard", "tier: premium")
        })
    });
    let swept = sweeper.sweep().await.unwrap();
    assert_eq!(swept.index.pass.written, 1, "{:?}", swept.index);
    let acme = &api.listed().await["acme"];
    assert_eq!(acme["tier"], "premium", "{acme}");
    assert_eq!(acme["state"], "active", "{acme}");
    let (name, email) = HAND_AUTHOR;
    let change = &acme["last_change"];
    assert_eq!(change["source"], "git", "{acme}");
    assert_eq!(change["commit"], by_hand.as_str());
    assert_eq!(change["author"], format!("{name} <{email}>"));
    assert!(change["request"].is_null(), "{change}");
    let (_, shown) = api.call(Method::GET, "/v1/tenants/acme", None).await;
    assert_eq!(shown["last_change"]["commit"], by_hand.as_str(), "{shown}");
    assert_eq!(shown["tier"], "premium");

    // A tenant folder deleted by hand leaves the list.
    hand_commit(&repo, dir.path(), "Remove umbrella", |work| {
        std::fs::remove_dir_all(work.join("tenants/umbrella")).unwrap();
    });
    assert_eq!(sweeper.sweep().await.unwrap().index.pass.removed, 1);
    assert!(!api.listed().await.contains_key("umbrella"));

    // A tenant.yaml broken by a direct push is listed invalid, never guessed.
    let spec_path = "tenants/initech/tenant.yaml";
    let original = berth_tests::git(&repo, &["show", &format!("main:{spec_path}")]);
    hand_commit(&repo, dir.path(), "Colour initech", |work| {
        let text = format!("{original}colour: red\n");
        std::fs::write(work.join(spec_path), text).unwrap();
    });
    let swept = sweeper.sweep().await.unwrap();
    assert_eq!(swept.index.pass.invalid, 1, "{:?}", swept.index);
    let initech = &api.listed().await["initech"];
    assert_eq!(initech["state"], "invalid", "{initech}");
    assert_eq!(initech["problems"][0]["file"], spec_path, "{initech}");
    assert!(
        initech["problems"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{initech}"
    );
    let (status, shown) = api.call(Method::GET, "/v1/tenants/initech", None).await;
    assert_eq!(status, StatusCode::OK, "shown broken, not refused: {shown}");
    assert_eq!(shown["state"], "invalid");
    assert_eq!(shown["problems"][0]["file"], spec_path);

    // A write on top of it is refused, naming the file, and nothing is committed.
    let tip = berth_tests::git(&repo, &["rev-parse", "main"]);
    let (status, refused) = api.rename_initech().await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["field"], spec_path, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains(spec_path),
        "{refused}"
    );
    assert_eq!(berth_tests::git(&repo, &["rev-parse", "main"]), tip);

    // Fixed by hand: listed as it is again, and writes go through.
    hand_commit(&repo, dir.path(), "Fix initech", |work| {
        std::fs::write(work.join(spec_path), &original).unwrap();
    });
    sweeper.sweep().await.unwrap();
    let initech = &api.listed().await["initech"];
    assert_eq!(
        initech["state"], "suspended",
        "as the seed has it: {initech}"
    );
    assert!(initech["problems"].as_array().unwrap().is_empty());
    let (status, body) = api.rename_initech().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_event_refreshes_the_touched_tenants_without_a_sweep() {
    let World {
        dir,
        repo,
        api,
        sweeper,
        _server,
    } = World::start().await;
    sweeper.sweep().await.unwrap();

    let sha = hand_commit(&repo, dir.path(), "Rename globex", |work| {
        edit_tenant_files(work, "globex", |text| {
            text.replace("display_name: Globex", "display_name: Globex Corp")
        });
        std::fs::remove_dir_all(work.join("tenants/umbrella")).unwrap();
    });
    let (name, email) = HAND_AUTHOR;
    let push = json!({
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"full_name": berth_tests::github::REPOSITORY},
        "commits": [{
            "id": sha, "message": "Rename globex", "timestamp": "2026-12-04T06:00:00Z",
            "author": {"name": name, "email": email},
            "added": [], "modified": ["tenants/globex/tenant.yaml"],
            "removed": ["tenants/umbrella/tenant.yaml", "tenants/umbrella/dev/base.yaml"]
        }]
    });
    let (status, answer) =
        deliver_github_event(&api.http, &api.url, "push", "push-delivery-1", &push).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "indexed", "{answer}");
    let listed = api.listed().await;
    assert_eq!(listed["globex"]["display_name"], "Globex Corp");
    assert_eq!(listed["globex"]["last_change"]["source"], "git");
    assert_eq!(listed["globex"]["last_change"]["commit"], sha.as_str());
    assert!(!listed.contains_key("umbrella"), "{listed:?}");

    // A push to another branch changes nothing.
    let other = json!({"ref": "refs/heads/feature", "commits": [{"id": sha,
        "modified": ["tenants/initech/tenant.yaml"]}]});
    let (status, answer) =
        deliver_github_event(&api.http, &api.url, "push", "push-delivery-2", &other).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "ignored", "{answer}");

    // The sweep after it finds the index current.
    let swept = sweeper.sweep().await.unwrap();
    assert_eq!(
        (swept.index.pass.written, swept.index.pass.removed),
        (0, 0),
        "{:?}",
        swept.index
    );
}

/// The fleet of the cost test: the 5,000 tenants, one env each, no modules.
const FLEET: usize = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_costs_nothing_on_an_unmoved_tip_and_only_the_changed_tenants_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet {
        tenants: FLEET,
        envs: vec!["dev"],
        modules: vec![],
    };
    let running = fleet.run(dir.path(), KUBE_TOKEN).await;
    let table = dynamo_store().await;
    let recorder = berth_tests::dynamo_recorder::DynamoRecorder::start().await;
    let store: Arc<dyn Store> = Arc::new(berth_store::DynamoStore::new(
        berth_store::dynamodb_client(Some(&recorder.url)),
        table.table(),
    ));
    let committer =
        berth_tests::backend::committer(running.repo.to_str().unwrap(), &dir.path().join("a"))
            .await;
    let connector = berth_tests::kube_server::connector(&running.kube.url, KUBE_TOKEN);
    let sweeper = Sweeper::new(App::new(committer, Arc::clone(&store)), Some(connector));

    let first = sweeper.sweep().await.unwrap();
    assert_eq!(first.index.pass.written, FLEET, "{:?}", first.index);
    assert_eq!(
        first.index.pass.store_reads, 2,
        "the reconciled tip, then one listing of the index"
    );
    assert_eq!(store.list_tenants().await.unwrap().len(), FLEET);

    // The tip did not move: the index costs no read and no write, of the store or of Git.
    recorder.reset();
    let unmoved = sweeper.sweep().await.unwrap();
    assert!(unmoved.index.pass.tip_unmoved, "{:?}", unmoved.index);
    assert_eq!(unmoved.index.pass.git_reads, 0);
    assert_eq!(recorder.items_returned().get("TENANT"), None);
    assert_eq!(recorder.calls().get("BatchWriteItem"), None);
    let puts_unmoved = recorder.calls().get("PutItem").copied().unwrap_or(0);

    // Three tenants renamed by hand: those three are read and written, no other.
    let changed = [1, 2_500, FLEET - 1].map(fleet::tenant_name);
    hand_commit(&running.repo, dir.path(), "Rename three", |work| {
        for tenant in &changed {
            let spec = work.join(format!("tenants/{tenant}/tenant.yaml"));
            let text = std::fs::read_to_string(&spec).unwrap();
            std::fs::write(&spec, format!("{text}display_name: Renamed {tenant}\n")).unwrap();
        }
    });
    recorder.reset();
    let moved = sweeper.sweep().await.unwrap();
    let pass = &moved.index.pass;
    assert_eq!((pass.written, pass.removed), (3, 0), "{pass:?}");
    assert_eq!(
        pass.store_reads, 3,
        "each changed entry read once: {pass:?}"
    );
    assert_eq!(
        recorder.items_returned().get("TENANT"),
        Some(&3),
        "no other tenant item read"
    );
    assert_eq!(recorder.calls().get("BatchWriteItem"), Some(&1));
    assert_eq!(
        recorder.calls().get("PutItem"),
        Some(&(puts_unmoved + 1)),
        "the reconciled tip beyond what an unmoved sweep writes: {:?}",
        recorder.calls()
    );
    // Chart files for the review, and one history read per changed tenant.
    assert_eq!(pass.git_reads, 1 + 3, "{pass:?}");
    for tenant in &changed {
        let entry = store.get_tenant(tenant).await.unwrap().unwrap();
        assert_eq!(
            entry.display_name.as_deref(),
            Some(format!("Renamed {tenant}").as_str())
        );
        assert_eq!(entry.last_change.unwrap().source, "git");
    }

    // A cold sweeper on the same tip reads the reconciled tip, and no entry.
    let cold = Sweeper::new(
        App::new(
            berth_tests::backend::committer(running.repo.to_str().unwrap(), &dir.path().join("b"))
                .await,
            Arc::clone(&store),
        ),
        None,
    );
    recorder.reset();
    let pass = cold.sweep().await.unwrap().index.pass;
    assert!(pass.tip_unmoved, "{pass:?}");
    assert_eq!(
        (pass.store_reads, pass.written, pass.git_reads),
        (1, 0, 0),
        "{pass:?}"
    );
    assert_eq!(recorder.items_returned().get("INDEX"), Some(&1));
}
