//! Checks a values file the way Helm will before Argo CD renders it: the chart's `values.yaml`,
//! then `values-<tier>.yaml`, then the file, merged as Helm merges them, validated against the
//! chart's `values.schema.json`. A commit that passes cannot break the chart's rendering on
//! its values.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::PlanError;
use crate::files::RESERVED_VALUE_KEYS;
use crate::model::RepoFiles;
use crate::upstream::{ChartContent, ValuesCheck};

/// Where a chart lives in the repository.
pub fn tenant_chart() -> String {
    "charts/tenant".to_owned()
}

pub fn module_chart(module: &str) -> String {
    format!("charts/modules/{module}")
}

/// The folders a plan reads for the charts it validates against.
pub const CHART_READS: &[&str] = &["charts/tenant/", "charts/modules/"];

/// Whether validation reads the file at `path`: a chart's `Chart.yaml`, `values.yaml`,
/// `values-<tier>.yaml` and `values.schema.json`, never its templates. A backend that pays per
/// file read fetches only these from [`CHART_READS`].
pub fn is_validation_file(path: &str) -> bool {
    let in_chart = path
        .strip_prefix("charts/tenant/")
        .or_else(|| {
            path.strip_prefix("charts/modules/")
                .and_then(|rest| rest.split_once('/'))
                .map(|(_, file)| file)
        })
        .filter(|file| !file.contains('/'));
    in_chart.is_some_and(|file| {
        file == "Chart.yaml"
            || file == "values.schema.json"
            || (file.starts_with("values") && file.ends_with(".yaml"))
    })
}

/// One way a values file breaks its chart's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// Dotted path inside the values: `replicas`, `routes[0].path`, `tenant.tier`.
    pub path: String,
    pub message: String,
}

/// Validates `values` (the content of a values file) for `chart` at `tier`. A chart without
/// `Chart.yaml` in the repository is an error: Argo CD could not render the Application.
pub fn check_values(
    files: &RepoFiles,
    chart: &str,
    tier: &str,
    values: &Value,
) -> Result<Vec<SchemaViolation>, PlanError> {
    Ok(match ChartSchema::compiled(files, chart, tier)? {
        Some(schema) => schema.violations(values),
        None => Vec::new(),
    })
}

/// Compiled schemas by what they were compiled from, shared by every plan of the process: a
/// fleet's rollout, or a group commit's batch, checks thousands of values files against the
/// same few charts. Memoization only: an entry is a pure function of its key.
static COMPILED: std::sync::Mutex<Option<std::collections::HashMap<[u8; 32], CompiledEntry>>> =
    std::sync::Mutex::new(None);

type CompiledEntry = Option<std::sync::Arc<ChartSchema>>;

/// Entries kept at most; past it the memo starts over (charts and tiers are few).
const COMPILED_MAX: usize = 512;

/// A chart's schema compiled for one tier, with the defaults a values file is merged onto:
/// compiled once, it checks any number of values files (a review of a whole fleet).
pub struct ChartSchema {
    /// `None` when the chart ships no schema: then `known_keys` holds what is allowed.
    validator: Option<jsonschema::Validator>,
    defaults: Value,
    /// An upstream chart without a schema: the top-level keys of its `values.yaml`, its
    /// subcharts' keys and Berth's own; any other top-level key is refused.
    known_keys: Option<BTreeSet<String>>,
    /// Each packaged subchart, checked under its key as Helm checks it.
    subcharts: Vec<SubchartSchema>,
}

struct SubchartSchema {
    key: String,
    conditions: Vec<String>,
    schema: ChartSchema,
}

impl ChartSchema {
    /// [`Self::compile`], memoized by the bytes it reads (the chart's `Chart.yaml`,
    /// `values.yaml`, `values-<tier>.yaml` and `values.schema.json`).
    pub fn compiled(
        files: &RepoFiles,
        chart: &str,
        tier: &str,
    ) -> Result<Option<std::sync::Arc<Self>>, PlanError> {
        use sha2::{Digest, Sha256};
        let mut key = Sha256::new();
        key.update(chart.as_bytes());
        key.update([0]);
        key.update(tier.as_bytes());
        for file in [
            "Chart.yaml".to_owned(),
            "values.yaml".to_owned(),
            format!("values-{tier}.yaml"),
            "values.schema.json".to_owned(),
        ] {
            match files.get(&format!("{chart}/{file}")) {
                Some(bytes) => {
                    key.update((bytes.len() as u64 + 1).to_le_bytes());
                    key.update(bytes);
                }
                None => key.update(0u64.to_le_bytes()),
            }
        }
        let key: [u8; 32] = key.finalize().into();
        if let Ok(memo) = COMPILED.lock()
            && let Some(hit) = memo.as_ref().and_then(|m| m.get(&key))
        {
            return Ok(hit.clone());
        }
        // Errors are not memoized: they name the file, and are rare.
        let compiled = Self::compile(files, chart, tier)?.map(std::sync::Arc::new);
        if let Ok(mut memo) = COMPILED.lock() {
            let memo = memo.get_or_insert_with(Default::default);
            if memo.len() >= COMPILED_MAX {
                memo.clear();
            }
            memo.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    /// `chart`'s schema at `tier`; `None` when the chart has no `values.schema.json`.
    pub fn compile(files: &RepoFiles, chart: &str, tier: &str) -> Result<Option<Self>, PlanError> {
        let chart_file = format!("{chart}/Chart.yaml");
        if !files.contains_key(&chart_file) {
            return Err(PlanError::Repository {
                path: chart_file,
                reason: "the chart this values file is for is missing".into(),
            });
        }
        let schema_path = format!("{chart}/values.schema.json");
        let Some(schema) = files.get(&schema_path) else {
            return Ok(None);
        };
        let schema: Value = serde_json::from_slice(schema).map_err(|e| PlanError::Repository {
            path: schema_path.clone(),
            reason: format!("not valid JSON: {e}"),
        })?;
        let validator = compile_schema(&schema, &schema_path)?;
        let mut defaults = yaml_file(files, &format!("{chart}/values.yaml"))?
            .unwrap_or(Value::Object(Default::default()));
        if let Some(tier_values) = yaml_file(files, &format!("{chart}/values-{tier}.yaml"))? {
            merge(&mut defaults, tier_values);
        }
        Ok(Some(Self {
            validator: Some(validator),
            defaults,
            known_keys: None,
            subcharts: Vec::new(),
        }))
    }

    /// An upstream chart's checks at `tier`: the archive's `values.yaml`, then the tier values
    /// kept in the repository under `charts/modules/<module>/`; the archive's schema, or the
    /// repository's (`repo_schema`), or the top-level keys of `values.yaml`; and each
    /// packaged subchart's schema under its key.
    pub fn for_upstream(
        content: &ChartContent,
        files: &RepoFiles,
        module: &str,
        tier: &str,
        repo_schema: Option<&str>,
    ) -> Result<Self, PlanError> {
        let mut schema = Self::of_archive(content, repo_schema.map(|p| (p, files)))?;
        let tier_path = format!("{}/values-{tier}.yaml", module_chart(module));
        if let Some(tier_values) = yaml_file(files, &tier_path)? {
            merge(&mut schema.defaults, tier_values);
        }
        Ok(schema)
    }

    /// Which check [`Self::for_upstream`] makes of `content`.
    pub fn upstream_check(content: &ChartContent, repo_schema: Option<&str>) -> ValuesCheck {
        match (repo_schema, &content.schema) {
            (Some(_), _) => ValuesCheck::RepositorySchema,
            (None, Some(_)) => ValuesCheck::ChartSchema,
            (None, None) => ValuesCheck::TopLevelKeys,
        }
    }

    fn of_archive(
        content: &ChartContent,
        repo_schema: Option<(&str, &RepoFiles)>,
    ) -> Result<Self, PlanError> {
        let archive_path = |file: &str| format!("{} {} {file}", content.name, content.version);
        let validator = match (repo_schema, &content.schema) {
            (Some((path, files)), _) => {
                let bytes = files.get(path).ok_or_else(|| PlanError::Repository {
                    path: path.to_owned(),
                    reason: "the schema the catalog names is missing".into(),
                })?;
                let schema: Value =
                    serde_json::from_slice(bytes).map_err(|e| PlanError::Repository {
                        path: path.to_owned(),
                        reason: format!("not valid JSON: {e}"),
                    })?;
                Some(compile_schema(&schema, path)?)
            }
            (None, Some(schema)) => {
                Some(compile_schema(schema, &archive_path("values.schema.json"))?)
            }
            (None, None) => None,
        };
        let subcharts = content
            .subcharts
            .iter()
            .map(|sub| {
                Ok(SubchartSchema {
                    key: sub.key.clone(),
                    conditions: sub.conditions.clone(),
                    schema: Self::of_archive(&sub.content, None)?,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let known_keys = validator.is_none().then(|| {
            let mut keys: BTreeSet<String> = content
                .values
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            keys.extend(RESERVED_VALUE_KEYS.iter().map(|k| k.to_string()));
            keys.extend(subcharts.iter().map(|s| s.key.clone()));
            keys.insert("global".into());
            keys
        });
        Ok(Self {
            validator,
            defaults: if content.values.is_object() {
                content.values.clone()
            } else {
                Value::Object(Default::default())
            },
            known_keys,
            subcharts,
        })
    }

    /// How `values`, merged onto the chart's defaults, breaks the schema.
    pub fn violations(&self, values: &Value) -> Vec<SchemaViolation> {
        let mut merged = self.defaults.clone();
        merge(&mut merged, values.clone());
        self.violations_of_merged(&merged)
    }

    /// The violations of values already merged onto this chart's defaults: its own schema
    /// (or keys), then each enabled subchart's on `values.<key>`, as Helm validates.
    fn violations_of_merged(&self, merged: &Value) -> Vec<SchemaViolation> {
        let mut found = self.schema_violations(merged);
        if let (Some(known), Some(map)) = (&self.known_keys, merged.as_object()) {
            found.extend(
                map.keys()
                    .filter(|k| !known.contains(*k))
                    .map(|k| SchemaViolation {
                        path: k.clone(),
                        message: "is not a value this chart knows (it ships no schema: only the top-level keys of its values.yaml are allowed)".into(),
                    }),
            );
        }
        for sub in &self.subcharts {
            if !subchart_enabled(merged, &sub.conditions) {
                continue;
            }
            let mut sub_values = sub.schema.defaults.clone();
            if let Some(own) = merged.get(&sub.key) {
                merge(&mut sub_values, own.clone());
            }
            // Helm hands the parent's globals down to every subchart.
            if let (Some(global), Some(map)) = (merged.get("global"), sub_values.as_object_mut()) {
                let mut merged_global = map.remove("global").unwrap_or(Value::Null);
                if merged_global.is_null() {
                    merged_global = Value::Object(Default::default());
                }
                merge(&mut merged_global, global.clone());
                map.insert("global".into(), merged_global);
            }
            found.extend(
                sub.schema
                    .violations_of_merged(&sub_values)
                    .into_iter()
                    .map(|v| SchemaViolation {
                        path: if v.path.is_empty() {
                            sub.key.clone()
                        } else {
                            format!("{}.{}", sub.key, v.path)
                        },
                        message: v.message,
                    }),
            );
        }
        found
    }

    fn schema_violations(&self, merged: &Value) -> Vec<SchemaViolation> {
        let Some(validator) = &self.validator else {
            return Vec::new();
        };
        validator
            .iter_errors(merged)
            .map(|error| {
                let mut path = dotted(&error.instance_path().to_string());
                if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                    error.kind()
                    && let Some(first) = unexpected.first()
                {
                    path = if path.is_empty() {
                        first.clone()
                    } else {
                        format!("{path}.{first}")
                    };
                    return SchemaViolation {
                        path,
                        message: "is not a value this chart knows".into(),
                    };
                }
                SchemaViolation {
                    path,
                    message: error.masked().to_string(),
                }
            })
            .collect()
    }
}

/// Compiles a schema without ever fetching a remote `$ref` (Helm would, for 15 s; Berth fails
/// closed instead: the crate is built without its resolvers).
fn compile_schema(schema: &Value, path: &str) -> Result<jsonschema::Validator, PlanError> {
    jsonschema::validator_for(schema).map_err(|e| PlanError::Repository {
        path: path.to_owned(),
        reason: format!(
            "not a valid JSON Schema Berth can use offline: {}",
            e.masked()
        ),
    })
}

/// Whether a dependency is enabled: the first of its `condition` paths set to a boolean in
/// the parent's values decides; none set, it is (Helm's rule).
fn subchart_enabled(parent: &Value, conditions: &[String]) -> bool {
    for condition in conditions {
        let mut at = parent;
        let mut found = true;
        for part in condition.split('.') {
            match at.get(part) {
                Some(next) => at = next,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found && let Some(enabled) = at.as_bool() {
            return enabled;
        }
    }
    true
}

fn yaml_file(files: &RepoFiles, path: &str) -> Result<Option<Value>, PlanError> {
    let Some(bytes) = files.get(path) else {
        return Ok(None);
    };
    let value: Option<Value> =
        serde_yaml_ng::from_slice(bytes).map_err(|e| PlanError::Repository {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(value)
}

/// Helm's merge of values files: maps merge key by key, anything else is replaced, and a
/// `null` removes the key.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(&key);
                } else if let Some(existing) = base.get_mut(&key) {
                    merge(existing, value);
                } else {
                    base.insert(key, value);
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// `/routes/0/path` → `routes[0].path`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_reads_a_charts_values_and_schema_never_its_templates() {
        for read in [
            "charts/tenant/Chart.yaml",
            "charts/tenant/values.yaml",
            "charts/tenant/values-premium.yaml",
            "charts/modules/postgres/values.schema.json",
        ] {
            assert!(is_validation_file(read), "{read}");
        }
        for skipped in [
            "charts/tenant/templates/namespace.yaml",
            "charts/modules/postgres/templates/values.yaml",
            "charts/modules/postgres/ci/values-test.yaml",
            "charts/modules/Chart.yaml",
            "tenants/acme/tenant.yaml",
        ] {
            assert!(!is_validation_file(skipped), "{skipped}");
        }
    }

    fn chart(schema: Value, defaults: &str, tier: Option<&str>) -> RepoFiles {
        let mut files = RepoFiles::new();
        files.insert(
            "charts/modules/pg/Chart.yaml".into(),
            b"name: pg\n".to_vec(),
        );
        files.insert(
            "charts/modules/pg/values.schema.json".into(),
            schema.to_string().into_bytes(),
        );
        files.insert(
            "charts/modules/pg/values.yaml".into(),
            defaults.as_bytes().to_vec(),
        );
        if let Some(t) = tier {
            files.insert(
                "charts/modules/pg/values-premium.yaml".into(),
                t.as_bytes().to_vec(),
            );
        }
        files
    }

    fn strict() -> Value {
        json!({
            "type": "object", "additionalProperties": false, "required": ["replicas"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "routes": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "properties": {"path": {"type": "string", "pattern": "^/"}}}}
            }
        })
    }

    #[test]
    fn merges_defaults_tier_and_file_like_helm() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1});
        merge(&mut base, json!({"a": {"b": 9}, "d": [2, 3], "e": null}));
        assert_eq!(base, json!({"a": {"b": 9, "c": 2}, "d": [2, 3]}));
    }

    #[test]
    fn names_the_path_of_each_violation() {
        let files = chart(strict(), "replicas: 1\n", None);
        let chart_dir = module_chart("pg");
        assert!(
            check_values(&files, &chart_dir, "bronze", &json!({"replicas": 3}))
                .unwrap()
                .is_empty()
        );
        let v = check_values(&files, &chart_dir, "bronze", &json!({"replicas": "two"})).unwrap();
        assert_eq!(v[0].path, "replicas");
        let v = check_values(&files, &chart_dir, "bronze", &json!({"colour": "red"})).unwrap();
        assert_eq!(v[0].path, "colour");
        let v = check_values(
            &files,
            &chart_dir,
            "bronze",
            &json!({"routes": [{"path": "/ok"}, {"path": "bad"}]}),
        )
        .unwrap();
        assert_eq!(v[0].path, "routes[1].path");
        let v = check_values(
            &files,
            &chart_dir,
            "bronze",
            &json!({"routes": [{"host": "x"}]}),
        )
        .unwrap();
        assert_eq!(v[0].path, "routes[0].host");
    }

    #[test]
    fn the_tier_file_counts_and_a_missing_chart_is_an_error() {
        let files = chart(strict(), "replicas: 1\n", Some("replicas: -1\n"));
        assert_eq!(
            check_values(&files, &module_chart("pg"), "premium", &json!({})).unwrap()[0].path,
            "replicas"
        );
        assert!(
            check_values(&files, &module_chart("pg"), "bronze", &json!({}))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            check_values(&files, &module_chart("kafka"), "bronze", &json!({})),
            Err(PlanError::Repository { .. })
        ));
    }

    #[test]
    fn messages_do_not_echo_values() {
        let files = chart(strict(), "replicas: 1\n", None);
        let v = check_values(
            &files,
            &module_chart("pg"),
            "bronze",
            &json!({"replicas": "s3cr3t"}),
        )
        .unwrap();
        assert!(!v[0].message.contains("s3cr3t"), "{}", v[0].message);
    }
}
