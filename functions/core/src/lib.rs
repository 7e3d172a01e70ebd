//! Berth's domain, with no I/O and no async: what a tenant, an environment, a tier and a module
//! are, what the catalog allows, how a request is validated, and how it is planned into a
//! [`Change`] of files under `tenants/<tenant>/`.
//!
//! Everything that touches the outside world (Git, the store, HTTP) lives in other crates and
//! calls into this one: `plan(request, current files) -> Change` is a pure function.

pub mod batch;
pub mod body;
pub mod catalog;
pub mod catalog_edit;
pub mod chart_wants;
pub mod charts;
pub mod clusters;
pub mod desired;
pub mod doctor;
pub mod error;
pub mod file_diff;
pub mod files;
pub mod health;
pub mod model;
pub mod moves;
pub mod names;
pub mod paths;
pub mod placement;
pub mod plan;
pub mod pr_plan;
pub mod promote;
pub mod request;
pub mod request_state;
pub mod restore;
pub mod review;
pub mod rollout;
pub mod schema;
pub mod tenant_index;
pub mod upstream;
pub mod versions;

pub use catalog::{Catalog, CatalogError};
pub use desired::{DesiredState, DesiredTenant, desired_state};
pub use error::{ErrorKind, FieldError, PlanError};
pub use files::{BaseValues, ModuleValues, TenantRef, TenantSpec, TenantState};
pub use model::{Change, RepoFiles};
pub use names::{ClusterName, EnvName, ModuleName, TenantName, TierName};
pub use plan::plan;
pub use request::{Action, Move, Promotion, Request, Restore, TenantPatch};
