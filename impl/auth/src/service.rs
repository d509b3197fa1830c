//! [`AuthService`]: the facade the proxy (HTTP) and `hwad` call. It owns the order of checks
//! of every operation (who may call, what is validated first, which audit event is written);
//! the concepts themselves live in their own modules (users, challenges, headless requests,
//! certificates, ...). It does no HTTP and knows nothing of status codes beyond
//! [`AuthError::code`].
//!
//! # Signature changes against the planning sketch
//! - `list_users` returns `Vec<UserSummary>`, `delete_user(&str)`, `resource_yaml(kind, name)`
//!   returns `Result<String, _>`, `apply_resource(yaml, force)` returns
//!   `Result<ResourceApplied, _>`, `list_locks()` `Result<Vec<LockView>, _>`,
//!   `add_lock(LockAdd)` `Result<LockView, _>`, `delete_lock(&str)`, `audit(limit)`
//!   `Result<Vec<AuditEvent>, _>` (the newest `limit` events, oldest first).
//! - [`Caller`] is an enum defined here: a web session, or a verified headless certificate.
//! - [`HeadlessEventStream`] is a concrete type implementing `futures::Stream`.
//! - `AuthConfig` has one more field, `password_hashing`, so that tests and the simulator can
//!   choose cheaper argon2id parameters; production uses [`PasswordHashing::Standard`].

use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hwa_core::admin::{
    AuditEvent, LockAdd, LockView, ResourceApplied, UserAdd, UserAdded, UserSummary,
};
use hwa_core::api::{
    AuthSettings, ChallengeScope, HeadlessDecisionRequest, HeadlessEvent, HeadlessLoginRequest,
    HeadlessLoginResponse, HeadlessRequestView, InviteView, NodeView, RequestState,
    SessionResponse,
};
use hwa_core::id::RequestId;
use hwa_core::{SharedClock, SharedEntropy};
use hwa_store::SharedStore;

use crate::error::AuthError;

/// What this auth service is: its name, its WebAuthn relying party and where people reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    pub cluster_name: String,
    /// The WebAuthn relying party ID, such as `localhost` or `example.com`.
    pub rp_id: String,
    /// Origins WebAuthn ceremonies may run at, such as `http://localhost:3080`.
    pub public_origins: Vec<String>,
    /// `host:port` people open invite and approval URLs at.
    pub public_addr: String,
    /// `http` (loopback development only) or `https`.
    pub url_scheme: String,
    pub password_hashing: PasswordHashing,
}

/// Cost of the argon2id password hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PasswordHashing {
    /// OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane).
    #[default]
    Standard,
    /// The smallest parameters argon2 allows: for tests and the simulator only, where the
    /// hash protects nothing and its cost would dominate the run time.
    Fast,
}

/// The seams the service takes its storage, time and randomness from.
#[derive(Clone, Debug)]
pub struct Seams {
    pub store: SharedStore,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
}

/// An authenticated web session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// The SHA-256 of the token, hex: identifies the session in logs without revealing it.
    pub id: String,
}

/// Who calls a certificate-or-session endpoint such as `GET /webapi/nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Session(Session),
    /// A verified headless certificate (see [`hwa_core::api::CERT_AUTH_SCHEME`]).
    Certificate {
        user: String,
        principals: Vec<String>,
        /// The nodes the approval named; empty means every node the user's roles allow.
        nodes: Vec<String>,
    },
}

impl Caller {
    pub fn user(&self) -> &str {
        match self {
            Caller::Session(session) => &session.user,
            Caller::Certificate { user, .. } => user,
        }
    }
}

/// The auth service. Cheap to clone: every clone shares one state.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    seams: Seams,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("cluster_name", &self.inner.config.cluster_name)
            .finish()
    }
}

/// New headless events for one user, as `hwa headless watch` and the SSE endpoint show them.
/// While the stream is alive the user counts as interested (SPEC HL-08), so logins for this
/// user write their pending record at once.
pub struct HeadlessEventStream {
    receiver: tokio::sync::mpsc::Receiver<HeadlessEvent>,
}

impl fmt::Debug for HeadlessEventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadlessEventStream").finish_non_exhaustive()
    }
}

impl futures::Stream for HeadlessEventStream {
    type Item = HeadlessEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HeadlessEvent>> {
        self.receiver.poll_recv(cx)
    }
}

impl AuthService {
    /// Opens the service on its storage: creates the CAs, the default
    /// `cluster_auth_preference` and the built-in role on first start. Returns the admin token
    /// only on the first start.
    pub async fn open(
        config: AuthConfig,
        seams: Seams,
    ) -> Result<(AuthService, Option<String>), AuthError> {
        let service = AuthService { inner: Arc::new(Inner { config, seams }) };
        let _ = &service.inner.seams;
        todo!()
    }

    /// Replaces the admin token; `hwad` calls it at every start to write a fresh identity.
    pub async fn rotate_admin_token(&self) -> Result<String, AuthError> {
        todo!()
    }

    pub async fn auth_settings(&self) -> Result<AuthSettings, AuthError> {
        todo!()
    }

    // ---- users, invites, signup, login, sessions ----

    pub async fn add_user(&self, req: UserAdd) -> Result<UserAdded, AuthError> {
        let _ = req;
        todo!()
    }

    pub async fn invite(&self, token: &str) -> Result<InviteView, AuthError> {
        let _ = token;
        todo!()
    }

    /// Checks the invite and the password rules, and starts the WebAuthn registration.
    pub async fn begin_registration(
        &self,
        token: &str,
        password: &str,
    ) -> Result<serde_json::Value, AuthError> {
        let _ = (token, password);
        todo!()
    }

    pub async fn finish_registration(
        &self,
        token: &str,
        response: &serde_json::Value,
    ) -> Result<SessionResponse, AuthError> {
        let _ = (token, response);
        todo!()
    }

    /// Password first; a wrong password and an unknown user cost the same and read the same.
    pub async fn begin_login(
        &self,
        user: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<serde_json::Value, AuthError> {
        let _ = (user, password, client);
        todo!()
    }

    pub async fn finish_login(
        &self,
        user: &str,
        response: &serde_json::Value,
        client: IpAddr,
    ) -> Result<SessionResponse, AuthError> {
        let _ = (user, response, client);
        todo!()
    }

    pub async fn authenticate_session(&self, token: &str) -> Result<Session, AuthError> {
        let _ = token;
        todo!()
    }

    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        let _ = token;
        todo!()
    }

    // ---- headless ----

    /// The whole long poll of `POST /webapi/headless/login`: returns the certificate after
    /// approval, or an error on denial, timeout (3 minutes), refusal.
    pub async fn headless_login(
        &self,
        req: HeadlessLoginRequest,
        client: IpAddr,
    ) -> Result<HeadlessLoginResponse, AuthError> {
        let _ = (req, client);
        todo!()
    }

    /// Shows interest in request `id` and waits up to `INTEREST_WAIT` for its login to fill
    /// in the details.
    pub async fn headless_view(
        &self,
        session: &Session,
        id: &RequestId,
    ) -> Result<HeadlessRequestView, AuthError> {
        let _ = (session, id);
        todo!()
    }

    /// A WebAuthn challenge (`PublicKeyCredentialRequestOptions` JSON) bound to `scope`.
    pub async fn mfa_challenge(
        &self,
        session: &Session,
        scope: &ChallengeScope,
    ) -> Result<serde_json::Value, AuthError> {
        let _ = (session, scope);
        todo!()
    }

    pub async fn headless_decide(
        &self,
        session: &Session,
        id: &RequestId,
        req: &HeadlessDecisionRequest,
        approver: IpAddr,
    ) -> Result<RequestState, AuthError> {
        let _ = (session, id, req, approver);
        todo!()
    }

    pub async fn headless_events(
        &self,
        session: &Session,
    ) -> Result<HeadlessEventStream, AuthError> {
        let _ = session;
        todo!()
    }

    // ---- nodes and certificate callers ----

    pub async fn upsert_node(&self, node: NodeView) -> Result<(), AuthError> {
        let _ = node;
        todo!()
    }

    /// Nodes the caller's roles (and, for a certificate, its approved scope) allow.
    pub async fn list_nodes(&self, caller: &Caller) -> Result<Vec<NodeView>, AuthError> {
        let _ = caller;
        todo!()
    }

    /// Verifies an `Authorization: HwaCert ...` header for `method` and `path`.
    pub async fn verify_cert_caller(
        &self,
        authorization_header: &str,
        method: &str,
        path: &str,
    ) -> Result<Caller, AuthError> {
        let _ = (authorization_header, method, path);
        todo!()
    }

    /// The user CA public key, one OpenSSH line (`ssh-ed25519 AAAA... <comment>`).
    pub fn user_ca_public(&self) -> String {
        todo!()
    }

    /// The host CA public key, one OpenSSH line.
    pub fn host_ca_public(&self) -> String {
        todo!()
    }

    // ---- administration ----

    pub async fn authenticate_admin(&self, token: &str) -> Result<(), AuthError> {
        let _ = token;
        todo!()
    }

    pub async fn list_users(&self) -> Result<Vec<UserSummary>, AuthError> {
        todo!()
    }

    pub async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        let _ = name;
        todo!()
    }

    /// `kind` is `cluster_auth_preference` or `role`; for roles, `None` gives every role.
    pub async fn resource_yaml(&self, kind: &str, name: Option<&str>) -> Result<String, AuthError> {
        let _ = (kind, name);
        todo!()
    }

    pub async fn apply_resource(
        &self,
        yaml: &str,
        force: bool,
    ) -> Result<ResourceApplied, AuthError> {
        let _ = (yaml, force);
        todo!()
    }

    pub async fn roles_yaml(&self) -> Result<String, AuthError> {
        todo!()
    }

    pub async fn list_locks(&self) -> Result<Vec<LockView>, AuthError> {
        todo!()
    }

    pub async fn add_lock(&self, req: LockAdd) -> Result<LockView, AuthError> {
        let _ = req;
        todo!()
    }

    pub async fn delete_lock(&self, id: &str) -> Result<(), AuthError> {
        let _ = id;
        todo!()
    }

    /// The newest `limit` audit events, oldest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEvent>, AuthError> {
        let _ = limit;
        todo!()
    }
}
