//! `berth clusters`: the catalog's clusters as the status function last read them.

use berth_contract::ClusterList;
use clap::Subcommand;
use comfy_table::{Cell, Color};

use crate::Api;
use crate::client::{ClientError, exit};
use crate::output::{self, styled_table};

#[derive(Subcommand)]
pub enum Clusters {
    /// Each cluster: whether it answered the last sweep, its version, environments and labels,
    /// and the tenant-envs Git places on it against its capacity. Exits 1 when one is down.
    List(Api),
}

pub async fn run(command: Clusters) -> Result<u8, ClientError> {
    match command {
        Clusters::List(api) => {
            let list = api.client()?.clusters().await?;
            output::print(api.output, &list, table);
            let down = list.clusters.iter().any(|c| !c.reachable);
            Ok(if down { exit::FAILED } else { exit::OK })
        }
    }
}

/// One row per cluster, and why each unreachable one is.
fn table(list: &ClusterList, colour: bool) -> String {
    if list.clusters.is_empty() {
        return "The catalog has no clusters: tenants run where Argo CD does.".into();
    }
    let rows = list
        .clusters
        .iter()
        .map(|c| {
            let (reach, tint) = if c.reachable {
                ("yes", Color::Green)
            } else {
                ("no", Color::Red)
            };
            let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                Cell::new(&c.name),
                Cell::new(reach).fg(tint),
                Cell::new(c.version.as_deref().unwrap_or("-")),
                Cell::new(c.environments.join(",")),
                Cell::new(if labels.is_empty() {
                    "-".into()
                } else {
                    labels.join(",")
                }),
                Cell::new(format!("{}/{}", c.placed, c.capacity)),
                Cell::new(c.message.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let table = styled_table(
        &[
            "NAME",
            "REACHABLE",
            "VERSION",
            "ENVS",
            "LABELS",
            "PLACED",
            "WHY",
        ],
        rows,
        colour,
    );
    format!("{table}\nread at {}", list.observed_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_contract::ClusterView;

    #[test]
    fn the_table_shows_load_against_capacity_and_why_a_cluster_is_down() {
        let view = |name: &str, reachable: bool| ClusterView {
            name: name.into(),
            reachable,
            version: reachable.then(|| "v1.33.1".into()),
            message: (!reachable).then(|| "connection refused".into()),
            environments: vec!["prod".into()],
            labels: [("region".to_owned(), "eu".to_owned())].into(),
            capacity: 200,
            placed: 17,
        };
        let list = ClusterList {
            clusters: vec![view("prod-eu", true), view("prod-us", false)],
            observed_at: "2026-12-04T10:00:00Z".into(),
        };
        let text = table(&list, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("prod-eu") && lines[1].contains("yes") && lines[1].contains("17/200"),
            "{text}"
        );
        assert!(
            lines[2].contains("no") && lines[2].contains("connection refused"),
            "{text}"
        );
        assert!(lines[1].contains("region=eu"), "{text}");
    }
}
