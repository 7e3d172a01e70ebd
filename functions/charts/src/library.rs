//! The charts a process has read, shared by its requests: indexes (and OCI tag-to-digest
//! answers) kept for `index_ttl`, archives kept by digest in memory and on disk. A plan looks
//! them up on a [`ChartShelf`] snapshot; what it lacks it asks for, and [`ChartLibrary::fetch`]
//! reads exactly that.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::upstream::{ChartContent, ChartIndex, ChartRef, ChartShelf, ChartWant, RepoKind};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::archive::read_chart;
use crate::credentials::Credentials;
use crate::disk::DiskCache;
use crate::error::{ChartError, refused};
use crate::helm_repo::{self, HelmIndex, IndexRead};
use crate::oci::Registry;

/// How long an index is trusted before it is read again (`BERTH_CHART_INDEX_TTL`).
pub const DEFAULT_INDEX_TTL: Duration = Duration::from_secs(600);
/// Bytes of archives kept on disk.
pub const DEFAULT_DISK_BYTES: u64 = 256 * 1024 * 1024;

/// What a library is configured with.
#[derive(Debug, Clone)]
pub struct ChartSettings {
    pub index_ttl: Duration,
    /// Where archives are kept across invocations (`/tmp` on Lambda); `None` keeps them in
    /// memory only.
    pub disk_dir: Option<PathBuf>,
    pub disk_bytes: u64,
    pub credentials: Credentials,
}

impl Default for ChartSettings {
    fn default() -> Self {
        Self {
            index_ttl: DEFAULT_INDEX_TTL,
            disk_dir: None,
            disk_bytes: DEFAULT_DISK_BYTES,
            credentials: Credentials::default(),
        }
    }
}

/// One read of a chart repository, as counted by [`ChartLibrary::reads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadKind {
    Index,
    Manifest,
    Archive,
}

#[derive(Default)]
struct Kept {
    indexes: HashMap<ChartRef, KeptIndex>,
    digests: HashMap<(ChartRef, String), (Instant, String)>,
    archives: HashMap<String, Arc<ChartContent>>,
    reads: HashMap<ReadKind, u64>,
}

type HashIndexUrls = std::collections::BTreeMap<String, String>;

/// An index as read, when, and the `ETag` to ask whether it changed.
struct KeptIndex {
    at: Instant,
    index: Arc<ChartIndex>,
    urls: Arc<HashIndexUrls>,
    etag: Option<String>,
}

/// The process's charts. Cheap to share (`Arc`); built once and reused by warm invocations.
pub struct ChartLibrary {
    client: reqwest::Client,
    settings: ChartSettings,
    registry: Registry,
    disk: Option<DiskCache>,
    kept: Mutex<Kept>,
}

impl Default for ChartLibrary {
    fn default() -> Self {
        Self::new(ChartSettings::default())
    }
}

impl ChartLibrary {
    pub fn new(settings: ChartSettings) -> Self {
        let disk = settings
            .disk_dir
            .clone()
            .map(|dir| DiskCache::new(dir, settings.disk_bytes));
        Self {
            client: crate::http::client(),
            settings,
            registry: Registry::default(),
            disk,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// What a plan may use now: indexes younger than the TTL, and every archive held.
    pub fn shelf(&self) -> ChartShelf {
        self.shelf_since(Instant::now())
    }

    /// [`Self::shelf`], with the indexes read since `since` too, however short the TTL: a
    /// request that fetched what its plan asked for plans with it, so its rounds end.
    pub fn shelf_since(&self, since: Instant) -> ChartShelf {
        let mut shelf = ChartShelf::default();
        let Ok(kept) = self.kept.lock() else {
            return shelf;
        };
        let now = Instant::now();
        let fresh =
            |at: &Instant| *at >= since || now.duration_since(*at) < self.settings.index_ttl;
        for (chart, kept_index) in &kept.indexes {
            if fresh(&kept_index.at) {
                shelf.put_index(chart.clone(), Arc::clone(&kept_index.index));
            }
        }
        for ((chart, version), (at, digest)) in &kept.digests {
            if fresh(at) {
                shelf.put_digest(chart.clone(), version.clone(), digest.clone());
            }
        }
        for (digest, content) in &kept.archives {
            shelf.put_archive(digest.clone(), Arc::clone(content));
        }
        shelf
    }

    /// Reads from the repositories made so far, by kind: what tests and the bench count.
    pub fn reads(&self, kind: ReadKind) -> u64 {
        self.kept
            .lock()
            .map(|k| k.reads.get(&kind).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Reads what a plan asked for. Nothing is kept from a read that fails.
    pub async fn fetch(&self, wants: &[ChartWant]) -> Result<(), ChartError> {
        for want in wants {
            match want {
                ChartWant::Index(chart) => {
                    self.read_index(chart).await?;
                }
                ChartWant::Archive {
                    chart,
                    version,
                    digest,
                } => {
                    let digest = match digest {
                        Some(d) => d.clone(),
                        None => self.read_digest(chart, version).await?,
                    };
                    self.read_archive(chart, version, &digest).await?;
                }
            }
        }
        Ok(())
    }

    /// The chart's index, read again when older than the TTL.
    async fn read_index(&self, chart: &ChartRef) -> Result<Arc<HashIndexUrls>, ChartError> {
        if let Some(urls) = self.fresh_index(chart) {
            return Ok(urls);
        }
        let credential = self.settings.credentials.for_url(&chart.repo);
        self.count(ReadKind::Index);
        let etag = self
            .kept
            .lock()
            .ok()
            .and_then(|k| k.indexes.get(chart).and_then(|i| i.etag.clone()));
        let read = match chart.kind() {
            RepoKind::Helm => {
                helm_repo::read_index(&self.client, chart, credential, etag.as_deref()).await?
            }
            RepoKind::Oci => IndexRead::Read(HelmIndex {
                index: self
                    .registry
                    .read_tags(&self.client, chart, credential)
                    .await?,
                ..HelmIndex::default()
            }),
        };
        let mut kept = self
            .kept
            .lock()
            .map_err(|_| refused(chart, "the chart library's lock was poisoned"))?;
        match read {
            IndexRead::Unchanged => match kept.indexes.get_mut(chart) {
                // Unchanged: trusted for another TTL, nothing parsed.
                Some(index) => {
                    index.at = Instant::now();
                    Ok(Arc::clone(&index.urls))
                }
                None => Err(refused(
                    chart,
                    "the repository answered 304 to a first read",
                )),
            },
            IndexRead::Read(read) => {
                let urls = Arc::new(read.urls);
                kept.indexes.insert(
                    chart.clone(),
                    KeptIndex {
                        at: Instant::now(),
                        index: Arc::new(read.index),
                        urls: Arc::clone(&urls),
                        etag: read.etag,
                    },
                );
                Ok(urls)
            }
        }
    }

    fn fresh_index(&self, chart: &ChartRef) -> Option<Arc<HashIndexUrls>> {
        let kept = self.kept.lock().ok()?;
        let index = kept.indexes.get(chart)?;
        (index.at.elapsed() < self.settings.index_ttl).then(|| Arc::clone(&index.urls))
    }

    /// An OCI version's chart-layer digest, from its manifest (kept for the TTL: a tag can be
    /// pushed again).
    async fn read_digest(&self, chart: &ChartRef, version: &str) -> Result<String, ChartError> {
        let key = (chart.clone(), version.to_owned());
        if let Ok(kept) = self.kept.lock()
            && let Some((at, digest)) = kept.digests.get(&key)
            && at.elapsed() < self.settings.index_ttl
        {
            return Ok(digest.clone());
        }
        let credential = self.settings.credentials.for_url(&chart.repo);
        self.count(ReadKind::Manifest);
        let digest = self
            .registry
            .read_layer_digest(&self.client, chart, version, credential)
            .await?;
        if let Ok(mut kept) = self.kept.lock() {
            kept.digests.insert(key, (Instant::now(), digest.clone()));
        }
        Ok(digest)
    }

    /// The archive `digest`: from memory, from disk, else from the repository; its bytes must
    /// hash to `digest` wherever they came from.
    async fn read_archive(
        &self,
        chart: &ChartRef,
        version: &str,
        digest: &str,
    ) -> Result<(), ChartError> {
        if self
            .kept
            .lock()
            .is_ok_and(|k| k.archives.contains_key(digest))
        {
            return Ok(());
        }
        let what = format!("{} {version}", chart.name);
        let from_disk = match &self.disk {
            Some(disk) => disk.read(digest).await,
            None => None,
        };
        let bytes = match from_disk.filter(|bytes| sha256_of(bytes) == digest) {
            Some(bytes) => bytes,
            None => {
                let bytes = self.download(chart, version, digest).await?;
                let actual = sha256_of(&bytes);
                if actual != digest {
                    return Err(refused(
                        &what,
                        format!(
                            "the archive's digest {actual} does not match {digest}, the one its repository's index gives; refused"
                        ),
                    ));
                }
                if let Some(disk) = &self.disk {
                    disk.write(digest, &bytes).await;
                }
                bytes
            }
        };
        let content = read_chart(&bytes).map_err(|e| refused(&what, e.to_string()))?;
        if content.name != chart.name || content.version != version {
            return Err(refused(
                &what,
                format!(
                    "the archive holds {} {}, not the chart asked for",
                    content.name, content.version
                ),
            ));
        }
        if let Ok(mut kept) = self.kept.lock() {
            kept.archives.insert(digest.to_owned(), Arc::new(content));
        }
        Ok(())
    }

    async fn download(
        &self,
        chart: &ChartRef,
        version: &str,
        digest: &str,
    ) -> Result<Vec<u8>, ChartError> {
        let credential = self.settings.credentials.for_url(&chart.repo);
        match chart.kind() {
            RepoKind::Oci => {
                self.count(ReadKind::Archive);
                self.registry
                    .read_blob(&self.client, chart, digest, credential)
                    .await
            }
            RepoKind::Helm => {
                let urls = self.read_index(chart).await?;
                let url = urls.get(version).ok_or_else(|| {
                    refused(
                        chart,
                        format!("the index no longer lists {version}; it cannot be downloaded"),
                    )
                })?;
                self.count(ReadKind::Archive);
                helm_repo::read_archive(&self.client, chart, url, credential).await
            }
        }
    }

    fn count(&self, kind: ReadKind) {
        if let Ok(mut kept) = self.kept.lock() {
            *kept.reads.entry(kind).or_default() += 1;
        }
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
