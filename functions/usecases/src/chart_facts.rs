//! What an upstream module's chart repository says now, for `GET /v1/catalog`: the newest
//! version within the catalog's range, and how values are checked (read from the default
//! version's archive). Both come from the chart library, so a warm function reads nothing.

use berth_core::schema::ChartSchema;
use berth_core::upstream::{ChartWant, UpstreamChart, ValuesCheck, newest_in_range};

use crate::app::App;

/// An upstream module's chart as its repository has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartFacts {
    pub newest_in_range: Option<String>,
    /// How values are checked: read from the default version's archive.
    pub values_check: Option<ValuesCheck>,
    /// Why the repository could not be read; the rest is then unknown.
    pub unavailable: Option<String>,
}

/// Reads (or finds kept) the chart's index and its default version's archive.
pub async fn chart_facts(app: &App, upstream: &UpstreamChart) -> ChartFacts {
    let chart = upstream.chart_ref();
    let read = async {
        app.charts.fetch(&[ChartWant::Index(chart.clone())]).await?;
        let shelf = app.charts.shelf_since(tokio::time::Instant::now());
        // A Helm index names the archive's digest; without one (OCI), the manifest will.
        let digest = shelf
            .index(&chart)
            .and_then(|i| i.get(&upstream.default))
            .and_then(|v| v.digest.clone());
        let want = ChartWant::Archive {
            chart: chart.clone(),
            version: upstream.default.clone(),
            digest,
        };
        app.charts.fetch(std::slice::from_ref(&want)).await?;
        Ok::<_, berth_charts::ChartError>(app.charts.shelf())
    };
    match read.await {
        Ok(shelf) => {
            let newest = shelf
                .index(&chart)
                .and_then(|index| newest_in_range(upstream, index));
            let check = shelf
                .archive_of(&chart, &upstream.default)
                .map(|content| ChartSchema::upstream_check(content, upstream.schema.as_deref()));
            ChartFacts {
                newest_in_range: newest,
                values_check: check,
                unavailable: None,
            }
        }
        Err(e) => ChartFacts {
            unavailable: Some(e.to_string()),
            ..ChartFacts::default()
        },
    }
}
