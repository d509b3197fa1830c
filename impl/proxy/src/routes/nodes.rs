//! SSH nodes through the proxy: joining (`POST /v1/nodes/join`), heartbeats, nodes' audit
//! reports (`POST /v1/nodes/audit`, recorded in the cluster's audit log), the admin calls
//! `hwactl tokens add`, `get cert_authority`, `auth sign` and `nodes add` use, and the tunnel
//! every `hwa ssh` and `hwa scp` goes through.
//!
//! `GET /webapi/nodes/{name}/ssh/{login}` with `Connection: Upgrade`, `Upgrade: hwa-ssh` and an
//! `HwaCert` authorization signed over that path: the auth service decides
//! ([`hwa_auth::join::Membership::authorize_node_access`]); on success the proxy answers
//! `101 Switching Protocols`, dials the node through the network seam and copies bytes both
//! ways. The SSH session runs end to end between the client and the node: the proxy never
//! holds its keys.
//!
//! These routes exist only when the proxy was given a [`NodeGateway`]; otherwise they answer
//! 404 like any unknown path.
//!
//! # Limitations
//! The node sees the proxy's address as the SSH peer, so the node's own `source-address`
//! check compares against the proxy; the proxy checks the certificate's `source-address`
//! against the real client before it opens the tunnel. A complete system would pass the
//! client's address to the node in a signed PROXY protocol header.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hwa_auth::ca::CaKind;
use hwa_auth::join::{
    HostSign, HostSigned, JoinError, JoinTokenAdd, JoinTokenAdded, Membership, NodeHeartbeat,
    NodeJoin, NodeJoined,
};
use hwa_core::SharedNetwork;
use hwa_core::api::NodeView;
use hwa_core::node_audit::NodeAuditBatch;
use hyper_util::rt::TokioIo;

use crate::error::ApiFailure;
use crate::extract::{AdminCaller, ApiJson, PeerAddr, bearer};
use crate::state::AppState;

/// The `Upgrade` protocol name of the tunnel.
pub const TUNNEL_PROTOCOL: &str = "hwa-ssh";

/// What the node routes need beyond the auth service: membership and a way to dial nodes.
#[derive(Clone, Debug)]
pub struct NodeGateway {
    pub membership: Membership,
    pub net: SharedNetwork,
}

/// The node routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/nodes/join", post(join))
        .route("/v1/nodes/heartbeat", post(heartbeat))
        .route("/v1/nodes/audit", post(node_audit))
        .route("/v1/admin/tokens", post(add_token))
        .route("/v1/admin/cert_authority/{kind}", get(cert_authority))
        .route("/v1/admin/hosts/sign", post(sign_host))
        .route("/v1/admin/nodes", post(add_node))
        .route("/webapi/nodes/{name}/ssh/{login}", get(tunnel))
}

fn gateway(state: &AppState) -> Result<Arc<NodeGateway>, ApiFailure> {
    state.nodes.clone().ok_or_else(|| {
        ApiFailure::not_found("this proxy does not serve nodes; start hwad with the proxy role")
    })
}

fn join_failure(err: JoinError) -> ApiFailure {
    match err {
        JoinError::AccessDenied(why) => ApiFailure::forbidden(format!("access denied: {why}")),
        JoinError::Auth(err) => err.into(),
    }
}

async fn join(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NodeJoin>,
) -> Result<Json<NodeJoined>, ApiFailure> {
    Ok(Json(gateway(&state)?.membership.join(&body).await?))
}

/// The node a node-token request comes from, and its JSON body, read only once the token is
/// known to be a node's.
async fn from_node<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: Request,
    what: &str,
) -> Result<(Arc<NodeGateway>, String, T), ApiFailure> {
    let gateway = gateway(state)?;
    let token = bearer(request.headers())?
        .ok_or_else(|| ApiFailure::unauthenticated(format!("{what} needs the node token")))?;
    let name = gateway.membership.authenticate_node(&token).await?;
    let ApiJson(body) =
        <ApiJson<T> as axum::extract::FromRequest<AppState>>::from_request(request, state).await?;
    Ok((gateway, name, body))
}

async fn heartbeat(
    State(state): State<AppState>,
    request: Request,
) -> Result<StatusCode, ApiFailure> {
    let (gateway, name, beat) = from_node::<NodeHeartbeat>(&state, request, "a heartbeat").await?;
    gateway.membership.heartbeat(&name, &beat).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A node's audit events, recorded under the name its token has (not the body's).
async fn node_audit(
    State(state): State<AppState>,
    request: Request,
) -> Result<StatusCode, ApiFailure> {
    let (_, name, batch) = from_node::<NodeAuditBatch>(&state, request, "an audit report").await?;
    state.auth.record_node_events(&name, &batch).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_token(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<JoinTokenAdd>,
) -> Result<Json<JoinTokenAdded>, ApiFailure> {
    Ok(Json(gateway(&state)?.membership.add_join_token(&body).await?))
}

async fn cert_authority(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(kind): Path<String>,
) -> Result<Response, ApiFailure> {
    let kind = match kind.as_str() {
        "user" => CaKind::User,
        "host" => CaKind::Host,
        _ => return Err(ApiFailure::bad_request("the certificate authority type is user or host")),
    };
    let mut line = gateway(&state)?.membership.ca_public(kind);
    line.push('\n');
    let mut response = line.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

async fn sign_host(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<HostSign>,
) -> Result<Json<HostSigned>, ApiFailure> {
    Ok(Json(gateway(&state)?.membership.make_host_identity(&body.host)?))
}

async fn add_node(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<NodeView>,
) -> Result<StatusCode, ApiFailure> {
    gateway(&state)?;
    state.auth.upsert_node(body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tunnel(
    State(state): State<AppState>,
    Path((name, login)): Path<(String, String)>,
    mut request: Request,
) -> Result<Response, ApiFailure> {
    let gateway = gateway(&state)?;
    let wants_tunnel = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(TUNNEL_PROTOCOL));
    if !wants_tunnel {
        return Err(ApiFailure::bad_request(format!(
            "this endpoint needs `Connection: Upgrade` and `Upgrade: {TUNNEL_PROTOCOL}`"
        )));
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiFailure::unauthenticated("the tunnel needs an HwaCert authorization"))?
        .to_owned();
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .ok_or_else(|| ApiFailure::internal("no peer address on the request"))?;
    let path = request.uri().path().to_owned();
    let node = gateway
        .membership
        .authorize_node_access(&authorization, "GET", &path, peer, &name, &login)
        .await
        .map_err(join_failure)?;
    let upstream = gateway.net.dial(&node.addr).await.map_err(|e| {
        ApiFailure::new(
            hwa_core::api::ErrorCode::Internal,
            format!("node {} at {} cannot be reached: {e}; is it running?", node.name, node.addr),
        )
        .with_status(StatusCode::BAD_GATEWAY)
    })?;
    let on_upgrade = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiFailure::bad_request("this connection cannot be upgraded"))?;
    tracing::info!(node = %node.name, %login, %peer, "tunnel opened");
    tokio::spawn(async move {
        let mut upstream = upstream;
        match on_upgrade.await {
            Ok(upgraded) => {
                let mut client = TokioIo::new(upgraded);
                match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    Ok((up, down)) => tracing::debug!(up, down, "tunnel closed"),
                    Err(e) => tracing::debug!(error = %e, "tunnel ended"),
                }
            }
            Err(e) => tracing::debug!(error = %e, "upgrade failed"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    response.headers_mut().insert(header::UPGRADE, HeaderValue::from_static(TUNNEL_PROTOCOL));
    Ok(response)
}
