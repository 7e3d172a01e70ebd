//! Placing a new tenant's envs on the catalog's clusters: the choice is written into each env's
//! `base.yaml` and copied into its module files, counted from Git, and a full cluster refuses
//! the request with nothing planned.

use berth_core::body::parse_create_tenant;
use berth_core::catalog::CATALOG_PATH;
use berth_core::files::{BaseValues, ModuleValues, TenantSpec};
use berth_core::{Action, ErrorKind, PlanError, RepoFiles, Request, plan};
use serde_json::{Value, json};

mod common;

const CLUSTERS: &str = "clusters:
  - name: dev-1
    environments: [dev]
    labels: {region: eu}
    capacity: 100
    access: {server: https://dev-1.example.com, eks: {name: dev-1, region: eu-west-1}}
  - name: prod-eu
    environments: [prod]
    labels: {region: eu}
    capacity: 2
    access: {server: https://prod-eu.example.com, eks: {name: prod-eu, region: eu-west-1}}
  - name: prod-us
    environments: [prod]
    labels: {region: us}
    capacity: 2
    access: {server: https://prod-us.example.com, token_env: PROD_US_TOKEN}
";

fn clustered_repo() -> RepoFiles {
    let mut files = common::repo();
    let catalog = files.get_mut(CATALOG_PATH).unwrap();
    catalog.extend_from_slice(CLUSTERS.as_bytes());
    files
}

fn create(id: &str, body: Value) -> Request {
    let (tenant, new) = parse_create_tenant(&body).unwrap();
    Request {
        id: id.into(),
        tenant,
        action: Action::CreateTenant(new),
    }
}

fn read<T: serde::de::DeserializeOwned>(files: &RepoFiles, path: &str) -> T {
    berth_core::files::parse(path, &files[path]).unwrap()
}

fn cluster_of(files: &RepoFiles, tenant: &str, env: &str) -> String {
    let base: BaseValues = read(files, &format!("tenants/{tenant}/{env}/base.yaml"));
    base.placement.unwrap().cluster.to_string()
}

#[test]
fn each_env_is_placed_and_its_modules_carry_the_placement() {
    let mut files = clustered_repo();
    let request = create(
        "01A",
        json!({"name": "acme", "tier": "standard", "envs": ["dev", "prod"],
               "modules": ["postgres"], "constraints": {"region": "eu"}}),
    );
    plan(&request, &files).unwrap().apply_to(&mut files);
    assert_eq!(cluster_of(&files, "acme", "dev"), "dev-1");
    assert_eq!(cluster_of(&files, "acme", "prod"), "prod-eu");
    let module: ModuleValues = read(&files, "tenants/acme/prod/modules/postgres.yaml");
    assert_eq!(module.placement.unwrap().cluster.as_str(), "prod-eu");
    let spec: TenantSpec = read(&files, "tenants/acme/tenant.yaml");
    assert_eq!(spec.constraints["region"], "eu");
    let text = String::from_utf8(files["tenants/acme/prod/base.yaml"].clone()).unwrap();
    assert!(text.ends_with("placement:\n  cluster: prod-eu\n"), "{text}");
}

#[test]
fn the_least_loaded_cluster_takes_the_next_env_and_a_full_region_is_a_conflict() {
    let mut files = clustered_repo();
    for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
        let request = create(
            &format!("01{i}"),
            json!({"name": name, "tier": "standard", "envs": ["prod"]}),
        );
        plan(&request, &files).unwrap().apply_to(&mut files);
    }
    let placed: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|t| cluster_of(&files, t, "prod"))
        .collect();
    assert_eq!(placed, ["prod-eu", "prod-us", "prod-eu", "prod-us"]);

    let full = create(
        "01F",
        json!({"name": "e", "tier": "standard", "envs": ["dev", "prod"], "constraints": {"region": "eu"}}),
    );
    let Err(PlanError::Field(refused)) = plan(&full, &files) else {
        panic!("a full region must be refused");
    };
    assert_eq!(refused.kind, ErrorKind::Conflict);
    assert_eq!(refused.field, "envs[1]");
    assert!(
        refused.reason.contains("environment prod")
            && refused.reason.contains("region=eu")
            && refused.reason.contains("prod-eu (2/2)")
            && !refused.reason.contains("prod-us"),
        "{refused}"
    );
}

#[test]
fn a_named_cluster_is_kept_and_clusters_need_a_catalog_that_has_them() {
    let files = clustered_repo();
    let request = create(
        "01N",
        json!({"name": "acme", "tier": "standard", "envs": ["prod"],
               "constraints": {"region": "eu"}, "clusters": {"prod": "prod-us"}}),
    );
    let mut after = files.clone();
    plan(&request, &files).unwrap().apply_to(&mut after);
    assert_eq!(cluster_of(&after, "acme", "prod"), "prod-us");

    let stray = create(
        "01S",
        json!({"name": "acme", "tier": "standard", "envs": ["dev"], "clusters": {"prod": "prod-us"}}),
    );
    let Err(PlanError::Field(refused)) = plan(&stray, &files) else {
        panic!("a cluster for an env not created is refused");
    };
    assert_eq!(refused.field, "clusters.prod");

    let unclustered = common::repo();
    let Err(PlanError::Field(refused)) = plan(&request, &unclustered) else {
        panic!("no clusters to name");
    };
    assert_eq!(refused.field, "clusters");
    let plain = create(
        "01P",
        json!({"name": "acme", "tier": "standard", "envs": ["prod"]}),
    );
    let change = plan(&plain, &unclustered).unwrap();
    let base = String::from_utf8(change.writes["tenants/acme/prod/base.yaml"].clone()).unwrap();
    assert!(
        !base.contains("placement"),
        "unchanged without clusters: {base}"
    );
}
