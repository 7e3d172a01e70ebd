//! A module's values from the command line: `--values file.yaml` first, then each
//! `--set key=value` over it, as helm reads them. A dotted key sets a nested value
//! (`resources.cpu=2`); a value reads as YAML (`2` a number, `true` a boolean, `"2"` a string).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::client::ClientError;

/// The values `--values` and `--set` give; `None` when neither was used.
pub fn module_values(
    file: Option<&Path>,
    sets: &[String],
) -> Result<Option<BTreeMap<String, Value>>, ClientError> {
    if file.is_none() && sets.is_empty() {
        return Ok(None);
    }
    let mut values = match file {
        Some(path) => from_file(path)?,
        None => BTreeMap::new(),
    };
    for set in sets {
        let (key, raw) = set
            .split_once('=')
            .ok_or_else(|| ClientError::usage("--set", format!("{set:?} is not key=value")))?;
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|part| part.is_empty()) {
            return Err(ClientError::usage(
                "--set",
                format!("{key:?} is not a key: no empty parts between dots"),
            ));
        }
        let value: Value = serde_yaml_ng::from_str(raw).unwrap_or(Value::String(raw.to_owned()));
        insert(&mut values, &path, value, key)?;
    }
    Ok(Some(values))
}

fn from_file(path: &Path) -> Result<BTreeMap<String, Value>, ClientError> {
    let field = "--values";
    let text = std::fs::read_to_string(path)
        .map_err(|e| ClientError::usage(field, format!("cannot read {}: {e}", path.display())))?;
    let value: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| ClientError::usage(field, format!("{} is not YAML: {e}", path.display())))?;
    match value {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Null => Ok(BTreeMap::new()),
        _ => Err(ClientError::usage(
            field,
            format!("{} must hold a mapping of values", path.display()),
        )),
    }
}

/// Sets `value` at `path` in `values`, making the mappings on the way.
fn insert(
    values: &mut BTreeMap<String, Value>,
    path: &[&str],
    value: Value,
    key: &str,
) -> Result<(), ClientError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        values.insert((*first).to_owned(), value);
        return Ok(());
    }
    let slot = values
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(map) = slot else {
        return Err(ClientError::usage(
            "--set",
            format!("{key:?}: {first} is already set to a value that is not a mapping"),
        ));
    };
    let mut nested: BTreeMap<String, Value> = std::mem::take(map).into_iter().collect();
    let result = insert(&mut nested, rest, value, key);
    *map = nested.into_iter().collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nest_read_as_yaml_and_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("values.yaml");
        std::fs::write(&file, "replicas: 1\nresources:\n  cpu: 500m\n").unwrap();
        let values = module_values(
            Some(&file),
            &[
                "replicas=3".into(),
                "resources.memory=1Gi".into(),
                "ingress.enabled=true".into(),
                "name=\"2\"".into(),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(values["replicas"], 3);
        assert_eq!(values["resources"]["cpu"], "500m");
        assert_eq!(values["resources"]["memory"], "1Gi");
        assert_eq!(values["ingress"]["enabled"], true);
        assert_eq!(values["name"], "2");
    }

    #[test]
    fn bad_sets_name_the_flag() {
        for bad in ["replicas", "a..b=1", "=1"] {
            let err = module_values(None, &[bad.into()]).unwrap_err();
            assert!(err.to_string().contains("(field: --set)"), "{bad}: {err}");
        }
        let err = module_values(None, &["a=1".into(), "a.b=2".into()]).unwrap_err();
        assert!(err.to_string().contains("not a mapping"), "{err}");
        assert_eq!(module_values(None, &[]).unwrap(), None);
    }
}
