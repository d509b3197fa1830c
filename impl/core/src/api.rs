//! JSON bodies of the HTTP surface (SPEC section 5), shared by the proxy that serves them, the
//! `hwa` client, the admin CLI, the simulator and the conformance suite.
//!
//! Paths mirror the reference implementation where it has an equivalent, so that its users and
//! tools recognise the API:
//!
//! Who may call: *anyone*; *limited* (anyone, rate limited per address); *session* (a
//! logged-in user); *owner* (the request's own user, logged in); *invitee* (holder of the
//! invite); *session or cert* (a session, or a headless certificate).
//!
//! - `GET /webapi/ping` → [`PingResponse`]; anyone
//! - `POST /webapi/headless/login` [`HeadlessLoginRequest`] → [`HeadlessLoginResponse`]
//!   (long poll); limited
//! - `GET /webapi/headless/{id}` → [`HeadlessRequestView`]; owner
//! - `PUT /webapi/headless/{id}` [`HeadlessDecisionRequest`] → [`HeadlessDecisionResponse`];
//!   owner
//! - `GET /webapi/headless/events` → server-sent events of [`HeadlessEvent`]; session
//! - `POST /webapi/mfa/authenticatechallenge` [`MfaChallengeRequest`] →
//!   [`MfaChallengeResponse`]; session
//! - `POST /webapi/mfa/login/begin` [`LoginBeginRequest`] → [`MfaChallengeResponse`]; limited
//! - `POST /webapi/mfa/login/finish` [`LoginFinishRequest`] → [`SessionResponse`]; limited
//! - `DELETE /webapi/sessions`; session
//! - `GET /webapi/invites/{token}` → [`InviteView`]; invitee
//! - `POST /webapi/invites/{token}/register/begin` [`RegisterBeginRequest`] →
//!   [`RegisterBeginResponse`]; invitee
//! - `POST /webapi/invites/{token}/register/finish` [`RegisterFinishRequest`] →
//!   [`SessionResponse`]; invitee
//! - `GET /webapi/nodes` → [`NodeList`]; session or cert
//! - `POST /webapi/ssh/certs` [`SessionCertRequest`] → [`SessionCertResponse`]; session
//! - `GET /web/headless/{id}` → the approval page (HTML); anyone, the page logs in first
//!
//! A logged-in caller sends `Authorization: Bearer <session token>` (the CLI) or the session
//! cookie (the browser). A caller holding only a headless certificate proves it with the
//! [`CERT_AUTH_SCHEME`] header described there.
//!
//! Every error is answered with an HTTP status and an [`ApiError`] body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::RequestId;
use crate::time::UnixMillis;

/// `GET /webapi/ping`: what a client needs to know before it logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResponse {
    pub auth: AuthSettings,
    pub cluster_name: String,
    pub server_version: String,
}

/// The public part of `cluster_auth_preference`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettings {
    pub second_factors: Vec<String>,
    pub webauthn_rp_id: Option<String>,
    /// Whether headless login is allowed: on when WebAuthn is configured, unless the
    /// administrator set `headless: false` (SPEC HL-22).
    pub headless_allowed: bool,
    /// `headless` when headless login is the default for `ls`, `ssh` and `scp` (SPEC HL-23).
    pub connector_name: Option<String>,
}

/// What the certificate will allow, as the client asks for it and the approver sees it
/// (SPEC HL-21). Empty lists mean the role's full set: `ls` names no node and no login.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestScope {
    /// A one-line summary of the command, such as `ssh root@node1 uname -a`.
    pub command: String,
    /// SSH logins the command needs.
    #[serde(default)]
    pub logins: Vec<String>,
    /// Nodes the command connects to.
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// `POST /webapi/headless/login`, the unauthenticated long poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadlessLoginRequest {
    pub user: String,
    pub headless_id: RequestId,
    /// The SSH public key in `authorized_keys` text form, exactly the bytes the ID was
    /// derived from.
    pub ssh_pub_key: String,
    /// Requested certificate lifetime in seconds; the server caps it (SPEC HL-17).
    #[serde(default)]
    pub ttl: u64,
    #[serde(default)]
    pub scope: RequestScope,
}

/// The certificate a waiting client receives after approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlessLoginResponse {
    pub user: String,
    /// OpenSSH certificate, one line of `authorized_keys`-style text.
    pub ssh_certificate: String,
    pub principals: Vec<String>,
    pub valid_before: UnixMillis,
    /// The host CA public key, to verify node host certificates without trusting on first use.
    pub host_ca: Option<String>,
}

/// `POST /webapi/ssh/certs`: a one-minute certificate for one SSH session of the logged-in
/// user (`hwa ssh` without `--headless`), authorized by the web session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCertRequest {
    /// The session's own fresh key, one OpenSSH public key line.
    pub ssh_pub_key: String,
    /// The logins and nodes the command needs; the certificate names only these.
    pub scope: RequestScope,
    /// The answer to a challenge of scope `session_mfa`, required when a role of the user
    /// requires per-session MFA (the first request without it is refused with
    /// [`ErrorCode::MfaRequired`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_response: Option<MfaResponse>,
}

/// The answer to [`SessionCertRequest`]: the same fields a headless login receives.
pub type SessionCertResponse = HeadlessLoginResponse;

/// The state of a headless request as an approver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
}

/// `GET /webapi/headless/{id}`: everything an approver must see before deciding (SPEC HL-15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlessRequestView {
    pub id: RequestId,
    pub user: String,
    pub state: RequestState,
    pub client_addr: String,
    /// `SHA256:` fingerprint of the client's public key.
    pub key_fingerprint: String,
    pub scope: RequestScope,
    pub expires_at: UnixMillis,
    pub seconds_left: u64,
    /// The code the waiting client printed; see [`crate::id::match_code`].
    pub match_code: String,
}

/// What an approver decides (`action` is named as in the reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    Accept,
    Denied,
}

/// A second-factor response. Only WebAuthn is accepted for headless approval; a one-time
/// password is parsed so that it can be refused with a clear message (SPEC HL-13).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaResponse {
    /// A `PublicKeyCredential` in the WebAuthn JSON encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn_response: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
}

/// `PUT /webapi/headless/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadlessDecisionRequest {
    pub action: DecisionAction,
    #[serde(default)]
    pub mfa_response: Option<MfaResponse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlessDecisionResponse {
    pub state: RequestState,
}

/// One server-sent event on `GET /webapi/headless/events`. The SSE event name is `pending` or
/// `decided`; the data is this JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeadlessEvent {
    Pending { request: HeadlessRequestView },
    Decided { id: RequestId, state: RequestState },
}

/// What a challenge will be accepted for. A challenge answered for one scope is refused for
/// any other (SPEC HL-13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum ChallengeScope {
    /// Approval of exactly this headless request.
    Headless { headless_id: RequestId },
    /// A per-session MFA ceremony for one SSH session.
    SessionMfa,
}

/// `POST /webapi/mfa/authenticatechallenge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaChallengeRequest {
    #[serde(flatten)]
    pub scope: ChallengeScope,
}

/// A WebAuthn challenge: `PublicKeyCredentialRequestOptions` in the WebAuthn JSON encoding,
/// ready for `navigator.credentials.get({ publicKey })`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfaChallengeResponse {
    pub webauthn_challenge: serde_json::Value,
}

/// `POST /webapi/mfa/login/begin`: password first, then a WebAuthn challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBeginRequest {
    pub user: String,
    pub password: String,
}

/// `POST /webapi/mfa/login/finish`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFinishRequest {
    pub user: String,
    pub webauthn_response: serde_json::Value,
}

/// A web session, for the CLI's profile or the browser's cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    pub user: String,
    pub token: String,
    pub expires_at: UnixMillis,
}

/// `GET /webapi/invites/{token}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub user: String,
    pub expires_at: UnixMillis,
}

/// `POST /webapi/invites/{token}/register/begin`: the new user's password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBeginRequest {
    pub password: String,
}

/// `PublicKeyCredentialCreationOptions` in the WebAuthn JSON encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisterBeginResponse {
    pub webauthn_creation: serde_json::Value,
}

/// `POST /webapi/invites/{token}/register/finish`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinishRequest {
    pub webauthn_response: serde_json::Value,
}

/// A node as `hwa ls` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub addr: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    pub nodes: Vec<NodeView>,
}

/// The authorization scheme of a caller that holds only a headless certificate:
/// `Authorization: HwaCert <certificate base64>.<unix millis>.<signature base64>`, where the
/// signature is the certificate key's SSH signature (namespace [`CERT_AUTH_NAMESPACE`]) over
/// `METHOD SP PATH SP UNIX_MILLIS`. The server accepts a timestamp within the certificate's
/// validity and a small skew, so a captured header is useless for other paths and soon for all.
pub const CERT_AUTH_SCHEME: &str = "HwaCert";

/// SSH signature namespace of [`CERT_AUTH_SCHEME`], so such a signature can never be mistaken
/// for one made for another purpose.
pub const CERT_AUTH_NAMESPACE: &str = "hwa-request@headless-webauthn";

/// Stable, machine-readable error codes. Clients branch on these, people read `message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthenticated,
    /// The caller is authenticated but is not the request's user, or lacks a permission.
    Forbidden,
    NotFound,
    /// The request was already decided, or a compare-and-swap lost a race.
    AlreadyDecided,
    Conflict,
    Expired,
    /// The login waited the whole request lifetime without a decision.
    Timeout,
    Denied,
    HeadlessDisabled,
    Locked,
    /// The WebAuthn assertion or second factor was refused.
    MfaFailed,
    /// A role requires per-session MFA: ask for a `session_mfa` challenge, answer it with a
    /// security key, and send the request again with the assertion.
    MfaRequired,
    RateLimited,
    TooManyPending,
    PayloadTooLarge,
    Internal,
}

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: ErrorBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Lowercase, no final period, says what to do when the caller can act.
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { error: ErrorBody { code, message: message.into() } }
    }
}
