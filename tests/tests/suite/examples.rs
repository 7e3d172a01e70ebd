//! The example tenants in `tenants/` are Berth's own output: planned here from requests, against
//! this project's catalog and charts, and compared byte for byte with the files in the
//! repository. `BERTH_WRITE_EXAMPLES=1` rewrites them after a deliberate change.

use berth_core::body::{parse_create_tenant, parse_module_change, parse_tenant_patch};
use berth_core::{Action, RepoFiles, Request, TenantName, plan};
use berth_tests::{project_charts_and_catalog, project_root};
use serde_json::{Value, json};

/// The requests that made the examples, in order.
fn example_requests() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        // umbrella: standard, dev and prod, postgres everywhere, monitoring in prod only.
        (
            "create",
            "umbrella",
            json!({"name": "umbrella", "tier": "standard", "envs": ["dev", "prod"], "modules": ["postgres"], "display_name": "Umbrella Corp.", "owner": "ops@umbrella.test"}),
        ),
        (
            "enable",
            "umbrella/prod/monitoring",
            json!({"values": {"routes": [{"path": "/metrics"}]}}),
        ),
        // globex: premium, three envs, vault and data-lake in prod with tuned values.
        (
            "create",
            "globex",
            json!({"name": "globex", "tier": "premium", "envs": ["dev", "staging", "prod"], "modules": ["postgres"], "display_name": "Globex", "owner": "platform@globex.test"}),
        ),
        (
            "enable",
            "globex/prod/vault",
            json!({"values": {"replicas": 3, "routes": [{"path": "/vault"}]}}),
        ),
        (
            "enable",
            "globex/prod/data-lake",
            json!({"version": "RELEASE.2024-10-13T13-34-11Z", "values": {"persistence": {"size": "2Ti"}}}),
        ),
        // initech: bronze, dev only, monitoring, suspended (after a payment failure).
        (
            "create",
            "initech",
            json!({"name": "initech", "tier": "bronze", "envs": ["dev"], "modules": ["monitoring"]}),
        ),
        ("patch", "initech", json!({"suspended": true})),
    ]
}

fn request(n: usize, kind: &str, target: &str, body: &Value) -> Request {
    let id = format!("01JEXAMPLE{n:016}");
    let mut parts = target.split('/');
    let tenant = TenantName::parse("tenant", parts.next().unwrap()).unwrap();
    let action = match kind {
        "create" => Action::CreateTenant(parse_create_tenant(body).unwrap().1),
        "patch" => Action::UpdateTenant(parse_tenant_patch(body).unwrap()),
        "enable" => {
            let (env, module) = (parts.next().unwrap(), parts.next().unwrap());
            Action::EnableModule(parse_module_change(env, module, body).unwrap())
        }
        other => panic!("unknown example step {other}"),
    };
    Request { id, tenant, action }
}

/// Plans every example request in turn; returns the resulting files under `tenants/<name>/`.
pub fn planned_examples() -> RepoFiles {
    let mut files = project_charts_and_catalog();
    for (n, (kind, target, body)) in example_requests().iter().enumerate() {
        let change = plan(&request(n + 1, kind, target, body), &files)
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        files.extend(change.writes);
    }
    files
        .into_iter()
        .filter(|(path, _)| path.starts_with("tenants/") && path != "tenants/catalog.yaml")
        .collect()
}

#[test]
fn example_tenants_are_what_berth_plans() {
    let planned = planned_examples();
    let root = project_root();
    if std::env::var("BERTH_WRITE_EXAMPLES").as_deref() == Ok("1") {
        for (path, bytes) in &planned {
            let target = root.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
    }
    for (path, bytes) in &planned {
        let on_disk = std::fs::read(root.join(path))
            .unwrap_or_else(|_| panic!("{path} is missing: run with BERTH_WRITE_EXAMPLES=1"));
        assert_eq!(
            String::from_utf8_lossy(&on_disk),
            String::from_utf8_lossy(bytes),
            "{path} differs from Berth's plan"
        );
    }
    let mut on_disk = Vec::new();
    for tenant in ["umbrella", "globex", "initech"] {
        let out = std::process::Command::new("find")
            .arg(root.join("tenants").join(tenant))
            .args(["-type", "f"])
            .output()
            .unwrap();
        on_disk.extend(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
    }
    assert_eq!(
        on_disk.len(),
        planned.len(),
        "no hand-made file beside the planned ones: {on_disk:?}"
    );
}
