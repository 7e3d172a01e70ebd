//! The tenant index as Git says it. Each tenant folder gets a digest of its files, so a
//! reconciler sees which folders changed between two reads without comparing their contents;
//! each changed folder is read into the entry a listing shows: its tier, state, names and owner
//! from `tenant.yaml`, and the problems the pull-request review finds in its files.
//!
//! A folder whose files fail the review is `invalid`, never guessed at: what can still be read
//! of its `tenant.yaml` is shown beside the problems.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::files::TenantSpec;
use crate::model::RepoFiles;
use crate::names::TenantName;
use crate::paths::{self, TENANTS_DIR};
use crate::request::trailer_requests;
use crate::review::{Problem, Reviewer};

/// The state an index entry shows for a tenant whose files fail the review.
pub const INVALID_STATE: &str = "invalid";

/// A tenant as the index lists it, read from its folder at one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedTenant {
    pub name: TenantName,
    /// `unknown` when `tenant.yaml` names none that can be read.
    pub tier: String,
    /// `active`, `suspended`, or [`INVALID_STATE`].
    pub state: String,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    pub customer_id: Option<String>,
    /// The request that created it, as `tenant.yaml` says.
    pub created_by: Option<String>,
    /// What the review found wrong; empty for a valid tenant.
    pub problems: Vec<Problem>,
}

/// The digest of every tenant folder in `files` (the `tenants/` tree at one commit), by tenant.
/// Folders whose name is no valid tenant name are left out: no tenant can be listed under them.
///
/// The catalog is part of every digest: it decides whether a tenant's files are valid (a tier
/// or a module removed from it breaks the tenants that use it), so a catalog change has every
/// tenant reviewed again.
pub fn folder_digests(files: &RepoFiles) -> BTreeMap<TenantName, String> {
    let root = format!("{TENANTS_DIR}/");
    let mut rules = Sha256::new();
    if let Some(catalog) = files.get(crate::catalog::CATALOG_PATH) {
        rules.update((catalog.len() as u64).to_le_bytes());
        rules.update(catalog);
    }
    let mut hashers: BTreeMap<TenantName, Sha256> = BTreeMap::new();
    let mut current: Option<(String, Option<TenantName>)> = None;
    for (path, bytes) in files.range(root.clone()..) {
        let Some(rest) = path.strip_prefix(&root) else {
            break;
        };
        let Some((folder, _)) = rest.split_once('/') else {
            continue; // catalog.yaml and other files beside the folders
        };
        // Paths come sorted, so a folder's files are consecutive: parse its name once.
        if current.as_ref().is_none_or(|(name, _)| name != folder) {
            current = Some((folder.to_owned(), TenantName::parse("tenant", folder).ok()));
        }
        let Some((_, Some(tenant))) = &current else {
            continue;
        };
        let hasher = hashers
            .entry(tenant.clone())
            .or_insert_with(|| rules.clone());
        // Lengths first, so no two different folders hash the same bytes.
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hashers
        .into_iter()
        .map(|(tenant, hasher)| (tenant, hex(&hasher.finalize())))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `tenant` as its files in `files` give it. `files` holds the tenant's folder, the catalog and
/// the charts' validation files ([`crate::schema::CHART_READS`]), as the review needs them;
/// `reviewer` was made for the same catalog and charts (one serves a whole fleet).
pub fn index_tenant(reviewer: &Reviewer, tenant: &TenantName, files: &RepoFiles) -> IndexedTenant {
    let problems = reviewer.review(tenant, files);
    let path = paths::tenant_spec(tenant);
    let bytes = files.get(&path).map(Vec::as_slice).unwrap_or_default();
    let mut indexed = match crate::files::parse::<TenantSpec>(&path, bytes) {
        Ok(spec) => IndexedTenant {
            name: tenant.clone(),
            tier: spec.tier.to_string(),
            state: spec.state.as_str().to_owned(),
            display_name: spec.display_name,
            owner: spec.owner,
            customer_id: spec.customer_id,
            created_by: Some(spec.created_by),
            problems: Vec::new(),
        },
        Err(_) => loosely_read(tenant, bytes),
    };
    if !problems.is_empty() {
        indexed.state = INVALID_STATE.to_owned();
        indexed.problems = problems;
    } else if indexed.state == INVALID_STATE {
        // The spec did not parse, yet the review found nothing: never list it as fine.
        indexed.problems.push(Problem {
            path,
            field: String::new(),
            message: "tenant.yaml cannot be read".into(),
        });
    }
    indexed
}

/// What can be read of a `tenant.yaml` that is not a valid spec: its text fields, one by one.
fn loosely_read(tenant: &TenantName, bytes: &[u8]) -> IndexedTenant {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_slice(bytes).unwrap_or_default();
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    IndexedTenant {
        name: tenant.clone(),
        tier: text("tier").unwrap_or_else(|| "unknown".to_owned()),
        state: INVALID_STATE.to_owned(),
        display_name: text("display_name"),
        owner: text("owner"),
        customer_id: text("customer_id"),
        created_by: text("created_by"),
        problems: Vec::new(),
    }
}

/// The request of `tenant` that commit `message` carries, if Berth made the commit for one: a
/// group commit carries several, each with its tenant trailer.
pub fn request_for_tenant(message: &str, tenant: &str) -> Option<String> {
    let carried = trailer_requests(message);
    carried
        .iter()
        .find(|r| r.tenant.as_deref() == Some(tenant))
        .or_else(|| carried.iter().find(|r| r.tenant.is_none()))
        .map(|r| r.id.clone())
}

/// The tenant a changed path belongs to, when it lies inside a tenant folder with a valid name.
pub fn tenant_of_path(path: &str) -> Option<TenantName> {
    let rest = path.strip_prefix(TENANTS_DIR)?.strip_prefix('/')?;
    let (folder, _) = rest.split_once('/')?;
    TenantName::parse("tenant", folder).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str =
        "name: acme\ntier: standard\nstate: active\ncreated_by: 01X\nowner: ops@acme.test\n";

    const CATALOG: &str = include_str!("../tests/fixtures/catalog.yaml");

    fn files(entries: &[(&str, &str)]) -> RepoFiles {
        entries
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    fn name(raw: &str) -> TenantName {
        TenantName::parse("t", raw).unwrap()
    }

    #[test]
    fn a_folder_digest_changes_with_any_of_its_files_and_only_its_own() {
        let before = files(&[
            ("tenants/catalog.yaml", "x"),
            ("tenants/acme/tenant.yaml", SPEC),
            ("tenants/acme/dev/base.yaml", "a"),
            ("tenants/zeta/tenant.yaml", "z"),
            ("tenants/Bad_Name/tenant.yaml", "b"),
        ]);
        let digests = folder_digests(&before);
        assert_eq!(
            digests.keys().map(|t| t.as_str()).collect::<Vec<_>>(),
            ["acme", "zeta"]
        );
        let mut after = before.clone();
        after.insert("tenants/acme/dev/base.yaml".into(), b"b".to_vec());
        let changed = folder_digests(&after);
        assert_ne!(changed[&name("acme")], digests[&name("acme")]);
        assert_eq!(changed[&name("zeta")], digests[&name("zeta")]);
        // The catalog decides validity: its change is every tenant's.
        after.insert("tenants/catalog.yaml".into(), b"y".to_vec());
        assert_ne!(
            folder_digests(&after)[&name("zeta")],
            digests[&name("zeta")]
        );
        // A file moved between paths is a change even when the bytes are the same.
        let mut moved = before.clone();
        let bytes = moved.remove("tenants/acme/dev/base.yaml").unwrap();
        moved.insert("tenants/acme/prod/base.yaml".into(), bytes);
        assert_ne!(
            folder_digests(&moved)[&name("acme")],
            digests[&name("acme")]
        );
    }

    #[test]
    fn a_broken_spec_is_listed_invalid_with_what_can_be_read() {
        let files = files(&[
            ("tenants/catalog.yaml", CATALOG),
            (
                "tenants/acme/tenant.yaml",
                "name: acme\ntier: premium\nowner: ops@acme.test\ncolour: red\n",
            ),
        ]);
        let indexed = index_tenant(&Reviewer::new(&files), &name("acme"), &files);
        assert_eq!(indexed.state, INVALID_STATE);
        assert_eq!(indexed.tier, "premium");
        assert_eq!(indexed.owner.as_deref(), Some("ops@acme.test"));
        assert!(
            indexed
                .problems
                .iter()
                .any(|p| p.path == "tenants/acme/tenant.yaml"),
            "{:?}",
            indexed.problems
        );
    }

    #[test]
    fn a_group_commit_names_each_tenants_own_request() {
        let message = "Batch\n\nBerth-Request: 01A\nBerth-Tenant: acme\nBerth-Request: 01B\nBerth-Tenant: zeta\n";
        assert_eq!(request_for_tenant(message, "zeta").as_deref(), Some("01B"));
        assert_eq!(request_for_tenant("by hand", "zeta"), None);
        assert_eq!(
            tenant_of_path("tenants/acme/dev/base.yaml").map(|t| t.to_string()),
            Some("acme".into())
        );
        assert_eq!(tenant_of_path("tenants/catalog.yaml"), None);
        assert_eq!(tenant_of_path("charts/tenant/Chart.yaml"), None);
    }
}
