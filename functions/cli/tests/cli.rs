//! The `berth` CLI as a person and a script use it, run as a binary against `berth dev`.

mod support;

use support::{Dev, admin_token, berth};

/// The CLI as a script and a person use it against `berth dev`: create with `-o json` parsed
/// back, wait for the commit, a table of tenants, a refused input naming its field (exit 2), a
/// wrong token (exit 4).
#[tokio::test]
async fn the_cli_creates_waits_lists_and_refuses_with_exit_codes_scripts_rely_on() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    assert!(dev.banner.contains("export BERTH_URL="), "{}", dev.banner);
    // The banner names the binary a newcomer runs `berth` as, and how to install it.
    let binary = env!("CARGO_BIN_EXE_berth");
    assert!(
        dev.banner
            .contains(&format!("The berth CLI is this binary: {binary}")),
        "{}",
        dev.banner
    );
    assert!(
        dev.banner
            .contains("cargo install --locked --path functions/cli")
    );
    let token = admin_token(state.path());
    let token = token.as_str();

    let (code, out, err) = berth(
        &dev,
        token,
        &[
            "tenants", "create", "acme", "--tier", "standard", "--env", "dev", "--module",
            "postgres", "-o", "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(created["state"], "committed");
    let id = created["id"].as_str().unwrap();

    let (code, out, err) = berth(
        &dev,
        token,
        &[
            "requests",
            "wait",
            id,
            "--until",
            "committed",
            "--timeout",
            "30s",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(id) && out.contains("committed"), "{out}");

    let (code, out, _) = berth(&dev, token, &["tenants", "list"]);
    assert_eq!(code, 0);
    let row = out
        .lines()
        .find(|l| l.contains("acme"))
        .expect("acme listed");
    assert!(row.contains("standard") && row.contains("active"), "{out}");

    let (code, _, err) = berth(
        &dev,
        token,
        &[
            "tenants", "create", "zeta", "--tier", "gold", "--env", "dev",
        ],
    );
    assert_eq!(code, 2, "a refused input: {err}");
    assert!(err.contains("field: tier"), "{err}");

    // berth dev's catalog has no clusters: a move is refused naming `to`, and the clusters'
    // list says why it is empty once the first sweep recorded it.
    let (code, _, err) = berth(
        &dev,
        token,
        &["tenants", "move", "acme", "--env", "dev", "--to", "prod-eu"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("field: to") && err.contains("no clusters"),
        "{err}"
    );
    let mut listed = (0, String::new(), String::new());
    for _ in 0..40 {
        listed = berth(&dev, token, &["clusters", "list"]);
        if listed.0 == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(listed.0, 0, "{}", listed.2);
    assert!(
        listed.1.contains("The catalog has no clusters"),
        "{}",
        listed.1
    );

    let (code, _, err) = berth(&dev, "wrong-token-0123456789", &["tenants", "list"]);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("wrong-token-0123456789"), "{err}");
}

/// Deleting asks first: without a terminal it refuses, naming `--yes` and showing what would go;
/// suspend, resume and a confirmed delete commit.
#[tokio::test]
async fn the_cli_asks_before_deleting_and_refuses_without_a_terminal() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    let token = admin_token(state.path());
    let token = token.as_str();
    // globex is one of the seeded example tenants.
    let (code, _, err) = berth(&dev, token, &["tenants", "delete", "globex"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--yes") && err.contains("Deleting tenant globex"),
        "{err}"
    );
    let (_, out, _) = berth(&dev, token, &["tenants", "show", "globex", "-o", "json"]);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["name"], "globex", "still there");

    let (code, out, err) = berth(&dev, token, &["tenants", "suspend", "globex", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let suspended: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(suspended["action"], "suspend_tenant");
    let (code, _, err) = berth(&dev, token, &["tenants", "resume", "globex"]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = berth(
        &dev,
        token,
        &["tenants", "delete", "globex", "--yes", "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let deleted: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(deleted["action"], "delete_tenant");
    let (code, _, err) = berth(&dev, token, &["tenants", "show", "globex"]);
    assert_eq!(code, 2, "gone: {err}");
}

/// A module enabled with `--set` and followed with `--wait` through its commit to ready, as the
/// Kubernetes test server reports the synced application and its workload; then the tenant's
/// status, the module's status parsed back from `-o json`, a refused `--set`, and a disable
/// refused without a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_enables_a_module_and_waits_until_it_is_ready() {
    use berth_tests::fleet;
    let kube = berth_tests::kube_server::KubeServer::start().await;
    let kube_token = "cli-kube-token-0123456789";
    kube.require_token(kube_token);
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start_sweeping(state.path(), &kube.url, kube_token);
    let token = admin_token(state.path());
    let (code, out, err) = berth(
        &dev,
        &token,
        &[
            "tenants", "create", "acme", "--tier", "standard", "--env", "dev", "-o", "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = created["commit"].as_str().unwrap().to_owned();
    kube.add(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", None, &first, "Healthy"),
    );

    // The CLI waits while Argo CD (here, the test) syncs the new commit.
    let waiting = {
        let (url, token) = (dev.url.clone(), token.clone());
        std::thread::spawn(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
                .args([
                    "modules",
                    "enable",
                    "acme",
                    "dev",
                    "postgres",
                    "--set",
                    "replicas=2",
                    "--wait",
                    "--timeout",
                    "60s",
                    "-o",
                    "json",
                ])
                .env("BERTH_URL", url)
                .env("BERTH_TOKEN", token)
                .output()
                .expect("run berth")
        })
    };
    let repo = git2::Repository::open_bare(state.path().join("repo.git")).unwrap();
    let mut second = first.clone();
    for _ in 0..150 {
        second = repo.revparse_single("main").unwrap().id().to_string();
        if second != first {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_ne!(second, first, "the module's commit landed");
    let values = repo
        .revparse_single("main:tenants/acme/dev/modules/postgres.yaml")
        .map(|o| String::from_utf8_lossy(o.as_blob().unwrap().content()).into_owned());
    assert!(
        values.as_deref().is_ok_and(|v| v.contains("replicas: 2")),
        "--set reached the values file: {values:?}"
    );
    kube.sync_postgres("acme", "dev", &second, 2, 2);
    let out = waiting.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let followed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(followed["state"], "ready", "{followed}");
    assert_eq!(followed["commit"], second.as_str());
    assert!(
        stderr.contains("enable_module acme: committed"),
        "the progress said so: {stderr}"
    );

    let (code, out, _) = berth(&dev, &token, &["status", "acme"]);
    assert_eq!(code, 0, "healthy: {out}");
    let row = out
        .lines()
        .find(|l| l.contains("postgres"))
        .expect("postgres listed");
    assert!(row.contains("healthy") && row.contains("2/2"), "{out}");
    assert!(!out.contains('\u{1b}'), "no colour when piped");

    let (code, out, _) = berth(&dev, &token, &["modules", "status", "acme", "-o", "json"]);
    assert_eq!(code, 0);
    let statuses: Vec<berth_contract::ModuleStatus> = serde_json::from_str(&out).unwrap();
    assert_eq!(statuses.len(), 1, "modules only: {out}");
    assert_eq!((statuses[0].ready, statuses[0].desired), (2, 2));

    let (code, _, err) = berth(
        &dev,
        &token,
        &[
            "modules", "enable", "acme", "dev", "postgres", "--set", "replicas",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("field: --set"), "{err}");
    let (code, _, err) = berth(
        &dev,
        &token,
        &[
            "modules", "enable", "acme", "dev", "postgres", "--set", "nosuch=1",
        ],
    );
    assert_eq!(code, 2, "the server refuses it: {err}");
    assert!(err.contains("field: values"), "the server's field: {err}");

    let (code, _, err) = berth(
        &dev,
        &token,
        &["modules", "disable", "acme", "dev", "postgres"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("deletes its data") && err.contains("--yes"),
        "{err}"
    );
    let (code, _, err) = berth(&dev, &token, &["tenants", "update", "acme"]);
    assert_eq!(code, 2, "nothing to change: {err}");
    let (code, out, err) = berth(
        &dev,
        &token,
        &[
            "tenants",
            "update",
            "acme",
            "--display-name",
            "Acme Corp",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let updated: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["action"], "update_tenant");
}

/// `berth login` checks the token before saving it, keeps it in a file only the user can read,
/// and later commands use the profile without any variable set.
#[tokio::test]
async fn login_saves_a_profile_that_later_commands_use() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    let token = admin_token(state.path());
    let home = tempfile::tempdir().unwrap();

    let wrong = "wrong-token-0123456789abcdef";
    let (code, _, err) = support::berth_at_home(home.path(), &["login", "--url", &dev.url], wrong);
    assert_eq!(code, 4, "refused: {err}");
    assert!(!err.contains(wrong), "{err}");
    assert!(
        !home.path().join(".config/berth/config.toml").exists(),
        "nothing saved"
    );

    let (code, _, err) = support::berth_at_home(
        home.path(),
        &["login", "--url", &dev.url, "--profile", "local"],
        &format!("{token}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let config = std::fs::read_to_string(home.path().join(".config/berth/config.toml")).unwrap();
    assert!(
        config.contains("current = \"local\"") && !config.contains(&token),
        "{config}"
    );
    let token_file = home.path().join(".config/berth/tokens/local");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the user's alone");
    }

    let (code, out, err) = support::berth_at_home(home.path(), &["catalog"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("postgres"), "the catalog: {out}");
    let (code, _, err) = support::berth_at_home(home.path(), &["catalog", "--profile", "prod"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no profile \"prod\""), "{err}");
}

/// History, promotion and revert from the command line against `berth dev`: the dry run prints
/// the diff and commits nothing, the promotion and the revert land, and history lists them
/// newest first.
#[tokio::test]
async fn the_cli_promotes_reverts_and_shows_history() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    let token = admin_token(state.path());
    let token = token.as_str();
    let run = |args: &[&str]| {
        let (code, out, err) = berth(&dev, token, args);
        assert_eq!(code, 0, "berth {args:?}: {err}");
        out
    };
    run(&[
        "tenants", "create", "acme", "--tier", "standard", "--env", "staging", "--env", "prod",
        "--module", "postgres",
    ]);
    run(&[
        "modules",
        "enable",
        "acme",
        "staging",
        "postgres",
        "--version",
        "1.4.2",
        "--set",
        "replicas=2",
    ]);
    let history_before = run(&["history", "acme", "-o", "json"]);

    let planned = run(&[
        "promote",
        "acme",
        "--from",
        "staging",
        "--to",
        "prod",
        "--module",
        "postgres",
        "--dry-run",
    ]);
    assert!(planned.contains("not committed"), "{planned}");
    assert!(
        planned.contains("+++ b/tenants/acme/prod/modules/postgres.yaml"),
        "{planned}"
    );
    assert!(planned.contains("+replicas: 2"), "{planned}");
    assert_eq!(
        run(&["history", "acme", "-o", "json"]),
        history_before,
        "a dry run commits nothing"
    );

    let promoted: serde_json::Value = serde_json::from_str(&run(&[
        "promote", "acme", "--from", "staging", "--to", "prod", "-o", "json",
    ]))
    .unwrap();
    assert_eq!(promoted["action"], "promote");
    assert_eq!(promoted["state"], "committed");
    let id = promoted["id"].as_str().unwrap();

    let reverted: serde_json::Value =
        serde_json::from_str(&run(&["requests", "revert", id, "-o", "json"])).unwrap();
    assert_eq!(reverted["reverts"], id);
    let shown = run(&["requests", "show", id]);
    assert!(shown.contains("reverted by"), "{shown}");
    assert!(
        shown.contains("~ tenants/acme/prod/modules/postgres.yaml (+"),
        "{shown}"
    );

    let history = run(&["history", "acme", "--limit", "2"]);
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].trim_start().starts_with("COMMIT"), "{history}");
    assert!(lines[1].contains("revert"), "newest first: {history}");
    assert!(history.contains("promote"), "{history}");
    assert!(
        history.contains("more: --before "),
        "a next page: {history}"
    );

    // The revert of a later-changed file names the change and exits 2 (a refusal).
    let (code, _, err) = berth(&dev, token, &["requests", "revert", id]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(reverted["id"].as_str().unwrap()), "{err}");
}

/// A rollout from the command line: its plan as a table and as JSON with nothing committed,
/// then started and steered (pause, resume, abort, list, show), and a body that is not one
/// refused before anything is sent (exit 2).
#[tokio::test]
async fn the_cli_plans_starts_and_steers_a_rollout() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    let token = admin_token(state.path());
    let token = token.as_str();
    for tenant in ["hooli", "wayne"] {
        let (code, _, err) = berth(
            &dev,
            token,
            &[
                "tenants", "create", tenant, "--tier", "standard", "--env", "dev", "--module",
                "postgres",
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    let body = state.path().join("rollout.json");
    std::fs::write(
        &body,
        r#"{"selector": {"tenants": ["hooli", "wayne"]}, "change": {"reconfigure": {"module": "postgres", "version": "16.6"}}, "canaries": ["wayne"]}"#,
    )
    .unwrap();
    let file = body.to_str().unwrap();
    let (code, out, err) = berth(&dev, token, &["rollouts", "plan", "--file", file]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("2 tenant(s) in 2 wave(s)"), "{out}");
    let (code, out, _) = berth(
        &dev,
        token,
        &["rollouts", "plan", "--file", file, "-o", "json"],
    );
    assert_eq!(code, 0);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        plan["waves"][0]["tenants"][0]["tenant"], "wayne",
        "the canary first"
    );
    let (_, history, _) = berth(&dev, token, &["history", "hooli", "-o", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(
        entries["entries"].as_array().unwrap().len(),
        1,
        "only its creation: {history}"
    );

    // Started, then steered: pause, resume, abort; a resume after the abort is refused.
    let (code, out, err) = berth(
        &dev,
        token,
        &["rollouts", "start", "--file", file, "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let started: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = started["id"].as_str().unwrap();
    assert_eq!(started["state"], "running");
    let state_after = |action: &str| {
        let (code, out, err) = berth(&dev, token, &["rollouts", action, id, "-o", "json"]);
        assert_eq!(code, 0, "{action}: {err}");
        let view: serde_json::Value = serde_json::from_str(&out).unwrap();
        view["state"].as_str().unwrap().to_owned()
    };
    assert_eq!(state_after("pause"), "paused");
    assert_eq!(state_after("resume"), "running");
    assert_eq!(state_after("abort"), "aborted");
    let (code, _, err) = berth(&dev, token, &["rollouts", "resume", id]);
    assert_ne!(code, 0);
    assert!(err.contains("aborted"), "{err}");
    let (code, listed, _) = berth(&dev, token, &["rollouts", "list"]);
    assert_eq!(code, 0);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(id) && l.contains("aborted")),
        "{listed}"
    );
    let (code, shown, err) = berth(
        &dev,
        token,
        &["rollouts", "show", id, "--wait", "--timeout", "30s"],
    );
    assert_eq!(
        code, 1,
        "an aborted rollout ends --wait at once, as a failure: {err}"
    );
    assert!(
        shown.starts_with(&format!("rollout {id} · aborted")),
        "{shown}"
    );

    std::fs::write(&body, r#"{"change": "everything"}"#).unwrap();
    let (code, _, err) = berth(&dev, token, &["rollouts", "plan", "--file", file]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("file"), "{err}");
}

/// `berth doctor` as a new operator runs it against `berth dev` and the Kubernetes test
/// server holding Berth's Argo CD setup: every check passes, one line each, exit 0; `-o json`
/// parses; a refused token is a failed `auth` line and exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_every_check_on_berth_dev() {
    use serde_json::json;
    let kube = berth_tests::kube_server::KubeServer::start().await;
    let kube_token = "cli-kube-token-0123456789";
    kube.require_token(kube_token);
    for (plural, kind, name) in [
        ("applicationsets", "ApplicationSet", "berth-tenant-envs"),
        ("applicationsets", "ApplicationSet", "berth-modules"),
        ("appprojects", "AppProject", "berth-tenants"),
    ] {
        kube.add(
            &format!("argoproj.io/v1alpha1/{plural}"),
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": kind,
                   "metadata": {"name": name, "namespace": "argocd"}}),
        );
    }
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start_sweeping(state.path(), &kube.url, kube_token);
    let token = admin_token(state.path());
    // The first sweep records the cluster; until then the cluster check fails.
    let mut last = (0, String::new(), String::new());
    for _ in 0..60 {
        last = berth(&dev, &token, &["doctor"]);
        if last.0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (code, out, err) = last;
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 10, "{out}");
    for line in &lines {
        assert!(line.trim_start().starts_with("ok"), "{line}");
    }
    for name in [
        "api",
        "clock",
        "auth",
        "git.write",
        "module.vault",
        "store",
        "cluster",
        "argocd",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
            "{name}: {out}"
        );
    }
    let (code, out, _) = berth(&dev, &token, &["doctor", "-o", "json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "ok"),
        "{report}"
    );

    let (code, out, _) = berth(&dev, "wrong-token-0123456789", &["doctor"]);
    assert_eq!(code, 1, "{out}");
    let auth = out.lines().find(|l| l.contains("auth")).unwrap_or_default();
    assert!(auth.trim_start().starts_with("failed"), "{out}");
    assert!(auth.contains("refuses the token"), "{out}");
}
