//! A chart in an OCI registry (`oci://host/path` + the chart's name), read as Helm reads it:
//! the tag list for versions (tags spell `+` as `_`), the version's manifest for the chart
//! layer's digest, then that layer's blob. Registries that answer 401 with a `Bearer`
//! challenge get a token from the realm they name, anonymously or with the configured
//! credential (the distribution token flow); a `Basic` challenge gets the credential itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use berth_core::upstream::{ChartIndex, ChartRef, IndexedVersion};
use berth_core::versions::{parse_version, sort_highest_first};
use reqwest::header::{ACCEPT, AUTHORIZATION, LINK, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use crate::credentials::Credential;
use crate::error::{ChartError, refused, unavailable};
use crate::http::{self, MAX_ARCHIVE_BYTES, MAX_INDEX_BYTES};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CHART_LAYER_TYPES: [&str; 2] = [
    "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
    // Charts pushed before Helm 3.7.
    "application/tar+gzip",
];
/// Pages of a tag list followed; a chart with more than 20,000 versions is not one to run.
const MAX_TAG_PAGES: usize = 20;

/// Where a chart sits in a registry.
struct OciRepo {
    /// `http://127.0.0.1:5000` or `https://ghcr.io`.
    base: String,
    /// `cloudnative-pg/charts/cluster`.
    repository: String,
}

impl OciRepo {
    fn of(chart: &ChartRef) -> Self {
        let rest = chart
            .repo
            .trim_start_matches("oci://")
            .trim_end_matches('/');
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let scheme = if host.starts_with("127.0.0.1") || host.starts_with("localhost") {
            "http"
        } else {
            "https"
        };
        let repository = if path.is_empty() {
            chart.name.clone()
        } else {
            format!("{path}/{}", chart.name)
        };
        Self {
            base: format!("{scheme}://{host}"),
            repository,
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repository)
    }
}

/// Registry reads with their bearer tokens kept until they expire.
#[derive(Default)]
pub struct Registry {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Registry {
    /// The chart's versions: its tags that are semantic versions, highest first.
    pub async fn read_tags(
        &self,
        client: &reqwest::Client,
        chart: &ChartRef,
        credential: Option<&Credential>,
    ) -> Result<ChartIndex, ChartError> {
        let repo = OciRepo::of(chart);
        let mut url = repo.url("tags/list?n=1000");
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let response = self
                .get(client, chart, &repo, &url, None, credential)
                .await?;
            let next = response
                .headers()
                .get(LINK)
                .and_then(|l| l.to_str().ok())
                .and_then(next_link);
            let bytes =
                http::body(Ok(response), &chart.repo, "the tag list", MAX_INDEX_BYTES).await?;
            let list: TagList = serde_json::from_slice(&bytes)
                .map_err(|e| refused(chart, format!("the tag list is not valid: {e}")))?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(path) => url = format!("{}{path}", repo.base),
                None => break,
            }
        }
        let mut versions: Vec<String> = tags
            .into_iter()
            .map(|tag| tag.replace('_', "+"))
            .filter(|v| parse_version(v).is_ok())
            .collect();
        sort_highest_first(&mut versions);
        versions.dedup();
        Ok(ChartIndex {
            versions: versions
                .into_iter()
                .map(|version| IndexedVersion {
                    version,
                    digest: None,
                })
                .collect(),
        })
    }

    /// The digest of `version`'s chart layer, from its manifest.
    pub async fn read_layer_digest(
        &self,
        client: &reqwest::Client,
        chart: &ChartRef,
        version: &str,
        credential: Option<&Credential>,
    ) -> Result<String, ChartError> {
        let repo = OciRepo::of(chart);
        let url = repo.url(&format!("manifests/{}", version.replace('+', "_")));
        let response = self
            .get(client, chart, &repo, &url, Some(MANIFEST_TYPE), credential)
            .await?;
        let bytes = http::body(Ok(response), &chart.repo, "the manifest", MAX_INDEX_BYTES).await?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            refused(
                chart,
                format!("the manifest of {version} is not valid: {e}"),
            )
        })?;
        manifest
            .layers
            .into_iter()
            .find(|l| CHART_LAYER_TYPES.contains(&l.media_type.as_str()))
            .map(|l| l.digest)
            .ok_or_else(|| {
                refused(
                    chart,
                    format!("the manifest of {version} has no chart layer"),
                )
            })
    }

    /// The blob `digest` (a chart layer); the caller checks it against the digest.
    pub async fn read_blob(
        &self,
        client: &reqwest::Client,
        chart: &ChartRef,
        digest: &str,
        credential: Option<&Credential>,
    ) -> Result<Vec<u8>, ChartError> {
        let repo = OciRepo::of(chart);
        let url = repo.url(&format!("blobs/{digest}"));
        let response = self
            .get(client, chart, &repo, &url, None, credential)
            .await?;
        http::body(
            Ok(response),
            &chart.repo,
            "the chart layer",
            MAX_ARCHIVE_BYTES,
        )
        .await
    }

    /// A GET with the token this repository last got; on a 401, the challenge's flow once.
    async fn get(
        &self,
        client: &reqwest::Client,
        chart: &ChartRef,
        repo: &OciRepo,
        url: &str,
        accept: Option<&str>,
        credential: Option<&Credential>,
    ) -> Result<Response, ChartError> {
        let key = format!("{}/{}", repo.base, repo.repository);
        let build = |authorization: Option<String>| {
            let mut request: RequestBuilder = client.get(url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            match authorization {
                Some(value) => request.header(AUTHORIZATION, value),
                None => request,
            }
        };
        let first = build(self.token(&key).map(|t| format!("Bearer {t}")))
            .send()
            .await;
        let response = match first {
            Ok(r) if r.status() == StatusCode::UNAUTHORIZED => r,
            other => return http::answered(other, &chart.repo, "the registry"),
        };
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let authorization = if let Some(params) = strip_scheme(&challenge, "Bearer") {
            let token = self
                .fetch_token(client, chart, repo, params, credential)
                .await?;
            format!("Bearer {token}")
        } else if strip_scheme(&challenge, "Basic").is_some()
            && let Some(c) = credential
        {
            let basic = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{}:{}", c.username, c.password),
            );
            format!("Basic {basic}")
        } else {
            return Err(refused(
                chart,
                "the registry asks for credentials; configure them in BERTH_CHART_CREDENTIALS",
            ));
        };
        http::answered(
            build(Some(authorization)).send().await,
            &chart.repo,
            "the registry",
        )
    }

    async fn fetch_token(
        &self,
        client: &reqwest::Client,
        chart: &ChartRef,
        repo: &OciRepo,
        challenge: &str,
        credential: Option<&Credential>,
    ) -> Result<String, ChartError> {
        let params = challenge_params(challenge);
        let realm = params
            .get("realm")
            .ok_or_else(|| refused(chart, "the registry's Bearer challenge names no realm"))?;
        let loopback = ["http://127.0.0.1", "http://localhost"];
        if !(realm.starts_with("https://") || loopback.iter().any(|l| realm.starts_with(l))) {
            return Err(refused(chart, "the registry's token realm is not https"));
        }
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", repo.repository));
        let mut query = vec![("scope", scope)];
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        let mut request = client.get(realm.as_str()).query(&query);
        if let Some(c) = credential {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let bytes = http::body(
            request.send().await,
            &chart.repo,
            "the token service",
            1 << 20,
        )
        .await
        .map_err(|e| match e {
            ChartError::Refused { .. } => refused(
                chart,
                "the registry's token service refused; check BERTH_CHART_CREDENTIALS",
            ),
            other => other,
        })?;
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| unavailable(&chart.repo, "the token service's answer is not valid"))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty());
        let token = token.ok_or_else(|| refused(chart, "the token service gave no token"))?;
        // The registry's own expiry, 60 s when it names none, less a margin.
        let lifetime = answer.expires_in.unwrap_or(60).saturating_sub(10);
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                format!("{}/{}", repo.base, repo.repository),
                (
                    token.clone(),
                    Instant::now() + Duration::from_secs(lifetime),
                ),
            );
        }
        Ok(token)
    }

    fn token(&self, key: &str) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let (token, until) = tokens.get(key)?;
        (Instant::now() < *until).then(|| token.clone())
    }
}

fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = header.split_once(' ').unwrap_or((header, ""));
    name.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `realm="…",service="…",scope="…"` into its parameters.
fn challenge_params(params: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, t)) => (v, t),
                None => (quoted, ""),
            }
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.insert(key, value.to_owned());
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

/// The path of `Link: </v2/…?last=x&n=1000>; rel="next"`.
fn next_link(header: &str) -> Option<String> {
    let (target, params) = header.split_once(';')?;
    params
        .contains("rel=\"next\"")
        .then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|path| path.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_bearer_challenge_and_a_next_link() {
        let params = challenge_params(
            r#"realm="https://auth.example.com/token",service="registry.example.com",scope="repository:charts/cluster:pull,push""#,
        );
        assert_eq!(params["realm"], "https://auth.example.com/token");
        assert_eq!(params["scope"], "repository:charts/cluster:pull,push");
        assert_eq!(params["service"], "registry.example.com");
        assert_eq!(
            next_link(r#"</v2/charts/cluster/tags/list?last=0.8.1&n=1000>; rel="next""#).unwrap(),
            "/v2/charts/cluster/tags/list?last=0.8.1&n=1000"
        );
    }

    #[test]
    fn places_the_chart_under_the_registry_path() {
        let repo = OciRepo::of(&ChartRef {
            repo: "oci://ghcr.io/cloudnative-pg/charts".into(),
            name: "cluster".into(),
        });
        assert_eq!(
            repo.url("tags/list"),
            "https://ghcr.io/v2/cloudnative-pg/charts/cluster/tags/list"
        );
        let local = OciRepo::of(&ChartRef {
            repo: "oci://127.0.0.1:5000".into(),
            name: "cluster".into(),
        });
        assert_eq!(
            local.url("manifests/0.8.1"),
            "http://127.0.0.1:5000/v2/cluster/manifests/0.8.1"
        );
    }
}
