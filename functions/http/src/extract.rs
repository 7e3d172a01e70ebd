//! What a handler takes from a request besides its body: the names in its path, checked (400
//! for a malformed path, 422 naming the field for a bad name); the query of a write; the
//! `Idempotency-Key`; and the [`WriteContext`] every write runs in.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, OriginalUri, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use berth_core::TenantName;

use crate::AppState;
use crate::auth::Writer;
use crate::config::Mode;
use crate::deadline::Deadline;
use crate::error::ApiError;

/// The `Idempotency-Key` header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const KEY_MAX: usize = 255;

/// The key from the headers, checked: 1 to 255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= KEY_MAX && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned())).ok_or_else(|| {
        ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {KEY_MAX} visible ASCII characters"),
        )
    })
}

/// The path's segments, or 400 saying why they could not be read.
async fn path_segments<T, S>(parts: &mut Parts, state: &S) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    let Path(segments) = Path::<T>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::malformed(format!("bad path: {}", e.body_text())))?;
    Ok(segments)
}

fn tenant_name(raw: &str) -> Result<TenantName, ApiError> {
    Ok(TenantName::parse("tenant", raw)?)
}

/// `/tenants/{tenant}`.
pub struct TenantPath(pub TenantName);

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw: String = path_segments(parts, state).await?;
        Ok(Self(tenant_name(&raw)?))
    }
}

/// `/tenants/{tenant}/history/{commit}`: the commit is checked by the handler, which names it.
pub struct TenantCommitPath {
    pub tenant: TenantName,
    pub commit: String,
}

impl<S: Send + Sync> FromRequestParts<S> for TenantCommitPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (tenant, commit): (String, String) = path_segments(parts, state).await?;
        Ok(Self {
            tenant: tenant_name(&tenant)?,
            commit,
        })
    }
}

/// `/tenants/{tenant}/envs/{env}`: the environment is checked by what reads it (a body's
/// parser names it in its own terms).
pub struct EnvPath {
    pub tenant: TenantName,
    pub env: String,
}

impl<S: Send + Sync> FromRequestParts<S> for EnvPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (tenant, env): (String, String) = path_segments(parts, state).await?;
        Ok(Self {
            tenant: tenant_name(&tenant)?,
            env,
        })
    }
}

/// `/tenants/{tenant}/envs/{env}/modules/{module}`.
pub struct ModulePath {
    pub tenant: TenantName,
    pub env: String,
    pub module: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ModulePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (tenant, env, module): (String, String, String) = path_segments(parts, state).await?;
        Ok(Self {
            tenant: tenant_name(&tenant)?,
            env,
            module,
        })
    }
}

/// `/requests/{id}`: a request id (a ULID).
pub struct RequestIdPath(pub ulid::Ulid);

impl<S: Send + Sync> FromRequestParts<S> for RequestIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw: String = path_segments(parts, state).await?;
        let id = ulid::Ulid::from_string(&raw)
            .map_err(|_| ApiError::invalid("id", "must be a request id (a ULID)"))?;
        Ok(Self(id))
    }
}

/// Who writes and how: the caller (allowed to write), its deadline, and what the request's
/// fingerprint covers (its method and path with query; the body is added by the write).
pub struct WriteContext {
    pub writer: Writer,
    pub deadline: Deadline,
    pub method: Method,
    pub uri: OriginalUri,
    pub headers: HeaderMap,
}

impl FromRequestParts<AppState> for WriteContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let writer = Writer::from_request_parts(parts, state).await?;
        let Ok(deadline) = Deadline::from_request_parts(parts, state).await;
        let Ok(uri) = OriginalUri::from_request_parts(parts, state).await;
        Ok(Self {
            writer,
            deadline,
            method: parts.method.clone(),
            uri,
            headers: parts.headers.clone(),
        })
    }
}

/// A query string as it arrives: checked by [`query_params`].
pub type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The query of a write: `mode` always allowed, plus the names its route takes.
pub struct WriteQuery {
    pub mode: Mode,
    pub params: HashMap<String, String>,
}

pub fn write_query(
    state: &AppState,
    query: QueryParams,
    extra: &[&str],
) -> Result<WriteQuery, ApiError> {
    let allowed: Vec<&str> = std::iter::once("mode")
        .chain(extra.iter().copied())
        .collect();
    let params = query_params(query, &allowed)?;
    let mode = match params.get("mode") {
        None => state.config.default_mode,
        Some(raw) => {
            Mode::parse(raw).ok_or_else(|| ApiError::invalid("mode", "must be direct or pr"))?
        }
    };
    Ok(WriteQuery { mode, params })
}

/// A query string's parameters, each one of `allowed` (else 422 naming it).
pub fn query_params(
    query: QueryParams,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) =
        query.map_err(|e| ApiError::malformed(format!("bad query string: {}", e.body_text())))?;
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            unknown.as_str(),
            "unknown query parameter",
        ));
    }
    Ok(params)
}

/// A `true`/`false` query parameter; absent is `false`.
pub fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

/// A page's `limit`: a number from 1 to `max`, refused by name otherwise.
pub fn page_limit(raw: &str, max: usize) -> Result<usize, ApiError> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ApiError::invalid("limit", format!("must be a number from 1 to {max}")))
}
