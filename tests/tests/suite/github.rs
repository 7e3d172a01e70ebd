//! GitHub pull request events against the GitHub test server of `tests/`, over a real bare
//! repository: a person's valid tenant edit gets `success`, an invalid one `failure` naming the
//! file and the field; a merged Berth branch advances its request. And every GraphQL document
//! Berth sends to GitHub, with its variables, checked against GitHub's published schema.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use berth_store::prelude::*;
use berth_tests::api_server::{ADMIN, ApiServer, deliver_github_event};
use berth_tests::github::GithubServer;
use berth_tests::{dynamo_store, git, seed_repo};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Fixture {
    api: ApiServer,
    github: GithubServer,
    repo: PathBuf,
    store: berth_store::DynamoStore,
    client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let store = dynamo_store().await;
        let github = GithubServer::start(repo.clone(), "github-test-token").await;
        let api = ApiServer::start_with_github(
            repo.to_str().unwrap(),
            &dir.path().join("work"),
            Arc::new(store.clone()),
            Some(&github.url),
        )
        .await;
        let f = Self {
            api,
            github,
            repo,
            store,
            client: reqwest::Client::new(),
            dir,
        };
        let created = f
            .client
            .post(format!("{}/v1/tenants", f.api.url))
            .bearer_auth(ADMIN)
            .json(&json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::ACCEPTED);
        f
    }

    /// A person's pull request #`number`: `edit` applied to a clone of main, pushed as
    /// `refs/pull/<number>/head` the way GitHub exposes it. Returns the head commit.
    fn open_pull_request(&self, number: u32, edit: impl FnOnce(&Path)) -> String {
        self.push_edit(&format!("refs/pull/{number}/head"), edit)
    }

    /// `edit` applied to a clone of main and pushed to `reference` (forced: a later push to
    /// the same pull request replaces its head), as a person would. Returns the pushed commit.
    fn push_edit(&self, reference: &str, edit: impl FnOnce(&Path)) -> String {
        let work = self.dir.path().join(format!("edit-{}", ulid::Ulid::new()));
        let run = |args: &[&str], dir: &Path| {
            let out = Command::new("git")
                .current_dir(dir)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let repo = self.repo.to_str().unwrap();
        run(
            &["clone", "--quiet", repo, work.to_str().unwrap()],
            self.dir.path(),
        );
        edit(&work);
        run(&["add", "-A"], &work);
        let person = [
            "-c",
            "user.name=Person",
            "-c",
            "user.email=person@example.test",
        ];
        run(
            &[&person[..], &["commit", "--quiet", "-m", "hand edit"]].concat(),
            &work,
        );
        run(
            &["push", "--quiet", "origin", &format!("+HEAD:{reference}")],
            &work,
        );
        git(&self.repo, &["rev-parse", reference]).trim().to_owned()
    }

    async fn deliver(&self, event: &str, delivery: &str, payload: Value) -> (StatusCode, Value) {
        deliver_github_event(&self.client, &self.api.url, event, delivery, &payload).await
    }
}

fn pull_request(number: u32, sha: &str) -> Value {
    json!({"action": "opened", "number": number,
           "pull_request": {"number": number, "head": {"sha": sha, "ref": "person/edit"}, "html_url": format!("https://github.test/o/r/pull/{number}")},
           "repository": {"full_name": "platform/tenants"}})
}

/// `status` is Berth's `berth/validate` verdict `state` on commit `sha`.
fn assert_validated(status: &berth_tests::github::RecordedStatus, sha: &str, state: &str) {
    assert_eq!(
        (
            status.sha.as_str(),
            status.state.as_str(),
            status.context.as_str()
        ),
        (sha, state, "berth/validate")
    );
}

fn edit_file(work: &Path, path: &str, from: &str, to: &str) {
    let file = work.join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{path} has no {from:?}");
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[tokio::test]
async fn a_valid_hand_edit_gets_success() {
    let f = Fixture::new().await;
    let sha = f.open_pull_request(1, |w| {
        let path = w.join("tenants/acme/dev/modules/postgres.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(path, format!("{text}replicas: 2\n")).unwrap();
    });
    let (status, answer) = f
        .deliver("pull_request", "d-1", pull_request(1, &sha))
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("reviewed")),
        "{answer}"
    );
    let statuses = f.github.statuses();
    assert_eq!(statuses.len(), 1);
    assert_validated(&statuses[0], &sha, "success");
    assert_eq!(statuses[0].repository, "platform/tenants");
    // The plan comment's two calls (list, create), then the status.
    assert_eq!(f.github.calls(), 3);
    assert_eq!(f.github.comments(1).len(), 1);
}

/// Copies `tenants/acme` to `tenants/<name>` in the work tree, renamed, as a person creating a
/// tenant by hand would.
fn copy_acme_as(work: &Path, name: &str) {
    let from = work.join("tenants/acme");
    for entry in walk(&from) {
        let relative = entry.strip_prefix(&from).unwrap();
        let to = work.join("tenants").join(name).join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        std::fs::write(to, text.replace("acme", name)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// acme moved to premium, by hand, in every file that names its tier.
fn acme_to_premium(work: &Path) {
    for file in walk(&work.join("tenants/acme")) {
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace("tier: standard", "tier: premium")).unwrap();
    }
}

/// vault enabled for acme in dev, by hand, beside its postgres.
fn acme_with_vault(work: &Path) {
    let modules = work.join("tenants/acme/dev/modules");
    let text = std::fs::read_to_string(modules.join("postgres.yaml")).unwrap();
    std::fs::write(
        modules.join("vault.yaml"),
        text.replace("postgres", "vault"),
    )
    .unwrap();
}

#[tokio::test]
async fn a_persons_pull_request_gets_one_plan_comment_edited_on_every_push() {
    let f = Fixture::new().await;
    let sha = f.open_pull_request(7, |w| {
        copy_acme_as(w, "beta");
        acme_to_premium(w);
        acme_with_vault(w);
    });
    let (status, answer) = f
        .deliver("pull_request", "plan-1", pull_request(7, &sha))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["review"]["state"], "success", "{answer}");
    let comments = f.github.comments(7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let plan = &comments[0];
    assert!(plan.starts_with("<!-- berth-plan -->"), "{plan}");
    assert!(
        plan.contains("changes 2 tenant(s) (1 created, 1 updated)"),
        "{plan}"
    );
    assert!(plan.contains("#### `beta`: created"), "{plan}");
    assert!(plan.contains("`beta-dev`, `beta-dev-postgres`"), "{plan}");
    assert!(plan.contains("tier standard → premium"), "{plan}");
    assert!(plan.contains("dev: enable vault"), "{plan}");
    assert!(
        plan.contains("Argo CD Applications created: `acme-dev-vault`"),
        "{plan}"
    );

    // A second push edits the same comment.
    let sha = f.open_pull_request(7, |w| {
        copy_acme_as(w, "beta");
        acme_to_premium(w);
    });
    let mut synchronize = pull_request(7, &sha);
    synchronize["action"] = json!("synchronize");
    let (status, answer) = f.deliver("pull_request", "plan-2", synchronize).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let comments = f.github.comments(7);
    assert_eq!(
        comments.len(),
        1,
        "edited in place, never a new one: {comments:?}"
    );
    assert!(!comments[0].contains("enable vault"), "{}", comments[0]);
    assert!(
        comments[0].contains("tier standard → premium"),
        "{}",
        comments[0]
    );

    // A review problem is named in the comment, and fails berth/validate.
    let sha = f.open_pull_request(8, |w| {
        let module = "tenant:\n  name: acme\n  tier: standard\n  env: dev\nmodule:\n  name: kafka\nsuspended: false\n";
        std::fs::write(w.join("tenants/acme/dev/modules/kafka.yaml"), module).unwrap();
    });
    let (_, answer) = f
        .deliver("pull_request", "plan-3", pull_request(8, &sha))
        .await;
    assert_eq!(answer["review"]["state"], "failure", "{answer}");
    let plan = &f.github.comments(8)[0];
    assert!(
        plan.contains("fails Berth's review with 1 problem(s)"),
        "{plan}"
    );
    assert!(
        plan.contains("`tenants/acme/dev/modules/kafka.yaml` `module.name`: unknown module kafka"),
        "{plan}"
    );
}

#[tokio::test]
async fn an_unknown_module_or_a_bad_value_gets_failure_naming_file_and_field() {
    let f = Fixture::new().await;
    let sha = f.open_pull_request(2, |w| {
        let module = "tenant:\n  name: acme\n  tier: standard\n  env: dev\nmodule:\n  name: kafka\nsuspended: false\n";
        std::fs::write(w.join("tenants/acme/dev/modules/kafka.yaml"), module).unwrap();
    });
    let (_, answer) = f
        .deliver("pull_request", "d-2", pull_request(2, &sha))
        .await;
    assert_eq!(answer["review"]["state"], "failure", "{answer}");
    let status = &f.github.statuses()[0];
    assert_eq!(status.state, "failure");
    assert!(
        status
            .description
            .contains("tenants/acme/dev/modules/kafka.yaml module.name"),
        "{}",
        status.description
    );

    let sha = f.open_pull_request(3, |w| {
        let path = "tenants/acme/dev/modules/postgres.yaml";
        let text = std::fs::read_to_string(w.join(path)).unwrap();
        std::fs::write(w.join(path), format!("{text}replicas: two\n")).unwrap();
        edit_file(w, "tenants/acme/dev/base.yaml", "pods: 100", "pods: lots");
    });
    let (_, answer) = f
        .deliver(
            "pull_request",
            "d-3",
            json!({"action": "synchronize", "number": 3,
        "pull_request": {"head": {"sha": sha}}, "repository": {"full_name": "platform/tenants"}}),
        )
        .await;
    let problems: Vec<String> = answer["review"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["path"].as_str().unwrap(),
                p["field"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        problems.contains(&"tenants/acme/dev/modules/postgres.yaml replicas".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("tenants/acme/dev/base.yaml")),
        "{problems:?}"
    );
    assert_eq!(f.github.statuses()[1].state, "failure");
}

#[tokio::test]
async fn ping_and_bad_signatures() {
    let f = Fixture::new().await;
    let (status, answer) = f
        .deliver(
            "ping",
            "d-ping",
            json!({"zen": "Keep it logically awesome."}),
        )
        .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("pong"))
    );
    let unsigned = f
        .client
        .post(format!("{}/webhooks/github", f.api.url))
        .header("x-github-event", "ping")
        .header("x-github-delivery", "d-x")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let sha1 = f
        .client
        .post(format!("{}/webhooks/github", f.api.url))
        .header(
            "x-hub-signature",
            "sha1=0000000000000000000000000000000000000000",
        )
        .header("x-github-delivery", "d-y")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(sha1.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(f.github.calls(), 0);
}

#[tokio::test]
async fn a_merged_berth_branch_advances_its_request() {
    let f = Fixture::new().await;
    let created: Value = f
        .client
        .put(format!(
            "{}/v1/tenants/acme/envs/dev/modules/monitoring?mode=pr",
            f.api.url
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["state"], "branch_pushed");
    let id = created["id"].as_str().unwrap();
    let merge_sha = "0123456789abcdef0123456789abcdef01234567";
    let payload = json!({"action": "closed", "number": 7,
        "pull_request": {"merged": true, "merge_commit_sha": merge_sha, "head": {"ref": format!("berth/{id}"), "sha": created["commit"]},
                         "html_url": "https://github.test/o/r/pull/7"},
        "repository": {"full_name": "platform/tenants"}});
    let (_, answer) = f.deliver("pull_request", "d-merge", payload).await;
    assert_eq!(answer["outcome"], "merged", "{answer}");
    let record = f.store.get_request(id).await.unwrap().unwrap();
    assert_eq!(record.state, berth_store::RequestState::Merged);
    assert_eq!(record.commit.as_deref(), Some(merge_sha));
    assert_eq!(
        record.pr_url.as_deref(),
        Some("https://github.test/o/r/pull/7")
    );
}

/// Fails unless GitHub would accept `document` with `variables`.
fn assert_github_accepts(
    schema: &apollo_compiler::validation::Valid<apollo_compiler::Schema>,
    document: &str,
    variables: &Value,
) {
    let parsed =
        apollo_compiler::ExecutableDocument::parse_and_validate(schema, document, "berth.graphql")
            .unwrap_or_else(|e| {
                panic!(
                    "GitHub would refuse this document:\n{}\n{document}",
                    e.errors
                )
            });
    let operation = parsed.operations.get(None).expect("one operation");
    let variables = serde_json_bytes::Value::from(variables.clone());
    let variables = variables.as_object().expect("variables are an object");
    if let Err(e) = apollo_compiler::request::coerce_variable_values(schema, operation, variables) {
        panic!(
            "GitHub would refuse these variables: {}\n{variables:?}",
            e.message()
        );
    }
}

#[test]
fn every_graphql_document_berth_sends_is_valid_against_githubs_schema() {
    use berth_gitops::github::wire::{
        COMMIT_MUTATION, Pin, RepoName, blobs_query, commit_input, commit_query,
        folder_history_query, history_query, read_query,
    };
    let schema = berth_tests::github::github_schema();
    let repo = RepoName {
        owner: "acme".into(),
        name: "gitops".into(),
    };
    let tenant = berth_core::TenantName::parse("tenant", "acme").unwrap();
    let reads = berth_core::plan::read_set(&tenant);
    for pin in [
        Pin::Branch("main"),
        Pin::Commit("4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f"),
    ] {
        let (query, variables) = read_query(&repo, pin, &reads);
        assert_github_accepts(schema, &query, &variables);
    }
    for after in [None, Some("4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f 99")] {
        let (query, variables) = history_query(&repo, "main", after);
        assert_github_accepts(schema, &query, &variables);
    }
    for pin in [
        Pin::Branch("main"),
        Pin::Commit("4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f"),
    ] {
        for after in [None, Some("4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f 49")] {
            let (query, variables) = folder_history_query(&repo, pin, "tenants/acme/", after);
            assert_github_accepts(schema, &query, &variables);
        }
    }
    let (query, variables) = commit_query(&repo, "4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f");
    assert_github_accepts(schema, &query, &variables);
    let oids = ["4f1c7e2a9b3d5f6e8a0c1b2d3e4f5a6b7c8d9e0f".to_owned()];
    let (query, variables) = blobs_query(&repo, &oids);
    assert_github_accepts(schema, &query, &variables);

    let change = berth_core::Change {
        writes: [(
            "tenants/acme/tenant.yaml".to_owned(),
            b"name: acme\n".to_vec(),
        )]
        .into(),
        deletes: ["tenants/acme/old.yaml".to_owned()].into(),
        message: "Create tenant acme\n\nBerth-Request: 01ABC\n".into(),
    };
    let files: berth_core::RepoFiles = [("tenants/acme/old.yaml".to_owned(), b"x".to_vec())].into();
    let input = commit_input(&repo, "main", &oids[0], &change, &files).expect("a change");
    assert_github_accepts(schema, COMMIT_MUTATION, &json!({"input": input}));

    // And the check can fail: a field GitHub does not have, a variable of the wrong type.
    let refused = std::panic::catch_unwind(|| {
        assert_github_accepts(
            schema,
            "query { repository(owner: \"a\", name: \"b\") { colour } }",
            &json!({}),
        )
    });
    assert!(refused.is_err(), "an unknown field is refused");
    let refused = std::panic::catch_unwind(|| {
        assert_github_accepts(
            schema,
            COMMIT_MUTATION,
            &json!({"input": {"expectedHeadOid": null}}),
        )
    });
    assert!(refused.is_err(), "a null expectedHeadOid is refused");
}

#[tokio::test]
async fn a_review_whose_status_could_not_be_set_is_done_by_the_next_sweep() {
    let f = Fixture::new().await;
    // A person's branch and pull request, opened on GitHub.
    let sha = f.push_edit("refs/heads/person/vault", acme_with_vault);
    let opened: Value = f
        .client
        .post(format!(
            "{}/repos/{}/pulls",
            f.github.url,
            berth_tests::github::REPOSITORY
        ))
        .bearer_auth("github-test-token")
        .json(&json!({"title": "Vault for acme", "head": "person/vault", "base": "main"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let number = opened["number"].as_u64().unwrap();

    // GitHub refuses the status once: the delivery answers 503, and GitHub will not redeliver.
    f.github.fail_next("POST", &format!("/statuses/{sha}"));
    let mut event = pull_request(number as u32, &sha);
    event["pull_request"]["head"]["ref"] = json!("person/vault");
    event["repository"]["full_name"] = json!(berth_tests::github::REPOSITORY);
    let (status, answer) = f.deliver("pull_request", "missed-1", event).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(f.github.statuses().is_empty());

    // The next sweep finds the head without berth/validate, and reviews it.
    let committer =
        berth_tests::backend::committer(f.repo.to_str().unwrap(), &f.dir.path().join("sweep"))
            .await;
    let mut services = berth_usecases::App::new(committer, Arc::new(f.store.clone()));
    let config = berth_tests::backend::github_config(&f.github.url);
    services.pulls = Some(Arc::new(
        berth_gitops::GithubPulls::new(&config, None).unwrap(),
    ));
    let api = berth_usecases::intake::github::GithubApi::new(
        &f.github.url,
        Some(berth_gitops::GithubCredential::Token(
            "github-test-token".to_owned().into(),
        )),
    )
    .unwrap();
    let sweeper = berth_status::Sweeper::new(services, None).with_github_api(api);
    let report = sweeper.sweep().await.unwrap();
    assert_eq!(report.pulls_reviewed, 1, "{report:?}");
    let statuses = f.github.statuses();
    assert_eq!(statuses.len(), 1);
    assert_validated(&statuses[0], &sha, "success");
    let comments = f.github.comments(number);
    assert_eq!(
        comments.len(),
        1,
        "the comment the failed delivery wrote, edited: {comments:?}"
    );
    assert!(comments[0].contains("dev: enable vault"), "{}", comments[0]);

    // Reviewed now: the next sweep leaves it alone.
    assert_eq!(sweeper.sweep().await.unwrap().pulls_reviewed, 0);
    assert_eq!(f.github.statuses().len(), 1);
}
