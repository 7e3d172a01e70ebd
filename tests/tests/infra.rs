//! The infrastructure files, checked by the real tools: the Argo CD objects against the CRD
//! schemas of `../shared/schemas/argocd` (strict, as `kubectl apply --validate=strict` is), the
//! Kubernetes objects with kubernetes-validate, the SAM template with cfn-lint.

use std::collections::BTreeSet;
use std::process::Command;

use berth_tests::project_root;
use berth_tests::tools::{kubernetes_validate, run, tool};
use serde_json::Value;

/// Makes a CRD schema strict: an object that lists `properties` and says nothing of extra ones
/// (and does not preserve unknown fields) refuses them, as the API server's strict validation does.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserves =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserves
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn argocd_schema(name: &str) -> jsonschema::Validator {
    let path = project_root()
        .join("../shared/schemas/argocd")
        .join(format!("{name}.schema.json"));
    let mut schema: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    strict(&mut schema);
    jsonschema::validator_for(&schema).unwrap()
}

fn infra_yaml(path: &str) -> Value {
    serde_yaml_ng::from_slice(&std::fs::read(project_root().join("infra").join(path)).unwrap())
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

#[test]
fn argocd_objects_match_the_crd_schemas_strictly() {
    let appset = argocd_schema("applicationset");
    for file in [
        "argocd/applicationset-tenant-envs.yaml",
        "argocd/applicationset-modules.yaml",
    ] {
        assert_valid(&appset, &infra_yaml(file), file);
    }
    assert_valid(
        &argocd_schema("appproject"),
        &infra_yaml("argocd/appproject.yaml"),
        "appproject",
    );

    // The strictness is real: a misspelt field is refused.
    let mut broken = infra_yaml("argocd/applicationset-modules.yaml");
    broken["spec"]["template"]["spec"]["syncPolicy"]["automatd"] = Value::Bool(true);
    assert!(!appset.is_valid(&broken));
}

#[test]
fn the_project_allows_exactly_the_kinds_the_charts_render() {
    let project = infra_yaml("argocd/appproject.yaml");
    let allowed: BTreeSet<String> = project["spec"]["namespaceResourceWhitelist"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            project["spec"]["clusterResourceWhitelist"]
                .as_array()
                .unwrap(),
        )
        .map(|k| k["kind"].as_str().unwrap().to_owned())
        .collect();
    let out = Command::new("grep")
        .args(["-rhoE", "^kind: [A-Za-z]+"])
        .arg(project_root().join("charts"))
        .output()
        .unwrap();
    let rendered: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("kind: ").to_owned())
        .collect();
    assert_eq!(allowed, rendered);
}

#[test]
fn kubernetes_objects_validate() {
    for file in ["k8s/status-rbac.yaml", "argocd/notifications.yaml"] {
        kubernetes_validate(
            &std::fs::read_to_string(project_root().join("infra").join(file)).unwrap(),
        );
    }
    let rbac = std::fs::read_to_string(project_root().join("infra/k8s/status-rbac.yaml")).unwrap();
    let role: Value = serde_yaml_ng::from_str(rbac.split("\n---").next().unwrap()).unwrap();
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(
            rule["verbs"],
            serde_json::json!(["list"]),
            "list only, as the sweep reads: {rule}"
        );
    }
}

#[test]
fn the_sam_template_passes_cfn_lint() {
    run(Command::new(tool("BERTH_CFN_LINT")).arg(project_root().join("infra/aws/template.yaml")));
}
