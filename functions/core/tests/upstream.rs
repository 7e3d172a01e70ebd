//! Planning with upstream charts, without any repository: what a plan asks its caller to read,
//! what it pins, what it refuses, and what the review says of a pin, on a synthetic chart
//! with a schema and an aliased subchart.

use std::sync::Arc;

use berth_core::body::{parse_module_change, parse_promotion};
use berth_core::catalog::CATALOG_PATH;
use berth_core::plan::plan_with_charts;
use berth_core::review::{Reviewer, archives_wanted};
use berth_core::upstream::{
    ChartContent, ChartIndex, ChartRef, ChartShelf, ChartWant, IndexedVersion, Subchart,
};
use berth_core::{Action, PlanError, RepoFiles, Request, TenantName};
use serde_json::{Value, json};

mod common;

const REPO: &str = "https://charts.example.com";

/// A well-formed digest standing for `version`'s archive.
fn digest(version: &str) -> String {
    format!("sha256:{:0>64}", version.replace('.', ""))
}

fn chart_ref() -> ChartRef {
    ChartRef {
        repo: REPO.into(),
        name: "cluster".into(),
    }
}

/// The test catalog with `pg` from an upstream chart, `pg-backup` (in the repository)
/// depending on it, and a tenant `acme` (standard, dev and prod).
fn repo() -> RepoFiles {
    let mut files = common::repo();
    let catalog = String::from_utf8(files[CATALOG_PATH].clone()).unwrap().replacen(
        "modules:\n",
        &format!(
            "modules:\n  - name: pg\n    chart: {{repo: \"{REPO}\", name: cluster, versions: \"~0.8\", default: \"0.8.0\"}}\n  - name: pg-backup\n    depends_on: [pg]\n"
        ),
        1,
    );
    files.insert(CATALOG_PATH.into(), catalog.into_bytes());
    files.insert(
        "charts/modules/pg-backup/Chart.yaml".into(),
        b"apiVersion: v2\n".to_vec(),
    );
    files.insert(
        "charts/modules/pg/values-standard.yaml".into(),
        b"cluster:\n  instances: 2\n".to_vec(),
    );
    let create = common::create(
        "01CREATE",
        json!({"name": "acme", "tier": "standard", "envs": ["dev", "prod"]}),
    );
    let change = plan_with_charts(&create, &files, &ChartShelf::default()).unwrap();
    change.apply_to(&mut files);
    files
}

fn content(version: &str) -> ChartContent {
    ChartContent {
        name: "cluster".into(),
        version: version.into(),
        values: json!({"cluster": {"instances": 1}, "monitoring": {"enabled": false}}),
        schema: Some(json!({
            "type": "object",
            "properties": {"cluster": {"type": "object", "properties": {"instances": {"type": "integer"}}}}
        })),
        subcharts: vec![Subchart {
            key: "monitoring".into(),
            conditions: vec!["monitoring.enabled".into()],
            content: ChartContent {
                name: "dash".into(),
                version: "0.0.5".into(),
                values: json!({"label": "x"}),
                schema: Some(
                    json!({"type": "object", "properties": {"label": {"type": "string"}}}),
                ),
                subcharts: vec![],
            },
        }],
    }
}

/// A shelf holding the index (0.9.0, 0.8.1, 0.8.0) and, when `archives`, every archive.
fn shelf(archives: bool) -> ChartShelf {
    let mut shelf = ChartShelf::default();
    let versions = ["0.9.0", "0.8.1", "0.8.0"];
    shelf.put_index(
        chart_ref(),
        Arc::new(ChartIndex {
            versions: versions
                .iter()
                .map(|v| IndexedVersion {
                    version: v.to_string(),
                    digest: Some(digest(v)),
                })
                .collect(),
        }),
    );
    if archives {
        for v in versions {
            shelf.put_archive(digest(v), Arc::new(content(v)));
        }
    }
    shelf
}

fn enable(module: &str, env: &str, body: Value) -> Request {
    Request {
        id: "01ENABLE".into(),
        tenant: TenantName::parse("t", "acme").unwrap(),
        action: Action::EnableModule(parse_module_change(env, module, &body).unwrap()),
    }
}

fn module_file(files: &RepoFiles, env: &str, module: &str) -> Value {
    serde_yaml_ng::from_slice(&files[&format!("tenants/acme/{env}/modules/{module}.yaml")]).unwrap()
}

#[test]
fn a_plan_asks_for_the_index_then_the_archive_then_pins_both() {
    let files = repo();
    let request = enable("pg", "dev", json!({}));
    let asked = plan_with_charts(&request, &files, &ChartShelf::default()).unwrap_err();
    assert_eq!(
        asked,
        PlanError::ChartsNeeded(vec![ChartWant::Index(chart_ref())])
    );
    let asked = plan_with_charts(&request, &files, &shelf(false)).unwrap_err();
    assert_eq!(
        asked,
        PlanError::ChartsNeeded(vec![ChartWant::Archive {
            chart: chart_ref(),
            version: "0.8.0".into(),
            digest: Some(digest("0.8.0")),
        }])
    );
    let mut files = files;
    plan_with_charts(&request, &files, &shelf(true))
        .unwrap()
        .apply_to(&mut files);
    let file = module_file(&files, "dev", "pg");
    assert_eq!(file["module"]["chart_repo"], REPO);
    assert_eq!(file["module"]["chart_version"], "0.8.0");
    assert_eq!(file["module"]["chart_digest"], digest("0.8.0"));
    assert!(file["module"].get("version").is_none());
}

#[test]
fn a_pin_stays_until_a_version_is_named_and_a_dependency_gets_the_default() {
    let mut files = repo();
    plan_with_charts(
        &enable("pg", "dev", json!({"version": "0.8.1"})),
        &files,
        &shelf(true),
    )
    .unwrap()
    .apply_to(&mut files);
    // Changing values only keeps the pin, with no index needed at all.
    let mut archives_only = ChartShelf::default();
    archives_only.put_archive(digest("0.8.1"), Arc::new(content("0.8.1")));
    let values = enable(
        "pg",
        "dev",
        json!({"values": {"cluster": {"instances": 3}}}),
    );
    plan_with_charts(&values, &files, &archives_only)
        .unwrap()
        .apply_to(&mut files);
    assert_eq!(
        module_file(&files, "dev", "pg")["module"]["chart_version"],
        "0.8.1"
    );
    // Enabling a module that needs it in prod pins the dependency at the default.
    let backup = enable("pg-backup", "prod", json!({"enable_dependencies": true}));
    plan_with_charts(&backup, &files, &shelf(true))
        .unwrap()
        .apply_to(&mut files);
    assert_eq!(
        module_file(&files, "prod", "pg")["module"]["chart_version"],
        "0.8.0"
    );
}

#[test]
fn values_are_checked_merged_and_an_enabled_subchart_under_its_key() {
    let files = repo();
    let refused =
        |body: Value| match plan_with_charts(&enable("pg", "dev", body), &files, &shelf(true)) {
            Err(PlanError::Field(f)) => f.field,
            other => panic!("{other:?}"),
        };
    assert_eq!(
        refused(json!({"values": {"cluster": {"instances": "3"}}})),
        "values.cluster.instances"
    );
    assert_eq!(
        refused(json!({"values": {"monitoring": {"enabled": true, "label": 7}}})),
        "values.monitoring.label"
    );
    // Disabled, the subchart's schema is not applied (Helm drops the dependency).
    plan_with_charts(
        &enable("pg", "dev", json!({"values": {"monitoring": {"label": 7}}})),
        &files,
        &shelf(true),
    )
    .unwrap();
}

#[test]
fn promotion_moves_the_pin_and_the_review_names_a_pin_outside_the_range() {
    let mut files = repo();
    plan_with_charts(
        &enable("pg", "dev", json!({"version": "0.8.1"})),
        &files,
        &shelf(true),
    )
    .unwrap()
    .apply_to(&mut files);
    let promote = Request {
        id: "01PROMOTE".into(),
        tenant: TenantName::parse("t", "acme").unwrap(),
        action: Action::Promote(parse_promotion("prod", &json!({"from": "dev"})).unwrap()),
    };
    plan_with_charts(&promote, &files, &shelf(true))
        .unwrap()
        .apply_to(&mut files);
    let prod = module_file(&files, "prod", "pg");
    assert_eq!(prod["module"]["chart_version"], "0.8.1");
    assert_eq!(prod["module"]["chart_digest"], digest("0.8.1"));

    // A hand edit to 0.9.0 is outside the catalog's range; a wrong type fails the schema once
    // the reviewer has the archive.
    let path = "tenants/acme/prod/modules/pg.yaml";
    let edited = String::from_utf8(files[path].clone())
        .unwrap()
        .replace("chart_version: 0.8.1", "chart_version: 0.9.0")
        .replace(&digest("0.8.1"), &digest("0.9.0"))
        + "cluster:\n  instances: many\n";
    files.insert(path.into(), edited.into_bytes());
    let acme = TenantName::parse("t", "acme").unwrap();
    let wanted = archives_wanted(&files, std::slice::from_ref(&acme));
    assert!(
        wanted.iter().any(|(p, w)| p == path
            && matches!(w, ChartWant::Archive { version, .. } if version == "0.9.0"))
    );
    let problems: Vec<String> = Reviewer::with_charts(&files, shelf(true))
        .review(&acme, &files)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("module.chart_version") && p.contains("outside")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("cluster.instances")),
        "{problems:?}"
    );
    // Without the archive, the pin is still checked.
    let unchecked: Vec<String> = Reviewer::new(&files)
        .review(&acme, &files)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        unchecked.iter().any(|p| p.contains("outside")),
        "{unchecked:?}"
    );
    assert!(
        !unchecked.iter().any(|p| p.contains("cluster.instances")),
        "{unchecked:?}"
    );
}

/// A chart without a schema: the one the catalog names in the repository, or else only the
/// top-level keys of its `values.yaml` (and Berth's own), any type.
#[test]
fn a_chart_without_a_schema_uses_the_repositorys_or_its_top_level_keys() {
    let plain = |version: &str| ChartContent {
        schema: None,
        subcharts: vec![],
        ..content(version)
    };
    let mut plain_shelf = shelf(false);
    for v in ["0.9.0", "0.8.1", "0.8.0"] {
        plain_shelf.put_archive(digest(v), Arc::new(plain(v)));
    }
    let files = repo();
    let field = |files: &RepoFiles, body: Value| match plan_with_charts(
        &enable("pg", "dev", body),
        files,
        &plain_shelf,
    ) {
        Err(PlanError::Field(f)) => Some(f.field),
        Ok(_) => None,
        Err(other) => panic!("{other:?}"),
    };
    assert_eq!(
        field(&files, json!({"values": {"clutser": {"instances": 3}}})),
        Some("values.clutser".into())
    );
    assert_eq!(
        field(
            &files,
            json!({"values": {"cluster": {"instances": "any type"}}})
        ),
        None
    );

    // The catalog names a schema kept in the repository: that one decides.
    let mut with_schema = files.clone();
    let catalog = String::from_utf8(with_schema[CATALOG_PATH].clone())
        .unwrap()
        .replace(
            "default: \"0.8.0\"}",
            "default: \"0.8.0\", schema: charts/modules/pg/values.schema.json}",
        );
    with_schema.insert(CATALOG_PATH.into(), catalog.into_bytes());
    with_schema.insert(
        "charts/modules/pg/values.schema.json".into(),
        br#"{"type": "object", "properties": {"cluster": {"type": "object", "properties": {"instances": {"type": "integer", "maximum": 5}}}}}"#.to_vec(),
    );
    assert_eq!(
        field(
            &with_schema,
            json!({"values": {"cluster": {"instances": 9}}})
        ),
        Some("values.cluster.instances".into())
    );
    assert_eq!(
        field(&with_schema, json!({"values": {"clutser": 1}})),
        None,
        "the schema allows other keys"
    );
    assert_eq!(
        berth_core::schema::ChartSchema::upstream_check(&plain("0.8.0"), Some("x.json")),
        berth_core::upstream::ValuesCheck::RepositorySchema
    );
    assert_eq!(
        berth_core::schema::ChartSchema::upstream_check(&plain("0.8.0"), None),
        berth_core::upstream::ValuesCheck::TopLevelKeys
    );
}
