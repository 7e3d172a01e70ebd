//! What the core's test suites share: the test catalog, with a chart for every module.

use berth_core::body::parse_create_tenant;
use berth_core::catalog::CATALOG_PATH;
use berth_core::{Action, RepoFiles, Request};
use serde_json::Value;

const CATALOG: &str = include_str!("../fixtures/catalog.yaml");

/// The catalog, and a chart (without a schema) for the tenant and every module.
pub fn repo() -> RepoFiles {
    let mut files = RepoFiles::from([(CATALOG_PATH.to_owned(), CATALOG.as_bytes().to_vec())]);
    for chart in [
        "tenant",
        "modules/monitoring",
        "modules/postgres",
        "modules/vault",
        "modules/data-lake",
    ] {
        files.insert(
            format!("charts/{chart}/Chart.yaml"),
            b"apiVersion: v2\n".to_vec(),
        );
    }
    files
}

/// A create request `id` for `body`, as the API parses it.
#[allow(dead_code)] // Not every suite creates tenants.
pub fn create(id: &str, body: Value) -> Request {
    let (tenant, new) = parse_create_tenant(&body).unwrap();
    Request {
        id: id.into(),
        tenant,
        action: Action::CreateTenant(new),
    }
}
