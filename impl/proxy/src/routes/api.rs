//! Handlers of the public JSON surface, `/webapi/...` (the table at the top of
//! `hwa_core::api`).
//!
//! Each handler parses, calls one method of the auth service and answers its result; every
//! decision (who may see a request, whether an assertion is valid, what a certificate allows)
//! belongs to the auth service. This file owns only what is specific to HTTP: the client
//! address taken from the connection, the session cookie of the browser, the per-address rate
//! limit of the unauthenticated routes and the event stream framing.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use futures::{Stream, StreamExt};
use hwa_core::api::{
    ErrorCode, HeadlessDecisionRequest, HeadlessDecisionResponse, HeadlessEvent,
    HeadlessLoginRequest, HeadlessLoginResponse, HeadlessRequestView, InviteView,
    LoginBeginRequest, LoginFinishRequest, MfaChallengeRequest, MfaChallengeResponse, NodeList,
    PingResponse, RegisterBeginRequest, RegisterBeginResponse, RegisterFinishRequest,
    SessionCertRequest, SessionCertResponse, SessionResponse,
};
use hwa_core::limits::SESSION_TTL;
use tokio::time::Instant;

use crate::error::ApiFailure;
use crate::extract::{
    ApiJson, NamePath, PeerAddr, RequestIdPath, SESSION_COOKIE, SESSION_MODE_HEADER, TokenSource,
    WebSession,
};
use crate::state::AppState;

/// Interval of comment lines on an idle event stream, so that proxies and load balancers in
/// between do not close it (many close idle connections after 60 seconds).
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The `/webapi` routes.
pub fn routes(state: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/webapi/headless/login", post(headless_login))
        .route("/webapi/mfa/login/begin", post(login_begin))
        .route("/webapi/mfa/login/finish", post(login_finish))
        .route("/webapi/invites/{token}", get(invite))
        .route("/webapi/invites/{token}/register/begin", post(register_begin))
        .route("/webapi/invites/{token}/register/finish", post(register_finish))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .route("/webapi/ping", get(ping))
        .route("/webapi/headless/events", get(headless_events))
        .route("/webapi/headless/{id}", get(headless_view).put(headless_decide))
        .route("/webapi/mfa/authenticatechallenge", post(mfa_challenge))
        .route("/webapi/sessions", delete(logout))
        .route("/webapi/nodes", get(nodes))
        .route("/webapi/ssh/certs", post(session_certificate))
        .merge(limited)
}

/// Refuses a client address past its budget of unauthenticated requests (SPEC HL-07).
async fn rate_limit(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    request: Request,
    next: Next,
) -> Response {
    match state.limiter.check(peer.ip(), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            ApiFailure::new(
                ErrorCode::RateLimited,
                format!("too many requests from {}; wait {secs} s and try again", peer.ip()),
            )
            .with_retry_after(wait)
            .into_response()
        }
    }
}

async fn ping(State(state): State<AppState>) -> Result<Json<PingResponse>, ApiFailure> {
    let auth = state.auth.auth_settings().await?;
    Ok(Json(PingResponse {
        auth,
        cluster_name: state.web.cluster_name.clone(),
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}

/// The long poll: answers when the request is decided or times out (SPEC HL-07, HL-10).
async fn headless_login(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    ApiJson(body): ApiJson<HeadlessLoginRequest>,
) -> Result<Json<HeadlessLoginResponse>, ApiFailure> {
    tracing::debug!(request_id = %body.headless_id, "headless login waiting");
    Ok(Json(state.auth.headless_login(body, peer.ip()).await?))
}

async fn headless_view(
    State(state): State<AppState>,
    web: WebSession,
    RequestIdPath(id): RequestIdPath,
) -> Result<Json<HeadlessRequestView>, ApiFailure> {
    Ok(Json(state.auth.headless_view(&web.session, &id).await?))
}

async fn headless_decide(
    State(state): State<AppState>,
    web: WebSession,
    RequestIdPath(id): RequestIdPath,
    PeerAddr(peer): PeerAddr,
    ApiJson(body): ApiJson<HeadlessDecisionRequest>,
) -> Result<Json<HeadlessDecisionResponse>, ApiFailure> {
    let decided = state.auth.headless_decide(&web.session, &id, &body, peer.ip()).await?;
    Ok(Json(HeadlessDecisionResponse { state: decided }))
}

/// Server-sent events of the user's requests, for `hwa headless watch` and open pages.
async fn headless_events(
    State(state): State<AppState>,
    web: WebSession,
) -> Result<Sse<impl Stream<Item = Result<Event, axum::Error>>>, ApiFailure> {
    let events = state.auth.headless_events(&web.session).await?;
    let framed = events.map(|event: HeadlessEvent| {
        let name = match &event {
            HeadlessEvent::Pending { .. } => "pending",
            HeadlessEvent::Decided { .. } => "decided",
        };
        Event::default().event(name).json_data(&event)
    });
    Ok(Sse::new(framed).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE)))
}

async fn mfa_challenge(
    State(state): State<AppState>,
    web: WebSession,
    ApiJson(body): ApiJson<MfaChallengeRequest>,
) -> Result<Json<MfaChallengeResponse>, ApiFailure> {
    let challenge = state.auth.mfa_challenge(&web.session, &body.scope).await?;
    Ok(Json(MfaChallengeResponse { webauthn_challenge: challenge }))
}

async fn session_certificate(
    State(state): State<AppState>,
    web: WebSession,
    PeerAddr(peer): PeerAddr,
    ApiJson(body): ApiJson<SessionCertRequest>,
) -> Result<Json<SessionCertResponse>, ApiFailure> {
    Ok(Json(state.auth.session_certificate(&web.session, &body, peer.ip()).await?))
}

async fn login_begin(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    ApiJson(body): ApiJson<LoginBeginRequest>,
) -> Result<Json<MfaChallengeResponse>, ApiFailure> {
    let challenge = state.auth.begin_login(&body.user, &body.password, peer.ip()).await?;
    Ok(Json(MfaChallengeResponse { webauthn_challenge: challenge }))
}

async fn login_finish(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginFinishRequest>,
) -> Result<Response, ApiFailure> {
    let session = state.auth.finish_login(&body.user, &body.webauthn_response, peer.ip()).await?;
    session_answer(&state, &headers, session)
}

async fn logout(State(state): State<AppState>, web: WebSession) -> Result<Response, ApiFailure> {
    state.auth.logout(&web.token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if web.source == TokenSource::Cookie {
        let cookie = session_cookie("", 0, state.web.tls);
        response.headers_mut().insert(header::SET_COOKIE, header_value(&cookie)?);
    }
    Ok(response)
}

async fn invite(
    State(state): State<AppState>,
    NamePath(token): NamePath,
) -> Result<Json<InviteView>, ApiFailure> {
    Ok(Json(state.auth.invite(&token).await?))
}

async fn register_begin(
    State(state): State<AppState>,
    NamePath(token): NamePath,
    ApiJson(body): ApiJson<RegisterBeginRequest>,
) -> Result<Json<RegisterBeginResponse>, ApiFailure> {
    let creation = state.auth.begin_registration(&token, &body.password).await?;
    Ok(Json(RegisterBeginResponse { webauthn_creation: creation }))
}

async fn register_finish(
    State(state): State<AppState>,
    NamePath(token): NamePath,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterFinishRequest>,
) -> Result<Response, ApiFailure> {
    let session = state.auth.finish_registration(&token, &body.webauthn_response).await?;
    session_answer(&state, &headers, session)
}

/// `GET /webapi/nodes`: a session holder or a headless certificate holder (`HwaCert`).
async fn nodes(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Result<Json<NodeList>, ApiFailure> {
    let caller = crate::routes::caller::resolve(&state, &parts).await?;
    let nodes = state.auth.list_nodes(&caller).await?;
    Ok(Json(NodeList { nodes }))
}

/// Answers a new session: as JSON for the CLI, or as a cookie with an empty token for a
/// browser that asked with [`SESSION_MODE_HEADER`].
fn session_answer(
    state: &AppState,
    headers: &HeaderMap,
    mut session: SessionResponse,
) -> Result<Response, ApiFailure> {
    let wants_cookie = headers.get(SESSION_MODE_HEADER).is_some_and(|v| v.as_bytes() == b"cookie");
    if !wants_cookie {
        return Ok(Json(session).into_response());
    }
    let cookie = session_cookie(&session.token, SESSION_TTL.as_secs(), state.web.tls);
    session.token.clear();
    let mut response = Json(session).into_response();
    response.headers_mut().insert(header::SET_COOKIE, header_value(&cookie)?);
    Ok(response)
}

/// The `Set-Cookie` value of the session cookie; `max_age_secs == 0` deletes it.
pub fn session_cookie(token: &str, max_age_secs: u64, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; \
         Max-Age={max_age_secs}{secure}"
    )
}

fn header_value(text: &str) -> Result<HeaderValue, ApiFailure> {
    HeaderValue::from_str(text)
        .map_err(|_| ApiFailure::internal("session token is not a valid cookie value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_under_tls() {
        let cookie = session_cookie("abc", 60, true);
        assert_eq!(
            cookie,
            "hwa_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(!session_cookie("abc", 60, false).contains("Secure"));
    }
}
