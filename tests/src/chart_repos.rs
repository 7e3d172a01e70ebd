//! Chart repositories on loopback for the upstream-chart tests:
//! - [`HelmRepo`]: archives made by the real `helm package`, indexed by the real
//!   `helm repo index`, served statically (each read counted; an archive can be served
//!   tampered, and the server stopped);
//! - [`Registry`]: Debian's `docker-registry` (the CNCF distribution registry) with htpasswd
//!   basic auth, into which the real `helm push` uploads;
//! - [`TokenProxy`]: our own server in front of that registry for what it cannot show: the
//!   bearer-token challenge flow, blob reads redirected to "object storage", tampered blobs,
//!   and counts of each read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::tools::{run, tool};
use sha2::Digest;

/// `../shared/fixtures/charts/<name>`: real upstream charts (read-only).
pub fn fixture(name: &str) -> PathBuf {
    crate::git::project_root()
        .join("../shared/fixtures/charts")
        .join(name)
}

/// The charts the tests serve, in `dir`: CloudNativePG's `cluster` 0.8.1 and `cloudnative-pg`
/// 0.29.0 as shipped, and `cluster` packaged again by `helm package` as 0.8.0 and 0.9.0 (so a
/// range has versions inside and outside it).
pub fn packaged_charts(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut archives = Vec::new();
    for name in ["cluster-0.8.1.tgz", "cloudnative-pg-0.29.0.tgz"] {
        let to = dir.join(name);
        std::fs::copy(fixture(name), &to).unwrap();
        archives.push(to);
    }
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    run(Command::new("tar")
        .arg("xzf")
        .arg(fixture("cluster-0.8.1.tgz"))
        .arg("-C")
        .arg(&unpacked));
    for version in ["0.8.0", "0.9.0"] {
        run(Command::new(tool("BERTH_HELM"))
            .args(["package", "--version", version, "-d"])
            .arg(dir)
            .arg(unpacked.join("cluster")));
        archives.push(dir.join(format!("cluster-{version}.tgz")));
    }
    std::fs::remove_dir_all(&unpacked).unwrap();
    archives
}

#[derive(Clone, Default)]
struct Served {
    dir: PathBuf,
    reads: Arc<Mutex<HashMap<String, u64>>>,
    tampered: Arc<AtomicBool>,
    failing: Arc<AtomicBool>,
}

/// A static Helm repository: `index.yaml` and the archives, from one folder.
pub struct HelmRepo {
    pub url: String,
    served: Served,
    task: tokio::task::JoinHandle<()>,
}

impl HelmRepo {
    /// Serves `archives` (copied into `dir`) with the index `helm repo index` makes for them.
    pub async fn start(dir: &Path, archives: &[PathBuf]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        for archive in archives {
            std::fs::copy(archive, dir.join(archive.file_name().unwrap())).unwrap();
        }
        let served = Served {
            dir: dir.to_path_buf(),
            ..Served::default()
        };
        let router = Router::new()
            .fallback(serve_file)
            .with_state(served.clone());
        let (url, task) = crate::serve::serve_loopback(router).await;
        run(Command::new(tool("BERTH_HELM"))
            .args(["repo", "index"])
            .arg(dir)
            .args(["--url", &url]));
        Self { url, served, task }
    }

    /// Reads of `index.yaml` (`"index"`) or of archives (`"archive"`) so far; `"index
    /// unchanged"` counts those of them answered 304.
    pub fn reads(&self, kind: &str) -> u64 {
        self.served
            .reads
            .lock()
            .unwrap()
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// From now on every archive is served with one byte changed: its digest no longer
    /// matches the index.
    pub fn tamper(&self) {
        self.served.tampered.store(true, Ordering::SeqCst);
    }

    /// Stops answering: connections are refused.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// While `failing`, every read answers 503, as a repository under maintenance does.
    pub fn fail(&self, failing: bool) {
        self.served.failing.store(failing, Ordering::SeqCst);
    }
}

impl Drop for HelmRepo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_file(State(served): State<Served>, request: Request) -> Response {
    let name = request.uri().path().trim_start_matches('/').to_owned();
    // Only plain file names in the folder: nothing the request spells becomes another path.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        || name.starts_with('.')
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    if served.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let kind = if name == "index.yaml" {
        "index"
    } else {
        "archive"
    };
    *served.reads.lock().unwrap().entry(kind.into()).or_default() += 1;
    match std::fs::read(served.dir.join(&name)) {
        Ok(mut bytes) => {
            if kind == "archive" && served.tampered.load(Ordering::SeqCst) {
                let last = bytes.len() - 1;
                bytes[last] ^= 0xff;
            }
            // An ETag, and 304 to a request that already has it, as static hosts answer.
            let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(&bytes)[..8]));
            let asked = request.headers().get(header::IF_NONE_MATCH);
            if asked.and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
                *served
                    .reads
                    .lock()
                    .unwrap()
                    .entry(format!("{kind} unchanged"))
                    .or_default() += 1;
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            ([(header::ETAG, etag)], bytes).into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The user and password the registry's htpasswd file holds.
pub const REGISTRY_USER: &str = "berth";
pub const REGISTRY_PASSWORD: &str = "registry-test-password";

/// Debian's `docker-registry` on a free loopback port, with htpasswd basic auth.
pub struct Registry {
    /// `127.0.0.1:<port>`.
    pub host: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let htpasswd = run(Command::new(tool("BERTH_HTPASSWD")).args([
            "-Bbn",
            REGISTRY_USER,
            REGISTRY_PASSWORD,
        ]));
        std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: {host}\nauth:\n  htpasswd:\n    realm: berth-test\n    path: {htpasswd}\n",
            root = dir.path().join("data").display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new(tool("BERTH_DOCKER_REGISTRY"))
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Self { host, child, dir };
        // Up when /v2/ asks for credentials; bounded at 10 s.
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let answer = client
                .get(format!("http://{}/v2/", registry.host))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status() == StatusCode::UNAUTHORIZED) {
                return registry;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry did not start on {}", registry.host);
    }

    /// `helm push`es `archive` to `oci://<host>/charts`, logged in with the htpasswd user.
    pub fn push(&self, archive: &Path) {
        let config = self.dir.path().join("helm-registry.json");
        let helm = || {
            let mut command = Command::new(tool("BERTH_HELM"));
            command.env("HELM_REGISTRY_CONFIG", &config);
            command
        };
        let mut login = helm()
            .args(["registry", "login", &self.host, "--plain-http"])
            .args(["--username", REGISTRY_USER, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(login.stdin.as_mut().unwrap(), REGISTRY_PASSWORD.as_bytes())
            .unwrap();
        let out = login.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "helm registry login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        run(helm()
            .arg("push")
            .arg(archive)
            .arg(format!("oci://{}/charts", self.host))
            .arg("--plain-http"));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token the proxy's token service hands out.
const PROXY_TOKEN: &str = "proxy-bearer-token-0123456789";

#[derive(Clone)]
struct Proxied {
    registry: String,
    own: Arc<Mutex<String>>,
    client: reqwest::Client,
    reads: Arc<Mutex<HashMap<String, u64>>>,
    tampered: Arc<AtomicBool>,
}

/// Our registry front: bearer tokens from `/token` (for the htpasswd user's basic
/// credentials), manifests and tags passed through to the registry, blob reads redirected to
/// `/storage/…` as registries redirect to object storage.
pub struct TokenProxy {
    /// `127.0.0.1:<port>`: use `oci://<host>/charts` as the chart repository.
    pub host: String,
    proxied: Proxied,
    task: tokio::task::JoinHandle<()>,
}

impl TokenProxy {
    pub async fn start(registry: &Registry) -> Self {
        let proxied = Proxied {
            registry: registry.host.clone(),
            own: Arc::new(Mutex::new(String::new())),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            reads: Arc::default(),
            tampered: Arc::default(),
        };
        let router = Router::new().fallback(proxy).with_state(proxied.clone());
        let (url, task) = crate::serve::serve_loopback(router).await;
        let host = url.trim_start_matches("http://").to_owned();
        *proxied.own.lock().unwrap() = host.clone();
        Self {
            host,
            proxied,
            task,
        }
    }

    /// Reads so far of `"token"`, `"tags"`, `"manifest"` or `"blob"`.
    pub fn reads(&self, kind: &str) -> u64 {
        self.proxied
            .reads
            .lock()
            .unwrap()
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    /// From now on blobs are served with one byte changed.
    pub fn tamper(&self) {
        self.proxied.tampered.store(true, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TokenProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn count(p: &Proxied, kind: &str) {
    *p.reads.lock().unwrap().entry(kind.into()).or_default() += 1;
}

async fn proxy(State(p): State<Proxied>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let headers = request.headers().clone();
    if path == "/token" {
        return token(&p, &headers);
    }
    if let Some(rest) = path.strip_prefix("/storage/") {
        // "Object storage": no credentials, as a presigned URL needs none.
        return blob_from_registry(&p, rest).await;
    }
    let bearer = format!("Bearer {PROXY_TOKEN}");
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        != Some(bearer.as_str())
    {
        let repository = path
            .trim_start_matches("/v2/")
            .split("/manifests/")
            .next()
            .and_then(|r| r.split("/tags/").next())
            .and_then(|r| r.split("/blobs/").next())
            .unwrap_or_default();
        let own = p.own.lock().unwrap().clone();
        let challenge = format!(
            r#"Bearer realm="http://{own}/token",service="berth-test",scope="repository:{repository}:pull""#
        );
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).unwrap(),
        );
        return response;
    }
    if let Some((repository, digest)) = path.trim_start_matches("/v2/").split_once("/blobs/") {
        count(&p, "blob");
        let target = format!("/storage/{repository}|{digest}");
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    count(
        &p,
        if path.contains("/manifests/") {
            "manifest"
        } else {
            "tags"
        },
    );
    let mut forward = p
        .client
        .get(format!("http://{}{path}{query}", p.registry))
        .basic_auth(REGISTRY_USER, Some(REGISTRY_PASSWORD));
    if let Some(accept) = headers.get(header::ACCEPT) {
        forward = forward.header(header::ACCEPT, accept);
    }
    relay(forward.send().await, false).await
}

fn token(p: &Proxied, headers: &HeaderMap) -> Response {
    count(p, "token");
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}")
        )
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        != Some(expected.as_str())
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(serde_json::json!({"token": PROXY_TOKEN, "expires_in": 300})).into_response()
}

async fn blob_from_registry(p: &Proxied, rest: &str) -> Response {
    let Some((repository, digest)) = rest.split_once('|').or_else(|| rest.split_once("%7C")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sent = p
        .client
        .get(format!(
            "http://{}/v2/{repository}/blobs/{digest}",
            p.registry
        ))
        .basic_auth(REGISTRY_USER, Some(REGISTRY_PASSWORD))
        .send()
        .await;
    relay(sent, p.tampered.load(Ordering::SeqCst)).await
}

async fn relay(sent: Result<reqwest::Response, reqwest::Error>, tamper: bool) -> Response {
    let Ok(answer) = sent else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::LINK] {
        if let Some(v) = answer.headers().get(name.as_str()) {
            headers.insert(name, HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
    }
    let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
    if tamper && !bytes.is_empty() {
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
    }
    (status, headers, Body::from(bytes)).into_response()
}
