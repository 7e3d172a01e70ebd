//! What `berth doctor` judges from the repository alone: whether a chart in the repository can
//! be validated against (its `Chart.yaml`, and a `values.schema.json` that is JSON).

use crate::model::RepoFiles;

/// The ApplicationSets of `infra/argocd`, by name.
pub const APPLICATION_SETS: [&str; 2] = ["berth-tenant-envs", "berth-modules"];
/// The AppProject of `infra/argocd`.
pub const APP_PROJECT: &str = "berth-tenants";

/// Why the chart in folder `chart` cannot be checked against, or `None` when it can.
pub fn in_repo_chart_problem(files: &RepoFiles, chart: &str) -> Option<String> {
    if !files.contains_key(&format!("{chart}/Chart.yaml")) {
        return Some(format!("{chart}/Chart.yaml is missing"));
    }
    let schema_path = format!("{chart}/values.schema.json");
    let Some(schema) = files.get(&schema_path) else {
        return Some(format!(
            "{schema_path} is missing: values could not be checked before they are committed"
        ));
    };
    serde_json::from_slice::<serde_json::Value>(schema)
        .err()
        .map(|e| format!("{schema_path} is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_chart_lacks() {
        let mut files = RepoFiles::new();
        let chart = "charts/modules/cache";
        assert!(
            in_repo_chart_problem(&files, chart)
                .unwrap()
                .contains("Chart.yaml")
        );
        files.insert(format!("{chart}/Chart.yaml"), b"name: cache".to_vec());
        assert!(
            in_repo_chart_problem(&files, chart)
                .unwrap()
                .contains("values.schema.json is missing")
        );
        files.insert(format!("{chart}/values.schema.json"), b"{".to_vec());
        assert!(
            in_repo_chart_problem(&files, chart)
                .unwrap()
                .contains("not JSON")
        );
        files.insert(format!("{chart}/values.schema.json"), b"{}".to_vec());
        assert_eq!(in_repo_chart_problem(&files, chart), None);
    }
}
