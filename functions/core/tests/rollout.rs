//! Planning a fleet rollout against the test catalog: which tenants it selects, how it splits
//! them into waves, what each tenant's files become (by the same planner a single request
//! uses), and which tenants it leaves out and why.

use berth_core::body::parse_module_change;
use berth_core::plan::plan_with_charts;
use berth_core::rollout::plan::{LeftOut, RolloutPlan, plan_rollout, unchanged_since_plan};
use berth_core::rollout::{FleetChange, RolloutSpec, Selector, Step, WavePolicy};
use berth_core::tenant_index::folder_digests;
use berth_core::upstream::ChartShelf;
use berth_core::{Action, ModuleName, PlanError, RepoFiles, Request, TenantName, TierName};
use serde_json::json;

mod common;

const NOW: &str = "2026-12-04T12:00:00Z";

fn name(n: &str) -> TenantName {
    TenantName::parse("t", n).unwrap()
}

fn apply(files: &mut RepoFiles, request: &Request) {
    plan_with_charts(request, files, &ChartShelf::default())
        .unwrap()
        .apply_to(files);
}

/// `premium` premium tenants and `standard` standard ones, each with postgres 16.4 in dev
/// and prod.
fn fleet(premium: usize, standard: usize) -> RepoFiles {
    let mut files = common::repo();
    let tenants = (0..premium)
        .map(|i| (format!("p{i:03}"), "premium"))
        .chain((0..standard).map(|i| (format!("s{i:03}"), "standard")));
    for (tenant, tier) in tenants {
        let create = common::create(
            "01CREATE",
            json!({"name": tenant, "tier": tier, "envs": ["dev", "prod"]}),
        );
        apply(&mut files, &create);
        for env in ["dev", "prod"] {
            let change = parse_module_change(
                env,
                "postgres",
                &json!({"version": "16.4", "values": {"replicas": 2}}),
            )
            .unwrap();
            apply(
                &mut files,
                &Request {
                    id: "01ENABLE".into(),
                    tenant: name(&tenant),
                    action: Action::EnableModule(change),
                },
            );
        }
    }
    files
}

fn upgrade_premium() -> RolloutSpec {
    RolloutSpec {
        selector: Selector {
            tiers: vec![TierName::parse("t", "premium").unwrap()],
            has_module: Some(ModuleName::parse("m", "postgres").unwrap()),
            ..Selector::default()
        },
        change: FleetChange::Reconfigure {
            module: ModuleName::parse("m", "postgres").unwrap(),
            version: Some("16.6".into()),
            values: serde_json::Map::new(),
        },
        canaries: vec![name("p000"), name("p001")],
        waves: WavePolicy::default(),
        gates: Default::default(),
        on_failure: Default::default(),
        then_set_default: false,
        skip_invalid: false,
    }
}

fn plan(spec: &RolloutSpec, files: &RepoFiles) -> RolloutPlan {
    plan_rollout(spec, files, &ChartShelf::default(), NOW).unwrap()
}

fn wave_names(plan: &RolloutPlan) -> Vec<Vec<String>> {
    plan.waves
        .iter()
        .map(|w| w.iter().map(|t| t.tenant.to_string()).collect())
        .collect()
}

#[test]
fn forty_premium_tenants_go_canaries_then_ten_fifty_and_the_rest() {
    let files = fleet(40, 5);
    let plan = plan(&upgrade_premium(), &files);
    let waves = wave_names(&plan);
    assert_eq!(waves[0], ["p000", "p001"], "the canaries first");
    let sizes: Vec<usize> = waves.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [2, 4, 15, 19],
        "10 % and 50 % of the 38 after the canaries, rounded up"
    );
    assert!(
        waves.iter().flatten().all(|t| t.starts_with('p')),
        "premium only"
    );
    for tenant in plan.waves.iter().flatten() {
        assert_eq!(tenant.envs.len(), 2);
        for (path, bytes) in &tenant.change.writes {
            assert!(path.contains("/modules/postgres.yaml"), "{path}");
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                text.contains("version: '16.6'") || text.contains("version: 16.6"),
                "{text}"
            );
            assert!(
                text.contains("replicas: 2"),
                "the tenant's own values stay: {text}"
            );
        }
    }
    assert_eq!(
        plan.hash,
        self::plan(&upgrade_premium(), &files).hash,
        "deterministic"
    );
}

#[test]
fn no_ops_holds_and_canary_marks_are_read_from_the_tenants_files() {
    let mut files = fleet(6, 0);
    // p002 is already on 16.6 everywhere; p003 is held until next year; p004 is a canary.
    for env in ["dev", "prod"] {
        let change = parse_module_change(
            env,
            "postgres",
            &json!({"version": "16.6", "values": {"replicas": 2}}),
        )
        .unwrap();
        apply(
            &mut files,
            &Request {
                id: "01X".into(),
                tenant: name("p002"),
                action: Action::EnableModule(change),
            },
        );
    }
    let edit = |files: &mut RepoFiles, tenant: &str, line: &str| {
        let path = format!("tenants/{tenant}/tenant.yaml");
        let text = String::from_utf8(files[&path].clone()).unwrap() + line;
        files.insert(path, text.into_bytes());
    };
    edit(&mut files, "p003", "hold_until: 2027-01-05\n");
    edit(&mut files, "p004", "canary: true\n");
    edit(&mut files, "p005", "hold_until: 2026-12-01T00:00:00Z\n");
    let spec = RolloutSpec {
        canaries: vec![],
        ..upgrade_premium()
    };
    let plan = plan(&spec, &files);
    assert_eq!(wave_names(&plan)[0], ["p004"]);
    assert!(plan.left_out.contains(&(name("p002"), LeftOut::NoChange)));
    assert!(plan.left_out.contains(&(
        name("p003"),
        LeftOut::Held {
            until: "2027-01-05T00:00:00Z".into()
        }
    )));
    assert!(
        wave_names(&plan).iter().flatten().any(|t| t == "p005"),
        "a hold in the past holds nothing"
    );
    assert_eq!(plan.tenants(), 4);
}

#[test]
fn a_tenant_whose_result_is_invalid_refuses_the_rollout_unless_skipped() {
    let files = fleet(2, 2);
    // vault is for standard and up: every tenant here may have it; data-lake needs premium.
    let spec = RolloutSpec {
        selector: Selector::default(),
        change: FleetChange::Enable {
            module: ModuleName::parse("m", "data-lake").unwrap(),
            version: None,
            values: serde_json::Map::new(),
        },
        ..upgrade_premium()
    };
    match plan_rollout(&spec, &files, &ChartShelf::default(), NOW) {
        Err(PlanError::Field(e)) => {
            assert!(e.field.starts_with("tenants.p000."), "{}", e.field);
        }
        other => panic!("{other:?}"),
    }
    let plan = plan(
        &RolloutSpec {
            skip_invalid: true,
            ..spec
        },
        &files,
    );
    assert_eq!(plan.tenants(), 0);
    assert_eq!(plan.left_out.len(), 4);
    assert!(
        plan.left_out
            .iter()
            .all(|(_, why)| matches!(why, LeftOut::Invalid { .. }))
    );
}

#[test]
fn by_tier_goes_lowest_first_and_explicit_steps_are_cumulative() {
    let files = fleet(3, 4);
    let every = RolloutSpec {
        selector: Selector {
            tiers: vec![],
            ..upgrade_premium().selector
        },
        canaries: vec![],
        waves: WavePolicy::ByTier,
        ..upgrade_premium()
    };
    let waves = wave_names(&plan(&every, &files));
    assert_eq!(
        waves,
        [
            vec!["s000", "s001", "s002", "s003"],
            vec!["p000", "p001", "p002"]
        ]
    );
    let steps = RolloutSpec {
        waves: WavePolicy::Steps(vec![Step::Count(1), Step::Percent(50)]),
        ..every
    };
    let sizes: Vec<usize> = plan(&steps, &files).waves.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 3, 3]);
}

#[test]
fn a_tenant_changed_after_the_plan_is_seen_as_changed() {
    let mut files = fleet(2, 0);
    let plan = plan(&upgrade_premium(), &files);
    let first = &plan.waves[0][0];
    assert!(unchanged_since_plan(first, &folder_digests(&files)));
    let path = "tenants/p000/dev/modules/postgres.yaml";
    let text = String::from_utf8(files[path].clone())
        .unwrap()
        .replace("replicas: 2", "replicas: 3");
    files.insert(path.into(), text.into_bytes());
    let digests = folder_digests(&files);
    assert!(!unchanged_since_plan(first, &digests));
    assert!(unchanged_since_plan(&plan.waves[0][1], &digests));
}

/// A wave's commit at its turn: planned changes for untouched tenants, a re-plan for one
/// edited by hand, a skip (reported) for one whose module was removed since, and one commit
/// with the rollout's trailers.
#[test]
fn a_wave_commits_the_plan_re_plans_edited_tenants_and_skips_conflicts() {
    use berth_core::rollout::wave::{WaveTenant, plan_wave};
    let mut files = fleet(3, 0);
    let spec = RolloutSpec {
        canaries: vec![],
        waves: WavePolicy::Steps(vec![Step::Percent(100)]),
        ..upgrade_premium()
    };
    let plan = plan(&spec, &files);
    assert_eq!(plan.waves.len(), 1);
    // p001's dev values changed by hand; p002's prod postgres disabled by hand.
    let path = "tenants/p001/dev/modules/postgres.yaml";
    let text = String::from_utf8(files[path].clone())
        .unwrap()
        .replace("replicas: 2", "replicas: 5");
    files.insert(path.into(), text.into_bytes());
    files.remove("tenants/p002/prod/modules/postgres.yaml");

    let frozen: Vec<WaveTenant> = plan.waves[0].iter().map(WaveTenant::from).collect();
    let wave = plan_wave(
        "01ROLLOUT",
        1,
        &spec,
        &frozen,
        &files,
        &ChartShelf::default(),
        NOW,
    )
    .unwrap();
    let names: Vec<String> = wave.tenants.iter().map(|t| t.to_string()).collect();
    assert_eq!(names, ["p000", "p001"]);
    assert_eq!(wave.skipped.len(), 1);
    assert_eq!(wave.skipped[0].0, name("p002"));
    assert!(
        wave.skipped[0].1.contains("no longer enabled in prod"),
        "{}",
        wave.skipped[0].1
    );
    let replanned = String::from_utf8(wave.change.writes[path].clone()).unwrap();
    assert!(
        replanned.contains("replicas: 5"),
        "the hand edit stays: {replanned}"
    );
    assert!(replanned.contains("16.6"), "{replanned}");
    assert_eq!(wave.change.writes.len(), 4, "two envs of two tenants");
    let untouched = "tenants/p000/prod/modules/postgres.yaml";
    assert_eq!(
        wave.change.writes[untouched], plan.waves[0][0].change.writes[untouched],
        "an untouched tenant commits the frozen plan's bytes"
    );
    for trailer in [
        "Berth-Request: 01ROLLOUT",
        "Berth-Action: rollout",
        "Berth-Rollout-Wave: 1",
        "Berth-Tenant: p000",
        "Berth-Tenant: p001",
    ] {
        assert!(
            wave.change.message.contains(trailer),
            "{}",
            wave.change.message
        );
    }
    assert!(!wave.change.message.contains("Berth-Tenant: p002"));
}
