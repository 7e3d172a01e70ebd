//! Checks a values file the way Helm will before Argo CD renders it: the chart's `values.yaml`,
//! then `values-<tier>.yaml`, then the file, merged as Helm merges them, validated against the
//! chart's `values.schema.json`. A commit that passes cannot break the chart's rendering on
//! its values.

use serde_json::Value;

use crate::error::PlanError;
use crate::model::RepoFiles;

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
    Ok(match ChartSchema::compile(files, chart, tier)? {
        Some(schema) => schema.violations(values),
        None => Vec::new(),
    })
}

/// A chart's schema compiled for one tier, with the defaults a values file is merged onto:
/// compiled once, it checks any number of values files (a review of a whole fleet).
pub struct ChartSchema {
    validator: jsonschema::Validator,
    defaults: Value,
}

impl ChartSchema {
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
        let validator = jsonschema::validator_for(&schema).map_err(|e| PlanError::Repository {
            path: schema_path.clone(),
            reason: format!("not a valid JSON Schema: {}", e.masked()),
        })?;
        let mut defaults = yaml_file(files, &format!("{chart}/values.yaml"))?
            .unwrap_or(Value::Object(Default::default()));
        if let Some(tier_values) = yaml_file(files, &format!("{chart}/values-{tier}.yaml"))? {
            merge(&mut defaults, tier_values);
        }
        Ok(Some(Self {
            validator,
            defaults,
        }))
    }

    /// How `values`, merged onto the chart's defaults, breaks the schema.
    pub fn violations(&self, values: &Value) -> Vec<SchemaViolation> {
        let mut merged = self.defaults.clone();
        merge(&mut merged, values.clone());
        self.validator
            .iter_errors(&merged)
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
