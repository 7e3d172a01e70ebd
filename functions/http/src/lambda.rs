//! The Lambda edge: serves a router under `lambda_http`, and hands handlers what only the Lambda
//! invocation can say (API Gateway's verified JWT claims, the deadline) as typed request
//! extensions, so nothing past this module knows about Lambda's event types.

use std::time::SystemTime;

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::ServiceExt;

use crate::auth::AuthorizerClaims;
use crate::deadline::LambdaDeadline;

/// Runs `router` as the Lambda function's handler until the runtime stops it.
pub async fn serve_on_lambda(router: Router) -> Result<(), lambda_http::Error> {
    let router = router
        .map_request(with_authorizer_claims)
        .map_request(with_deadline);
    lambda_http::run(router).await
}

/// Why a function stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("lambda runtime: {0}")]
    Lambda(#[source] lambda_http::Error),
    #[error("BERTH_LISTEN: cannot listen on {listen}")]
    Listen {
        listen: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serving on {listen}")]
    Serve {
        listen: String,
        #[source]
        source: std::io::Error,
    },
}

/// Serves `router` the way a function's binary does: under Lambda's runtime when `on_lambda`,
/// else on `listen` (the binary's `BERTH_LISTEN`) until Ctrl-C, for local runs.
pub async fn serve(router: Router, on_lambda: bool, listen: String) -> Result<(), ServeError> {
    if on_lambda {
        return serve_on_lambda(router).await.map_err(ServeError::Lambda);
    }
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(source) => return Err(ServeError::Listen { listen, source }),
    };
    tracing::info!(%listen, "serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await
        .map_err(|source| ServeError::Serve { listen, source })
}

/// Copies the invocation's deadline into [`LambdaDeadline`], less the margin kept to answer.
fn with_deadline(mut request: Request) -> Request {
    let deadline = request
        .lambda_context_ref()
        .and_then(|context| LambdaDeadline::from_epoch_millis(context.deadline, SystemTime::now()));
    match deadline {
        Some(deadline) => {
            request.extensions_mut().insert(deadline);
        }
        None => tracing::warn!(
            "the invocation carries no usable deadline: the configured budget applies"
        ),
    }
    request
}

/// Copies the claims of API Gateway's JWT authorizer (payload 2.0,
/// `requestContext.authorizer.jwt.claims`) into [`AuthorizerClaims`]. A request without them
/// gets an empty set: the auth extractor then refuses it, in JWT mode.
fn with_authorizer_claims(mut request: Request) -> Request {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| jwt.claims.clone())
            .unwrap_or_default(),
        _ => Default::default(),
    };
    request.extensions_mut().insert(AuthorizerClaims(claims));
    request
}
