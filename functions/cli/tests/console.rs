//! The console in a real headless Chromium (Debian's), driven by Playwright from PyPI
//! (`tests/console/drive.py`), against `berth dev` sweeping the Kubernetes test server: a person
//! signs in, creates a tenant, watches it reach ready, enables a module and reverts it, and each
//! step is checked in Git. Then what a viewer and a tenant's own token see, axe-core's verdict
//! on every page, the security headers of every console answer, and a display name carrying a
//! script shown as text. Screenshots of each page land in `<target>/console-screenshots`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use berth_tests::fleet;
use berth_tests::kube_server::KubeServer;
use serde_json::{Value, json};
use support::{Dev, admin_token};

const VIEWER: &str = "viewer-token-0123456789";
const UMBRELLA: &str = "umbrella-token-0123456789";
/// A display name that would run script if the console ever built markup from text.
const XSS: &str = "<img src=x onerror=\"window.__xss=true\"><script>window.__xss=true</script>";

/// The browser, one step at a time (see drive.py).
struct Browser {
    child: Child,
    input: ChildStdin,
    answers: mpsc::Receiver<String>,
}

impl Browser {
    fn start(url: &str) -> Self {
        let tool = |var: &str| berth_tests::tools::tool(var);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/console/drive.py");
        let mut child = Command::new(tool("BERTH_PLAYWRIGHT_PYTHON"))
            .arg(script)
            .arg(url)
            .arg(tool("BERTH_CHROMIUM"))
            .arg(tool("BERTH_AXE"))
            .arg(screenshots())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the browser driver");
        let input = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut browser = Self {
            child,
            input,
            answers,
        };
        browser.answer("start");
        browser
    }

    fn answer(&mut self, what: &str) -> Value {
        let line = self
            .answers
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the browser never answered {what}"));
        let answer: Value = serde_json::from_str(&line).expect("a JSON answer");
        assert_eq!(answer["ok"], true, "{what}: {answer}");
        answer
    }

    /// Runs one step; panics with the driver's error (a screenshot of the moment is saved).
    fn step(&mut self, step: Value) -> Value {
        writeln!(self.input, "{step}").expect("write a step");
        self.answer(&step.to_string())
    }

    /// axe-core's serious and critical violations on the page shown: none.
    fn accessible(&mut self, page: &str) {
        let verdict = self.step(json!({"op": "axe_check"}));
        assert_eq!(
            verdict["serious"],
            json!([]),
            "axe on the {page} page: {verdict}"
        );
    }

    fn screenshot(&mut self, name: &str) {
        self.step(json!({"op": "screenshot", "name": name}));
    }

    /// The page shown passes axe, is saved, and fits a phone.
    fn page_passes(&mut self, name: &str) {
        self.accessible(name);
        self.screenshot(name);
        self.fits_a_phone(name);
    }

    /// A screenshot at a phone's 390 px: the page fits the width, scrolling only down.
    fn fits_a_phone(&mut self, name: &str) {
        let shot =
            self.step(json!({"op": "screenshot", "name": format!("{name}-390"), "width": 390}));
        assert!(
            shot["overflow"].as_i64().unwrap() <= 0,
            "the {name} page is wider than 390 px: {shot}"
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "{}", json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

/// `<target>/console-screenshots`, beside the binaries under test.
fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_berth"))
        .ancestors()
        .nth(2)
        .expect("the target folder")
        .join("console-screenshots")
}

fn file_at(repo: &git2::Repository, path: &str) -> Option<String> {
    repo.revparse_single(&format!("main:{path}"))
        .ok()
        .and_then(|o| {
            o.as_blob()
                .map(|b| String::from_utf8_lossy(b.content()).into_owned())
        })
}

fn main_commit(repo: &git2::Repository) -> String {
    repo.revparse_single("main").unwrap().id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_a_tenant_from_the_console_and_every_step_lands_in_git() {
    let kube = KubeServer::start().await;
    let kube_token = "console-kube-token-0123456789";
    kube.require_token(kube_token);
    let state = tempfile::tempdir().unwrap();
    let tokens = format!("viewer={VIEWER},operator:umbrella={UMBRELLA}");
    let dev = Dev::start_sweeping_with(
        state.path(),
        &kube.url,
        kube_token,
        &[("BERTH_API_TOKENS", &tokens)],
    );
    let admin = admin_token(state.path());
    let repo = git2::Repository::open_bare(state.path().join("repo.git")).unwrap();
    let mut browser = Browser::start(&dev.url);

    // Sign in with a token; the fleet.
    let signed_in = browser.step(json!({"op": "signin", "token": admin}));
    assert!(
        signed_in["caller"].as_str().unwrap().contains("admin"),
        "{signed_in}"
    );
    browser.step(json!({"op": "wait_text", "selector": "main", "text": "umbrella"}));
    browser.page_passes("fleet");

    // Create a tenant; its files are in Git.
    let created = browser.step(
        json!({"op": "create_tenant", "name": "acme", "tier": "standard",
        "envs": ["dev"], "display_name": XSS}),
    );
    assert!(
        created["dialog"]
            .as_str()
            .unwrap()
            .contains("Create tenant acme?"),
        "{created}"
    );
    let create_id = created["request"].as_str().unwrap().to_owned();
    let tenant_yaml = file_at(&repo, "tenants/acme/tenant.yaml").expect("tenant.yaml in Git");
    assert!(tenant_yaml.contains("tier: standard"), "{tenant_yaml}");
    let first = main_commit(&repo);

    // Argo CD (here, the test) syncs the commit and the base turns healthy: the request page
    // follows it to ready by itself.
    kube.add(
        fleet::APPLICATIONS,
        fleet::application("acme", "dev", None, &first, "Healthy"),
    );
    let ready =
        browser.step(json!({"op": "wait_request_state", "id": create_id, "state": "ready"}));
    assert!(
        ready["lifecycle"].as_str().unwrap().contains("synced ✓"),
        "{ready}"
    );
    browser.page_passes("request");

    // The display name is text, not markup.
    browser.step(json!({"op": "goto", "hash": "#/tenants/acme"}));
    let shown = browser.step(json!({"op": "html_of", "selector": "#display-name"}));
    assert_eq!(shown["injected"], 0, "{shown}");
    assert_eq!(shown["alerted"], false, "{shown}");
    assert!(
        shown["html"].as_str().unwrap().starts_with("&lt;img"),
        "{shown}"
    );

    // Enable a module with values: its values file is in Git.
    let enabled = browser.step(
        json!({"op": "enable_module", "tenant": "acme", "env": "dev",
        "module": "postgres", "values": {"replicas": 2}}),
    );
    assert!(
        enabled["dialog"]
            .as_str()
            .unwrap()
            .contains("Enable postgres in acme/dev?")
    );
    let enable_id = enabled["request"].as_str().unwrap().to_owned();
    browser.step(json!({"op": "wait_request_state", "id": enable_id, "state": "committed"}));
    let values = file_at(&repo, "tenants/acme/dev/modules/postgres.yaml").expect("postgres.yaml");
    assert!(values.contains("replicas: 2"), "{values}");
    let second = main_commit(&repo);
    kube.sync_postgres("acme", "dev", &second, 2, 2);
    browser.step(json!({"op": "wait_request_state", "id": enable_id, "state": "ready"}));

    // The tenant page: the grid shows the module ready, the history its diff.
    browser.step(json!({"op": "goto", "hash": "#/tenants/acme"}));
    let grid =
        browser.step(json!({"op": "wait_text", "selector": "table.grid", "text": "2/2 ready"}));
    assert!(grid["text"].as_str().unwrap().contains("healthy"), "{grid}");
    let diffs = browser.step(json!({"op": "show_diffs", "tenant": "acme", "commit": second}));
    assert!(
        diffs["diffs"].as_str().unwrap().contains("+replicas: 2"),
        "{diffs}"
    );
    browser.page_passes("tenant");
    // By keyboard: the skip link before the header, focus shown, into the page it is on, and
    // on to the page's first control.
    let skip = browser.step(json!({"op": "skip_to_content"}));
    assert_eq!(skip["skip"]["text"], "Skip to content", "{skip}");
    assert_eq!(skip["skip"]["outline"], "solid", "focus is visible: {skip}");
    assert_eq!(skip["landed"], "main", "{skip}");
    assert_eq!(skip["control"]["text"], "Change tier…", "{skip}");
    assert_eq!(
        skip["control"]["outline"], "solid",
        "focus is visible: {skip}"
    );
    assert_eq!(
        skip["hash_after"], skip["hash_before"],
        "still on the tenant: {skip}"
    );

    // Revert the module's change from the history: the values file leaves Git.
    let reverted =
        browser.step(json!({"op": "revert_from_history", "tenant": "acme", "request": enable_id}));
    assert!(
        reverted["dialog"]
            .as_str()
            .unwrap()
            .contains("Revert enable module on acme?"),
        "{reverted}"
    );
    let revert_id = reverted["request"].as_str().unwrap().to_owned();
    assert_ne!(revert_id, enable_id);
    browser.step(json!({"op": "wait_request_state", "id": revert_id, "state": "committed"}));
    assert_eq!(
        file_at(&repo, "tenants/acme/dev/modules/postgres.yaml"),
        None,
        "reverted in Git"
    );
    assert!(
        file_at(&repo, "tenants/acme/tenant.yaml").is_some(),
        "the tenant stays"
    );

    // Polling costs 304s once nothing changes.
    browser.step(json!({"op": "goto", "hash": "#/tenants/acme"}));
    browser.step(json!({"op": "requests_seen"}));
    let seen = browser.step(json!({"op": "requests_seen", "wait_ms": 7000}));
    let statuses = seen["statuses"].as_array().unwrap();
    assert!(
        statuses
            .iter()
            .any(|s| s[0].as_str().unwrap().ends_with("/v1/tenants/acme") && s[1] == 304),
        "unchanged polls answered 304: {seen}"
    );

    // Rollouts: none yet, said so.
    browser.step(json!({"op": "goto", "hash": "#/rollouts"}));
    browser.step(json!({"op": "wait_text", "selector": "main", "text": "No rollout yet"}));
    browser.accessible("rollouts");
    browser.screenshot("rollouts");

    // A viewer sees the fleet and the tenant with no write button.
    browser.step(json!({"op": "signin", "token": VIEWER}));
    browser.step(json!({"op": "wait_text", "selector": "main", "text": "acme"}));
    let fleet_view = browser.step(json!({"op": "write_buttons"}));
    assert_eq!(fleet_view["write"], 0, "{fleet_view}");
    browser.step(json!({"op": "goto", "hash": "#/tenants/acme"}));
    browser.step(json!({"op": "wait_text", "selector": "ol.history", "text": "create tenant"}));
    let tenant_view = browser.step(json!({"op": "write_buttons"}));
    assert_eq!(tenant_view["write"], 0, "{tenant_view}");
    let buttons = tenant_view["buttons"].to_string();
    for write in [
        "Revert",
        "Suspend",
        "Enable module",
        "Disable",
        "Change tier",
    ] {
        assert!(
            !buttons.contains(write),
            "a viewer sees no {write}: {buttons}"
        );
    }
    browser.accessible("tenant, as a viewer");
    browser.screenshot("tenant-viewer");

    // A token scoped to umbrella: its tenant only, in the page and in what the page asks for.
    browser.step(json!({"op": "requests_seen"}));
    let scoped = browser.step(json!({"op": "signin", "token": UMBRELLA}));
    assert!(
        scoped["caller"]
            .as_str()
            .unwrap()
            .contains("tenant umbrella only"),
        "{scoped}"
    );
    browser.step(json!({"op": "wait_text", "selector": "main h1", "text": "umbrella"}));
    browser.step(json!({"op": "goto", "hash": "#/"}));
    browser.step(json!({"op": "wait_text", "selector": "main h1", "text": "umbrella"}));
    let page = browser.step(json!({"op": "text", "selector": "body"}));
    for other in ["acme", "globex", "initech"] {
        assert!(
            !page["text"].as_str().unwrap().contains(other),
            "{other} shown: {page}"
        );
    }
    let asked = browser.step(json!({"op": "requests_seen", "wait_ms": 500}));
    let urls = asked["urls"].as_array().unwrap();
    assert!(
        urls.iter()
            .any(|u| u.as_str().unwrap().contains("/v1/tenants/umbrella")),
        "the scoped console asked for its tenant: {asked}"
    );
    for url in urls {
        let url = url.as_str().unwrap();
        assert!(
            !url.contains("/v1/")
                || url.contains("/v1/me")
                || url.contains("/v1/catalog")
                || url.contains("/v1/tenants/umbrella")
                || url.contains("/v1/requests/"),
            "a scoped console asks only about its tenant: {url}"
        );
    }
    let own = browser.step(json!({"op": "write_buttons"}));
    assert!(
        own["write"].as_u64().unwrap() > 0,
        "an operator writes to its own tenant: {own}"
    );

    let violations = browser.step(json!({"op": "violations"}));
    assert_eq!(
        violations["csp"],
        json!([]),
        "nothing the console does breaks its policy"
    );
}

/// Every console answer, a missing file's included, carries the policy and the headers; the
/// sign-in settings say how to sign in; no path reaches the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_answer_carries_the_security_headers() {
    let state = tempfile::tempdir().unwrap();
    let dev = Dev::start(state.path());
    let client = reqwest::Client::new();
    for (path, status, kind) in [
        ("/console/", 200, "text/html"),
        ("/console", 200, "text/html"),
        ("/console/app.js", 200, "text/javascript"),
        ("/console/pages/tenant.js", 200, "text/javascript"),
        ("/console/console.css", 200, "text/css"),
        ("/console/config.json", 200, "application/json"),
        ("/console/nosuch.js", 404, "application/json"),
        // The path is only ever compared with the embedded files' names.
        ("/console/..%2fCargo.toml", 404, "application/json"),
        (
            "/console/pages%2f..%2f..%2fsrc%2fconsole.rs",
            404,
            "application/json",
        ),
    ] {
        let answer = client
            .get(format!("{}{path}", dev.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path}");
        let headers = answer.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'self'"), "{path}: {policy}");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert!(
            header("content-type").starts_with(kind),
            "{path}: {}",
            header("content-type")
        );
    }
    let settings: serde_json::Value = client
        .get(format!("{}/console/config.json", dev.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings, json!({"auth": "tokens"}));
    // A revalidation answered 304 carries the headers too.
    let first = client
        .get(format!("{}/console/app.js", dev.url))
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].clone();
    let again = client
        .get(format!("{}/console/app.js", dev.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let policy = again.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert_eq!(again.headers()["x-content-type-options"], "nosniff");
    // No inline script anywhere: the page loads modules from this origin only.
    let index = client
        .get(format!("{}/console/", dev.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !index.contains("<script>")
            && index.contains(r#"<script type="module" src="/console/app.js">"#)
    );
}
