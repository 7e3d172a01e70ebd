//! A classic Helm repository: `<repo>/index.yaml` for a chart's versions and digests, then the
//! archive at the version's first URL (relative URLs resolve against the repository URL,
//! as Helm resolves them).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use berth_core::upstream::{ChartIndex, ChartRef, IndexedVersion};
use berth_core::versions::{parse_version, sort_highest_first};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::credentials::Credential;
use crate::error::{ChartError, refused};
use crate::http::{self, MAX_ARCHIVE_BYTES, MAX_INDEX_BYTES};

/// A chart's versions from an index, with the URL of each archive.
#[derive(Debug, Clone, Default)]
pub struct HelmIndex {
    pub index: ChartIndex,
    pub urls: BTreeMap<String, String>,
    /// The index's `ETag`, to ask next time whether it changed.
    pub etag: Option<String>,
}

/// What reading an index again gave.
#[derive(Debug, Clone)]
pub enum IndexRead {
    /// `304 Not Modified` to the `ETag` sent: what was read before still holds.
    Unchanged,
    Read(HelmIndex),
}

/// One key of a map, read with `inner`; every other key is skipped unread. An index holds
/// every chart of its repository (Bitnami's reached 14 MB): only the asked chart's entries are
/// built. `None` when the key is absent, or the map is `null`.
struct OneKey<'a, S> {
    key: &'a str,
    inner: S,
}

type Entries = Option<Vec<Option<IndexEntry>>>;

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for OneKey<'_, S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for OneKey<'_, S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a map with {:?} (a Helm repository index)", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut inner = Some(self.inner);
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            match inner.take() {
                Some(seed) if key == self.key => found = Some(map.next_value_seed(seed)?),
                unused => {
                    inner = unused;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[derive(Deserialize)]
struct IndexEntry {
    version: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
}

/// Reads `chart`'s versions from its repository's index; with the `etag` of an earlier read,
/// a repository that supports it answers `304` and nothing is downloaded or parsed again (a
/// large index, such as Bitnami's, costs most of its read in parsing).
pub async fn read_index(
    client: &reqwest::Client,
    chart: &ChartRef,
    credential: Option<&Credential>,
    etag: Option<&str>,
) -> Result<IndexRead, ChartError> {
    let url = format!("{}/index.yaml", chart.repo.trim_end_matches('/'));
    let mut request = with_credential(client.get(&url), credential);
    if let Some(etag) = etag {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let sent = request.send().await;
    if let Ok(answer) = &sent
        && answer.status() == reqwest::StatusCode::NOT_MODIFIED
        && etag.is_some()
    {
        return Ok(IndexRead::Unchanged);
    }
    let etag = sent
        .as_ref()
        .ok()
        .and_then(|a| a.headers().get(reqwest::header::ETAG))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = http::body(sent, &chart.repo, "index.yaml", MAX_INDEX_BYTES).await?;
    let mut read = parse_index(chart, &bytes)?;
    read.etag = etag;
    Ok(IndexRead::Read(read))
}

/// The entries of `chart` in an index (YAML or JSON, as Helm accepts).
pub fn parse_index(chart: &ChartRef, bytes: &[u8]) -> Result<HelmIndex, ChartError> {
    let one_chart = OneKey {
        key: "entries",
        inner: OneKey {
            key: &chart.name,
            inner: PhantomData::<Entries>,
        },
    };
    let found = one_chart
        .deserialize(serde_yaml_ng::Deserializer::from_slice(bytes))
        .map(Option::flatten)
        .map_err(|e| refused(chart, format!("index.yaml is not a Helm index: {e}")))?;
    let Some(entries) = found else {
        return Err(refused(chart, "the repository's index has no such chart"));
    };
    let mut urls = BTreeMap::new();
    let mut digests = BTreeMap::new();
    for entry in entries.iter().flatten().flatten() {
        if parse_version(&entry.version).is_err() {
            continue;
        }
        let Some(first) = entry.urls.first() else {
            continue;
        };
        urls.insert(entry.version.clone(), resolve_url(&chart.repo, first));
        digests.insert(
            entry.version.clone(),
            entry
                .digest
                .as_ref()
                .map(|d| format!("sha256:{}", d.trim_start_matches("sha256:"))),
        );
    }
    let mut versions: Vec<String> = digests.keys().cloned().collect();
    sort_highest_first(&mut versions);
    let index = ChartIndex {
        versions: versions
            .into_iter()
            .map(|version| IndexedVersion {
                digest: digests.get(&version).cloned().flatten(),
                version,
            })
            .collect(),
    };
    Ok(HelmIndex {
        index,
        urls,
        etag: None,
    })
}

/// `urls[0]` against the repository URL, with the trailing slash Helm forces.
fn resolve_url(repo: &str, url: &str) -> String {
    let base = format!("{}/", repo.trim_end_matches('/'));
    match reqwest::Url::parse(&base).and_then(|b| b.join(url)) {
        Ok(joined) => joined.to_string(),
        Err(_) => url.to_owned(),
    }
}

/// Downloads one archive. Credentials go only to the repository's own host (Helm's default,
/// without `--pass-credentials`).
pub async fn read_archive(
    client: &reqwest::Client,
    chart: &ChartRef,
    url: &str,
    credential: Option<&Credential>,
) -> Result<Vec<u8>, ChartError> {
    let same_host = host_of(url) == host_of(&chart.repo);
    let request = client.get(url);
    let request = if same_host {
        with_credential(request, credential)
    } else {
        request
    };
    http::body(
        request.send().await,
        &chart.repo,
        "the chart archive",
        MAX_ARCHIVE_BYTES,
    )
    .await
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or_default()
}

fn with_credential(
    request: reqwest::RequestBuilder,
    credential: Option<&Credential>,
) -> reqwest::RequestBuilder {
    match credential {
        Some(c) => request.basic_auth(&c.username, Some(&c.password)),
        None => request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_charts_versions_highest_first_with_resolved_urls() {
        let chart = ChartRef {
            repo: "https://charts.example.com/stable".into(),
            name: "cluster".into(),
        };
        let index = b"apiVersion: v1\nentries:\n  cluster:\n  - version: 0.8.0\n    digest: aa\n    urls: [cluster-0.8.0.tgz]\n  - version: 0.10.0\n    digest: bb\n    urls: [https://cdn.example.com/cluster-0.10.0.tgz]\n  - version: not-semver\n    urls: [x.tgz]\n  other:\n  - version: 1.0.0\n    urls: [o.tgz]\n";
        let read = parse_index(&chart, index).unwrap();
        let versions: Vec<&str> = read
            .index
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(versions, ["0.10.0", "0.8.0"]);
        assert_eq!(read.index.versions[1].digest.as_deref(), Some("sha256:aa"));
        assert_eq!(
            read.urls["0.8.0"],
            "https://charts.example.com/stable/cluster-0.8.0.tgz"
        );
        assert_eq!(
            read.urls["0.10.0"],
            "https://cdn.example.com/cluster-0.10.0.tgz"
        );
        let missing = ChartRef {
            name: "nope".into(),
            ..chart
        };
        assert!(parse_index(&missing, index).is_err());
    }
}
