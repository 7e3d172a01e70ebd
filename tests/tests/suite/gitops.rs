//! The Git2 committer against real repositories: a bare repository by path and one served by
//! `git daemon` on 127.0.0.1. Every result is read back with the `git` CLI.

use std::collections::BTreeSet;
use std::path::Path;

use berth_core::body::parse_module_change;
use berth_core::{Action, Request};
use berth_gitops::{
    CommitError, CommitOutcome, Committer, Git2Committer, Git2Config, GitError, RemoteUrl, Target,
};
use berth_tests::commits::{commit_to, create_request, sha};
use berth_tests::git::{folder_log, long_history};
use berth_tests::{GitDaemon, git, seed_repo};
use serde_json::json;

fn committer(remote: &str, work: &Path) -> Git2Committer {
    Git2Committer::new(Git2Config::new(
        RemoteUrl::parse(remote).unwrap(),
        "main",
        work,
    ))
}

async fn commit(
    c: &Git2Committer,
    request: Request,
    target: Target,
) -> Result<CommitOutcome, CommitError> {
    commit_to(c, request, target).await
}

#[tokio::test]
async fn commits_to_a_bare_repository_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let c = committer(repo.to_str().unwrap(), &dir.path().join("work"));

    let outcome = commit(&c, create_request("01AAA", "acme"), Target::Branch)
        .await
        .unwrap();
    let sha = sha(&outcome);
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), sha);
    let message = git(&repo, &["log", "-1", "--format=%B", "main"]);
    assert!(message.starts_with("Create tenant acme"), "{message}");
    assert_eq!(
        git(
            &repo,
            &[
                "log",
                "-1",
                "--format=%(trailers:key=Berth-Request,valueonly)",
                "main"
            ]
        )
        .trim(),
        "01AAA"
    );
    let files = git(&repo, &["ls-tree", "-r", "--name-only", "main", "tenants/"]);
    assert_eq!(
        files,
        "tenants/acme/dev/base.yaml\ntenants/acme/dev/modules/postgres.yaml\ntenants/acme/tenant.yaml\ntenants/catalog.yaml\n"
    );
    assert!(git(&repo, &["show", "main:tenants/acme/tenant.yaml"]).contains("created_by: 01AAA"));
    // One commit on top of the seed, with the seed as its only parent.
    assert_eq!(git(&repo, &["rev-list", "--count", "main"]).trim(), "2");

    // The same request again changes nothing and commits nothing.
    let (tenant, change) = (
        create_request("01AAB", "acme").tenant,
        parse_module_change("dev", "postgres", &json!({})).unwrap(),
    );
    let again = commit(
        &c,
        Request {
            id: "01AAB".into(),
            tenant,
            action: Action::EnableModule(change),
        },
        Target::Branch,
    )
    .await
    .unwrap();
    assert_eq!(again, CommitOutcome::NoChange { tip: sha.clone() });
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), sha);
}

#[tokio::test]
async fn a_refused_plan_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let c = committer(repo.to_str().unwrap(), &dir.path().join("work"));
    commit(&c, create_request("01A", "acme"), Target::Branch)
        .await
        .unwrap();
    let before = git(&repo, &["rev-parse", "main"]);
    let err = commit(&c, create_request("01B", "acme"), Target::Branch)
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Plan(_)), "{err:?}");
    assert_eq!(git(&repo, &["rev-parse", "main"]), before);
}

#[tokio::test]
async fn pr_mode_pushes_a_new_branch_and_leaves_main_alone() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let c = committer(repo.to_str().unwrap(), &dir.path().join("work"));
    let main_before = git(&repo, &["rev-parse", "main"]);
    let outcome = commit(
        &c,
        create_request("01PR", "acme"),
        Target::NewBranch("berth/01PR".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        CommitOutcome::Committed {
            sha: sha(&outcome),
            branch: "berth/01PR".into()
        }
    );
    assert_eq!(git(&repo, &["rev-parse", "main"]), main_before);
    assert_eq!(git(&repo, &["rev-parse", "berth/01PR^"]), main_before);
    // No temporary refs are left behind in the remote.
    assert_eq!(
        git(&repo, &["for-each-ref", "--format=%(refname)"]),
        "refs/heads/berth/01PR\nrefs/heads/main\n"
    );
}

#[tokio::test]
async fn commits_over_git_daemon_and_reads_back_shallow() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "served");
    let daemon = GitDaemon::start(dir.path());
    let c = committer(&daemon.url("served"), &dir.path().join("work"));
    let first = sha(&commit(&c, create_request("01D1", "acme"), Target::Branch)
        .await
        .unwrap());
    let second = sha(&commit(&c, create_request("01D2", "beta"), Target::Branch)
        .await
        .unwrap());
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), second);
    assert_eq!(git(&repo, &["rev-parse", "main^"]).trim(), first);
    git(&repo, &["fsck", "--strict"]);
    let snapshot = c.read(vec!["tenants/beta/".into()]).await.unwrap();
    assert_eq!(snapshot.tip, second);
    assert_eq!(snapshot.files.len(), 3);
}

#[tokio::test]
async fn a_push_refused_by_a_server_hook_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "guarded");
    let hook = repo.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'policy: no pushes today' >&2\nexit 1\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&hook).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let daemon = GitDaemon::start(dir.path());
    let before = git(&repo, &["rev-parse", "main"]);
    let c = committer(&daemon.url("guarded"), &dir.path().join("work"));
    let err = commit(&c, create_request("01H", "acme"), Target::Branch)
        .await
        .unwrap_err();
    match err {
        CommitError::Git(GitError::PushRejected { reason }) => {
            assert!(reason.contains("hook declined"), "{reason}")
        }
        other => panic!("expected a rejected push, got {other:?}"),
    }
    assert_eq!(git(&repo, &["rev-parse", "main"]), before);
}

/// Separate committers with separate caches, like separate Lambdas, all racing for `main`.
/// A lost race means another writer landed since our fetch, so among 50 writers none loses
/// more than 49 races. Each gets 100 attempts (the configurable maximum): every race fits, with
/// room for git daemon's dropped connections (past 32 clients), which also take attempts.
async fn fifty_writers_race(remote: String, repo: &Path, work: &Path) {
    const WRITERS: usize = 50;
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let mut config = Git2Config::new(
            RemoteUrl::parse(&remote).unwrap(),
            "main",
            work.join(format!("lambda-{i}")),
        );
        config.max_attempts = 2 * WRITERS as u32;
        let c = Git2Committer::new(config);
        tasks.push(tokio::spawn(async move {
            let request = create_request(&format!("01RACE{i:02}"), &format!("tenant-{i:02}"));
            commit(&c, request, Target::Branch).await
        }));
    }
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert!(
            matches!(outcome, CommitOutcome::Committed { .. }),
            "{outcome:?}"
        );
    }
    let trailers = git(
        repo,
        &[
            "log",
            "--format=%(trailers:key=Berth-Request,valueonly)",
            "main",
        ],
    );
    let ids: Vec<&str> = trailers.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(ids.len(), 50, "one commit per request");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        50,
        "no request applied twice"
    );
    let tenants = git(repo, &["ls-tree", "--name-only", "main", "tenants/"]);
    assert_eq!(
        tenants
            .lines()
            .filter(|l| l.starts_with("tenants/tenant-"))
            .count(),
        50,
        "no request lost"
    );
    git(repo, &["fsck", "--strict"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_writers_over_git_daemon_all_land_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "race");
    let daemon = GitDaemon::start(dir.path());
    fifty_writers_race(daemon.url("race"), &repo, &dir.path().join("work")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_writers_on_a_path_all_land_once() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "race");
    fifty_writers_race(
        repo.to_str().unwrap().to_owned(),
        &repo,
        &dir.path().join("work"),
    )
    .await;
}

/// Ancestry as the status sweep asks it: is a request's commit contained in the revision Argo CD
/// synced? Over git daemon the cache is shallow, so the answer needs the deeper fetch.
#[tokio::test]
async fn contains_answers_by_ancestry_not_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "ancestry.git");
    let daemon = GitDaemon::start(dir.path());
    let writer = committer(&daemon.url("ancestry.git"), &dir.path().join("writer"));
    let mut shas = Vec::new();
    for i in 0..5 {
        let outcome = commit(
            &writer,
            create_request(&format!("01A{i}"), &format!("t{i}")),
            Target::Branch,
        )
        .await
        .unwrap();
        shas.push(sha(&outcome));
    }
    let side = sha(&commit(
        &writer,
        create_request("01AS", "side"),
        Target::NewBranch("berth/side".into()),
    )
    .await
    .unwrap());
    // A fresh cache: its first fetch is one commit deep.
    let reader = committer(&daemon.url("ancestry.git"), &dir.path().join("reader"));
    let pairs = vec![
        (shas[0].clone(), shas[4].clone()),
        (shas[3].clone(), shas[3].clone()),
        (shas[4].clone(), shas[1].clone()),
        (side.clone(), shas[4].clone()),
        ("not-a-sha".into(), shas[4].clone()),
        ("0".repeat(40), shas[4].clone()),
    ];
    let answers = reader.contains(pairs).await.unwrap();
    assert_eq!(answers, [true, true, false, false, false, false]);
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), shas[4]);

    // Once the side branch is merged into main, main contains it.
    let bare = committer(repo.to_str().unwrap(), &dir.path().join("bare"));
    git(&repo, &["update-ref", "refs/heads/main", &side]);
    let answers = bare
        .contains(vec![
            (side.clone(), side.clone()),
            (shas[4].clone(), side.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        answers,
        [true, true],
        "the side branch was cut from the tip"
    );
}

/// Makes `path` look `age` old.
fn age_file(path: &Path, age: std::time::Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age)
        .unwrap();
}

/// A writer killed mid-update leaves its lock files behind: the branch's lock in the repository
/// and a ref's lock in the committer's cache. The next process commits anyway.
#[tokio::test]
async fn locks_left_by_a_dead_writer_do_not_block_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let repo = seed_repo(dir.path(), "origin");
    let work = dir.path().join("work");
    let first = committer(repo.to_str().unwrap(), &work);
    commit(&first, create_request("01FIRST", "acme"), Target::Branch)
        .await
        .unwrap();
    drop(first);

    // What a SIGKILL in the middle of a push and of a fetch leaves.
    let branch_lock = repo.join("refs/heads/main.lock");
    std::fs::write(&branch_lock, "0000000000000000000000000000000000000000\n").unwrap();
    age_file(&branch_lock, std::time::Duration::from_secs(60));
    let cache = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("cache-"))
        .unwrap()
        .path();
    let cache_lock = cache.join("refs/remotes/origin/main.lock");
    std::fs::create_dir_all(cache_lock.parent().unwrap()).unwrap();
    std::fs::write(&cache_lock, "").unwrap();

    let next = committer(repo.to_str().unwrap(), &work);
    let outcome = commit(&next, create_request("01NEXT", "beta"), Target::Branch)
        .await
        .unwrap();
    assert_eq!(git(&repo, &["rev-parse", "main"]).trim(), sha(&outcome));
    assert!(!branch_lock.exists() && !cache_lock.exists());
}

/// Every page of `tenants/acme/`'s history, three at a time, page `n` read by `committer(n)`.
async fn all_pages<'a>(committer: impl Fn(usize) -> &'a Git2Committer) -> Vec<String> {
    let (mut listed, mut before) = (Vec::new(), None);
    for page in 0..20 {
        let history = committer(page)
            .folder_history("tenants/acme/".into(), before.clone(), 3)
            .await
            .unwrap()
            .expect("the cursor is a commit of main");
        listed.extend(history.commits.iter().map(|c| c.sha.clone()));
        match history.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    listed
}

/// Over a network transport the cache is shallow: a page whose `before` lies deeper than the
/// cache (or than any cache, on a fresh instance) deepens it, so the whole history pages out
/// exactly as `git log` lists it, and a deep commit's files read right.
#[tokio::test]
async fn a_folder_history_pages_past_a_shallow_cache_over_git_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let repo = long_history(dir.path(), "long", 5_000, 700);
    let daemon = GitDaemon::start(dir.path());
    let expected = folder_log(&repo, "tenants/acme/");
    assert_eq!(expected.len(), 8, "the root and 7 changes");

    // Every page on a fresh cache: as a Lambda instance that did not serve the last one.
    let fresh: Vec<Git2Committer> = (0..20)
        .map(|page| {
            committer(
                &daemon.url("long"),
                &dir.path().join(format!("work-{page}")),
            )
        })
        .collect();
    assert_eq!(all_pages(|page| &fresh[page]).await, expected);
    // One instance serving every page: it fetches deeper only where its cache ends.
    let one = committer(&daemon.url("long"), &dir.path().join("work-one"));
    assert_eq!(all_pages(|_| &one).await, expected);

    let c = committer(&daemon.url("long"), &dir.path().join("work-files"));
    let oldest_change = &expected[expected.len() - 2];
    let files = c
        .commit_files(oldest_change.clone(), "tenants/acme/".into())
        .await
        .unwrap()
        .expect("a deep commit is found");
    let changes: Vec<_> = files
        .changes()
        .into_iter()
        .map(|c| (c.path, c.kind))
        .collect();
    assert_eq!(
        changes,
        [(
            "tenants/acme/notes.yaml".to_owned(),
            berth_gitops::FileChangeKind::Added
        )],
        "read against its parent, not as a root commit"
    );
    let missing = c
        .folder_history("tenants/acme/".into(), Some("0".repeat(40)), 3)
        .await
        .unwrap();
    assert!(missing.is_none(), "a cursor that is no commit of main");
}
