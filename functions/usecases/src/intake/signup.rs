//! A signup system's events: `tenant.signup` creates a tenant through the API's write path.

use berth_core::body::parse_create_tenant;
use serde_json::Value;

use super::Effect;
use crate::error::UseCaseError;

/// What a signup event does.
pub fn signup_effect(request_id: String, event: &Value) -> Result<Effect, UseCaseError> {
    match event["type"].as_str() {
        Some("tenant.signup") => {
            let tenant = parse_create_tenant(&event["data"]).map_err(|e| field_in("data", e))?;
            Ok(Effect::create_tenant(request_id, tenant, "data", None))
        }
        other => Ok(Effect::Ignore(format!(
            "event type {} is not one Berth acts on",
            other.unwrap_or("<none>")
        ))),
    }
}

/// A field error inside an event, named from the event's root: `data.tier`.
fn field_in(prefix: &'static str, e: berth_core::FieldError) -> UseCaseError {
    let field = if e.field == "body" {
        prefix.to_owned()
    } else {
        format!("{prefix}.{}", e.field)
    };
    UseCaseError::from(berth_core::FieldError { field, ..e })
}
