//! The whole HTTP application as one axum [`Router`]: the routes of `routes/`, plus what every
//! answer shares.
//!
//! - A span per request (`http` target) with the method, the route template (never the real
//!   path, which may hold an invite token) and the peer address.
//! - Bodies announced larger than [`BODY_MAX_BYTES`] are refused before routing, on every
//!   path; bodies without a length are cut at the same size by the body extractors.
//! - Unknown paths and wrong methods answer an [`hwa_core::api::ApiError`], like every other
//!   error.
//! - Security headers on every answer: a strict Content-Security-Policy (this origin only, no
//!   inline code, no framing), `nosniff`, no referrer (invite links carry a token), no caching,
//!   and HSTS when the proxy speaks TLS.
//!
//! Tests drive this router with `tower::ServiceExt::oneshot`, without sockets; they insert a
//! [`PeerAddr`] extension as the server does for each connection.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hwa_core::limits::BODY_MAX_BYTES;
use tracing::Instrument;

use crate::error::ApiFailure;
use crate::extract::{PeerAddr, too_large};
use crate::routes;
use crate::state::AppState;

/// The Content-Security-Policy of every answer: scripts, styles and fetches from this origin
/// only, nothing inline, no plugins, no framing, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// `Strict-Transport-Security` under TLS: one year, the common production value.
const HSTS: &str = "max-age=31536000";

/// The application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::api::routes(&state))
        .merge(routes::admin::routes())
        .merge(routes::nodes::routes())
        .merge(routes::pages::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_span))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(middleware::from_fn(refuse_large_bodies))
        .with_state(state)
}

async fn not_found() -> ApiFailure {
    ApiFailure::not_found(
        "no such endpoint; see the API reference for the paths this server serves",
    )
}

async fn method_not_allowed() -> ApiFailure {
    ApiFailure::bad_request("this endpoint does not accept this HTTP method")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Runs the request inside a span naming its route and peer; logs the outcome at DEBUG.
async fn request_span(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.0.to_string());
    let span = tracing::info_span!(
        target: "http",
        "request",
        method = %request.method(),
        route = %route,
        peer = %peer,
    );
    async move {
        let response = next.run(request).await;
        tracing::debug!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}

async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 6] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.web.tls {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// Refuses a request whose `Content-Length` is over [`BODY_MAX_BYTES`], whatever its route.
async fn refuse_large_bodies(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(len) if len > BODY_MAX_BYTES as u64 => too_large().into_response(),
        _ => next.run(request).await,
    }
}
