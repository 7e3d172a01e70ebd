//! `?mode=pr` on both backends against the GitHub test server, over one real bare repository:
//! the pull request opened with its title, body and label, reused on a retry, auto-merge
//! enabled when configured; then followed to main: merged by squash and synced by ancestry of
//! the merge commit, closed unmerged and failed, and a missed webhook caught by the sweep.

use std::sync::Arc;

use berth_gitops::Target;
use berth_gitops::github::wire::RepoName;
use berth_gitops::{AutoMerge, GithubPulls, PullRequestDraft};
use berth_http::auth::{Role, TokenGrant};
use berth_http::{ApiConfig, AppState, api_router, webhook_router};
use berth_status::Sweeper;
use berth_store::{LocalStore, RequestRecord, RequestState};
use berth_tests::api_server::{ADMIN, deliver_github_event, webhook_secrets};
use berth_tests::backend::{BACKENDS, Backend, GITHUB_TOKEN, committer_on, github_config};
use berth_tests::commits::{commit_to, create_request, sha};
use berth_tests::github::GithubServer;
use berth_tests::github::pulls::MergeMethod;
use berth_tests::kube_server::{KubeServer, connector};
use berth_tests::{fleet, git, seed_repo};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The token `webhook_secrets` gives the webhooks, which the server accepts from everyone here.
const KUBE_TOKEN: &str = "kube-test-token-0123456789";

struct Fixture {
    url: String,
    github: GithubServer,
    repo: std::path::PathBuf,
    app: AppState,
    pulls: Arc<GithubPulls>,
    client: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(backend: Backend, auto_merge: Option<AutoMerge>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let github = GithubServer::start(repo.clone(), GITHUB_TOKEN).await;
        let committer = committer_on(backend, &repo, &dir.path().join("work"), &github.url);
        let pulls = Arc::new(GithubPulls::new(&github_config(&github.url), auto_merge).unwrap());
        let store = Arc::new(LocalStore::open(dir.path().join("store.json")).unwrap());
        let config = ApiConfig::new(vec![TokenGrant::new(ADMIN, Role::Admin, None)]);
        let app = AppState::new(committer, store, config).with_pull_requests(Arc::clone(&pulls));
        let router = api_router(app.clone())
            .merge(webhook_router(app.clone(), webhook_secrets(&github.url)));
        let (url, task) = berth_tests::serve::serve_loopback(router).await;
        Self {
            url,
            github,
            repo,
            app,
            pulls,
            client: reqwest::Client::new(),
            _task: task,
            _dir: dir,
        }
    }

    /// Creates tenant `name` in pull-request mode; returns the request record.
    async fn create_in_pr_mode(&self, name: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/v1/tenants?mode=pr", self.url))
            .bearer_auth(ADMIN)
            .header("idempotency-key", format!("pr-{name}"))
            .json(&json!({"name": name, "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json().await.unwrap()
    }

    async fn deliver(&self, delivery: &str, payload: Value) -> Value {
        let (status, answer) =
            deliver_github_event(&self.client, &self.url, "pull_request", delivery, &payload).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    async fn record(&self, id: &str) -> berth_store::RequestRecord {
        self.app.app.store.get_request(id).await.unwrap().unwrap()
    }

    fn sweeper(&self, kube: Option<&str>) -> Sweeper {
        Sweeper::new(
            self.app.app.clone(),
            kube.map(|url| connector(url, KUBE_TOKEN)),
        )
    }
}

#[tokio::test]
async fn a_pr_request_opens_a_labelled_pull_request_and_a_retry_reuses_it() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        let main = git(&f.repo, &["rev-parse", "main"]);
        let before = f.github.calls();
        let record = f.create_in_pr_mode("acme").await;
        let calls = f.github.calls() - before;
        println!("{backend:?}: {calls} calls to GitHub for a pull-request request");

        assert_eq!(record["state"], "pr_opened", "{backend:?}: {record}");
        let id = record["id"].as_str().unwrap();
        let number = record["pr_number"].as_u64().expect("a pull request number");
        assert_eq!(
            record["pr_url"],
            format!("https://github.test/acme/gitops/pull/{number}"),
            "the web address, not the API's"
        );
        assert_eq!(record["branch"], format!("berth/{id}"));
        assert_eq!(
            git(&f.repo, &["rev-parse", "main"]),
            main,
            "main is left alone"
        );

        let pulls = f.github.pull_requests();
        assert_eq!(pulls.len(), 1);
        let pull = &pulls[0];
        assert_eq!(pull.number, number);
        assert!(
            pull.title.starts_with("Create tenant acme"),
            "{}",
            pull.title
        );
        for expected in [
            id,
            "create_tenant",
            "`tenants/acme/tenant.yaml`",
            "**Validation**: passed",
        ] {
            assert!(pull.body.contains(expected), "{expected} in {}", pull.body);
        }
        assert!(pull.labels.contains("berth"), "{:?}", pull.labels);
        assert!(f.github.labels().contains("berth"), "the label was created");
        assert_eq!(pull.auto_merge, None, "not configured");

        // A retry after a crash between the push and the pull request: GitHub's 422 leads to
        // the open one, and no second is opened.
        let again = f
            .pulls
            .open(&PullRequestDraft {
                branch: format!("berth/{id}"),
                title: "retry".into(),
                body: "retry".into(),
            })
            .await
            .unwrap();
        assert_eq!(again.number, number);
        assert_eq!(f.github.pull_requests().len(), 1);
    }
}

/// The branch is pushed but the pull request cannot be opened (GitHub answers 502): the request
/// answers 503 and is `failed`; its retry with the same `Idempotency-Key` finds the pushed
/// branch by its trailer, opens the pull request, and commits nothing twice.
#[tokio::test]
async fn a_pull_request_github_could_not_open_is_opened_by_the_retry() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        f.github.fail_next("POST", "/pulls");
        let send = || {
            f.client
                .post(format!("{}/v1/tenants?mode=pr", f.url))
                .bearer_auth(ADMIN)
                .header("idempotency-key", "pr-retry")
                .json(&json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
                .send()
        };
        let first = send().await.unwrap();
        assert_eq!(
            first.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{backend:?}"
        );
        assert!(f.github.pull_requests().is_empty());

        let retried = send().await.unwrap();
        assert_eq!(retried.status(), StatusCode::ACCEPTED, "{backend:?}");
        let record: Value = retried.json().await.unwrap();
        assert_eq!(record["state"], "pr_opened", "{record}");
        let id = record["id"].as_str().unwrap();
        assert_eq!(f.github.pull_requests().len(), 1);
        let commits = git(
            &f.repo,
            &["rev-list", "--count", &format!("main..berth/{id}")],
        );
        assert_eq!(commits.trim(), "1", "the branch was committed once");
    }
}

/// A function killed after pushing the branch and before opening the pull request, and no retry
/// came: the sweep settles the request from its trailer on the branch and opens the pull request.
#[tokio::test]
async fn a_sweep_opens_the_pull_request_of_a_request_a_crash_left_accepted() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        let id = ulid::Ulid::new().to_string();
        let branch = format!("berth/{id}");
        let pushed = commit_to(
            &*f.app.app.committer,
            create_request(&id, "acme"),
            Target::NewBranch(branch.clone()),
        )
        .await
        .unwrap();
        let crashed = RequestRecord::new(
            &id,
            "create_tenant",
            "api",
            "acme",
            RequestState::Accepted,
            "2026-01-01T00:00:00Z".into(),
        );
        f.app.app.store.put_request(&crashed).await.unwrap();

        f.sweeper(None).sweep().await.unwrap();
        let settled = f.record(&id).await;
        assert_eq!(settled.state, RequestState::PrOpened, "{backend:?}");
        assert_eq!(settled.commit.as_deref(), Some(sha(&pushed).as_str()));
        let pulls = f.github.pull_requests();
        assert_eq!(pulls.len(), 1);
        assert_eq!(pulls[0].head_ref, branch);
        assert_eq!(settled.pr_number, Some(pulls[0].number));
    }
}

#[tokio::test]
async fn auto_merge_is_enabled_when_configured() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, Some(AutoMerge::Squash)).await;
        f.create_in_pr_mode("acme").await;
        let pulls = f.github.pull_requests();
        assert_eq!(
            pulls[0].auto_merge.as_deref(),
            Some("SQUASH"),
            "{backend:?}"
        );
    }
}

/// With a squash merge the branch's own commit never reaches main: the request follows the
/// merge commit to `merged`, and to `synced` once Argo CD reports a revision holding it.
#[tokio::test]
async fn a_squash_merge_moves_the_request_to_merged_then_synced_by_the_merge_commit() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        let record = f.create_in_pr_mode("acme").await;
        let id = record["id"].as_str().unwrap();
        let number = record["pr_number"].as_u64().unwrap();
        let branch_commit = record["commit"].as_str().unwrap().to_owned();

        let squashed = f.github.merge_pull_request(number, MergeMethod::Squash);
        assert_ne!(squashed, branch_commit, "the squash is a new commit");
        let answer = f
            .deliver(
                &format!("merge-{backend:?}"),
                f.github.pull_request_event(number, "closed"),
            )
            .await;
        assert_eq!(answer["outcome"], "merged", "{answer}");
        let record = f.record(id).await;
        assert_eq!(record.state, RequestState::Merged);
        assert_eq!(record.commit.as_deref(), Some(squashed.as_str()));

        let kube = KubeServer::start().await;
        kube.require_token(KUBE_TOKEN);
        for (module, health) in [(None, "Healthy"), (Some("postgres"), "Progressing")] {
            kube.replace(
                fleet::APPLICATIONS,
                fleet::application("acme", "dev", module, &squashed, health),
            );
        }
        kube.replace(
            fleet::STATEFULSETS,
            fleet::statefulset("acme", "dev", "postgres", 1, 1),
        );
        let report = f.sweeper(Some(&kube.url)).sweep().await.unwrap();
        assert_eq!(
            f.record(id).await.state,
            RequestState::Synced,
            "{backend:?}: {report:?}"
        );
    }
}

#[tokio::test]
async fn a_pull_request_closed_unmerged_fails_its_request() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        let record = f.create_in_pr_mode("acme").await;
        let id = record["id"].as_str().unwrap();
        let number = record["pr_number"].as_u64().unwrap();
        f.github.close_pull_request(number);
        let answer = f
            .deliver(
                &format!("close-{backend:?}"),
                f.github.pull_request_event(number, "closed"),
            )
            .await;
        assert_eq!(answer["outcome"], "closed", "{answer}");
        let record = f.record(id).await;
        assert_eq!(record.state, RequestState::Failed);
        assert_eq!(record.error.unwrap().code, "pr_closed");
    }
}

/// GitHub does not redeliver a failed webhook: the sweep reads every open Berth pull request in
/// one query and moves the requests whose webhook never came.
#[tokio::test]
async fn a_missed_webhook_is_caught_by_the_sweep() {
    for backend in BACKENDS {
        let f = Fixture::new(backend, None).await;
        let merged_one = f.create_in_pr_mode("acme").await;
        let closed_one = f.create_in_pr_mode("beta").await;
        let open_one = f.create_in_pr_mode("gamma").await;
        let rebased_one = f.create_in_pr_mode("delta").await;
        let number = |r: &Value| r["pr_number"].as_u64().unwrap();
        let id = |r: &Value| r["id"].as_str().unwrap().to_owned();
        let merge = f
            .github
            .merge_pull_request(number(&merged_one), MergeMethod::Merge);
        f.github.close_pull_request(number(&closed_one));
        let rebased = f
            .github
            .merge_pull_request(number(&rebased_one), MergeMethod::Rebase);
        assert_eq!(git(&f.repo, &["rev-parse", "main"]).trim(), rebased);
        assert!(git(&f.repo, &["show", "main:tenants/delta/tenant.yaml"]).contains("standard"));

        let before = f.github.call_log().len();
        let report = f.sweeper(None).sweep().await.unwrap();
        let queries = f.github.call_log()[before..]
            .iter()
            .filter(|c| c.operation.as_deref() == Some("BerthPullRequests"))
            .count();
        assert_eq!(queries, 1, "one query for every open pull request");
        assert!(report.requests_advanced >= 3, "{report:?}");
        let rebased_record = f.record(&id(&rebased_one)).await;
        assert_eq!(rebased_record.commit.as_deref(), Some(rebased.as_str()));
        let merged = f.record(&id(&merged_one)).await;
        assert_eq!(
            (merged.state, merged.commit.as_deref()),
            (RequestState::Merged, Some(merge.as_str())),
            "{backend:?}"
        );
        assert_eq!(f.record(&id(&closed_one)).await.state, RequestState::Failed);
        assert_eq!(f.record(&id(&open_one)).await.state, RequestState::PrOpened);
    }
}

#[tokio::test]
async fn the_pull_request_queries_are_valid_against_githubs_schema() {
    let (query, variables) = berth_gitops::github::pulls::states_query(
        &RepoName {
            owner: "acme".into(),
            name: "gitops".into(),
        },
        &[7, 8],
    );
    let auto_merge = (
        berth_gitops::github::pulls::ENABLE_AUTO_MERGE.to_owned(),
        json!({"input": {"pullRequestId": "PR_kwDO7", "mergeMethod": "SQUASH"}}),
    );
    let unreviewed = berth_gitops::github::pulls::unreviewed_query(
        &RepoName {
            owner: "acme".into(),
            name: "gitops".into(),
        },
        "berth/validate",
    );
    let schema = berth_tests::github::github_schema();
    for (query, variables) in [(query, variables), auto_merge, unreviewed] {
        let document =
            apollo_compiler::ExecutableDocument::parse_and_validate(schema, &query, "q.graphql")
                .unwrap_or_else(|e| panic!("{}", e.errors));
        let operation = document.operations.get(None).unwrap();
        let variables = serde_json_bytes::Value::from(variables);
        apollo_compiler::request::coerce_variable_values(
            schema,
            operation,
            variables.as_object().unwrap(),
        )
        .unwrap();
    }
}
