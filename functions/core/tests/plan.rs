//! The planner, action by action, against the test catalog: which files a request writes and
//! deletes, what it refuses and with which field, and that planning is deterministic.

use berth_core::body::{parse_create_tenant, parse_module_change, parse_tenant_patch};
use berth_core::catalog::CATALOG_PATH;
use berth_core::{Action, Change, ErrorKind, PlanError, RepoFiles, Request, TenantName, plan};
use proptest::prelude::*;
use serde_json::{Value, json};

mod common;

use common::repo;

fn plan_and_apply(files: &mut RepoFiles, request: &Request) {
    let change = plan(request, files).unwrap();
    change.apply_to(files);
}

fn tenant(name: &str) -> TenantName {
    TenantName::parse("tenant", name).unwrap()
}

fn create(body: Value) -> Request {
    let (tenant, new) = parse_create_tenant(&body).unwrap();
    Request {
        id: "01REQCREATE".into(),
        tenant,
        action: Action::CreateTenant(new),
    }
}

fn patch(name: &str, body: Value) -> Request {
    Request {
        id: "01REQPATCH".into(),
        tenant: tenant(name),
        action: Action::UpdateTenant(parse_tenant_patch(&body).unwrap()),
    }
}

fn enable(name: &str, env: &str, module: &str, body: Value) -> Request {
    let change = parse_module_change(env, module, &body).unwrap();
    Request {
        id: "01REQENABLE".into(),
        tenant: tenant(name),
        action: Action::EnableModule(change),
    }
}

fn disable(name: &str, env: &str, module: &str) -> Request {
    let action = Action::DisableModule {
        env: berth_core::EnvName::parse("env", env).unwrap(),
        module: berth_core::ModuleName::parse("module", module).unwrap(),
    };
    Request {
        id: "01REQDISABLE".into(),
        tenant: tenant(name),
        action,
    }
}

fn delete(name: &str) -> Request {
    Request {
        id: "01REQDELETE".into(),
        tenant: tenant(name),
        action: Action::DeleteTenant,
    }
}

/// A repository holding tenant `acme` (standard; dev, prod; postgres).
fn repo_with_acme() -> RepoFiles {
    let mut files = repo();
    let change = plan(&create(json!({"name": "acme", "tier": "standard", "envs": ["dev", "prod"], "modules": ["postgres"]})), &files).unwrap();
    change.apply_to(&mut files);
    files
}

fn text(files: &RepoFiles, path: &str) -> String {
    String::from_utf8(files[path].clone()).unwrap()
}

fn refusal(result: Result<Change, PlanError>) -> (ErrorKind, String, String) {
    match result {
        Err(PlanError::Field(e)) => (e.kind, e.field, e.reason),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn paths(change: &Change) -> Vec<&str> {
    change.writes.keys().map(String::as_str).collect()
}

#[test]
fn create_writes_spec_base_and_modules_per_env() {
    let change = plan(&create(json!({"name": "acme", "tier": "standard", "envs": ["dev", "prod"], "modules": ["postgres"], "owner": "ops@acme.test"})), &repo()).unwrap();
    assert_eq!(
        paths(&change),
        [
            "tenants/acme/dev/base.yaml",
            "tenants/acme/dev/modules/postgres.yaml",
            "tenants/acme/prod/base.yaml",
            "tenants/acme/prod/modules/postgres.yaml",
            "tenants/acme/tenant.yaml"
        ]
    );
    assert!(change.deletes.is_empty());
    assert!(
        change
            .message
            .starts_with("Create tenant acme (standard; envs dev, prod; modules postgres)\n\n")
    );
    assert!(change.message.ends_with(
        "\nBerth-Request: 01REQCREATE\nBerth-Tenant: acme\nBerth-Action: create_tenant\n"
    ));
    let spec = String::from_utf8(change.writes["tenants/acme/tenant.yaml"].clone()).unwrap();
    assert!(spec.contains("name: acme\nowner: ops@acme.test\ntier: standard\nstate: active\ncreated_by: 01REQCREATE\n"), "{spec}");
    let base = String::from_utf8(change.writes["tenants/acme/prod/base.yaml"].clone()).unwrap();
    assert!(base.contains("tenant:\n  name: acme\n  tier: standard\n  env: prod\nsuspended: false\nquota:\n  cpu: '20'\n  memory: 40Gi\n  pods: 100\n"), "{base}");
}

#[test]
fn create_refuses_a_taken_name_with_conflict() {
    let (kind, field, reason) = refusal(plan(
        &create(json!({"name": "acme", "tier": "bronze", "envs": ["dev"]})),
        &repo_with_acme(),
    ));
    assert_eq!((kind, field.as_str()), (ErrorKind::Conflict, "name"));
    assert!(reason.contains("already exists"));
}

#[test]
fn create_checks_the_catalog_naming_the_field() {
    let cases = [
        (
            json!({"name": "a", "tier": "gold", "envs": ["dev"]}),
            "tier",
            "unknown tier gold",
        ),
        (
            json!({"name": "a", "tier": "bronze", "envs": ["dev", "staging"]}),
            "envs[1]",
            "does not allow environment staging",
        ),
        (
            json!({"name": "a", "tier": "bronze", "envs": ["qa"]}),
            "envs[0]",
            "unknown environment qa",
        ),
        (
            json!({"name": "a", "tier": "bronze", "envs": ["dev"], "modules": ["kafka"]}),
            "modules[0]",
            "unknown module kafka",
        ),
        (
            json!({"name": "a", "tier": "bronze", "envs": ["dev"], "modules": ["postgres", "vault"]}),
            "modules[1]",
            "needs tier standard or above",
        ),
        (
            json!({"name": "a", "tier": "premium", "envs": ["dev"], "modules": ["data-lake"]}),
            "modules[0]",
            "needs vault",
        ),
        (
            json!({"name": "a".repeat(45), "tier": "bronze", "envs": ["dev"]}),
            "name",
            "at most 44",
        ),
    ];
    for (body, field, reason) in cases {
        let (kind, got_field, got_reason) = refusal(plan(&create(body.clone()), &repo()));
        assert_eq!(
            (kind, got_field.as_str()),
            (ErrorKind::Invalid, field),
            "{body}"
        );
        assert!(got_reason.contains(reason), "{body}: {got_reason}");
    }
    assert!(plan(&create(json!({"name": "a", "tier": "premium", "envs": ["dev"], "modules": ["vault", "data-lake"]})), &repo()).is_ok());
}

#[test]
fn tier_change_rewrites_every_file_and_keeps_overrides() {
    let mut files = repo_with_acme();
    plan_and_apply(
        &mut files,
        &enable(
            "acme",
            "dev",
            "postgres",
            json!({"values": {"replicas": 2}}),
        ),
    );
    let change = plan(&patch("acme", json!({"tier": "premium"})), &files).unwrap();
    assert_eq!(change.writes.len(), 5, "{:?}", paths(&change));
    assert!(
        change
            .message
            .starts_with("Update tenant acme: tier standard -> premium")
    );
    change.apply_to(&mut files);
    assert!(text(&files, "tenants/acme/tenant.yaml").contains("tier: premium"));
    assert!(text(&files, "tenants/acme/dev/base.yaml").contains("cpu: '50'"));
    let module = text(&files, "tenants/acme/dev/modules/postgres.yaml");
    assert!(
        module.contains("tier: premium") && module.contains("replicas: 2"),
        "{module}"
    );
}

#[test]
fn tier_downgrade_is_refused_while_something_needs_the_higher_tier() {
    let mut files = repo_with_acme();
    plan_and_apply(&mut files, &enable("acme", "dev", "vault", json!({})));
    let (_, field, reason) = refusal(plan(&patch("acme", json!({"tier": "bronze"})), &files));
    assert_eq!(field, "tier");
    assert!(
        reason.contains("vault") && reason.contains("disable it first"),
        "{reason}"
    );

    let mut files = repo();
    plan_and_apply(
        &mut files,
        &create(json!({"name": "beta", "tier": "standard", "envs": ["staging"]})),
    );
    let (_, field, reason) = refusal(plan(&patch("beta", json!({"tier": "bronze"})), &files));
    assert_eq!(field, "tier");
    assert!(reason.contains("environment staging"), "{reason}");
}

#[test]
fn suspend_and_resume_flip_every_file_and_repeat_as_no_change() {
    let mut files = repo_with_acme();
    let suspend = patch("acme", json!({"suspended": true}));
    assert_eq!(suspend.action.name(), "suspend_tenant");
    let change = plan(&suspend, &files).unwrap();
    assert_eq!(change.writes.len(), 5);
    assert!(change.message.starts_with("Suspend tenant acme\n"));
    change.apply_to(&mut files);
    assert!(change.writes.values().all(|b| {
        let t = String::from_utf8_lossy(b);
        t.contains("suspended: true") || t.contains("state: suspended")
    }));
    assert!(plan(&suspend, &files).unwrap().is_empty());
    // A module enabled while suspended starts suspended too.
    let enabled = plan(&enable("acme", "dev", "monitoring", json!({})), &files).unwrap();
    assert!(
        String::from_utf8_lossy(&enabled.writes["tenants/acme/dev/modules/monitoring.yaml"])
            .contains("suspended: true")
    );
    let resume = patch("acme", json!({"suspended": false}));
    assert_eq!(resume.action.name(), "resume_tenant");
    let change = plan(&resume, &files).unwrap();
    assert_eq!(change.writes.len(), 5);
    change.apply_to(&mut files);
    assert_eq!(files, repo_with_acme());
}

#[test]
fn display_name_and_owner_touch_only_the_spec() {
    let files = repo_with_acme();
    let change = plan(
        &patch(
            "acme",
            json!({"display_name": "Acme Inc.", "owner": "it@acme.test"}),
        ),
        &files,
    )
    .unwrap();
    assert_eq!(paths(&change), ["tenants/acme/tenant.yaml"]);
    let spec = String::from_utf8(change.writes["tenants/acme/tenant.yaml"].clone()).unwrap();
    assert!(
        spec.contains("display_name: Acme Inc.\nowner: it@acme.test\n"),
        "{spec}"
    );
}

#[test]
fn delete_removes_the_whole_folder_and_only_it() {
    let mut files = repo_with_acme();
    files.insert("tenants/acme/README.md".into(), b"notes".to_vec());
    files.insert("tenants/acme2/tenant.yaml".into(), b"other".to_vec());
    let change = plan(&delete("acme"), &files).unwrap();
    assert!(change.writes.is_empty());
    assert_eq!(change.deletes.len(), 6);
    assert!(
        change
            .deletes
            .iter()
            .all(|p| p.starts_with("tenants/acme/"))
    );
    let (kind, field, _) = refusal(plan(&delete("ghost"), &files));
    assert_eq!((kind, field.as_str()), (ErrorKind::NotFound, "tenant"));
}

#[test]
fn enable_writes_one_file_and_repeats_as_no_change() {
    let mut files = repo_with_acme();
    let request = enable(
        "acme",
        "prod",
        "vault",
        json!({"version": "1.4.2", "values": {"replicas": 3}}),
    );
    let change = plan(&request, &files).unwrap();
    assert_eq!(paths(&change), ["tenants/acme/prod/modules/vault.yaml"]);
    assert!(
        change
            .message
            .starts_with("Enable vault 1.4.2 for acme in prod\n")
    );
    change.apply_to(&mut files);
    assert!(plan(&request, &files).unwrap().is_empty());
    // PUT replaces the configuration: an empty body resets version and overrides.
    let reset = plan(&enable("acme", "prod", "vault", json!({})), &files).unwrap();
    let text =
        String::from_utf8(reset.writes["tenants/acme/prod/modules/vault.yaml"].clone()).unwrap();
    assert!(
        !text.contains("replicas") && !text.contains("version"),
        "{text}"
    );
}

#[test]
fn enable_refuses_missing_dependencies_unless_asked_to_enable_them() {
    let mut files = repo();
    plan_and_apply(
        &mut files,
        &create(json!({"name": "big", "tier": "premium", "envs": ["dev"]})),
    );
    let (kind, field, reason) =
        refusal(plan(&enable("big", "dev", "data-lake", json!({})), &files));
    assert_eq!((kind, field.as_str()), (ErrorKind::Invalid, "module"));
    assert!(
        reason.contains("needs vault enabled in dev first"),
        "{reason}"
    );
    let change = plan(
        &enable(
            "big",
            "dev",
            "data-lake",
            json!({"enable_dependencies": true}),
        ),
        &files,
    )
    .unwrap();
    assert_eq!(
        paths(&change),
        [
            "tenants/big/dev/modules/data-lake.yaml",
            "tenants/big/dev/modules/vault.yaml"
        ]
    );
    assert!(change.message.contains("(with dependencies vault)"));
}

#[test]
fn enable_checks_env_module_and_tier() {
    let files = repo_with_acme();
    let (kind, field, _) = refusal(plan(
        &enable("acme", "staging", "postgres", json!({})),
        &files,
    ));
    assert_eq!((kind, field.as_str()), (ErrorKind::NotFound, "env"));
    let (kind, field, _) = refusal(plan(&enable("acme", "dev", "kafka", json!({})), &files));
    assert_eq!((kind, field.as_str()), (ErrorKind::Invalid, "module"));
    let (_, field, reason) = refusal(plan(&enable("acme", "dev", "data-lake", json!({})), &files));
    assert_eq!(field, "module");
    assert!(reason.contains("needs tier premium"), "{reason}");
    let (kind, _, _) = refusal(plan(&enable("ghost", "dev", "postgres", json!({})), &files));
    assert_eq!(kind, ErrorKind::NotFound);
}

#[test]
fn disable_deletes_the_file_and_respects_dependents() {
    let mut files = repo();
    plan_and_apply(
        &mut files,
        &create(
            json!({"name": "big", "tier": "premium", "envs": ["dev"], "modules": ["vault", "data-lake"]}),
        ),
    );
    let (kind, field, reason) = refusal(plan(&disable("big", "dev", "vault"), &files));
    assert_eq!((kind, field.as_str()), (ErrorKind::Conflict, "module"));
    assert!(
        reason.contains("data-lake in dev depends on vault"),
        "{reason}"
    );
    let change = plan(&disable("big", "dev", "data-lake"), &files).unwrap();
    assert!(change.writes.is_empty());
    assert_eq!(
        change.deletes.iter().collect::<Vec<_>>(),
        ["tenants/big/dev/modules/data-lake.yaml"]
    );
    change.apply_to(&mut files);
    assert!(
        plan(&disable("big", "dev", "data-lake"), &files)
            .unwrap()
            .is_empty()
    );
    let (kind, field, _) = refusal(plan(&disable("big", "dev", "kafka"), &files));
    assert_eq!((kind, field.as_str()), (ErrorKind::Invalid, "module"));
}

#[test]
fn files_the_request_does_not_change_keep_their_hand_edits() {
    let mut files = repo_with_acme();
    let path = "tenants/acme/dev/base.yaml";
    let hand_edited = format!("# tuned by hand\n{}", text(&files, path));
    files.insert(path.into(), hand_edited.clone().into_bytes());
    let change = plan(&enable("acme", "dev", "monitoring", json!({})), &files).unwrap();
    assert!(!change.writes.contains_key(path));
}

#[test]
fn broken_repository_files_name_their_path() {
    let mut files = repo_with_acme();
    files.insert(
        "tenants/acme/tenant.yaml".into(),
        b"name: acme\ntier: [\n".to_vec(),
    );
    match plan(&delete("acme"), &files) {
        Err(PlanError::Repository { path, .. }) => assert_eq!(path, "tenants/acme/tenant.yaml"),
        other => panic!("{other:?}"),
    }
    files.remove(CATALOG_PATH);
    assert!(matches!(
        plan(&delete("acme"), &files),
        Err(PlanError::Catalog(_))
    ));
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}[a-z0-9]",
        Just("dev".to_owned()),
        Just("prod".to_owned()),
        Just("postgres".to_owned()),
        Just("vault".to_owned()),
        "\\PC{0,20}",
        Just("..".to_owned()),
        Just("../etc".to_owned()),
        Just("a/b".to_owned()),
        Just("catalog".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the input, every path a plan writes or deletes is inside `tenants/<tenant>/`.
    #[test]
    fn no_input_names_a_path_outside_the_tenant(
        name in arb_name(), env in arb_name(), module in arb_name(), other in arb_name(),
        tier in prop_oneof![Just("bronze"), Just("standard"), Just("premium"), Just("gold")],
    ) {
        let mut files = repo_with_acme();
        let body = json!({"name": name, "tier": tier, "envs": [env, other], "modules": [module]});
        let mut requests = Vec::new();
        if let Ok((tenant, new)) = parse_create_tenant(&body) {
            requests.push(Request { id: "01X".into(), tenant, action: Action::CreateTenant(new) });
        }
        for t in [name.as_str(), "acme"] {
            let Ok(tenant) = TenantName::parse("tenant", t) else { continue };
            if let Ok(change) = parse_module_change(&env, &module, &json!({})) {
                requests.push(Request { id: "01Y".into(), tenant: tenant.clone(), action: Action::EnableModule(change.clone()) });
                requests.push(Request { id: "01Z".into(), tenant: tenant.clone(), action: Action::DisableModule { env: change.env, module: change.module } });
            }
            requests.push(Request { id: "01W".into(), tenant, action: Action::DeleteTenant });
        }
        for request in requests {
            if let Ok(change) = plan(&request, &files) {
                for path in change.writes.keys().chain(change.deletes.iter()) {
                    prop_assert!(berth_core::paths::is_inside_tenant(&request.tenant, path), "{path}");
                }
                change.apply_to(&mut files);
            }
        }
    }

    /// The same request against the same files gives the same bytes.
    #[test]
    fn planning_is_deterministic(
        envs in proptest::sample::subsequence(vec!["dev", "staging", "prod"], 1..=3),
        modules in proptest::sample::subsequence(vec!["monitoring", "postgres", "vault"], 0..=3),
        replicas in 0u32..10,
    ) {
        let body = json!({"name": "det", "tier": "premium", "envs": envs, "modules": modules});
        let first = plan(&create(body.clone()), &repo()).unwrap();
        let second = plan(&create(body), &repo()).unwrap();
        prop_assert_eq!(&first, &second);
        let mut files = repo();
        first.apply_to(&mut files);
        let request = enable("det", envs[0], "postgres", json!({"values": {"replicas": replicas, "b": {"z": 1, "a": 2}}}));
        prop_assert_eq!(plan(&request, &files).unwrap(), plan(&request, &files).unwrap());
    }
}

fn promote(name: &str, to: &str, body: Value) -> Request {
    Request {
        id: "01REQPROMOTE".into(),
        tenant: tenant(name),
        action: Action::Promote(berth_core::body::parse_promotion(to, &body).unwrap()),
    }
}

/// A premium tenant `acme` (dev, prod) with vault and data-lake in dev, data-lake's values set.
fn repo_with_premium_dev() -> RepoFiles {
    let mut files = repo();
    plan_and_apply(
        &mut files,
        &create(json!({"name": "acme", "tier": "premium", "envs": ["dev", "prod"]})),
    );
    plan_and_apply(
        &mut files,
        &enable("acme", "dev", "vault", json!({"version": "1.2.0"})),
    );
    plan_and_apply(
        &mut files,
        &enable(
            "acme",
            "dev",
            "data-lake",
            json!({"values": {"replicas": 2}}),
        ),
    );
    files
}

#[test]
fn promoting_every_module_copies_them_with_their_dependencies_in_one_change() {
    let files = repo_with_premium_dev();
    let change = plan(&promote("acme", "prod", json!({"from": "dev"})), &files).unwrap();
    assert_eq!(
        paths(&change),
        [
            "tenants/acme/prod/modules/data-lake.yaml",
            "tenants/acme/prod/modules/vault.yaml"
        ]
    );
    assert_eq!(
        text(&files, "tenants/acme/dev/modules/vault.yaml").replace("env: dev", "env: prod"),
        String::from_utf8(change.writes["tenants/acme/prod/modules/vault.yaml"].clone()).unwrap()
    );
    assert!(
        change
            .message
            .starts_with("Promote data-lake, vault 1.2.0 from dev to prod for acme\n")
    );
}

#[test]
fn promoting_a_module_without_its_dependency_names_the_missing_one() {
    let files = repo_with_premium_dev();
    let (kind, field, reason) = refusal(plan(
        &promote(
            "acme",
            "prod",
            json!({"from": "dev", "modules": ["data-lake"]}),
        ),
        &files,
    ));
    assert_eq!((kind, field.as_str()), (ErrorKind::Invalid, "modules[0]"));
    assert!(reason.contains("needs vault in prod"), "{reason}");
    let (_, field, reason) = refusal(plan(
        &promote(
            "acme",
            "prod",
            json!({"from": "dev", "modules": ["postgres"]}),
        ),
        &files,
    ));
    assert_eq!(field, "modules[0]");
    assert!(reason.contains("not enabled in dev"), "{reason}");
    let (kind, field, _) = refusal(plan(
        &promote("acme", "staging", json!({"from": "dev"})),
        &files,
    ));
    assert_eq!((kind, field.as_str()), (ErrorKind::NotFound, "env"));
}

fn restore(
    tenant_name: &str,
    before: &[(&str, Option<&str>)],
    left: &[(&str, Option<&str>)],
    force: bool,
) -> Request {
    let map = |pairs: &[(&str, Option<&str>)]| {
        pairs
            .iter()
            .map(|(p, t)| (p.to_string(), t.map(str::to_owned)))
            .collect()
    };
    Request {
        id: "01REQREVERT".into(),
        tenant: tenant(tenant_name),
        action: Action::Revert(berth_core::Restore {
            reverts: "01REQORIGINAL".into(),
            commit: "0123456789abcdef0123".into(),
            title: "Enable vault".into(),
            before: map(before),
            left: map(left),
            changed_by: Default::default(),
            force,
        }),
    }
}

#[test]
fn a_revert_writes_only_inside_its_tenant_and_only_over_what_the_original_left() {
    let files = repo_with_acme();
    let spec = text(&files, "tenants/acme/tenant.yaml");
    // A stored payload naming another tenant's file is refused, forced or not.
    let (_, field, reason) = refusal(plan(
        &restore("acme", &[("tenants/beta/tenant.yaml", None)], &[], true),
        &files,
    ));
    assert_eq!(field, "id");
    assert!(reason.contains("outside tenant acme's folder"), "{reason}");
    // The tip differs from what the original left: a conflict naming the file.
    let (kind, field, reason) = refusal(plan(
        &restore(
            "acme",
            &[("tenants/acme/tenant.yaml", Some("x"))],
            &[("tenants/acme/tenant.yaml", Some("y"))],
            false,
        ),
        &files,
    ));
    assert_eq!((kind, field.as_str()), (ErrorKind::Conflict, "force"));
    assert!(
        reason.contains(
            "tenants/acme/tenant.yaml was changed by a later change after request 01REQORIGINAL"
        ),
        "{reason}"
    );
    // Restoring bytes Berth cannot read back as a tenant is refused too.
    let broken = plan(
        &restore(
            "acme",
            &[("tenants/acme/tenant.yaml", Some("name: [unclosed"))],
            &[("tenants/acme/tenant.yaml", Some(&spec))],
            false,
        ),
        &files,
    );
    assert!(
        matches!(broken, Err(PlanError::Repository { .. })),
        "{broken:?}"
    );
}

#[test]
fn a_revert_survives_being_stored_while_it_waits_for_a_group_commit() {
    let request = restore(
        "acme",
        &[("tenants/acme/dev/modules/vault.yaml", None)],
        &[("tenants/acme/dev/modules/vault.yaml", Some("a: 1\n"))],
        true,
    );
    let stored = serde_json::to_string(&request).unwrap();
    assert_eq!(serde_json::from_str::<Request>(&stored).unwrap(), request);
}

#[test]
fn a_tenant_broken_by_hand_takes_no_change_until_it_is_fixed() {
    let mut files = repo();
    plan_and_apply(
        &mut files,
        &create(json!({"name": "acme", "tier": "standard", "envs": ["dev"]})),
    );
    let healthy = files.clone();
    // A direct push, past review: the base values name another tier than tenant.yaml.
    let base = "tenants/acme/dev/base.yaml";
    let edited = String::from_utf8(files[base].clone())
        .unwrap()
        .replace("tier: standard", "tier: premium");
    files.insert(base.into(), edited.into_bytes());

    let err = plan(&enable("acme", "dev", "vault", json!({})), &files).unwrap_err();
    match &err {
        PlanError::Repository { path, reason } => {
            assert_eq!(path, base);
            assert!(reason.contains("tenant.tier"), "{reason}");
            assert!(reason.contains("acme is invalid"), "{reason}");
        }
        other => panic!("refused as invalid in Git, not {other:?}"),
    }
    assert!(plan(&patch("acme", json!({"display_name": "Acme"})), &files).is_err());
    // A change that fixes the breakage goes through: tenant.yaml's tier brought in line.
    assert!(plan(&patch("acme", json!({"tier": "premium"})), &files).is_ok());

    // Fixed by hand: the same request goes through.
    assert!(plan(&enable("acme", "dev", "vault", json!({})), &healthy).is_ok());

    // A change that removes the breakage goes through: deleting the tenant.
    let delete = Request {
        id: "01REQDELETE".into(),
        tenant: tenant("acme"),
        action: Action::DeleteTenant,
    };
    assert!(plan(&delete, &files).is_ok());
}

#[test]
fn a_pull_requests_plan_names_what_the_merge_will_do() {
    use berth_core::pr_plan::plan_tenant;
    let mut before = repo();
    plan_and_apply(
        &mut before,
        &create(json!({"name": "zeta", "tier": "standard", "envs": ["dev"], "modules": ["vault"]})),
    );
    let mut after = before.clone();
    plan_and_apply(
        &mut after,
        &create(
            json!({"name": "acme", "tier": "standard", "envs": ["dev"], "modules": ["postgres"]}),
        ),
    );
    plan_and_apply(&mut after, &patch("zeta", json!({"tier": "premium"})));
    plan_and_apply(
        &mut after,
        &enable(
            "zeta",
            "dev",
            "vault",
            json!({"version": "1.5.0", "values": {"replicas": 3}}),
        ),
    );
    plan_and_apply(&mut after, &enable("zeta", "dev", "monitoring", json!({})));

    let acme = plan_tenant(&tenant("acme"), &before, &after);
    assert_eq!(acme.kind, "created");
    assert_eq!(acme.applications_created, ["acme-dev", "acme-dev-postgres"]);
    let zeta = plan_tenant(&tenant("zeta"), &before, &after);
    assert_eq!(zeta.kind, "updated");
    assert!(
        zeta.lines.contains(&"tier standard → premium".to_owned()),
        "{zeta:?}"
    );
    assert!(
        zeta.lines.iter().any(|l| l.contains("reconfigure vault")
            && l.contains("→ 1.5.0")
            && l.contains("`replicas`")),
        "{zeta:?}"
    );
    assert!(
        zeta.lines
            .iter()
            .any(|l| l == "dev: enable monitoring (version the chart's)"),
        "{zeta:?}"
    );
    assert_eq!(zeta.applications_created, ["zeta-dev-monitoring"]);
    let gone = plan_tenant(&tenant("zeta"), &after, &before);
    assert!(
        gone.lines.iter().any(|l| l == "dev: disable monitoring"),
        "{gone:?}"
    );
    assert_eq!(gone.applications_pruned, ["zeta-dev-monitoring"]);
}
