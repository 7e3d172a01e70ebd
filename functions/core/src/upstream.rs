//! Modules from upstream charts: a chart in a Helm repository or an OCI registry, named by the
//! catalog with a version range and a default, pinned to one exact version (and the archive's
//! digest) in each tenant's module file.
//!
//! Reading repositories is I/O and lives elsewhere (`berth-charts`). Here are the pure parts:
//! the catalog's coordinates and their rules, what was read ([`ChartIndex`], [`ChartContent`]),
//! the read-only [`ChartShelf`] a plan looks charts up on, and [`ChartWant`]: what a plan asks
//! its caller to fetch when the shelf lacks it, after which the caller plans again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::chart_wants::{ChartRef, ChartWant};
use crate::error::{FieldError, PlanError};
use crate::names::ModuleName;
use crate::versions::{ChartRange, parse_version};

/// A catalog module's `chart:`: where the chart is published and which versions tenants may
/// run. Tier values stay in the repository, in `charts/modules/<module>/values-<tier>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamChart {
    /// `https://…`, the URL that holds `index.yaml`, or `oci://host/path`, the registry path
    /// the chart's repository sits under (the chart's name is appended).
    pub repo: String,
    /// The chart's name in the index, or the last part of its OCI repository.
    pub name: String,
    /// The versions tenants may run, in Helm's range syntax (`~0.8`, `>=1.2 <1.4`, `0.29.x`).
    pub versions: String,
    /// The version a tenant gets when a request names none; must be in `versions`.
    pub default: String,
    /// A schema kept in the repository (under `charts/modules/<module>/`), for a chart that
    /// ships none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// The two kinds of chart repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// A classic Helm repository: `index.yaml` and `.tgz` archives.
    Helm,
    /// An OCI registry: tags, manifests and a chart layer.
    Oci,
}

impl ChartRef {
    pub fn kind(&self) -> RepoKind {
        if self.repo.starts_with("oci://") {
            RepoKind::Oci
        } else {
            RepoKind::Helm
        }
    }
}

/// How a module's values are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuesCheck {
    /// Against the chart's own `values.schema.json` (and each subchart's), as Helm does.
    ChartSchema,
    /// Against the schema the catalog names in the repository.
    RepositorySchema,
    /// The chart ships no schema: only the top-level keys of its `values.yaml` are allowed.
    TopLevelKeys,
}

impl UpstreamChart {
    pub fn chart_ref(&self) -> ChartRef {
        ChartRef {
            repo: self.repo.clone(),
            name: self.name.clone(),
        }
    }

    /// The parsed range; the catalog was checked at load, so this does not fail on a loaded one.
    pub fn range(&self) -> Result<ChartRange, FieldError> {
        ChartRange::parse(&self.versions)
            .map_err(|e| FieldError::invalid("chart.versions", e.to_string()))
    }

    /// The catalog's rules for `module`'s chart: each broken one names the field.
    pub fn check(&self, module: &ModuleName) -> Result<(), String> {
        let field = |f: &str, why: String| Err(format!("module {module}: chart.{f}: {why}"));
        if let Err(why) = check_repo_url(&self.repo) {
            return field("repo", why);
        }
        if !is_chart_name(&self.name) {
            return field(
                "name",
                "must be a chart name: lowercase letters, digits, '-', '_' and '.', at most 250"
                    .into(),
            );
        }
        let range = match ChartRange::parse(&self.versions) {
            Ok(range) => range,
            Err(e) => return field("versions", e.to_string()),
        };
        match parse_version(&self.default) {
            Err(e) => return field("default", e.to_string()),
            Ok(default) if !range.matches(&default) => {
                return field(
                    "default",
                    format!("{} is outside versions {:?}", self.default, self.versions),
                );
            }
            Ok(_) => {}
        }
        if let Some(schema) = &self.schema {
            let folder = format!("charts/modules/{module}/");
            let safe = schema.strip_prefix(&folder).is_some_and(|rest| {
                !rest.is_empty()
                    && rest.ends_with(".json")
                    && rest.split('/').all(|part| {
                        !part.is_empty()
                            && !part.starts_with('.')
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    })
            });
            if !safe {
                return field(
                    "schema",
                    format!("must be a .json file under {folder}, got {schema:?}"),
                );
            }
        }
        Ok(())
    }
}

fn is_chart_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 250
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// `https://host/path` or `oci://host/path`; plain `http://` only on loopback (tests, a local
/// mirror). Credentials never sit in the URL: the catalog is in Git.
fn check_repo_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("oci://"))
        .or_else(|| {
            url.strip_prefix("http://")
                .filter(|r| r.starts_with("127.0.0.1") || r.starts_with("localhost"))
        })
        .ok_or_else(|| {
            format!("must start with https:// or oci:// (http:// only on loopback), got {url:?}")
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || url.len() > 500 {
        return Err("must name a host, in at most 500 characters".into());
    }
    if rest.contains('@') {
        return Err("must not carry credentials; configure them for Berth instead".into());
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/:%".contains(&b))
    {
        return Err("has characters a repository URL does not take".into());
    }
    Ok(())
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits: the only form Berth pins, reads
/// a blob by, or names a cached file after.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// A chart's published versions, highest first, with each archive's digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChartIndex {
    pub versions: Vec<IndexedVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedVersion {
    pub version: String,
    /// `sha256:<hex>` of the chart archive, as a Helm repository's index says; `None` from an
    /// OCI registry's tag list (the version's manifest says).
    pub digest: Option<String>,
}

impl ChartIndex {
    pub fn get(&self, version: &str) -> Option<&IndexedVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    fn names(&self) -> Vec<String> {
        self.versions.iter().map(|v| v.version.clone()).collect()
    }
}

/// What Berth reads from a chart archive to validate values: never its templates.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartContent {
    pub name: String,
    pub version: String,
    /// `values.yaml`, or an empty map.
    pub values: Value,
    pub schema: Option<Value>,
    pub subcharts: Vec<Subchart>,
}

/// A dependency packaged in the chart's `charts/`, under the key its values sit at.
#[derive(Debug, Clone, PartialEq)]
pub struct Subchart {
    /// The dependency's `alias`, else its name.
    pub key: String,
    /// The `condition` paths from `Chart.yaml`: the first one set in the values decides.
    pub conditions: Vec<String>,
    pub content: ChartContent,
}

/// A chart's exact version and archive, as written into a tenant's module file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartPin {
    pub chart: ChartRef,
    pub version: String,
    pub digest: String,
}

/// The indexes and archives a plan may use: what the caller already fetched. Read-only and
/// cheap to clone (the contents are shared).
#[derive(Debug, Clone, Default)]
pub struct ChartShelf {
    indexes: BTreeMap<ChartRef, Arc<ChartIndex>>,
    /// By digest: an archive is the same whatever repository served it.
    archives: BTreeMap<String, Arc<ChartContent>>,
    /// The archive digest of versions whose index gives none (OCI tags), from their manifest.
    digests: BTreeMap<(ChartRef, String), String>,
}

impl ChartShelf {
    pub fn put_index(&mut self, chart: ChartRef, index: Arc<ChartIndex>) {
        self.indexes.insert(chart, index);
    }

    pub fn put_archive(&mut self, digest: String, content: Arc<ChartContent>) {
        self.archives.insert(digest, content);
    }

    pub fn put_digest(&mut self, chart: ChartRef, version: String, digest: String) {
        self.digests.insert((chart, version), digest);
    }

    pub fn index(&self, chart: &ChartRef) -> Option<&ChartIndex> {
        self.indexes.get(chart).map(|i| i.as_ref())
    }

    pub fn archive(&self, digest: &str) -> Option<&ChartContent> {
        self.archives.get(digest).map(|c| c.as_ref())
    }

    /// The archive of `chart` at `version`, when its digest is known and the archive held.
    pub fn archive_of(&self, chart: &ChartRef, version: &str) -> Option<&ChartContent> {
        let from_index = self
            .index(chart)
            .and_then(|i| i.get(version))
            .and_then(|v| v.digest.clone());
        let digest = from_index.or_else(|| {
            self.digests
                .get(&(chart.clone(), version.to_owned()))
                .cloned()
        })?;
        self.archive(&digest)
    }

    /// The archive a pin names, or the want that fetches it.
    pub fn require_archive(&self, pin: &ChartPin) -> Result<&ChartContent, PlanError> {
        self.archive(&pin.digest).ok_or_else(|| {
            PlanError::ChartsNeeded(vec![ChartWant::Archive {
                chart: pin.chart.clone(),
                version: pin.version.clone(),
                digest: Some(pin.digest.clone()),
            }])
        })
    }
}

/// The newest published version within the catalog's range: what `berth catalog` shows.
pub fn newest_in_range(chart: &UpstreamChart, index: &ChartIndex) -> Option<String> {
    let range = chart.range().ok()?;
    range.pick(&index.names()).cloned()
}

/// Resolves what a request asks for (`asked`: an exact version or a range, as `helm install
/// --version` takes it; `None` for the catalog's default) to one published version within the
/// catalog's range. A version outside the range, or not published, is the caller's error on
/// `version`, naming the versions that are.
pub fn resolve(
    chart: &UpstreamChart,
    asked: Option<&str>,
    shelf: &ChartShelf,
) -> Result<ChartPin, PlanError> {
    let chart_ref = chart.chart_ref();
    let Some(index) = shelf.index(&chart_ref) else {
        return Err(PlanError::ChartsNeeded(vec![ChartWant::Index(chart_ref)]));
    };
    let allowed = chart.range()?;
    let in_range: Vec<String> = index
        .versions
        .iter()
        .filter(|v| parse_version(&v.version).is_ok_and(|parsed| allowed.matches(&parsed)))
        .map(|v| v.version.clone())
        .collect();
    let wanted = asked.unwrap_or(&chart.default);
    let available = || {
        if in_range.is_empty() {
            format!("{chart_ref} publishes no version in {:?}", chart.versions)
        } else {
            format!("available in {:?}: {}", chart.versions, in_range.join(", "))
        }
    };
    let asked_range = ChartRange::parse(wanted)
        .map_err(|e| FieldError::invalid("version", format!("{e}; {}", available())))?;
    let picked = asked_range.pick(&in_range).cloned();
    let Some(version) = picked else {
        let why = if asked_range.pick(&index.names()).is_some() {
            format!(
                "{wanted} is outside the catalog's versions {:?}",
                chart.versions
            )
        } else {
            format!("{chart_ref} has no version {wanted}")
        };
        let field = if asked.is_some() { "version" } else { "module" };
        return Err(FieldError::invalid(field, format!("{why}; {}", available())).into());
    };
    let known = index.get(&version).and_then(|v| v.digest.clone());
    let Some(digest) = known.or_else(|| {
        shelf
            .digests
            .get(&(chart_ref.clone(), version.clone()))
            .cloned()
    }) else {
        return Err(PlanError::ChartsNeeded(vec![ChartWant::Archive {
            chart: chart_ref,
            version,
            digest: None,
        }]));
    };
    Ok(ChartPin {
        chart: chart_ref,
        version,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> UpstreamChart {
        UpstreamChart {
            repo: "https://charts.example.com".into(),
            name: "cluster".into(),
            versions: "~0.8".into(),
            default: "0.8.0".into(),
            schema: None,
        }
    }

    fn shelf(versions: &[&str]) -> ChartShelf {
        let mut shelf = ChartShelf::default();
        let index = ChartIndex {
            versions: versions
                .iter()
                .map(|v| IndexedVersion {
                    version: v.to_string(),
                    digest: Some(format!("sha256:{v}")),
                })
                .collect(),
        };
        shelf.put_index(chart().chart_ref(), Arc::new(index));
        shelf
    }

    fn field_of(e: PlanError) -> (String, String) {
        match e {
            PlanError::Field(f) => (f.field, f.reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resolves_the_default_a_version_and_a_range_within_the_catalogs() {
        let shelf = shelf(&["0.9.0", "0.8.1", "0.8.0", "0.7.3"]);
        assert_eq!(resolve(&chart(), None, &shelf).unwrap().version, "0.8.0");
        let pin = resolve(&chart(), Some("0.8.1"), &shelf).unwrap();
        assert_eq!(
            (pin.version.as_str(), pin.digest.as_str()),
            ("0.8.1", "sha256:0.8.1")
        );
        assert_eq!(
            resolve(&chart(), Some("0.x"), &shelf).unwrap().version,
            "0.8.1"
        );
    }

    #[test]
    fn refuses_a_version_outside_the_range_or_unpublished_naming_those_available() {
        let shelf = shelf(&["0.9.0", "0.8.1", "0.8.0"]);
        let (field, message) = field_of(resolve(&chart(), Some("0.9.0"), &shelf).unwrap_err());
        assert_eq!(field, "version");
        assert!(message.contains("outside"), "{message}");
        assert!(message.contains("0.8.1, 0.8.0"), "{message}");
        let (field, message) = field_of(resolve(&chart(), Some("0.8.7"), &shelf).unwrap_err());
        assert_eq!(field, "version");
        assert!(message.contains("no version 0.8.7"), "{message}");
    }

    #[test]
    fn without_an_index_the_plan_asks_for_one() {
        let err = resolve(&chart(), None, &ChartShelf::default()).unwrap_err();
        assert!(
            matches!(err, PlanError::ChartsNeeded(w) if w == vec![ChartWant::Index(chart().chart_ref())])
        );
    }

    #[test]
    fn the_catalog_names_a_bad_range_default_repo_or_schema() {
        let module = ModuleName::parse("m", "pg").unwrap();
        let bad = |edit: fn(&mut UpstreamChart)| {
            let mut c = chart();
            edit(&mut c);
            c.check(&module).unwrap_err()
        };
        assert!(bad(|c| c.versions = ">=x1".into()).contains("chart.versions"));
        assert!(bad(|c| c.default = "0.9.0".into()).contains("chart.default"));
        assert!(bad(|c| c.repo = "http://charts.example.com".into()).contains("chart.repo"));
        assert!(bad(|c| c.repo = "https://u:p@charts.example.com".into()).contains("credentials"));
        assert!(bad(|c| c.schema = Some("../x.json".into())).contains("chart.schema"));
        assert!(bad(|c| c.name = "Cluster".into()).contains("chart.name"));
        chart().check(&module).unwrap();
    }
}
