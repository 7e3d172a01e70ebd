//! Berth's API contract: every `/v1` request and response body as a type, in one place the
//! server and the CLI share. The OpenAPI document is generated from these types (`utoipa`), so
//! the documented shapes are the shapes the server writes.
//!
//! Request bodies are documented here; the server still reads them through `berth-core`'s
//! parsers, which name the field and the reason of every refusal.

mod bodies;
mod caller;
mod catalog;
mod doctor;
mod error;
mod requests;
mod rollouts;
mod tenants;
mod webhooks;

pub use bodies::{
    CreateTenantBody, ModuleChangeBody, MoveBody, PatchTenantBody, PromoteBody, WriteMode,
};
pub use caller::{CallerView, CommitDiffView, ConsoleOidc, ConsoleSettings};
pub use catalog::{
    Billing, Catalog, CatalogCluster, CatalogResponse, Environment, Module, ModuleChart,
    PodSecurity, Quotas, Tier,
};
pub use doctor::{CheckStatus, DoctorCheck, DoctorReport};
pub use error::{ErrorDetail, ErrorResponse};
pub use requests::{
    FileChangeKind, FileChangeView, FileDiffView, HistoryEntry, HistoryPage, HistoryRequest,
    PlannedChangeView, PromoteAnswer, RequestState, RequestView,
};
pub use rollouts::{
    FailureBudget, FleetChangeBody, LeftOutView, ModuleRolloutChange, RolloutBody, RolloutGates,
    RolloutList, RolloutPlanView, RolloutSelector, RolloutTenantView, RolloutView, RolloutWaveView,
    TenantPlanView, WavePlanView,
};
pub use tenants::{
    ClusterHealthResponse, ClusterList, ClusterView, EnvDetail, LastChangeView, ModuleDetail,
    ModuleStatus, ServiceHealth, TenantDetail, TenantList, TenantProblem, TenantStatusResponse,
    TenantSummary,
};
pub use webhooks::{ReviewProblem, ReviewVerdict, WebhookAnswer};
