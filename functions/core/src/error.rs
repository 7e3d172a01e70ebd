//! Errors that name the field and the reason, so every refusal tells the caller what to fix.

/// How a refusal maps onto a caller's expectations (and so onto an HTTP status at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong on its own or against the catalog (422).
    Invalid,
    /// The input names something that does not exist (404).
    NotFound,
    /// The input contradicts the current state, e.g. a name that is taken (409).
    Conflict,
}

/// A refusal of one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub kind: ErrorKind,
    /// The field, as the caller spelled it: `envs[1]`, `values.tenant`, `tier`.
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Invalid,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Why `tenants/catalog.yaml` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("missing from the repository")]
    Missing,
    #[error("not valid YAML for a catalog: {0}")]
    Syntax(String),
    #[error("{0}")]
    Rule(String),
}

/// Why a request could not be planned against the repository's current files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The request is refused; nothing is written.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The repository's `tenants/catalog.yaml` is missing or broken.
    #[error("tenants/catalog.yaml: {0}")]
    Catalog(#[from] CatalogError),
    /// A file Berth has to read back is not what Berth writes (a bad hand edit).
    #[error("{path}: {reason}")]
    Repository { path: String, reason: String },
    /// The plan needs chart indexes or archives its caller has not fetched yet: the caller
    /// fetches them and plans again. Never an answer on its own.
    #[error("needs {} chart read(s) first", .0.len())]
    ChartsNeeded(Vec<crate::chart_wants::ChartWant>),
}
