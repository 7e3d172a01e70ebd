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
