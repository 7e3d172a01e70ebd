//! Which tenants a caller may see, as plain data: the edge derives it from the caller's
//! credential (a token or a JWT scoped to one tenant, or to none), the use-cases apply it.

use crate::error::{ErrorCode, ErrorKind, UseCaseError};

/// Every tenant, or the one a scoped credential names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    tenant: Option<String>,
}

impl Visibility {
    pub fn every_tenant() -> Self {
        Self { tenant: None }
    }

    pub fn only(tenant: impl Into<String>) -> Self {
        Self {
            tenant: Some(tenant.into()),
        }
    }

    pub fn sees(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|scope| scope == tenant)
    }

    /// Whether the caller is scoped to no single tenant.
    pub fn sees_every_tenant(&self) -> bool {
        self.tenant.is_none()
    }

    /// Refuses a caller scoped to another tenant.
    pub fn require(&self, tenant: &str) -> Result<(), UseCaseError> {
        match &self.tenant {
            Some(scope) if scope != tenant => Err(UseCaseError::new(
                ErrorKind::Forbidden,
                ErrorCode::Forbidden,
                format!("this token is limited to tenant {scope}"),
            )),
            _ => Ok(()),
        }
    }
}
