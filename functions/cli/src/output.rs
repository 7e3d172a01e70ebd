//! How answers are printed: readable tables for people, JSON or YAML for scripts (`-o`).
//! Health is colour-coded on a terminal; piped output, or `NO_COLOR` set, is plain text.

use std::io::IsTerminal;

use berth_contract::{
    CatalogResponse, FileChangeKind, FileChangeView, HistoryPage, LastChangeView, ModuleStatus,
    PlannedChangeView, RequestView, TenantDetail, TenantList, TenantStatusResponse,
};
use comfy_table::{Cell, Color, Table};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Whether tables get colours: on a terminal, unless `NO_COLOR` is set (no-color.org).
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints `value` as JSON or YAML, or as `table` renders it (told whether to colour).
pub fn print<T: Serialize>(format: Format, value: &T, table: impl FnOnce(&T, bool) -> String) {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value).unwrap_or_default(),
        Format::Yaml => serde_yaml_ng::to_string(value).unwrap_or_default(),
        Format::Table => table(value, colour_wanted()),
    };
    println!("{}", text.trim_end());
}

/// A borderless table; styled cells keep their colour only when `colour` holds.
pub(crate) fn styled_table(header: &[&str], rows: Vec<Vec<Cell>>, colour: bool) -> String {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    if colour {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    if !header.is_empty() {
        table.set_header(header.to_vec());
    }
    for row in rows {
        table.add_row(row);
    }
    // Borderless columns pad every line to the widest; the padding at the end helps no one.
    table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows = rows
        .into_iter()
        .map(|row| row.into_iter().map(Cell::new).collect())
        .collect();
    styled_table(header, rows, false)
}

/// A health, coloured: healthy green, progressing or suspended yellow, degraded or missing red.
fn health(value: &str) -> Cell {
    let colour = match value {
        "healthy" => Color::Green,
        "progressing" | "suspended" => Color::Yellow,
        "degraded" | "missing" => Color::Red,
        _ => Color::DarkGrey,
    };
    Cell::new(value).fg(colour)
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

pub fn tenants(list: &TenantList, colour: bool) -> String {
    let rows = list
        .tenants
        .iter()
        .map(|t| {
            vec![
                Cell::new(&t.name),
                Cell::new(&t.tier),
                state(&t.state),
                health(&t.health),
                Cell::new(or_dash(&t.display_name)),
                Cell::new(t.last_change.as_ref().map_or("-".into(), change_by)),
            ]
        })
        .collect();
    styled_table(
        &[
            "NAME",
            "TIER",
            "STATE",
            "HEALTH",
            "DISPLAY NAME",
            "LAST CHANGE",
        ],
        rows,
        colour,
    )
}

/// A tenant's state; `invalid` (broken in Git) in red.
fn state(value: &str) -> Cell {
    match value {
        "invalid" => Cell::new(value).fg(Color::Red),
        _ => Cell::new(value),
    }
}

/// Who changed a tenant last, and where: `git 1a2b3c4d Ada <ada@x.test>` for a change made
/// outside Berth, `berth <request id>` for Berth's own.
fn change_by(change: &LastChangeView) -> String {
    match (&change.source[..], &change.request) {
        ("berth", Some(request)) => format!("berth {request}"),
        (source, _) => format!("{source} {} {}", short_sha(&change.commit), change.author),
    }
}

pub fn tenant(t: &TenantDetail, colour: bool) -> String {
    let mut out = format!(
        "{} ({} tier, {}, health {})\nrevision {}\n",
        t.name, t.tier, t.state, t.health, t.revision
    );
    if let Some(change) = &t.last_change {
        out.push_str(&format!(
            "last change {} by {} at {} ({})\n",
            short_sha(&change.commit),
            change.author,
            change.at,
            change.source
        ));
    }
    for problem in &t.problems {
        let field = match problem.field.as_str() {
            "" => String::new(),
            field => format!(" {field}"),
        };
        out.push_str(&format!(
            "problem: {}{field}: {}\n",
            problem.file, problem.reason
        ));
    }
    out.push('\n');
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
                    Cell::new(env),
                    Cell::new(module),
                    Cell::new(or_dash(&m.version)),
                    health(status.map_or("unknown", |s| s.health.as_str())),
                    Cell::new(status.map_or("-".into(), |s| format!("{}/{}", s.ready, s.desired))),
                ]
            })
        })
        .collect();
    out.push_str(&styled_table(
        &["ENV", "MODULE", "VERSION", "HEALTH", "READY"],
        rows,
        colour,
    ));
    out
}

/// `status` and `modules status`: every part of the tenant as the cluster runs it.
pub fn statuses(statuses: &[ModuleStatus], colour: bool) -> String {
    let rows = statuses
        .iter()
        .map(|s| {
            vec![
                Cell::new(&s.env),
                Cell::new(s.module.as_deref().unwrap_or("(base)")),
                health(&s.health),
                Cell::new(format!("{}/{}", s.ready, s.desired)),
                Cell::new(or_dash(&s.sync)),
                Cell::new(s.revision.as_deref().map_or("-".into(), short_sha)),
                Cell::new(or_dash(&s.reason)),
            ]
        })
        .collect();
    styled_table(
        &[
            "ENV", "MODULE", "HEALTH", "READY", "SYNC", "REVISION", "REASON",
        ],
        rows,
        colour,
    )
}

pub fn tenant_status(status: &TenantStatusResponse, colour: bool) -> String {
    let overall = styled_table(
        &[],
        vec![vec![Cell::new(&status.tenant), health(&status.health)]],
        colour,
    );
    format!(
        "{}\n\n{}",
        overall.trim(),
        statuses(&status.statuses, colour)
    )
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(12).collect()
}

pub fn request(r: &RequestView, _colour: bool) -> String {
    let mut rows = vec![
        vec!["request".to_owned(), r.id.clone()],
        vec!["action".into(), format!("{} {}", r.action, r.tenant)],
        vec!["state".into(), r.state.as_str().to_owned()],
        vec!["commit".into(), or_dash(&r.commit)],
    ];
    if let Some(url) = &r.pr_url {
        rows.push(vec!["pull request".into(), url.clone()]);
    }
    if let Some(reverts) = &r.reverts {
        rows.push(vec!["reverts".into(), reverts.clone()]);
    }
    if let Some(by) = &r.reverted_by {
        rows.push(vec!["reverted by".into(), by.clone()]);
    }
    for (i, change) in r.changes.iter().flatten().enumerate() {
        let label = if i == 0 { "changes" } else { "" };
        rows.push(vec![label.into(), file_change(change)]);
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

/// `+ path (+3 -1)`: a file a change added (`+`), modified (`~`) or deleted (`-`).
fn file_change(change: &FileChangeView) -> String {
    let mark = match change.change {
        FileChangeKind::Added => '+',
        FileChangeKind::Modified => '~',
        FileChangeKind::Deleted => '-',
    };
    match (change.lines_added, change.lines_removed) {
        (Some(added), Some(removed)) => format!("{mark} {} (+{added} -{removed})", change.path),
        _ => format!("{mark} {}", change.path),
    }
}

/// A tenant's history: one row per commit, newest first; a commit made without Berth says so.
pub fn history(page: &HistoryPage, _colour: bool) -> String {
    let rows = page
        .entries
        .iter()
        .map(|entry| {
            let (requests, actions): (Vec<String>, Vec<String>) = entry
                .requests
                .iter()
                .map(|r| {
                    let who = r.requested_by.clone().or_else(|| r.source.clone());
                    let who = who.map(|w| format!(" by {w}")).unwrap_or_default();
                    (
                        format!("{}{who}", r.id),
                        r.action.clone().unwrap_or_else(|| "-".into()),
                    )
                })
                .unzip();
            vec![
                short_sha(&entry.commit),
                entry.committed_at.clone(),
                if entry.by_berth {
                    requests.join("\n")
                } else {
                    format!("(by hand) {}", entry.author)
                },
                if entry.by_berth {
                    actions.join("\n")
                } else {
                    entry.title.clone()
                },
                entry
                    .files
                    .iter()
                    .map(file_change)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ]
        })
        .collect();
    let mut text = table(&["COMMIT", "WHEN", "REQUEST", "ACTION", "FILES"], rows);
    if let Some(next) = &page.next_before {
        text.push_str(&format!("\nmore: --before {next}"));
    }
    text
}

/// A dry run: the commit message, then each file's diff.
pub fn planned_change(planned: &PlannedChangeView, _colour: bool) -> String {
    if planned.files.is_empty() {
        return format!("nothing to change at {}", short_sha(&planned.revision));
    }
    let headline = planned.message.lines().next().unwrap_or_default();
    let mut text = format!(
        "{headline} (at {}, not committed)\n",
        short_sha(&planned.revision)
    );
    for file in &planned.files {
        text.push('\n');
        text.push_str(&file.diff);
    }
    text
}

pub fn catalog(c: &CatalogResponse, _colour: bool) -> String {
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
    let charts: Vec<Vec<String>> = c
        .catalog
        .modules
        .iter()
        .filter_map(|m| {
            let chart = m.chart.as_ref()?;
            Some(vec![
                m.name.clone(),
                format!("{} from {}", chart.name, chart.repo),
                chart.versions.clone(),
                chart.default.clone(),
                chart
                    .newest_in_range
                    .clone()
                    .or_else(|| chart.unavailable.as_ref().map(|_| "unavailable".into()))
                    .unwrap_or_else(|| "-".into()),
                or_dash(&chart.values_check),
            ])
        })
        .collect();
    let mut out = format!(
        "{}\n\n{}",
        table(&["TIER", "ENVIRONMENTS"], tiers),
        table(&["MODULE", "FROM TIER", "NEEDS", "DESCRIPTION"], modules)
    );
    if !charts.is_empty() {
        out.push_str("\n\n");
        out.push_str(&table(
            &[
                "MODULE",
                "CHART",
                "VERSIONS",
                "DEFAULT",
                "NEWEST IN RANGE",
                "VALUES CHECK",
            ],
            charts,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use berth_contract::LastChangeView;
    use berth_contract::TenantSummary;

    use super::*;

    #[test]
    fn the_catalog_shows_each_upstream_charts_range_default_and_newest() {
        let module =
            |name: &str, chart: Option<berth_contract::ModuleChart>| berth_contract::Module {
                name: name.into(),
                description: None,
                depends_on: vec![],
                min_tier: None,
                stateful: false,
                chart,
            };
        let response = CatalogResponse {
            revision: "abc".into(),
            catalog: berth_contract::Catalog {
                environments: vec![],
                tiers: vec![],
                modules: vec![
                    module("postgres", None),
                    module(
                        "pg-cluster",
                        Some(berth_contract::ModuleChart {
                            repo: "oci://ghcr.io/cloudnative-pg/charts".into(),
                            name: "cluster".into(),
                            versions: "~0.8".into(),
                            default: "0.8.0".into(),
                            schema: None,
                            newest_in_range: Some("0.8.1".into()),
                            values_check: Some("chart_schema".into()),
                            unavailable: None,
                        }),
                    ),
                ],
                billing: None,
                clusters: vec![],
            },
        };
        let text = catalog(&response, false);
        let line = text
            .lines()
            .find(|l| l.contains("pg-cluster") && l.contains("ghcr"))
            .unwrap();
        for part in [
            "cluster from oci://ghcr.io/cloudnative-pg/charts",
            "~0.8",
            "0.8.0",
            "0.8.1",
            "chart_schema",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        assert!(
            !text
                .lines()
                .any(|l| l.contains("postgres") && l.contains(" from "))
        );
    }

    fn status(env: &str, module: Option<&str>, health: &str, ready: u32) -> ModuleStatus {
        ModuleStatus {
            env: env.into(),
            module: module.map(Into::into),
            health: health.into(),
            sync: Some("Synced".into()),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
            ready,
            desired: 1,
            urls: Vec::new(),
            reason: (health == "degraded").then(|| "CrashLoopBackOff".into()),
            observed_at: "2026-11-22T10:00:00Z".into(),
        }
    }

    fn fleet() -> TenantList {
        let tenant = |name: &str, health: &str| TenantSummary {
            name: name.into(),
            tier: "standard".into(),
            state: "active".into(),
            health: health.into(),
            display_name: (name == "acme").then(|| "Acme Corp".into()),
            last_request: "01JTESTREQUEST000000000000".into(),
            updated_at: "2026-11-22T10:00:00Z".into(),
            owner: None,
            last_change: (name == "globex").then(|| LastChangeView {
                commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b".into(),
                author: "Ada <ada@globex.test>".into(),
                at: "2026-11-22T09:00:00Z".into(),
                source: "git".into(),
                request: None,
            }),
            problems: Vec::new(),
        };
        TenantList {
            tenants: vec![tenant("acme", "healthy"), tenant("globex", "degraded")],
            total: 2,
            counts: [("degraded".into(), 1), ("healthy".into(), 1)].into(),
            next_after: None,
        }
    }

    #[test]
    fn tenants_as_a_plain_table() {
        insta::assert_snapshot!(tenants(&fleet(), false));
    }

    #[test]
    fn health_is_coloured_on_a_terminal() {
        let coloured = tenants(&fleet(), true);
        assert_ne!(
            coloured,
            tenants(&fleet(), false),
            "escape codes on a terminal"
        );
        // The escapes shown, so the snapshot says which colour each health gets.
        insta::assert_snapshot!(coloured.escape_debug().to_string());
    }

    #[test]
    fn a_tenant_broken_in_git_shows_its_problems_and_who_changed_it() {
        let detail = berth_contract::TenantDetail {
            name: "initech".into(),
            display_name: None,
            owner: None,
            tier: "unknown".into(),
            state: "invalid".into(),
            created_by: String::new(),
            last_change: Some(LastChangeView {
                commit: "5a0c2f6806d44532c7838432bfb2832f904638a1".into(),
                author: "Pat Person <pat@acme.test>".into(),
                at: "2026-12-04T05:41:34Z".into(),
                source: "git".into(),
                request: None,
            }),
            problems: vec![berth_contract::TenantProblem {
                file: "tenants/initech/tenant.yaml".into(),
                field: "tier".into(),
                reason: "unknown tier gold".into(),
            }],
            revision: "5a0c2f6806d44532c7838432bfb2832f904638a1".into(),
            envs: Default::default(),
            health: "unknown".into(),
            statuses: Vec::new(),
            urls: Vec::new(),
        };
        let shown = tenant(&detail, false);
        assert!(
            shown.starts_with("initech (unknown tier, invalid, health unknown)"),
            "{shown}"
        );
        assert!(
            shown.contains("last change 5a0c2f6806d4 by Pat Person <pat@acme.test> at 2026-12-04T05:41:34Z (git)"),
            "{shown}"
        );
        assert!(
            shown.contains("problem: tenants/initech/tenant.yaml tier: unknown tier gold"),
            "{shown}"
        );
    }

    #[test]
    fn a_tenants_status_module_by_module() {
        let response = TenantStatusResponse {
            tenant: "acme".into(),
            health: "degraded".into(),
            statuses: vec![
                status("dev", None, "healthy", 1),
                status("dev", Some("postgres"), "healthy", 1),
                status("prod", Some("vault"), "degraded", 0),
            ],
        };
        insta::assert_snapshot!(tenant_status(&response, false));
    }
}
