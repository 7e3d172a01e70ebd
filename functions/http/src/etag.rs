//! An `ETag` on every successful `GET /v1` answer, the tag of its body: a request whose
//! `If-None-Match` names it gets 304 and no body. A client that polls (a console, a script
//! waiting on a tenant) pays for unchanged data with a 304 only; the server still reads what
//! the answer is made of.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_usecases::read::entity_tag;

/// Tags `GET` answers of status 200, and answers 304 when the caller holds the same tag.
pub async fn tag_answers(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let held = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let tag = entity_tag(&bytes);
    let Ok(value) = HeaderValue::from_str(&tag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if held.is_some_and(|held| held.split(',').any(|t| t.trim() == tag || t.trim() == "*")) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, value)]).into_response();
    }
    parts.headers.insert(header::ETAG, value);
    Response::from_parts(parts, Body::from(bytes))
}
