//! The GitHub committer against the GitHub test server of `tests/`, over a real bare repository
//! whose every commit is read back with the `git` CLI: two calls per direct commit, lost races
//! planned again, lost answers settled by the trailer, rate limits waited out on a paused clock.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_core::{Request, plan};
use berth_gitops::github::wire::RepoName;
use berth_gitops::{
    CommitError, CommitOutcome, CommitRequest, Committer, GitError, GithubCommitter, GithubConfig,
    GithubCredential, Target,
};
use berth_tests::commits::{commit_to, create_request, sha};
use berth_tests::github::{GithubServer, RateLimit};
use berth_tests::{git, seed_repo};

const TOKEN: &str = "ghp_test_token_never_printed";

struct Fixture {
    github: GithubServer,
    repo: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = seed_repo(dir.path(), "origin");
        let github = GithubServer::start(repo.clone(), TOKEN).await;
        Self {
            github,
            repo,
            _dir: dir,
        }
    }

    fn config(&self) -> GithubConfig {
        GithubConfig::new(
            self.github.url.clone(),
            RepoName {
                owner: "acme".into(),
                name: "gitops".into(),
            },
            "main",
            GithubCredential::Token(TOKEN.to_owned().into()),
        )
    }

    fn committer(&self) -> GithubCommitter {
        GithubCommitter::new(self.config()).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.repo, args)
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "main"]).trim().to_owned()
    }

    /// The `Berth-Request` trailers on main, newest first.
    fn trailers(&self) -> Vec<String> {
        self.git(&[
            "log",
            "--format=%(trailers:key=Berth-Request,valueonly)",
            "main",
        ])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
    }
}

async fn commit(c: &dyn Committer, request: Request) -> Result<CommitOutcome, CommitError> {
    commit_to(c, request, Target::Branch).await
}

#[tokio::test]
async fn a_direct_commit_is_two_calls_with_a_warm_cache_and_a_repeat_sends_nothing() {
    let f = Fixture::new().await;
    let c = f.committer();

    // Cold: the read, the charts' validation files by oid, the commit.
    let first = commit(&c, create_request("01GHAAA", "acme")).await.unwrap();
    assert_eq!(
        sha(&first),
        f.head(),
        "the commit GitHub made is main's head"
    );
    assert_eq!(f.github.calls(), 3, "{:#?}", f.github.call_log());

    // Warm: the charts' files come from the cache.
    let before = f.github.calls();
    let second = commit(&c, create_request("01GHBBB", "globex"))
        .await
        .unwrap();
    let log = f.github.call_log();
    let operations: Vec<_> = log[before..]
        .iter()
        .map(|call| call.operation.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        operations,
        ["BerthRead", "BerthCommit"],
        "exactly two calls"
    );
    assert_eq!(sha(&second), f.head());

    // What landed is a real commit: parent, files, trailer, and GitHub as its author.
    assert_eq!(
        f.git(&["rev-parse", &format!("{}^", sha(&second))]).trim(),
        sha(&first)
    );
    let tenant = f.git(&["show", "main:tenants/globex/tenant.yaml"]);
    assert!(tenant.contains("tier: standard"), "{tenant}");
    assert_eq!(f.trailers(), ["01GHBBB", "01GHAAA"]);
    let author = f.git(&["log", "-1", "--format=%an", "main"]);
    assert_eq!(author.trim(), "berth-test[bot]");
    f.git(&["fsck", "--strict"]);

    // The same request again: read, nothing to change, nothing sent.
    let before = f.github.calls();
    let again = commit(&c, create_request("01GHBBB", "globex")).await;
    assert!(
        matches!(
            again,
            Err(CommitError::Plan(_)) | Ok(CommitOutcome::NoChange { .. })
        ),
        "{again:?}"
    );
    assert_eq!(f.github.calls(), before + 1, "one read, no mutation");
    assert_eq!(f.github.commit_mutations(), 2);
}

/// Separate committers with separate caches, like separate Lambdas, all racing for `main`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_writers_each_with_its_own_committer_all_land_once() {
    const WRITERS: usize = 50;
    let f = Fixture::new().await;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let mut config = f.config();
        config.max_attempts = 2 * WRITERS as u32;
        let c = GithubCommitter::new(config).unwrap();
        tasks.push(tokio::spawn(async move {
            let request = create_request(&format!("01RACE{i:02}"), &format!("tenant-{i:02}"));
            commit(&c, request).await
        }));
    }
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert!(
            matches!(outcome, CommitOutcome::Committed { .. }),
            "{outcome:?}"
        );
    }
    let trailers = f.trailers();
    assert_eq!(trailers.len(), WRITERS, "one commit per request");
    assert_eq!(
        trailers.iter().collect::<BTreeSet<_>>().len(),
        WRITERS,
        "no request applied twice"
    );
    let tenants = f.git(&["ls-tree", "--name-only", "main", "tenants/"]);
    assert_eq!(
        tenants
            .lines()
            .filter(|l| l.starts_with("tenants/tenant-"))
            .count(),
        WRITERS,
        "no request lost"
    );
    f.git(&["fsck", "--strict"]);
}

#[tokio::test]
async fn a_race_between_read_and_write_is_planned_again_on_the_new_head() {
    let f = Fixture::new().await;
    let c = f.committer();
    f.github
        .race_next_commit("notes/other-writer.md", "another writer's change\n");
    let plans = Arc::new(AtomicUsize::new(0));
    let request = create_request("01GHRACE", "acme");
    let counted = Arc::clone(&plans);
    let outcome = c
        .commit(
            CommitRequest {
                request_id: request.id.clone(),
                reads: berth_core::plan::read_set(&request.tenant),
                target: Target::Branch,
            },
            Arc::new(move |files| {
                counted.fetch_add(1, Ordering::SeqCst);
                plan(&request, files)
            }),
        )
        .await
        .unwrap();

    assert_eq!(plans.load(Ordering::SeqCst), 2, "read and planned again");
    let commits: Vec<_> = f
        .github
        .call_log()
        .into_iter()
        .filter(|call| call.operation.as_deref() == Some("BerthCommit"))
        .collect();
    assert_eq!(commits.len(), 2);
    let racer = f.git(&["rev-parse", "main^"]);
    assert_eq!(
        commits[1].variables.as_ref().unwrap()["input"]["expectedHeadOid"],
        racer.trim(),
        "the retry is against the head the other writer made"
    );
    assert_eq!(sha(&outcome), f.head());
    assert_eq!(
        f.git(&["show", "main:notes/other-writer.md"]),
        "another writer's change\n",
        "the other writer's change is kept"
    );
    assert!(
        f.git(&["show", "main:tenants/acme/tenant.yaml"])
            .contains("standard")
    );
}

#[tokio::test]
async fn a_commit_applied_then_answered_502_is_reported_once_and_not_sent_again() {
    let f = Fixture::new().await;
    let c = f.committer();
    f.github.lose_next_commit_answer();
    let outcome = commit(&c, create_request("01GHLOST", "acme"))
        .await
        .unwrap();
    assert_eq!(sha(&outcome), f.head());
    assert_eq!(f.trailers(), ["01GHLOST"], "committed once");
    assert_eq!(f.github.commit_mutations(), 1, "never sent again");
    assert!(
        f.github
            .call_log()
            .iter()
            .any(|call| call.operation.as_deref() == Some("BerthHistory")),
        "settled by the branch's history"
    );
}

#[tokio::test]
async fn a_commit_answered_after_the_clients_timeout_is_found_by_its_trailer() {
    let f = Fixture::new().await;
    let mut config = f.config();
    config.io_timeout = Some(Duration::from_millis(500));
    let c = GithubCommitter::new(config).unwrap();
    // Warm the cache, so the commit is the second call from here.
    commit(&c, create_request("01GHWARM", "warm"))
        .await
        .unwrap();
    f.github.delay_next_call(Duration::ZERO);
    f.github.delay_next_call(Duration::from_secs(2));
    let outcome = commit(&c, create_request("01GHSLOW", "acme"))
        .await
        .unwrap();
    assert_eq!(sha(&outcome), f.head());
    assert_eq!(f.trailers(), ["01GHSLOW", "01GHWARM"]);
    assert_eq!(f.github.commit_mutations(), 2, "one for each request");
}

#[tokio::test]
async fn texts_github_truncates_are_fetched_whole_from_the_rest_blob() {
    let f = Fixture::new().await;
    let c = f.committer();
    commit(&c, create_request("01GHBIG1", "acme"))
        .await
        .unwrap();
    f.github.set_blob_text_limit(8);
    let fresh = f.committer();
    let snapshot = fresh
        .read(vec!["tenants/acme/".into(), "tenants/catalog.yaml".into()])
        .await
        .unwrap();
    assert_eq!(
        snapshot.files["tenants/acme/tenant.yaml"],
        f.git(&["show", "main:tenants/acme/tenant.yaml"])
            .into_bytes()
    );
    assert_eq!(
        snapshot.files["tenants/catalog.yaml"],
        f.git(&["show", "main:tenants/catalog.yaml"]).into_bytes()
    );
    assert!(
        f.github
            .call_log()
            .iter()
            .any(|call| call.path.contains("/git/blobs/")),
        "the REST blob was asked for"
    );
}

#[tokio::test]
async fn ancestry_comes_from_the_compare_api_once_per_pair() {
    let f = Fixture::new().await;
    let c = f.committer();
    let seed = f.head();
    let first = sha(&commit(&c, create_request("01GHANC1", "acme"))
        .await
        .unwrap());
    let second = sha(&commit(&c, create_request("01GHANC2", "globex"))
        .await
        .unwrap());
    let pairs = vec![
        (first.clone(), second.clone()),
        (second.clone(), first.clone()),
        (seed.clone(), seed.clone()),
        (
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
            second.clone(),
        ),
    ];
    assert_eq!(
        c.contains(pairs.clone()).await.unwrap(),
        [true, false, true, false]
    );
    let before = f.github.calls();
    assert_eq!(
        c.contains(pairs[..3].to_vec()).await.unwrap(),
        [true, false, true]
    );
    assert_eq!(
        f.github.calls(),
        before,
        "known answers are not asked again"
    );
}

#[tokio::test]
async fn find_request_looks_through_the_history_and_a_missing_branch_holds_nothing() {
    let f = Fixture::new().await;
    let c = f.committer();
    let landed = sha(&commit(&c, create_request("01GHFIND", "acme"))
        .await
        .unwrap());
    assert_eq!(
        c.find_request("01GHFIND".into(), None).await.unwrap(),
        Some(landed)
    );
    assert_eq!(c.find_request("01GHNONE".into(), None).await.unwrap(), None);
    assert_eq!(
        c.find_request("01GHFIND".into(), Some("berth/01GHFIND".into()))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn pr_mode_starts_the_branch_at_the_head_and_a_retry_reuses_it() {
    let f = Fixture::new().await;
    let c = f.committer();
    let head = f.head();
    let branch = "berth/01GHPR".to_owned();
    let outcome = commit_to(
        &c,
        create_request("01GHPR", "acme"),
        Target::NewBranch(branch.clone()),
    )
    .await
    .unwrap();
    assert_eq!(f.head(), head, "main is left alone");
    assert_eq!(
        outcome,
        CommitOutcome::Committed {
            sha: f.git(&["rev-parse", &branch]).trim().to_owned(),
            branch: branch.clone()
        }
    );
    assert_eq!(f.git(&["rev-parse", &format!("{branch}^")]).trim(), head);

    // The same request again (a retry after a crash): the branch exists and holds the commit.
    let again = commit_to(
        &c,
        create_request("01GHPR", "acme"),
        Target::NewBranch(branch.clone()),
    )
    .await
    .unwrap();
    assert_eq!(again, outcome, "reported once, not committed twice");
    assert_eq!(
        f.git(&["rev-list", "--count", &format!("main..{branch}")])
            .trim(),
        "1"
    );
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_error_that_names_no_secret() {
    let f = Fixture::new().await;
    let mut config = f.config();
    config.credential = GithubCredential::Token("ghp_wrong_secret_value".to_owned().into());
    let c = GithubCommitter::new(config.clone()).unwrap();
    let error = c
        .read(vec!["tenants/catalog.yaml".into()])
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::Credential(_)), "{error:?}");
    let shown = format!("{error} {error:?} {config:?}");
    assert!(!shown.contains("ghp_wrong_secret_value"), "{shown}");
    assert!(shown.contains("Bad credentials"), "{shown}");
}

/// Each rate limit waits as long as GitHub asks, on the test's paused clock.
async fn time_to_commit(c: &GithubCommitter, id: &str, name: &str) -> Duration {
    let started = tokio::time::Instant::now();
    commit(c, create_request(id, name)).await.unwrap();
    started.elapsed()
}

fn paused_config(f: &Fixture, budget: Duration) -> GithubConfig {
    let mut config = f.config();
    // No timer may run but the waits under test: the paused clock jumps to the next one.
    config.io_timeout = None;
    config.rate_limit_budget = budget;
    config
}

/// A read GitHub gave no answer to (here a 502; a reset connection or a timeout alike) is sent
/// again after a short wait; one that stays unanswered is a transport error, after a bounded
/// wait. The lost commit answer above shows a mutation is never sent again this way.
#[tokio::test(start_paused = true)]
async fn a_read_github_did_not_answer_is_sent_again_a_bounded_number_of_times() {
    let f = Fixture::new().await;
    let c = GithubCommitter::new(paused_config(&f, Duration::ZERO)).unwrap();
    let catalog = || vec!["catalog.yaml".to_owned()];

    f.github.fail_next("POST", "/graphql");
    let started = tokio::time::Instant::now();
    let snapshot = c.read(catalog()).await.unwrap();
    assert_eq!(snapshot.tip, f.head());
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(f.github.calls(), 2, "the read, and the read again");

    for _ in 0..3 {
        f.github.fail_next("POST", "/graphql");
    }
    let started = tokio::time::Instant::now();
    let error = c.read(catalog()).await.unwrap_err();
    assert!(matches!(error, GitError::Transport(_)), "{error:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(1_250));
    assert_eq!(f.github.calls(), 2 + 3, "sent three times, no more");
}

#[tokio::test(start_paused = true)]
async fn a_secondary_limit_with_retry_after_waits_that_long() {
    let f = Fixture::new().await;
    let c = GithubCommitter::new(paused_config(&f, Duration::from_secs(120))).unwrap();
    f.github.rate_limit_next_call(RateLimit::Secondary {
        retry_after: Some(7),
    });
    let waited = time_to_commit(&c, "01GHRL1", "acme").await;
    assert_eq!(waited, Duration::from_secs(7));
    assert_eq!(f.trailers(), ["01GHRL1"]);
}

#[tokio::test(start_paused = true)]
async fn a_secondary_limit_without_retry_after_waits_a_minute_or_tells_the_caller() {
    let f = Fixture::new().await;
    let c = GithubCommitter::new(paused_config(&f, Duration::from_secs(120))).unwrap();
    f.github
        .rate_limit_next_call(RateLimit::Secondary { retry_after: None });
    let waited = time_to_commit(&c, "01GHRL2", "acme").await;
    assert_eq!(waited, Duration::from_secs(60));

    // Past the bound a request can wait, the caller is told when to come back.
    let bounded = GithubCommitter::new(paused_config(&f, Duration::from_secs(10))).unwrap();
    f.github
        .rate_limit_next_call(RateLimit::Secondary { retry_after: None });
    let started = tokio::time::Instant::now();
    let refused = commit(&bounded, create_request("01GHRL3", "globex")).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no wait it cannot finish"
    );
    let Err(CommitError::Git(GitError::RateLimited { retry_after })) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(retry_after, Duration::from_secs(60));
    let api = berth_http::error::ApiError::from(berth_usecases::UseCaseError::from(
        GitError::RateLimited { retry_after },
    ));
    assert_eq!(api.status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.retry_after, Some(60));
}

#[tokio::test(start_paused = true)]
async fn graphqls_rate_limited_waits_for_the_reset() {
    let f = Fixture::new().await;
    let c = GithubCommitter::new(paused_config(&f, Duration::from_secs(120))).unwrap();
    f.github
        .rate_limit_next_call(RateLimit::Graphql { reset_in: 30 });
    let waited = time_to_commit(&c, "01GHRL4", "acme").await;
    // The reset is a wall-clock second: the server and the client may read different ones.
    assert!(
        (Duration::from_secs(29)..=Duration::from_secs(31)).contains(&waited),
        "{waited:?}"
    );
    assert_eq!(f.trailers(), ["01GHRL4"]);
}

fn app_config(f: &Fixture, private_key_pem: String) -> GithubConfig {
    let mut config = f.config();
    config.credential = GithubCredential::App {
        app_id: berth_tests::github::TEST_APP_ID,
        private_key_pem: private_key_pem.into(),
        installation_id: berth_tests::github::TEST_INSTALLATION_ID,
    };
    config
}

#[tokio::test]
async fn a_github_app_mints_one_token_for_many_calls_and_a_new_one_once_it_expires() {
    let f = Fixture::new().await;
    let key = GithubServer::test_app_private_key();
    let c = GithubCommitter::new(app_config(&f, key)).unwrap();
    commit(&c, create_request("01GHAPP1", "acme"))
        .await
        .unwrap();
    commit(&c, create_request("01GHAPP2", "globex"))
        .await
        .unwrap();
    assert!(f.github.calls() >= 5);
    assert_eq!(
        f.github.installation_tokens_minted(),
        1,
        "one token, many calls"
    );

    f.github.expire_installation_tokens();
    commit(&c, create_request("01GHAPP3", "initech"))
        .await
        .unwrap();
    assert_eq!(f.github.installation_tokens_minted(), 2, "minted again");
    assert_eq!(f.trailers(), ["01GHAPP3", "01GHAPP2", "01GHAPP1"]);
}

#[tokio::test]
async fn a_wrong_app_key_is_a_clear_error_that_names_no_secret() {
    let f = Fixture::new().await;
    let wrong = std::fs::read_to_string(
        berth_tests::project_root().join("tests/fixtures/github/other-app.pem"),
    )
    .unwrap();
    let config = app_config(&f, wrong.clone());
    let c = GithubCommitter::new(config.clone()).unwrap();
    let error = c
        .read(vec!["tenants/catalog.yaml".into()])
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::Credential(_)), "{error:?}");
    let shown = format!("{error} {error:?} {config:?}");
    assert!(
        shown.contains("A JSON web token could not be decoded"),
        "{shown}"
    );
    let secret_line = wrong.lines().nth(1).unwrap();
    assert!(!shown.contains(secret_line), "{shown}");
    assert_eq!(f.github.installation_tokens_minted(), 0);

    // Not a key at all: refused before any call, naming the setting and not its value.
    let garbage = app_config(&f, "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n".into());
    let Err(refused) = GithubCommitter::new(garbage) else {
        panic!("a key that is no key is refused")
    };
    let shown = format!("{refused} {refused:?}");
    assert!(shown.contains("BERTH_GITHUB_APP_PRIVATE_KEY"), "{shown}");
    assert!(!shown.contains("c2VjcmV0"), "{shown}");
}
