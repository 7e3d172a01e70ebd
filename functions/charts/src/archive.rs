//! Reads a chart archive (a gzip'd tar, as `helm package` makes it) for what validation needs:
//! `Chart.yaml`, `values.yaml`, `values.schema.json` and the subcharts under `charts/`
//! (nested archives or folders, under their `alias`). Templates are never read.
//!
//! Helm's own guards (`pkg/chart/loader/archive`): one top folder, no absolute paths and no
//! `..`, no `Chart.yaml` at the archive's root, 100 MiB in all and 5 MiB per file once
//! decompressed; entries whose name starts with `_` or `.` under `charts/` are ignored.

use std::collections::BTreeMap;
use std::io::Read;

use berth_core::upstream::{ChartContent, Subchart};
use serde::Deserialize;
use serde_json::Value;

/// Decompressed bytes one archive may hold, in all.
pub const MAX_TOTAL_BYTES: u64 = 100 * 1024 * 1024;
/// Decompressed bytes of one file.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;
/// Subcharts of subcharts: deeper nesting is refused rather than followed.
const MAX_DEPTH: usize = 5;

/// Why an archive is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArchiveError(String);

fn refuse(why: impl Into<String>) -> ArchiveError {
    ArchiveError(why.into())
}

#[derive(Deserialize)]
struct ChartYaml {
    name: String,
    version: String,
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    condition: Option<String>,
}

/// Reads the chart in `archive` (the `.tgz` bytes).
pub fn read_chart(archive: &[u8]) -> Result<ChartContent, ArchiveError> {
    read_at_depth(archive, 0)
}

fn read_at_depth(archive: &[u8], depth: usize) -> Result<ChartContent, ArchiveError> {
    if depth > MAX_DEPTH {
        return Err(refuse(format!("subcharts nest deeper than {MAX_DEPTH}")));
    }
    let files = unpack(archive)?;
    build(&files, "", depth)
}

/// The files validation reads, by their path under the archive's one top folder.
fn unpack(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ArchiveError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = tar
        .entries()
        .map_err(|e| refuse(format!("not a chart archive: {e}")))?;
    let mut top: Option<String> = None;
    let mut total: u64 = 0;
    let mut files = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("not a chart archive: {e}")))?;
        let size = entry.header().size().unwrap_or(u64::MAX);
        total = total.saturating_add(size);
        if size > MAX_FILE_BYTES || total > MAX_TOTAL_BYTES {
            return Err(refuse(format!(
                "larger than Helm allows ({} MiB per file, {} MiB in all)",
                MAX_FILE_BYTES >> 20,
                MAX_TOTAL_BYTES >> 20
            )));
        }
        let path = entry
            .path()
            .map_err(|e| refuse(format!("an entry's path is not readable: {e}")))?
            .to_string_lossy()
            .replace('\\', "/");
        if path.starts_with('/') || path.split('/').any(|part| part == "..") {
            return Err(refuse(format!("entry {path:?} leaves the chart's folder")));
        }
        let Some((first, rest)) = path.split_once('/') else {
            if path == "Chart.yaml" {
                return Err(refuse(
                    "Chart.yaml sits at the archive's root, not in a folder",
                ));
            }
            continue;
        };
        match &top {
            None => top = Some(first.to_owned()),
            Some(top) if top != first => {
                return Err(refuse(format!(
                    "more than one top folder ({top}, {first}); a chart archive has one"
                )));
            }
            Some(_) => {}
        }
        if !entry.header().entry_type().is_file() || !is_read(rest) {
            continue;
        }
        let mut bytes = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse(format!("{path}: {e}")))?;
        files.insert(rest.to_owned(), bytes);
    }
    if top.is_none() {
        return Err(refuse("an empty archive"));
    }
    Ok(files)
}

/// The files validation needs: the three chart files at any depth of `charts/`, and
/// packaged subcharts.
fn is_read(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let in_charts_or_top = !path.contains('/') || path.starts_with("charts/");
    in_charts_or_top
        && (matches!(file, "Chart.yaml" | "values.yaml" | "values.schema.json")
            || file.ends_with(".tgz"))
}

/// The chart whose files sit under `prefix` in `files`.
fn build(
    files: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
    depth: usize,
) -> Result<ChartContent, ArchiveError> {
    let chart_yaml = files
        .get(&format!("{prefix}Chart.yaml"))
        .ok_or_else(|| refuse(format!("{prefix}Chart.yaml is missing")))?;
    let meta: ChartYaml = serde_yaml_ng::from_slice(strip_bom(chart_yaml))
        .map_err(|e| refuse(format!("{prefix}Chart.yaml: {e}")))?;
    let values = match files.get(&format!("{prefix}values.yaml")) {
        Some(bytes) => {
            let parsed: Option<Value> = serde_yaml_ng::from_slice(strip_bom(bytes))
                .map_err(|e| refuse(format!("{prefix}values.yaml: {e}")))?;
            parsed.unwrap_or(Value::Object(Default::default()))
        }
        None => Value::Object(Default::default()),
    };
    let schema = match files.get(&format!("{prefix}values.schema.json")) {
        Some(bytes) => Some(
            serde_json::from_slice(strip_bom(bytes))
                .map_err(|e| refuse(format!("{prefix}values.schema.json: {e}")))?,
        ),
        None => None,
    };
    let mut subcharts = Vec::new();
    for content in subchart_contents(files, prefix, depth)? {
        let dependency = meta.dependencies.iter().find(|d| d.name == content.name);
        let key = dependency
            .and_then(|d| d.alias.clone())
            .unwrap_or_else(|| content.name.clone());
        let conditions = dependency
            .and_then(|d| d.condition.as_deref())
            .map(|c| c.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default();
        subcharts.push(Subchart {
            key,
            conditions,
            content,
        });
    }
    Ok(ChartContent {
        name: meta.name,
        version: meta.version,
        values,
        schema,
        subcharts,
    })
}

/// The charts packaged under `<prefix>charts/`: nested `.tgz` archives and folders.
fn subchart_contents(
    files: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
    depth: usize,
) -> Result<Vec<ChartContent>, ArchiveError> {
    let charts = format!("{prefix}charts/");
    let mut folders: Vec<String> = Vec::new();
    let mut contents = Vec::new();
    for (path, bytes) in files.range(charts.clone()..) {
        let Some(rest) = path.strip_prefix(&charts) else {
            break;
        };
        if rest.starts_with(['_', '.']) {
            continue;
        }
        match rest.split_once('/') {
            None if rest.ends_with(".tgz") => contents.push(read_at_depth(bytes, depth + 1)?),
            Some((folder, "Chart.yaml")) => folders.push(format!("{charts}{folder}/")),
            _ => {}
        }
    }
    for folder in folders {
        if depth + 1 > MAX_DEPTH {
            return Err(refuse(format!("subcharts nest deeper than {MAX_DEPTH}")));
        }
        contents.push(build(files, &folder, depth + 1)?);
    }
    Ok(contents)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzip'd tar of `(path, content)` entries, built like `helm package` would.
    pub(crate) fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..`; write the raw name so the guard can be tested.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *content).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    const CHART: &[u8] = b"apiVersion: v2\nname: pg\nversion: 1.0.0\ndependencies:\n- name: dash\n  alias: monitoring\n  condition: monitoring.enabled\n";

    #[test]
    fn reads_values_schema_and_aliased_subcharts_never_templates() {
        let sub = archive(&[
            ("dash/Chart.yaml", b"name: dash\nversion: 0.0.5\n"),
            ("dash/values.schema.json", br#"{"type":"object"}"#),
        ]);
        let chart = read_chart(&archive(&[
            ("pg/Chart.yaml", CHART),
            ("pg/values.yaml", b"replicas: 1\n"),
            ("pg/values.schema.json", br#"{"type":"object"}"#),
            ("pg/templates/x.yaml", b"{{ .Values.replicas }}"),
            ("pg/charts/dash-0.0.5.tgz", &sub),
            (
                "pg/charts/inline/Chart.yaml",
                b"name: inline\nversion: 1.0.0\n",
            ),
            (
                "pg/charts/_ignored/Chart.yaml",
                b"name: ignored\nversion: 1.0.0\n",
            ),
        ]))
        .unwrap();
        assert_eq!(
            (chart.name.as_str(), chart.version.as_str()),
            ("pg", "1.0.0")
        );
        assert_eq!(chart.values["replicas"], 1);
        assert!(chart.schema.is_some());
        let keys: Vec<(&str, &[String])> = chart
            .subcharts
            .iter()
            .map(|s| (s.key.as_str(), s.conditions.as_slice()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("monitoring", &["monitoring.enabled".to_owned()][..]),
                ("inline", &[][..])
            ]
        );
    }

    #[test]
    fn refuses_what_helm_refuses() {
        let why = |entries: &[(&str, &[u8])]| read_chart(&archive(entries)).unwrap_err().0;
        assert!(why(&[("pg/../etc/passwd", b"x")]).contains("leaves"));
        assert!(why(&[("Chart.yaml", CHART)]).contains("root"));
        assert!(why(&[("a/Chart.yaml", CHART), ("b/values.yaml", b"")]).contains("top folder"));
        assert!(why(&[("pg/values.yaml", b"a: 1\n")]).contains("Chart.yaml is missing"));
        assert!(read_chart(b"not gzip at all").is_err());
        let big = vec![b'a'; (MAX_FILE_BYTES + 1) as usize];
        assert!(why(&[("pg/Chart.yaml", CHART), ("pg/README.md", &big)]).contains("larger"));
    }
}
