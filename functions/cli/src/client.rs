//! A client of a Berth API: typed calls with the contract's bodies, and every failure sorted by
//! what a script should do about it (the exit codes of [`ClientError::exit_code`]).

use berth_contract::{
    CatalogResponse, ClusterList, CreateTenantBody, DoctorReport, ErrorDetail, ErrorResponse,
    HistoryPage, ModuleChangeBody, MoveBody, PatchTenantBody, PlannedChangeView, PromoteBody,
    RequestView, RolloutBody, RolloutList, RolloutPlanView, RolloutView, ServiceHealth,
    TenantDetail, TenantList, TenantStatusResponse,
};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Exit codes a script can rely on.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// The request failed, or its tenant is degraded.
    pub const FAILED: u8 = 1;
    /// A usage or validation error: the input needs fixing.
    pub const INVALID: u8 = 2;
    /// `--timeout` passed first.
    pub const TIMED_OUT: u8 = 3;
    /// The API could not be reached, or refused the credentials.
    pub const UNREACHABLE: u8 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with its error shape.
    #[error("{status}: {}{}", .error.message, .error.field.as_ref().map(|f| format!(" (field: {f})")).unwrap_or_default())]
    Api { status: u16, error: ErrorDetail },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the API's answer was not understood: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// A usage error, found before anything was sent: exit 2, naming `field`.
    pub fn usage(field: &str, message: impl Into<String>) -> Self {
        ClientError::Api {
            status: 400,
            error: ErrorDetail {
                code: "usage".into(),
                message: message.into(),
                field: Some(field.to_owned()),
            },
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Api { status, .. } => match *status {
                400 | 404 | 409 | 413 | 422 => exit::INVALID,
                401 | 403 => exit::UNREACHABLE,
                _ => exit::FAILED,
            },
            ClientError::Unreachable { .. } => exit::UNREACHABLE,
            ClientError::Unexpected(_) => exit::FAILED,
        }
    }
}

pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A write's answer: the request, and whether it changed anything.
pub struct Written {
    pub request: RequestView,
    pub changed: bool,
}

impl ApiClient {
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, R), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// The API could not be reached. The token is never part of the message: only the URL and
    /// the kind of failure.
    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else {
                "connection failed".into()
            },
        }
    }

    /// Sends `request` with the token; a refusal becomes [`ClientError::Api`].
    async fn send<R: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, R), ClientError> {
        let request = request.bearer_auth(&self.token);
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        if !status.is_success() {
            let error = serde_json::from_str::<ErrorResponse>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| ErrorDetail {
                    code: "unexpected".into(),
                    message: format!("HTTP {status}"),
                    field: None,
                });
            return Err(ClientError::Api {
                status: status.as_u16(),
                error,
            });
        }
        let value =
            serde_json::from_str(&text).map_err(|e| ClientError::Unexpected(e.to_string()))?;
        Ok((status, value))
    }

    async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        Ok(self.call::<(), R>(Method::GET, path, None).await?.1)
    }

    pub async fn health(&self) -> Result<ServiceHealth, ClientError> {
        self.get("/healthz").await
    }

    /// The API's health, and its clock as its `Date` header says (whole seconds).
    pub async fn health_and_clock(
        &self,
    ) -> Result<(ServiceHealth, Option<std::time::SystemTime>), ClientError> {
        let url = format!("{}/healthz", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let health = response
            .json()
            .await
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        Ok((health, date))
    }

    /// The server's checks of its deployment (admin only).
    pub async fn doctor(&self) -> Result<DoctorReport, ClientError> {
        self.get("/v1/doctor").await
    }

    pub async fn catalog(&self) -> Result<CatalogResponse, ClientError> {
        self.get("/v1/catalog").await
    }

    pub async fn clusters(&self) -> Result<ClusterList, ClientError> {
        self.get("/v1/clusters").await
    }

    /// The plan of a rollout, nothing committed.
    pub async fn plan_rollout(&self, body: &RolloutBody) -> Result<RolloutPlanView, ClientError> {
        Ok(self
            .call(Method::POST, "/v1/rollouts?dry_run=true", Some(body))
            .await?
            .1)
    }

    /// Starts a rollout; `key` makes a retry answer the rollout the first call started.
    pub async fn start_rollout(
        &self,
        body: &RolloutBody,
        key: Option<&str>,
        mode: Option<&str>,
    ) -> Result<RolloutView, ClientError> {
        let mut path = format!("{}/v1/rollouts", self.base);
        if let Some(mode) = mode {
            path.push_str(&format!("?mode={}", path_segment(mode)?));
        }
        let mut request = self.http.post(path).json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        Ok(self.send(request).await?.1)
    }

    /// A page of rollouts: every open one first, then `limit` finished ones older than
    /// `before` when given.
    pub async fn rollouts(
        &self,
        limit: u32,
        before: Option<&str>,
    ) -> Result<RolloutList, ClientError> {
        let mut path = format!("/v1/rollouts?limit={limit}");
        if let Some(before) = before {
            path.push_str(&format!("&before={}", path_segment(before)?));
        }
        self.get(&path).await
    }

    pub async fn rollout(&self, id: &str) -> Result<RolloutView, ClientError> {
        self.get(&format!("/v1/rollouts/{}", path_segment(id)?))
            .await
    }

    /// `pause`, `resume`, `abort` or `revert` (with `force`) rollout `id`.
    pub async fn steer_rollout(
        &self,
        id: &str,
        action: &str,
        force: bool,
    ) -> Result<RolloutView, ClientError> {
        let mut path = format!("/v1/rollouts/{}/{action}", path_segment(id)?);
        if force {
            path.push_str("?force=true");
        }
        Ok(self.call::<(), _>(Method::POST, &path, None).await?.1)
    }

    /// Moves `tenant`'s `env` to cluster `to`; `confirm` accepts that stateful modules' data is
    /// not copied.
    pub async fn move_env(
        &self,
        tenant: &str,
        env: &str,
        to: &str,
        confirm: bool,
    ) -> Result<Written, ClientError> {
        let mut path = move_path(tenant, env)?;
        if confirm {
            path.push_str(&format!("?confirm={}", path_segment(tenant)?));
        }
        let body = MoveBody { to: to.to_owned() };
        self.write(Method::POST, &path, Some(&body)).await
    }

    /// Aborts the move of `tenant`'s `env` before its last phase.
    pub async fn abort_move(&self, tenant: &str, env: &str) -> Result<Written, ClientError> {
        self.write::<()>(Method::DELETE, &move_path(tenant, env)?, None)
            .await
    }

    pub async fn tenants(&self) -> Result<TenantList, ClientError> {
        self.get("/v1/tenants").await
    }

    pub async fn tenant(&self, name: &str) -> Result<TenantDetail, ClientError> {
        self.get(&format!("/v1/tenants/{}", path_segment(name)?))
            .await
    }

    pub async fn request(&self, id: &str) -> Result<RequestView, ClientError> {
        self.get(&format!("/v1/requests/{}", path_segment(id)?))
            .await
    }

    pub async fn create_tenant(&self, body: &CreateTenantBody) -> Result<Written, ClientError> {
        self.write(Method::POST, "/v1/tenants", Some(body)).await
    }

    /// Changes tenant `name`'s tier, display name, owner or suspension.
    pub async fn update_tenant(
        &self,
        name: &str,
        body: &PatchTenantBody,
    ) -> Result<Written, ClientError> {
        let path = format!("/v1/tenants/{}", path_segment(name)?);
        self.write(Method::PATCH, &path, Some(body)).await
    }

    /// The live status of every module of tenant `name`.
    pub async fn tenant_status(&self, name: &str) -> Result<TenantStatusResponse, ClientError> {
        self.get(&format!("/v1/tenants/{}/status", path_segment(name)?))
            .await
    }

    /// Enables `module` in `env` of `tenant`, or changes its version and values.
    pub async fn enable_module(
        &self,
        tenant: &str,
        env: &str,
        module: &str,
        body: &ModuleChangeBody,
    ) -> Result<Written, ClientError> {
        let path = module_path(tenant, env, module)?;
        self.write(Method::PUT, &path, Some(body)).await
    }

    /// Disables `module` in `env` of `tenant`; its data goes with it.
    pub async fn disable_module(
        &self,
        tenant: &str,
        env: &str,
        module: &str,
    ) -> Result<Written, ClientError> {
        let path = module_path(tenant, env, module)?;
        self.write::<()>(Method::DELETE, &path, None).await
    }

    /// A write: the request it became, and whether it changed anything (202, not 200).
    async fn write<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Written, ClientError> {
        let (status, request) = self.call(method, path, body).await?;
        Ok(Written {
            request,
            changed: status == StatusCode::ACCEPTED,
        })
    }

    /// A page of tenant `name`'s history, newest first, older than commit `before` when given.
    pub async fn history(
        &self,
        name: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<HistoryPage, ClientError> {
        let mut path = format!("/v1/tenants/{}/history?limit={limit}", path_segment(name)?);
        if let Some(before) = before {
            path.push_str(&format!("&before={}", path_segment(before)?));
        }
        self.get(&path).await
    }

    /// Reverts request `id`: over later changes with `force`; its tenant's creation only with
    /// `confirm` naming the tenant.
    pub async fn revert(
        &self,
        id: &str,
        force: bool,
        confirm: Option<&str>,
    ) -> Result<Written, ClientError> {
        let mut path = format!("/v1/requests/{}/revert?force={force}", path_segment(id)?);
        if let Some(tenant) = confirm {
            path.push_str(&format!("&confirm={}", path_segment(tenant)?));
        }
        self.write::<()>(Method::POST, &path, None).await
    }

    /// Promotes `body.modules` of `tenant` from `body.from` onto `to`.
    pub async fn promote(
        &self,
        tenant: &str,
        to: &str,
        body: &PromoteBody,
    ) -> Result<Written, ClientError> {
        self.write(Method::POST, &promote_path(tenant, to)?, Some(body))
            .await
    }

    /// What promoting would commit, committing nothing.
    pub async fn plan_promotion(
        &self,
        tenant: &str,
        to: &str,
        body: &PromoteBody,
    ) -> Result<PlannedChangeView, ClientError> {
        let path = format!("{}?dry_run=true", promote_path(tenant, to)?);
        Ok(self.call(Method::POST, &path, Some(body)).await?.1)
    }

    /// Deletes tenant `name`: its files go, and Argo CD prunes what they made.
    pub async fn delete_tenant(&self, name: &str) -> Result<Written, ClientError> {
        let name = path_segment(name)?;
        let path = format!("/v1/tenants/{name}?confirm={name}");
        self.write::<()>(Method::DELETE, &path, None).await
    }
}

fn move_path(tenant: &str, env: &str) -> Result<String, ClientError> {
    Ok(format!(
        "/v1/tenants/{}/envs/{}/move",
        path_segment(tenant)?,
        path_segment(env)?
    ))
}

fn promote_path(tenant: &str, to: &str) -> Result<String, ClientError> {
    Ok(format!(
        "/v1/tenants/{}/envs/{}/promote",
        path_segment(tenant)?,
        path_segment(to)?
    ))
}

fn module_path(tenant: &str, env: &str, module: &str) -> Result<String, ClientError> {
    Ok(format!(
        "/v1/tenants/{}/envs/{}/modules/{}",
        path_segment(tenant)?,
        path_segment(env)?,
        path_segment(module)?
    ))
}

/// A name or id as one path segment: anything that is not is refused here, not sent.
fn path_segment(value: &str) -> Result<&str, ClientError> {
    let fine = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(value)
    } else {
        Err(ClientError::Api {
            status: 422,
            error: ErrorDetail {
                code: "invalid".into(),
                message: format!("{value:?} is not a name or an id"),
                field: None,
            },
        })
    }
}
