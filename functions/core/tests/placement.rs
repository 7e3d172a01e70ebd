//! Placing a new tenant's envs on the catalog's clusters: the choice is written into each env's
//! `base.yaml` and copied into its module files, counted from Git, and a full cluster refuses
//! the request with nothing planned.

use berth_core::catalog::CATALOG_PATH;
use berth_core::files::{BaseValues, ModuleValues, TenantSpec};
use berth_core::{Action, ErrorKind, PlanError, RepoFiles, Request, plan};
use serde_json::json;

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

use common::create;

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

fn act(id: &str, tenant: &str, action: Action) -> Request {
    Request {
        id: id.into(),
        tenant: berth_core::TenantName::parse("tenant", tenant).unwrap(),
        action,
    }
}

fn move_to(env: &str, to: &str, confirmed: bool) -> Action {
    Action::MoveEnv(berth_core::Move {
        env: berth_core::EnvName::parse("env", env).unwrap(),
        to: berth_core::ClusterName::parse("to", to).unwrap(),
        confirmed,
    })
}

fn placement_of(files: &RepoFiles, path: &str) -> String {
    let text = String::from_utf8(files[path].clone()).unwrap();
    text[text.find("placement:").expect("a placement")..].to_owned()
}

#[test]
fn a_move_runs_on_both_clusters_then_on_the_new_one_and_each_phase_is_idempotent() {
    let mut files = clustered_repo();
    let catalog = files.get_mut(CATALOG_PATH).unwrap();
    *catalog = String::from_utf8(catalog.clone())
        .unwrap()
        .replace(
            "  - name: postgres\n",
            "  - name: postgres\n    stateful: true\n",
        )
        .into_bytes();
    let request = create(
        "01C",
        json!({"name": "acme", "tier": "standard", "envs": ["prod"], "modules": ["postgres"],
               "constraints": {"region": "eu"}}),
    );
    plan(&request, &files).unwrap().apply_to(&mut files);
    assert_eq!(cluster_of(&files, "acme", "prod"), "prod-eu");

    // postgres keeps data: the move needs the tenant's confirmation.
    let Err(PlanError::Field(refused)) = plan(
        &act("01M", "acme", move_to("prod", "prod-us", false)),
        &files,
    ) else {
        panic!("a stateful module needs confirm");
    };
    assert_eq!(refused.field, "confirm");
    assert!(
        refused.reason.contains("postgres") && refused.reason.contains("confirm=acme"),
        "{refused}"
    );

    let start = act("01M", "acme", move_to("prod", "prod-us", true));
    let change = plan(&start, &files).unwrap();
    assert!(
        change.message.contains("Action: move_env"),
        "{}",
        change.message
    );
    change.apply_to(&mut files);
    for path in [
        "tenants/acme/prod/base.yaml",
        "tenants/acme/prod/modules/postgres.yaml",
    ] {
        assert_eq!(
            placement_of(&files, path),
            "placement:\n  cluster: prod-eu\n  moving_to: prod-us\n",
            "{path}"
        );
    }
    assert!(
        plan(&start, &files).unwrap().is_empty(),
        "phase 1 again changes nothing"
    );
    let elsewhere = act("01N", "acme", move_to("prod", "prod-eu", true));
    assert_eq!(
        field_error(plan(&elsewhere, &files)).kind,
        ErrorKind::Conflict
    );

    let finish = act(
        "01F",
        "acme",
        Action::FinishMove {
            env: berth_core::EnvName::parse("env", "prod").unwrap(),
            to: berth_core::ClusterName::parse("to", "prod-us").unwrap(),
        },
    );
    plan(&finish, &files).unwrap().apply_to(&mut files);
    assert_eq!(
        placement_of(&files, "tenants/acme/prod/base.yaml"),
        "placement:\n  cluster: prod-us\n"
    );
    assert_eq!(
        placement_of(&files, "tenants/acme/prod/modules/postgres.yaml"),
        "placement:\n  cluster: prod-us\n"
    );
    assert!(
        plan(&finish, &files).unwrap().is_empty(),
        "phase 3 again changes nothing"
    );

    let abort = act(
        "01A",
        "acme",
        Action::AbortMove {
            env: berth_core::EnvName::parse("env", "prod").unwrap(),
        },
    );
    let refused = field_error(plan(&abort, &files));
    assert_eq!(
        (refused.kind, refused.field.as_str()),
        (ErrorKind::Conflict, "env")
    );
}

#[test]
fn an_abort_keeps_the_old_cluster_and_a_full_target_refuses_the_move() {
    let mut files = clustered_repo();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let region = if i < 2 { "us" } else { "eu" };
        let request = create(
            &format!("01{i}"),
            json!({"name": name, "tier": "standard", "envs": ["prod"], "constraints": {"region": region}}),
        );
        plan(&request, &files).unwrap().apply_to(&mut files);
    }
    // prod-us holds a and b: full.
    let refused = field_error(plan(
        &act("01M", "c", move_to("prod", "prod-us", false)),
        &files,
    ));
    assert_eq!(
        (refused.kind, refused.field.as_str()),
        (ErrorKind::Conflict, "to")
    );
    assert!(refused.reason.contains("prod-us (2/2)"), "{refused}");

    plan(&act("01M", "a", move_to("prod", "prod-eu", false)), &files)
        .unwrap()
        .apply_to(&mut files);
    let abort = act(
        "01A",
        "a",
        Action::AbortMove {
            env: berth_core::EnvName::parse("env", "prod").unwrap(),
        },
    );
    plan(&abort, &files).unwrap().apply_to(&mut files);
    assert_eq!(
        placement_of(&files, "tenants/a/prod/base.yaml"),
        "placement:\n  cluster: prod-us\n"
    );
}

fn field_error(result: Result<berth_core::Change, PlanError>) -> berth_core::FieldError {
    match result {
        Err(PlanError::Field(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A placement edited by hand (or by a pull request) is reviewed: a cluster the catalog does not
/// have, or one that does not serve the env, and a module file placed apart from its env.
#[test]
fn the_review_names_a_placement_argo_cd_could_not_follow() {
    let mut files = clustered_repo();
    let request = create(
        "01R",
        json!({"name": "acme", "tier": "standard", "envs": ["prod"], "modules": ["postgres"]}),
    );
    plan(&request, &files).unwrap().apply_to(&mut files);
    let tenant = berth_core::TenantName::parse("t", "acme").unwrap();
    assert!(berth_core::review::review_tenant(&tenant, &files).is_empty());

    let base = "tenants/acme/prod/base.yaml";
    let text = String::from_utf8(files[base].clone()).unwrap();
    let placed = text[text.find("placement:").unwrap()..].to_owned();
    for (edit, field, reason) in [
        (
            "placement:\n  cluster: prod-mars\n",
            "placement.cluster",
            "unknown cluster prod-mars",
        ),
        (
            "placement:\n  cluster: dev-1\n",
            "placement.cluster",
            "does not serve environment prod",
        ),
        (
            "placement:\n  cluster: prod-eu\n  moving_to: nowhere\n",
            "placement.moving_to",
            "unknown cluster nowhere",
        ),
    ] {
        let mut edited = files.clone();
        edited.insert(base.to_owned(), text.replace(&placed, edit).into_bytes());
        let problems = berth_core::review::review_tenant(&tenant, &edited);
        assert!(
            problems
                .iter()
                .any(|p| p.path == base && p.field == field && p.message.contains(reason)),
            "{edit}: {problems:?}"
        );
    }
    let module = "tenants/acme/prod/modules/postgres.yaml";
    let text = String::from_utf8(files[module].clone()).unwrap();
    let mut edited = files.clone();
    edited.insert(module.to_owned(), text.replace(&placed, "").into_bytes());
    let problems = berth_core::review::review_tenant(&tenant, &edited);
    assert!(
        problems
            .iter()
            .any(|p| p.path == module && p.field == "placement"),
        "{problems:?}"
    );
}
