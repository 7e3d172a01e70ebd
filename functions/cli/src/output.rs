//! How answers are printed: readable tables for people, JSON or YAML for scripts (`-o`).

use berth_contract::{CatalogResponse, RequestView, TenantDetail, TenantList};
use comfy_table::Table;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Prints `value` as JSON or YAML, or as `table` renders it.
pub fn print<T: Serialize>(format: Format, value: &T, table: impl FnOnce(&T) -> String) {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
        Format::Yaml => serde_yaml_ng::to_string(value).unwrap_or_default(),
        Format::Table => table(value),
    };
    println!("{}", text.trim_end());
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

pub fn tenants(list: &TenantList) -> String {
    let rows = list
        .tenants
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.tier.clone(),
                t.state.clone(),
                t.health.clone(),
                or_dash(&t.display_name),
            ]
        })
        .collect();
    table(&["NAME", "TIER", "STATE", "HEALTH", "DISPLAY NAME"], rows)
}

pub fn tenant(t: &TenantDetail) -> String {
    let mut out = format!(
        "{} ({} tier, {}, health {})\nrevision {}\n\n",
        t.name, t.tier, t.state, t.health, t.revision
    );
    let rows = t
        .envs
        .iter()
        .flat_map(|(env, detail)| {
            detail.modules.iter().map(move |(module, m)| {
                let status = t
                    .statuses
                    .iter()
                    .find(|s| s.env == *env && s.module.as_deref() == Some(module.as_str()));
                vec![
                    env.clone(),
                    module.clone(),
                    or_dash(&m.version),
                    status.map_or("unknown".into(), |s| s.health.clone()),
                    status.map_or("-".into(), |s| format!("{}/{}", s.ready, s.desired)),
                ]
            })
        })
        .collect();
    out.push_str(&table(
        &["ENV", "MODULE", "VERSION", "HEALTH", "READY"],
        rows,
    ));
    out
}

pub fn request(r: &RequestView) -> String {
    let mut rows = vec![
        vec!["request".to_owned(), r.id.clone()],
        vec!["action".into(), format!("{} {}", r.action, r.tenant)],
        vec!["state".into(), r.state.as_str().to_owned()],
        vec!["commit".into(), or_dash(&r.commit)],
    ];
    if let Some(url) = &r.pr_url {
        rows.push(vec!["pull request".into(), url.clone()]);
    }
    if let Some(error) = &r.error {
        let field = error.field.as_ref().map(|f| format!(" (field: {f})"));
        rows.push(vec![
            "error".into(),
            format!("{}{}", error.message, field.unwrap_or_default()),
        ]);
    }
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

pub fn catalog(c: &CatalogResponse) -> String {
    let tiers = c
        .catalog
        .tiers
        .iter()
        .map(|t| vec![t.name.clone(), t.environments.join(", ")])
        .collect();
    let modules = c
        .catalog
        .modules
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                or_dash(&m.min_tier),
                m.depends_on.join(", "),
                or_dash(&m.description),
            ]
        })
        .collect();
    format!(
        "{}\n\n{}",
        table(&["TIER", "ENVIRONMENTS"], tiers),
        table(&["MODULE", "FROM TIER", "NEEDS", "DESCRIPTION"], modules)
    )
}
