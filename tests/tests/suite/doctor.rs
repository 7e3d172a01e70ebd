//! `GET /v1/doctor` over real parts: a bare repository (or the GitHub test server over it), a
//! table on moto's server, and the status function's sweep of the Kubernetes test server. A
//! sound deployment passes every check; each part broken on purpose is named, with what to do.

use std::sync::Arc;

use berth_gitops::{Committer, GithubCommitter, GithubCredential};
use berth_status::Sweeper;
use berth_store::Store;
use berth_tests::api_server::{ADMIN, ApiServer, VIEWER, call_api};
use berth_tests::backend::{GITHUB_TOKEN, github_config};
use berth_tests::github::{GithubServer, TEST_APP_ID, TEST_INSTALLATION_ID};
use berth_tests::kube_server::{KubeServer, connector};
use berth_tests::{dynamo_store, hand_commit, seed_repo};
use berth_usecases::App;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KUBE_TOKEN: &str = "doctor-kube-token-0123456789";

/// A deployment's parts: its repository, store and cluster.
struct Deployment {
    dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    store: Arc<dyn Store>,
    kube: KubeServer,
}

impl Deployment {
    /// A seeded repository, a fresh table, and a cluster holding Berth's Argo CD setup.
    async fn sound() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let kube = KubeServer::start().await;
        kube.require_token(KUBE_TOKEN);
        for name in ["berth-tenant-envs", "berth-modules"] {
            kube.add(APPLICATION_SETS, argo_object("ApplicationSet", name));
        }
        kube.add(APP_PROJECTS, argo_object("AppProject", "berth-tenants"));
        Self {
            dir,
            repo,
            store: Arc::new(dynamo_store().await),
            kube,
        }
    }

    fn git2(&self) -> Arc<dyn Committer> {
        Arc::new(berth_gitops::Git2Committer::new(
            berth_gitops::Git2Config::new(
                berth_gitops::RemoteUrl::parse(self.repo.to_str().unwrap()).unwrap(),
                "main",
                self.dir.path().join("work"),
            ),
        ))
    }

    /// One sweep by the status function, reading the cluster at `kube_url`.
    async fn sweep(&self, kube_url: &str) {
        let app = App::new(self.git2(), Arc::clone(&self.store));
        let sweeper = Sweeper::new(app, Some(connector(kube_url, KUBE_TOKEN)));
        sweeper.sweep().await.unwrap();
    }

    /// The doctor's answer through `committer`, asked with `token`.
    async fn doctor(&self, committer: Arc<dyn Committer>, token: &str) -> (StatusCode, Value) {
        let server = ApiServer::start_with_committer(committer, Arc::clone(&self.store)).await;
        call_api(
            &reqwest::Client::new(),
            &server.url,
            Some(token),
            Method::GET,
            "/v1/doctor",
            None,
        )
        .await
    }
}

const APPLICATION_SETS: &str = "argoproj.io/v1alpha1/applicationsets";
const APP_PROJECTS: &str = "argoproj.io/v1alpha1/appprojects";

fn argo_object(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": kind,
           "metadata": {"name": name, "namespace": "argocd"}})
}

/// The check named `name`: its status and message.
fn check<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str) {
    let found = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"));
    (
        found["status"].as_str().unwrap(),
        found["message"].as_str().unwrap(),
    )
}

fn github_committer(server: &GithubServer, app: bool) -> Arc<dyn Committer> {
    let mut config = github_config(&server.url);
    if app {
        config.credential = GithubCredential::App {
            app_id: TEST_APP_ID,
            private_key_pem: GithubServer::test_app_private_key().into(),
            installation_id: TEST_INSTALLATION_ID,
        };
    }
    Arc::new(GithubCommitter::new(config).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sound_deployment_passes_every_check() {
    let d = Deployment::sound().await;
    d.sweep(&d.kube.url).await;
    let (status, report) = d.doctor(d.git2(), ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
    }
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "auth",
        "git.read",
        "catalog",
        "module.postgres",
        "git.write",
        "store",
        "cluster",
        "argocd",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    // On GitHub, with the App: its installation's permissions, and an unprotected branch.
    let github = GithubServer::start(d.repo.clone(), GITHUB_TOKEN).await;
    let (_, report) = d.doctor(github_committer(&github, true), ADMIN).await;
    assert_eq!(check(&report, "git.write").0, "ok", "{report}");
    assert!(
        check(&report, "git.write")
            .1
            .contains("installation grants contents: write")
    );
    assert_eq!(
        check(&report, "git.branch"),
        ("ok", "the branch takes direct commits")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_part_is_named_with_what_to_do() {
    let d = Deployment::sound().await;
    d.sweep(&d.kube.url).await;

    // A token without the admin role.
    let (status, answer) = d.doctor(d.git2(), VIEWER).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role is viewer"),
        "{answer}"
    );

    // A read-only credential, as a token and as an App; a protected branch.
    let github = GithubServer::start(d.repo.clone(), GITHUB_TOKEN).await;
    github.set_read_only();
    let (_, report) = d.doctor(github_committer(&github, false), ADMIN).await;
    assert_eq!(check(&report, "git.write").0, "failed", "{report}");
    assert!(
        check(&report, "git.write").1.contains("may not push"),
        "{report}"
    );
    let (_, report) = d.doctor(github_committer(&github, true), ADMIN).await;
    let (state, message) = check(&report, "git.write");
    assert_eq!(state, "failed");
    assert!(message.contains("contents: read"), "{message}");
    let github = GithubServer::start(d.repo.clone(), GITHUB_TOKEN).await;
    github.protect_branch("main");
    let (_, report) = d.doctor(github_committer(&github, false), ADMIN).await;
    let (state, message) = check(&report, "git.branch");
    assert_eq!(
        (state, message),
        (
            "failed",
            "the branch is protected: a direct commit will be refused"
        )
    );

    // A module whose chart has no schema.
    hand_commit(&d.repo, d.dir.path(), "Drop vault's schema", |work| {
        std::fs::remove_file(work.join("charts/modules/vault/values.schema.json")).unwrap();
    });
    let (_, report) = d.doctor(d.git2(), ADMIN).await;
    let (state, message) = check(&report, "module.vault");
    assert_eq!(state, "failed");
    assert!(
        message.contains("charts/modules/vault/values.schema.json is missing"),
        "{message}"
    );
    assert_eq!(check(&report, "module.postgres").0, "ok");

    // A missing ApplicationSet, seen by a fresh status function.
    let bare = KubeServer::start().await;
    bare.require_token(KUBE_TOKEN);
    bare.add(
        APPLICATION_SETS,
        argo_object("ApplicationSet", "berth-tenant-envs"),
    );
    bare.add(APP_PROJECTS, argo_object("AppProject", "berth-tenants"));
    d.sweep(&bare.url).await;
    let (_, report) = d.doctor(d.git2(), ADMIN).await;
    assert_eq!(
        check(&report, "argocd"),
        ("failed", "missing: ApplicationSet berth-modules")
    );

    // A cluster that does not answer.
    bare.stop();
    d.sweep(&bare.url).await;
    let (_, report) = d.doctor(d.git2(), ADMIN).await;
    let (state, message) = check(&report, "cluster");
    assert_eq!(state, "failed", "{report}");
    assert!(
        message.starts_with("does not answer the status function"),
        "{message}"
    );
}
