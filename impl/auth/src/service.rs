//! [`AuthService`]: the facade the proxy (HTTP) and `hwad` call. It owns the order of checks of
//! every operation (who may call, what is validated first, which audit event is written); the
//! concepts themselves live in their own modules (users, challenges, headless requests,
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
//!
//! # The headless login, step by step
//! 1. Refuse when headless is disabled (HL-22), the name is invalid, the ID is not derived from
//!    the key (HL-09) or the key does not parse.
//! 2. Take a waiter slot (bounded, one per ID; a newer login for the same ID takes it over and
//!    the older one ends as superseded) and watch the record key and the user's watcher
//!    records. Nothing is written (HL-08). A login resuming after a lost connection may find
//!    its record already stored: pending with the same details, it waits for that record
//!    unchanged; approved or denied, it goes on to step 5 or answers the denial.
//! 3. When interest appears (a stub from an approver, or a watcher), write `pending` by
//!    compare-and-swap and audit "requested".
//! 4. Wait, pushed by the watch (HL-11), for `approved` or `denied`; after `REQUEST_TTL`,
//!    remove the record and answer a timeout.
//! 5. On approval, re-check that the record's user and key are the request's (HL-18), check
//!    locks, and issue the one-minute certificate.
//!
//! # Limitations
//! - The "headless login requested" audit event is written when the request becomes visible
//!   (its pending record is written), not when the unauthenticated login arrives: writing it
//!   earlier would let a flood of logins fill the store, which HL-08 forbids. Logins nobody
//!   looked at are only traced (DEBUG).
//! - "Another user's request" (HL-12) is recognised from this server's waiter registry; when
//!   the login waits on another auth server, the approver gets the generic "not found for
//!   your user" message, which also says to log in as the user who started the command.
//! - Password hashing runs on the async task (tens of milliseconds with standard costs);
//!   login endpoints are rate limited by the proxy.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use hwa_core::admin::{
    AuditEvent, AuditKind, LockAdd, LockView, ResourceApplied, UserAdd, UserAdded, UserSummary,
};
use hwa_core::api::{
    AuthSettings, ChallengeScope, DecisionAction, HeadlessDecisionRequest, HeadlessLoginRequest,
    HeadlessLoginResponse, HeadlessRequestView, InviteView, NodeView, RequestScope, RequestState,
    SessionCertRequest, SessionCertResponse, SessionResponse,
};
use hwa_core::id::RequestId;
use hwa_core::limits::{CERT_TTL, INTEREST_WAIT, REQUEST_TTL};
use hwa_core::node_audit::{NODE_AUDIT_BATCH_MAX, NodeAuditBatch, NodeAuditEvent, NodeAuditKind};
use hwa_core::{SharedClock, SharedEntropy, UnixMillis};
use hwa_store::{Event, SharedStore, Store, Written};
use hwa_webauthn::{RelyingParty, RpConfig};

use crate::audit::{Auditor, field};
use crate::ca::{CaKind, CertAuthority};
use crate::certs::CertFor;
use crate::challenges::{self, ChallengeRecord, Purpose};
use crate::error::AuthError;
pub use crate::events::HeadlessEventStream;
use crate::headless::{
    self, Decision, HeadlessRecord, LoginDetails, RecordState, record_key, watcher_prefix,
};
use crate::kv::{self, Versioned};
use crate::preference::{AuthPreference, CAP_KEY};
use crate::resources::{self, KIND_CAP, KIND_ROLE};
use crate::roles::{self, ACCESS_ROLE, Role, role_key};
use crate::users::{self, UserRecord};
use crate::waiters::{WaiterGuard, Waiters};
use crate::{admin, cert_auth, certs, invites, locks, nodes, sessions};

/// Logins a user may hold.
pub const LOGINS_PER_USER_MAX: usize = 64;
/// Nodes and logins one headless request may name, and the longest command summary.
pub const SCOPE_ITEMS_MAX: usize = 16;
pub const COMMAND_SUMMARY_MAX: usize = 1024;

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
    store: SharedStore,
    clock: SharedClock,
    entropy: SharedEntropy,
    rp: RelyingParty,
    user_ca: CertAuthority,
    host_ca: CertAuthority,
    waiters: Arc<Waiters>,
    auditor: Auditor,
    /// A hash of a random password, verified against when the user does not exist so that an
    /// unknown user costs the same time as a wrong password.
    dummy_hash: String,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("cluster_name", &self.inner.config.cluster_name)
            .field("rp_id", &self.inner.config.rp_id)
            .finish_non_exhaustive()
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
        let Seams { store, clock, entropy } = seams;
        let rp = RelyingParty::new(RpConfig {
            rp_id: config.rp_id.clone(),
            rp_name: config.cluster_name.clone(),
            allowed_origins: config.public_origins.clone(),
        })
        .map_err(|e| AuthError::BadRequest(format!("invalid auth configuration: {e}")))?;
        let name = &config.cluster_name;
        let user_ca = CertAuthority::load_or_create(&*store, &*entropy, CaKind::User, name).await?;
        let host_ca = CertAuthority::load_or_create(&*store, &*entropy, CaKind::Host, name).await?;
        let cap = AuthPreference::default_for(&config.rp_id);
        kv::create(&*store, CAP_KEY, &cap, None).await?;
        kv::create(&*store, &role_key(ACCESS_ROLE), &Role::builtin_access(), None).await?;
        let admin_token = admin::create_if_absent(&*store, &*entropy).await?;
        let random_password = hwa_core::entropy::token_hex(&*entropy, 16);
        let dummy_hash =
            users::hash_password(&random_password, &*entropy, config.password_hashing)?;
        tracing::info!(cluster = %config.cluster_name, rp_id = %config.rp_id, "auth service open");
        let inner = Inner {
            config,
            store,
            clock,
            entropy,
            rp,
            user_ca,
            host_ca,
            waiters: Arc::new(Waiters::default()),
            auditor: Auditor::default(),
            dummy_hash,
        };
        Ok((AuthService { inner: Arc::new(inner) }, admin_token))
    }

    /// Replaces the admin token; `hwad` calls it at every start to write a fresh identity.
    pub async fn rotate_admin_token(&self) -> Result<String, AuthError> {
        admin::rotate(self.store(), &*self.inner.entropy).await
    }

    pub async fn auth_settings(&self) -> Result<AuthSettings, AuthError> {
        Ok(self.preference().await?.settings())
    }

    // ---- users, invites, signup, login, sessions ----

    pub async fn add_user(&self, req: UserAdd) -> Result<UserAdded, AuthError> {
        users::validate_user_name(&req.user)?;
        if req.logins.len() > LOGINS_PER_USER_MAX {
            return Err(AuthError::BadRequest(format!(
                "a user holds at most {LOGINS_PER_USER_MAX} logins"
            )));
        }
        for login in &req.logins {
            users::validate_login(login)?;
        }
        let roles = if req.roles.is_empty() { vec![ACCESS_ROLE.to_string()] } else { req.roles };
        for role in &roles {
            users::validate_user_name(role)
                .map_err(|_| AuthError::RoleNotFound(users::shorten(role)))?;
            if self.store().get(&role_key(role)).await?.is_none() {
                return Err(AuthError::RoleNotFound(role.clone()));
            }
        }
        let now = self.now();
        let record = UserRecord {
            name: req.user.clone(),
            handle: self.random_bytes(users::USER_HANDLE_BYTES),
            logins: req.logins,
            roles,
            password_hash: None,
            created_at: now,
            signed_up_at: None,
        };
        if kv::create(self.store(), &users::user_key(&req.user), &record, None).await?.is_none() {
            return Err(AuthError::UserExists(req.user));
        }
        let (token, expires_at) =
            invites::create(self.store(), &*self.inner.entropy, now, &req.user).await?;
        self.record_event(AuditKind::UserCreated, Some(&req.user), &[]).await?;
        let config = &self.inner.config;
        let invite_url =
            format!("{}://{}/web/invite/{token}", config.url_scheme, config.public_addr);
        Ok(UserAdded { user: req.user, invite_url, expires_at })
    }

    pub async fn invite(&self, token: &str) -> Result<InviteView, AuthError> {
        let (invite, _) = invites::lookup(self.store(), self.now(), token).await?;
        Ok(InviteView { user: invite.user, expires_at: invite.expires_at })
    }

    /// Checks the invite and the password rules, and starts the WebAuthn registration.
    pub async fn begin_registration(
        &self,
        token: &str,
        password: &str,
    ) -> Result<serde_json::Value, AuthError> {
        let now = self.now();
        let (invite, invite_hash) = invites::lookup(self.store(), now, token).await?;
        users::check_password_rules(password)?;
        let user = users::load_existing(self.store(), &invite.user).await?.value;
        let hash = users::hash_password(
            password,
            &*self.inner.entropy,
            self.inner.config.password_hashing,
        )?;
        let existing = users::credentials(self.store(), &user.name).await?;
        let (options, state) = self.inner.rp.start_registration(
            &user.webauthn_user(),
            &existing,
            &*self.inner.entropy,
            now,
        )?;
        let record = ChallengeRecord {
            purpose: Purpose::Registration { invite: invite_hash },
            state,
            password_hash: Some(hash),
        };
        challenges::put(self.store(), now, &user.name, &record).await?;
        Ok(options)
    }

    pub async fn finish_registration(
        &self,
        token: &str,
        response: &serde_json::Value,
    ) -> Result<SessionResponse, AuthError> {
        let now = self.now();
        let (invite, invite_hash) = invites::lookup(self.store(), now, token).await?;
        let purpose = Purpose::Registration { invite: invite_hash.clone() };
        let challenge =
            challenges::take(self.store(), now, &invite.user, response, &purpose).await?;
        let user = users::load_existing(self.store(), &invite.user).await?;
        let credential = self.inner.rp.finish_registration(&challenge.state, response, now)?;
        if credential.user_handle != user.value.handle {
            return Err(AuthError::Webauthn {
                check: "user_handle",
                message: "the new credential was made for another user".into(),
            });
        }
        let credential_key = users::credential_key(&user.value.name, &credential);
        if kv::create(self.store(), &credential_key, &credential, None).await?.is_none() {
            return Err(AuthError::BadRequest(
                "this security key is already registered; use another key".into(),
            ));
        }
        let mut updated = user.value.clone();
        updated.password_hash = challenge.password_hash;
        updated.signed_up_at = Some(now);
        let key = users::user_key(&updated.name);
        if kv::swap(self.store(), &key, user.revision, &updated, None).await?.is_none() {
            return Err(AuthError::BadRequest(format!(
                "user {} changed during signup; open the invite again",
                updated.name
            )));
        }
        invites::consume(self.store(), &invite_hash).await?;
        let credential_id = credential.id_b64();
        self.record_event(
            AuditKind::UserSignedUp,
            Some(&updated.name),
            &[(field::CREDENTIAL_ID, credential_id)],
        )
        .await?;
        sessions::create(self.store(), &*self.inner.entropy, now, &updated.name).await
    }

    /// Password first; a wrong password and an unknown user cost the same and read the same.
    pub async fn begin_login(
        &self,
        user: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<serde_json::Value, AuthError> {
        let record = match users::validate_user_name(user) {
            Ok(()) => users::load(self.store(), user).await?.map(|v| v.value),
            Err(_) => None,
        };
        let hash = record.as_ref().and_then(|r| r.password_hash.clone());
        let matches =
            users::verify_password(hash.as_deref().unwrap_or(&self.inner.dummy_hash), password);
        let Some(record) = record.filter(|_| matches && hash.is_some()) else {
            let shown = users::validate_user_name(user).is_ok().then_some(user);
            self.record_event(
                AuditKind::UserLoginFailed,
                shown,
                &[(field::CLIENT_ADDR, client.to_string()), (field::REASON, "password".into())],
            )
            .await?;
            return Err(AuthError::LoginFailed);
        };
        let now = self.now();
        locks::check(self.store(), now, &record.name, None).await?;
        let credentials = users::credentials(self.store(), &record.name).await?;
        if credentials.is_empty() {
            return Err(AuthError::NoCredentials(record.name));
        }
        let (options, state) = self.inner.rp.start_assertion(
            &record.webauthn_user(),
            &credentials,
            &*self.inner.entropy,
            now,
        )?;
        let challenge = ChallengeRecord { purpose: Purpose::Login, state, password_hash: None };
        challenges::put(self.store(), now, &record.name, &challenge).await?;
        Ok(options)
    }

    pub async fn finish_login(
        &self,
        user: &str,
        response: &serde_json::Value,
        client: IpAddr,
    ) -> Result<SessionResponse, AuthError> {
        users::validate_user_name(user).map_err(|_| AuthError::LoginFailed)?;
        let now = self.now();
        let result = self.verify_assertion(user, response, &Purpose::Login, now).await;
        let credential_id = match result {
            Ok(credential_id) => credential_id,
            Err(err) => {
                let reason = reason_of(&err);
                self.record_event(
                    AuditKind::UserLoginFailed,
                    Some(user),
                    &[(field::CLIENT_ADDR, client.to_string()), (field::REASON, reason)],
                )
                .await?;
                return Err(err);
            }
        };
        let fields =
            [(field::CLIENT_ADDR, client.to_string()), (field::CREDENTIAL_ID, credential_id)];
        self.record_event(AuditKind::UserLogin, Some(user), &fields).await?;
        sessions::create(self.store(), &*self.inner.entropy, now, user).await
    }

    pub async fn authenticate_session(&self, token: &str) -> Result<Session, AuthError> {
        let now = self.now();
        let session = sessions::authenticate(self.store(), now, token).await?;
        if users::load(self.store(), &session.user).await?.is_none() {
            return Err(AuthError::SessionInvalid);
        }
        locks::check(self.store(), now, &session.user, None).await?;
        Ok(session)
    }

    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        sessions::delete(self.store(), token).await
    }

    // ---- headless ----

    /// The whole long poll of `POST /webapi/headless/login`: returns the certificate after
    /// approval, or an error on denial, timeout (3 minutes), refusal.
    pub async fn headless_login(
        &self,
        req: HeadlessLoginRequest,
        client: IpAddr,
    ) -> Result<HeadlessLoginResponse, AuthError> {
        self.require_headless_allowed().await?;
        users::validate_user_name(&req.user)?;
        if !req.headless_id.matches_key(req.ssh_pub_key.as_bytes()) {
            return Err(AuthError::IdMismatch { id: req.headless_id });
        }
        let public_key = ssh_key::PublicKey::from_openssh(req.ssh_pub_key.trim())
            .map_err(|e| AuthError::InvalidPublicKey(e.to_string()))?;
        validate_scope(&req.scope)?;
        let slot = self.inner.waiters.register(&req.user, &req.headless_id)?;
        let now = self.now();
        let login = LoginDetails {
            ssh_pub_key: req.ssh_pub_key.clone(),
            client_addr: client.to_string(),
            key_fingerprint: public_key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            scope: req.scope.clone(),
        };
        let mut wait = LoginWait {
            service: self,
            user: &req.user,
            id: &req.headless_id,
            key: record_key(&req.user, &req.headless_id),
            login,
            expires_at: now.plus(REQUEST_TTL),
            deadline: tokio::time::Instant::now() + REQUEST_TTL,
            written: None,
            slot,
        };
        tracing::debug!(user = %req.user, request_id = %req.headless_id, "headless login waiting");
        let approved = wait.run().await?;
        self.issue(approved, &req, &public_key, client).await
    }

    /// Shows interest in request `id` and waits up to `INTEREST_WAIT` for its login to fill
    /// in the details.
    pub async fn headless_view(
        &self,
        session: &Session,
        id: &RequestId,
    ) -> Result<HeadlessRequestView, AuthError> {
        self.require_headless_allowed().await?;
        let key = record_key(&session.user, id);
        let mut watch = self.store().watch(&key).await?;
        let now = self.now();
        if headless::load(self.store(), &session.user, id).await?.is_none() {
            let stub = HeadlessRecord::stub(&session.user, id, now, now.plus(REQUEST_TTL));
            kv::create(self.store(), &key, &stub, Some(stub.store_expiry())).await?;
        }
        let deadline = tokio::time::Instant::now() + INTEREST_WAIT;
        loop {
            let event = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                event = watch.next() => event,
            };
            let Some(Event::Put(item)) = event else {
                if event.is_none() {
                    watch = self.store().watch(&key).await?;
                }
                continue;
            };
            if item.key != key {
                continue;
            }
            let record: HeadlessRecord = kv::decode(&key, &item.value)?;
            if let Some(view) = record.view(self.now()) {
                return Ok(view);
            }
        }
        if let Some(left) = headless::load(self.store(), &session.user, id).await? {
            if left.value.state == RecordState::Stub {
                self.store().delete(&key, Some(left.revision)).await?;
            } else if let Some(view) = left.value.view(self.now()) {
                return Ok(view);
            }
        }
        Err(self.not_found_for(session, id))
    }

    /// A WebAuthn challenge (`PublicKeyCredentialRequestOptions` JSON) bound to `scope`.
    pub async fn mfa_challenge(
        &self,
        session: &Session,
        scope: &ChallengeScope,
    ) -> Result<serde_json::Value, AuthError> {
        let now = self.now();
        if let ChallengeScope::Headless { headless_id } = scope {
            self.require_headless_allowed().await?;
            let record = self.pending_record(session, headless_id, now).await?;
            drop(record);
        }
        let user = users::load_existing(self.store(), &session.user).await?.value;
        let credentials = users::credentials(self.store(), &user.name).await?;
        if credentials.is_empty() {
            return Err(AuthError::NoCredentials(user.name));
        }
        let (options, state) = self.inner.rp.start_assertion(
            &user.webauthn_user(),
            &credentials,
            &*self.inner.entropy,
            now,
        )?;
        let record =
            ChallengeRecord { purpose: Purpose::from_scope(scope), state, password_hash: None };
        challenges::put(self.store(), now, &user.name, &record).await?;
        Ok(options)
    }

    /// Approves (with a WebAuthn assertion for this request) or denies a pending request.
    pub async fn headless_decide(
        &self,
        session: &Session,
        id: &RequestId,
        req: &HeadlessDecisionRequest,
        approver: IpAddr,
    ) -> Result<RequestState, AuthError> {
        self.require_headless_allowed().await?;
        let now = self.now();
        let record = match self.pending_record(session, id, now).await {
            Ok(record) => record,
            Err(err) => {
                if req.action == DecisionAction::Accept {
                    let fields = [
                        (field::REQUEST_ID, id.to_string()),
                        (field::APPROVER_ADDR, approver.to_string()),
                        (field::REASON, reason_of(&err)),
                    ];
                    let kind = AuditKind::HeadlessLoginApprovalFailed;
                    self.record_event(kind, Some(&session.user), &fields).await?;
                }
                return Err(err);
            }
        };
        let client_addr =
            record.value.login.as_ref().map(|l| l.client_addr.clone()).unwrap_or_default();
        if req.action == DecisionAction::Denied {
            let decision = Decision {
                credential_id: None,
                approver_addr: approver.to_string(),
                decided_at: now,
            };
            headless::decide(self.store(), &record, RecordState::Denied, decision).await?;
            let fields = [
                (field::REQUEST_ID, id.to_string()),
                (field::APPROVER_ADDR, approver.to_string()),
                (field::CLIENT_ADDR, client_addr),
            ];
            self.record_event(AuditKind::HeadlessLoginRejected, Some(&session.user), &fields)
                .await?;
            return Ok(RequestState::Denied);
        }
        match self.approve(session, id, req, &record, approver, now).await {
            Ok(credential_id) => {
                let fields = [
                    (field::REQUEST_ID, id.to_string()),
                    (field::APPROVER_ADDR, approver.to_string()),
                    (field::CLIENT_ADDR, client_addr),
                    (field::CREDENTIAL_ID, credential_id),
                ];
                self.record_event(AuditKind::HeadlessLoginApproved, Some(&session.user), &fields)
                    .await?;
                Ok(RequestState::Approved)
            }
            Err(err) => {
                let fields = [
                    (field::REQUEST_ID, id.to_string()),
                    (field::APPROVER_ADDR, approver.to_string()),
                    (field::REASON, reason_of(&err)),
                ];
                self.record_event(
                    AuditKind::HeadlessLoginApprovalFailed,
                    Some(&session.user),
                    &fields,
                )
                .await?;
                Err(err)
            }
        }
    }

    /// New and decided requests of the session's user, pushed as they happen. While the
    /// stream is alive the user counts as interested in every request (SPEC HL-08).
    pub async fn headless_events(
        &self,
        session: &Session,
    ) -> Result<HeadlessEventStream, AuthError> {
        self.require_headless_allowed().await?;
        crate::events::open(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.clock),
            Arc::clone(&self.inner.entropy),
            session.user.clone(),
        )
        .await
    }

    // ---- certificates for logged-in users ----

    /// A one-minute certificate for one SSH session of the session's user (`hwa ssh` without
    /// `--headless`): for `req.ssh_pub_key`, naming only the logins and nodes of `req.scope`,
    /// pinned to `client`.
    ///
    /// When a role of the user requires per-session MFA, `req.mfa_response` must answer a
    /// challenge of scope `session_mfa` (taken once, like every challenge); without it the
    /// answer is [`AuthError::SessionMfaRequired`]. A verified assertion makes the
    /// certificate MFA-verified for its one minute, naming the credential, whether or not a
    /// role asked for it.
    pub async fn session_certificate(
        &self,
        session: &Session,
        req: &SessionCertRequest,
        client: IpAddr,
    ) -> Result<SessionCertResponse, AuthError> {
        let now = self.now();
        let public_key = ssh_key::PublicKey::from_openssh(req.ssh_pub_key.trim())
            .map_err(|e| AuthError::InvalidPublicKey(e.to_string()))?;
        validate_scope(&req.scope)?;
        locks::check(self.store(), now, &session.user, None).await?;
        let user = users::load_existing(self.store(), &session.user).await?.value;
        let permissions = roles::permissions(self.store(), &user).await?;
        let principals = principals_for(&session.user, &permissions, &req.scope.logins)?;
        let credential_id = match &req.mfa_response {
            Some(mfa) => {
                if mfa.totp_code.is_some() {
                    return Err(AuthError::TotpRefused { to: "verify ssh sessions" });
                }
                let Some(response) = &mfa.webauthn_response else {
                    return Err(AuthError::SessionMfaRequired { user: session.user.clone() });
                };
                let purpose = Purpose::SessionMfa;
                Some(self.verify_assertion(&session.user, response, &purpose, now).await?)
            }
            None if permissions.require_session_mfa => {
                return Err(AuthError::SessionMfaRequired { user: session.user.clone() });
            }
            None => None,
        };
        let now = self.now();
        let cert_req = certs::CertRequest {
            user: &session.user,
            issued_for: CertFor::Session,
            public_key: &public_key,
            principals: &principals,
            nodes: &req.scope.nodes,
            client_ip: client,
            credential_id_b64: credential_id.as_deref(),
            not_after: now.plus(CERT_TTL),
        };
        let issued = certs::issue(&self.inner.user_ca, &*self.inner.entropy, now, &cert_req)?;
        let valid_before = UnixMillis(issued.valid_before_secs.saturating_mul(1000));
        let fingerprint = public_key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
        let fields = [
            (field::CLIENT_ADDR, client.to_string()),
            (field::CREDENTIAL_ID, credential_id.unwrap_or_else(|| "none".into())),
            (field::KEY_FINGERPRINT, fingerprint),
            (field::PRINCIPALS, principals.join(",")),
            (field::VALID_BEFORE, valid_before.0.to_string()),
            (field::COMMAND, req.scope.command.clone()),
        ];
        self.record_event(AuditKind::CertificateIssued, Some(&session.user), &fields).await?;
        Ok(SessionCertResponse {
            user: session.user.clone(),
            ssh_certificate: issued.openssh,
            principals,
            valid_before,
            host_ca: Some(self.host_ca_public()),
        })
    }

    // ---- nodes and certificate callers ----

    pub async fn upsert_node(&self, node: NodeView) -> Result<(), AuthError> {
        nodes::upsert(self.store(), &node).await
    }

    /// Records what node `node` (as its token names it, never as the body does) reports:
    /// sessions starting and ending, channel work and refused logins, each as an audit event
    /// of the user the certificate's key ID names. Returns how many were recorded.
    pub async fn record_node_events(
        &self,
        node: &str,
        batch: &NodeAuditBatch,
    ) -> Result<usize, AuthError> {
        if batch.events.len() > NODE_AUDIT_BATCH_MAX {
            return Err(AuthError::BadRequest(format!(
                "{} audit events in one report; send at most {NODE_AUDIT_BATCH_MAX} at a time",
                batch.events.len()
            )));
        }
        for event in &batch.events {
            let (kind, user, fields) = node_event_fields(node, event);
            self.record_event(kind, user.as_deref(), &fields).await?;
        }
        Ok(batch.events.len())
    }

    /// Nodes the caller's roles (and, for a certificate, its approved scope) allow.
    pub async fn list_nodes(&self, caller: &Caller) -> Result<Vec<NodeView>, AuthError> {
        let user =
            users::load(self.store(), caller.user()).await?.ok_or(AuthError::SessionInvalid)?;
        let permissions = roles::permissions(self.store(), &user.value).await?;
        let only = match caller {
            Caller::Session(_) => &[][..],
            Caller::Certificate { nodes, .. } => nodes.as_slice(),
        };
        nodes::list(self.store(), &permissions, only).await
    }

    /// Verifies an `Authorization: HwaCert ...` header for `method` and `path`.
    pub async fn verify_cert_caller(
        &self,
        authorization_header: &str,
        method: &str,
        path: &str,
    ) -> Result<Caller, AuthError> {
        let now = self.now();
        let caller =
            cert_auth::verify(&self.inner.user_ca, now, authorization_header, method, path)?;
        locks::check(self.store(), now, &caller.user, caller.credential_id.as_deref()).await?;
        Ok(Caller::Certificate {
            user: caller.user,
            principals: caller.principals,
            nodes: caller.nodes,
        })
    }

    /// The user CA public key, one OpenSSH line (`ssh-ed25519 AAAA... <comment>`).
    pub fn user_ca_public(&self) -> String {
        self.inner.user_ca.public_line().to_string()
    }

    /// The host CA public key, one OpenSSH line.
    pub fn host_ca_public(&self) -> String {
        self.inner.host_ca.public_line().to_string()
    }

    // ---- administration ----

    pub async fn authenticate_admin(&self, token: &str) -> Result<(), AuthError> {
        admin::authenticate(self.store(), token).await
    }

    pub async fn list_users(&self) -> Result<Vec<UserSummary>, AuthError> {
        let all = kv::range::<UserRecord>(self.store(), "users/", users::USERS_MAX).await?;
        let mut out = Vec::with_capacity(all.len());
        for (_, user) in all {
            let credentials = users::credentials(self.store(), &user.name).await?.len();
            out.push(UserSummary {
                signed_up: user.signed_up_at.is_some(),
                user: user.name,
                roles: user.roles,
                logins: user.logins,
                credentials,
            });
        }
        Ok(out)
    }

    pub async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        users::validate_user_name(name)?;
        let user = users::load_existing(self.store(), name).await?;
        match self.store().delete(&users::user_key(name), Some(user.revision)).await? {
            Written::Done { .. } => {}
            Written::Conflict { .. } => return Err(AuthError::UserNotFound(name.to_string())),
        }
        for credential in users::credentials(self.store(), name).await? {
            self.store().delete(&users::credential_key(name, &credential), None).await?;
        }
        sessions::delete_for_user(self.store(), name).await?;
        invites::delete_for_user(self.store(), name).await?;
        self.record_event(AuditKind::UserDeleted, Some(name), &[]).await
    }

    /// `kind` is `cluster_auth_preference` or `role`; for roles, `None` gives every role.
    pub async fn resource_yaml(&self, kind: &str, name: Option<&str>) -> Result<String, AuthError> {
        match kind {
            KIND_CAP => resources::to_yaml(&self.preference().await?),
            KIND_ROLE | "roles" => match name {
                None => self.roles_yaml().await,
                Some(name) => {
                    users::validate_user_name(name).map_err(|_| not_found(KIND_ROLE, name))?;
                    let role = kv::get::<Role>(self.store(), &role_key(name))
                        .await?
                        .ok_or_else(|| not_found(KIND_ROLE, name))?;
                    resources::to_yaml(&role.value)
                }
            },
            other => Err(AuthError::UnknownKind(users::shorten(other))),
        }
    }

    /// Validates and stores a resource. The preference is a singleton and is always replaced;
    /// an existing role is replaced only with `force`.
    pub async fn apply_resource(
        &self,
        yaml: &str,
        force: bool,
    ) -> Result<ResourceApplied, AuthError> {
        let kind = resources::kind_of(yaml)?;
        let (name, created) = match kind.as_str() {
            KIND_CAP => {
                let cap = AuthPreference::parse(yaml, &self.inner.config.rp_id)?;
                let existed = self.store().get(CAP_KEY).await?.is_some();
                kv::put(self.store(), CAP_KEY, &cap, None).await?;
                (cap.metadata.name, !existed)
            }
            KIND_ROLE => {
                let role = Role::parse(yaml)?;
                let key = role_key(&role.metadata.name);
                let existed = self.store().get(&key).await?.is_some();
                if existed && !force {
                    return Err(AuthError::ResourceExists {
                        kind: KIND_ROLE.into(),
                        name: role.metadata.name,
                    });
                }
                kv::put(self.store(), &key, &role, None).await?;
                (role.metadata.name, !existed)
            }
            other => return Err(AuthError::UnknownKind(users::shorten(other))),
        };
        let fields = [(field::KIND, kind.clone()), (field::NAME, name.clone())];
        self.record_event(AuditKind::ResourceApplied, None, &fields).await?;
        Ok(ResourceApplied { kind, name, created })
    }

    /// Every role as YAML documents separated by `---`.
    pub async fn roles_yaml(&self) -> Result<String, AuthError> {
        let all = kv::range::<Role>(self.store(), "roles/", roles::ROLES_MAX).await?;
        let docs: Result<Vec<String>, AuthError> =
            all.iter().map(|(_, role)| resources::to_yaml(role)).collect();
        Ok(docs?.join("---\n"))
    }

    pub async fn list_locks(&self) -> Result<Vec<LockView>, AuthError> {
        locks::list(self.store(), self.now()).await
    }

    pub async fn add_lock(&self, req: LockAdd) -> Result<LockView, AuthError> {
        let view = locks::add(self.store(), &*self.inner.entropy, self.now(), req).await?;
        self.record_event(AuditKind::LockCreated, None, &[(field::LOCK_ID, view.id.clone())])
            .await?;
        Ok(view)
    }

    pub async fn delete_lock(&self, id: &str) -> Result<(), AuthError> {
        locks::delete(self.store(), id).await?;
        self.record_event(AuditKind::LockDeleted, None, &[(field::LOCK_ID, id.to_string())]).await
    }

    /// The newest `limit` audit events, oldest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEvent>, AuthError> {
        crate::audit::newest(self.store(), limit).await
    }
}

// ---- helpers ----

impl AuthService {
    fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    fn now(&self) -> UnixMillis {
        self.inner.clock.now()
    }

    fn random_bytes(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        self.inner.entropy.fill(&mut out);
        out
    }

    /// Writes an audit event. The write runs as a task of its own, started before this
    /// returns to the runtime: a request whose caller goes away (a dropped connection cancels
    /// its handler) after its decision or record was written still leaves the event.
    async fn record_event(
        &self,
        kind: AuditKind,
        user: Option<&str>,
        fields: &[(&str, String)],
    ) -> Result<(), AuthError> {
        let service = self.clone();
        let user = user.map(str::to_owned);
        let fields: Vec<(String, String)> =
            fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let write = tokio::spawn(async move {
            let fields: Vec<(&str, String)> =
                fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let (store, entropy) = (service.store(), &*service.inner.entropy);
            let now = service.now();
            service.inner.auditor.emit(store, entropy, now, kind, user.as_deref(), &fields).await
        });
        write.await.map_err(|e| AuthError::Internal(format!("writing an audit event: {e}")))?
    }

    async fn preference(&self) -> Result<AuthPreference, AuthError> {
        Ok(match kv::get::<AuthPreference>(self.store(), CAP_KEY).await? {
            Some(cap) => cap.value,
            None => AuthPreference::default_for(&self.inner.config.rp_id),
        })
    }

    async fn require_headless_allowed(&self) -> Result<(), AuthError> {
        if self.preference().await?.headless_allowed() {
            Ok(())
        } else {
            Err(AuthError::HeadlessDisabled)
        }
    }

    /// The error for a request the session's user has no record of: another user's request
    /// when a login of another user waits for it here, else not found.
    fn not_found_for(&self, session: &Session, id: &RequestId) -> AuthError {
        match self.inner.waiters.user_of(id) {
            Some(owner) if owner != session.user => {
                AuthError::NotRequestOwner { id: id.clone(), user: session.user.clone() }
            }
            _ => AuthError::RequestNotFound { id: id.clone(), user: session.user.clone() },
        }
    }

    /// The session user's pending, unexpired record of `id`.
    async fn pending_record(
        &self,
        session: &Session,
        id: &RequestId,
        now: UnixMillis,
    ) -> Result<Versioned<HeadlessRecord>, AuthError> {
        let record = headless::load(self.store(), &session.user, id).await?;
        let Some(record) = record.filter(|r| r.value.state != RecordState::Stub) else {
            return Err(self.not_found_for(session, id));
        };
        if record.value.state != RecordState::Pending {
            return Err(record.value.not_pending());
        }
        if record.value.expires_at <= now {
            return Err(AuthError::RequestExpired { id: id.clone() });
        }
        Ok(record)
    }

    /// Takes the challenge, verifies the assertion and stores the updated credential; returns
    /// the credential ID (base64url).
    async fn verify_assertion(
        &self,
        user: &str,
        response: &serde_json::Value,
        purpose: &Purpose,
        now: UnixMillis,
    ) -> Result<String, AuthError> {
        let challenge = challenges::take(self.store(), now, user, response, purpose).await?;
        let record = users::load(self.store(), user).await?.ok_or(AuthError::LoginFailed)?.value;
        let credentials = users::credentials(self.store(), user).await?;
        let verified = self.inner.rp.finish_assertion(
            &challenge.state,
            response,
            &record.webauthn_user(),
            &credentials,
            now,
        )?;
        let credential_id = verified.updated.id_b64();
        locks::check(self.store(), now, user, Some(&credential_id)).await?;
        let key = users::credential_key(user, &verified.updated);
        kv::put(self.store(), &key, &verified.updated, None).await?;
        Ok(credential_id)
    }

    async fn approve(
        &self,
        session: &Session,
        id: &RequestId,
        req: &HeadlessDecisionRequest,
        record: &Versioned<HeadlessRecord>,
        approver: IpAddr,
        now: UnixMillis,
    ) -> Result<String, AuthError> {
        let mfa = req.mfa_response.clone().unwrap_or_default();
        if mfa.totp_code.is_some() {
            return Err(AuthError::TotpRefused { to: "approve headless requests" });
        }
        let Some(response) = mfa.webauthn_response else {
            return Err(AuthError::AssertionRequired { id: id.clone() });
        };
        locks::check(self.store(), now, &session.user, None).await?;
        let purpose = Purpose::Headless { headless_id: id.clone() };
        let credential_id = self.verify_assertion(&session.user, &response, &purpose, now).await?;
        let decided_at = self.now();
        if record.value.expires_at <= decided_at {
            return Err(AuthError::RequestExpired { id: id.clone() });
        }
        let decision = Decision {
            credential_id: Some(credential_id.clone()),
            approver_addr: approver.to_string(),
            decided_at,
        };
        headless::decide(self.store(), record, RecordState::Approved, decision).await?;
        Ok(credential_id)
    }

    /// Issues the certificate for an approved record (SPEC HL-17, HL-18, HL-21).
    async fn issue(
        &self,
        record: HeadlessRecord,
        req: &HeadlessLoginRequest,
        public_key: &ssh_key::PublicKey,
        client: IpAddr,
    ) -> Result<HeadlessLoginResponse, AuthError> {
        let same_key = record.login.as_ref().is_some_and(|l| l.ssh_pub_key == req.ssh_pub_key);
        if record.user != req.user || record.id != req.headless_id || !same_key {
            tracing::warn!(request_id = %req.headless_id, "approved record differs from the login");
            return Err(AuthError::Internal(format!(
                "the approved record of request {} does not match the waiting login",
                req.headless_id
            )));
        }
        let credential_id = record
            .decision
            .as_ref()
            .and_then(|d| d.credential_id.clone())
            .ok_or_else(|| AuthError::Internal("an approval without a credential".into()))?;
        let now = self.now();
        locks::check(self.store(), now, &req.user, Some(&credential_id)).await?;
        let user = users::load_existing(self.store(), &req.user).await?.value;
        let permissions = roles::permissions(self.store(), &user).await?;
        let principals = principals_for(&req.user, &permissions, &req.scope.logins)?;
        let cert_req = certs::CertRequest {
            user: &req.user,
            issued_for: CertFor::Headless(&req.headless_id),
            public_key,
            principals: &principals,
            nodes: &req.scope.nodes,
            client_ip: client,
            credential_id_b64: Some(&credential_id),
            not_after: record.expires_at,
        };
        let issued = certs::issue(&self.inner.user_ca, &*self.inner.entropy, now, &cert_req)?;
        let valid_before = UnixMillis(issued.valid_before_secs.saturating_mul(1000));
        let fingerprint = public_key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
        let fields = [
            (field::REQUEST_ID, req.headless_id.to_string()),
            (field::CLIENT_ADDR, client.to_string()),
            (field::CREDENTIAL_ID, credential_id),
            (field::KEY_FINGERPRINT, fingerprint),
            (field::PRINCIPALS, principals.join(",")),
            (field::VALID_BEFORE, valid_before.0.to_string()),
        ];
        self.record_event(AuditKind::CertificateIssued, Some(&req.user), &fields).await?;
        Ok(HeadlessLoginResponse {
            user: req.user.clone(),
            ssh_certificate: issued.openssh,
            principals,
            valid_before,
            host_ca: Some(self.host_ca_public()),
        })
    }
}

/// One waiting headless login: steps 2 to 4 of the module doc.
struct LoginWait<'a> {
    service: &'a AuthService,
    user: &'a str,
    id: &'a RequestId,
    key: String,
    login: LoginDetails,
    expires_at: UnixMillis,
    /// When this login stops waiting: `REQUEST_TTL` after it arrived, or the expiry of the
    /// stored request it resumed.
    deadline: tokio::time::Instant,
    /// The revision of the pending record this login wrote or resumed, once it did.
    written: Option<u64>,
    slot: WaiterGuard,
}

impl LoginWait<'_> {
    fn store(&self) -> &dyn Store {
        self.service.store()
    }

    /// Waits for the decision; returns the approved record.
    async fn run(&mut self) -> Result<HeadlessRecord, AuthError> {
        let mut record_watch = self.store().watch(&self.key).await?;
        let watchers = watcher_prefix(self.user);
        let mut interest_watch = self.store().watch(&watchers).await?;
        // A login resuming after a lost connection may find its request already stored (and
        // even decided); the watches set up above only report what changes from now on.
        if let Some(existing) = headless::load(self.store(), self.user, self.id).await?
            && let Some(done) = self.on_record(existing.value, existing.revision).await?
        {
            return Ok(done);
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(self.deadline) => return self.time_out().await,
                _ = self.slot.superseded() => {
                    tracing::debug!(request_id = %self.id, "headless login superseded");
                    return Err(AuthError::Superseded { id: self.id.clone() });
                }
                event = record_watch.next() => match event {
                    None => record_watch = self.store().watch(&self.key).await?,
                    Some(event) => {
                        if let Some(done) = self.on_record_event(event).await? {
                            return Ok(done);
                        }
                    }
                },
                event = interest_watch.next() => match event {
                    None => interest_watch = self.store().watch(&watchers).await?,
                    Some(Event::Put(_)) if self.written.is_none() => self.create_pending().await?,
                    Some(_) => {}
                },
            }
        }
    }

    async fn on_record_event(&mut self, event: Event) -> Result<Option<HeadlessRecord>, AuthError> {
        let item = match event {
            Event::Put(item) if item.key == self.key => item,
            Event::Delete { key, .. } if key == self.key && self.written.is_some() => {
                return Err(AuthError::Timeout {
                    id: self.id.clone(),
                    secs: REQUEST_TTL.as_secs(),
                });
            }
            _ => return Ok(None),
        };
        let record: HeadlessRecord = kv::decode(&self.key, &item.value)?;
        self.on_record(record, item.revision).await
    }

    /// Acts on the stored record of this request; returns it once approved.
    async fn on_record(
        &mut self,
        record: HeadlessRecord,
        revision: u64,
    ) -> Result<Option<HeadlessRecord>, AuthError> {
        match record.state {
            RecordState::Stub => {
                self.fill_stub(record, revision).await?;
                Ok(None)
            }
            RecordState::Pending if self.written.is_none() => {
                self.resume(&record, revision)?;
                Ok(None)
            }
            RecordState::Pending => Ok(None),
            RecordState::Approved => Ok(Some(record)),
            RecordState::Denied => Err(AuthError::Denied { id: self.id.clone() }),
        }
    }

    fn pending(&self, created_at: UnixMillis) -> HeadlessRecord {
        HeadlessRecord {
            id: self.id.clone(),
            user: self.user.to_string(),
            state: RecordState::Pending,
            created_at,
            expires_at: self.expires_at,
            login: Some(self.login.clone()),
            decision: None,
        }
    }

    /// The request is already pending, written by an earlier login of this client (before its
    /// connection was lost) or by a login of it on another server: wait for that record as it
    /// is. Its details stay as first written, the approver saw those; a login asking for
    /// anything else is refused.
    fn resume(&mut self, record: &HeadlessRecord, revision: u64) -> Result<(), AuthError> {
        if record.login.as_ref() != Some(&self.login) {
            return Err(AuthError::ResumedLoginDiffers { id: self.id.clone() });
        }
        let left = self.service.now().until(record.expires_at);
        self.deadline = self.deadline.min(tokio::time::Instant::now() + left);
        self.expires_at = record.expires_at;
        self.written = Some(revision);
        tracing::debug!(user = %self.user, request_id = %self.id, "headless login resumed");
        Ok(())
    }

    /// The user's watcher counts as interest: write the pending record directly.
    async fn create_pending(&mut self) -> Result<(), AuthError> {
        let record = self.pending(self.service.now());
        if let Some(revision) =
            kv::create(self.store(), &self.key, &record, Some(record.store_expiry())).await?
        {
            self.written = Some(revision);
            self.audit_requested().await?;
        }
        Ok(())
    }

    /// An approver showed interest: fill the stub in by compare-and-swap.
    async fn fill_stub(&mut self, stub: HeadlessRecord, revision: u64) -> Result<(), AuthError> {
        let record = self.pending(stub.created_at);
        let swapped =
            kv::swap(self.store(), &self.key, revision, &record, Some(record.store_expiry()))
                .await?;
        if let Some(revision) = swapped {
            self.written = Some(revision);
            self.audit_requested().await?;
        }
        Ok(())
    }

    async fn audit_requested(&self) -> Result<(), AuthError> {
        tracing::debug!(user = %self.user, request_id = %self.id, "headless request pending");
        let fields = [
            (field::REQUEST_ID, self.id.to_string()),
            (field::CLIENT_ADDR, self.login.client_addr.clone()),
            (field::KEY_FINGERPRINT, self.login.key_fingerprint.clone()),
            (field::COMMAND, self.login.scope.command.clone()),
        ];
        self.service.record_event(AuditKind::HeadlessLoginRequested, Some(self.user), &fields).await
    }

    /// No decision in time: remove the record (unless a decision just landed) and say so.
    async fn time_out(&self) -> Result<HeadlessRecord, AuthError> {
        if let Some(record) = headless::load(self.store(), self.user, self.id).await? {
            match record.value.state {
                RecordState::Approved => return Ok(record.value),
                RecordState::Denied => return Err(AuthError::Denied { id: self.id.clone() }),
                RecordState::Stub | RecordState::Pending => {
                    self.store().delete(&self.key, Some(record.revision)).await?;
                }
            }
        }
        tracing::info!(user = %self.user, request_id = %self.id, "headless login timed out");
        Err(AuthError::Timeout { id: self.id.clone(), secs: REQUEST_TTL.as_secs() })
    }
}

/// Longest text of a node's report kept in an audit field; a command line longer than this is
/// cut (marked with `...`), so one report cannot fill the audit log.
const NODE_FIELD_MAX: usize = 512;

/// A node's event as an audit event: its kind, the user its key ID names, and its fields.
fn node_event_fields(
    node: &str,
    event: &NodeAuditEvent,
) -> (AuditKind, Option<String>, Vec<(&'static str, String)>) {
    let bounded = |text: &str| {
        if text.len() <= NODE_FIELD_MAX {
            return text.to_owned();
        }
        let mut end = NODE_FIELD_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &text[..end])
    };
    let mut fields = vec![
        (field::NODE, node.to_owned()),
        (field::NODE_TIME, event.time.0.to_string()),
        (field::PEER, event.peer.to_string()),
    ];
    let user_of = |key_id: &str| certs::user_of_key_id(key_id).map(str::to_owned);
    let (kind, user) = match &event.kind {
        NodeAuditKind::SessionStart { login, key_id, serial, credential_id } => {
            fields.push((field::LOGIN, bounded(login)));
            fields.push((field::KEY_ID, bounded(key_id)));
            fields.push((field::SERIAL, serial.to_string()));
            if let Some(credential) = credential_id {
                fields.push((field::CREDENTIAL_ID, bounded(credential)));
            }
            (AuditKind::SessionStart, user_of(key_id))
        }
        NodeAuditKind::SessionEnd { login, key_id, duration_ms } => {
            fields.push((field::LOGIN, bounded(login)));
            fields.push((field::KEY_ID, bounded(key_id)));
            fields.push((field::DURATION_MS, duration_ms.to_string()));
            (AuditKind::SessionEnd, user_of(key_id))
        }
        NodeAuditKind::Rejected { login, key_id, reason } => {
            fields.push((field::LOGIN, bounded(login)));
            if let Some(key_id) = key_id {
                fields.push((field::KEY_ID, bounded(key_id)));
            }
            fields.push((field::REASON, bounded(reason)));
            (AuditKind::SessionRejected, key_id.as_deref().and_then(user_of))
        }
        NodeAuditKind::ChannelStart { login, key_id, request, detail } => {
            fields.push((field::LOGIN, bounded(login)));
            fields.push((field::KEY_ID, bounded(key_id)));
            fields.push((field::REQUEST, bounded(request)));
            if !detail.is_empty() {
                fields.push((field::DETAIL, bounded(detail)));
            }
            (AuditKind::SessionChannel, user_of(key_id))
        }
    };
    (kind, user, fields)
}

/// The principals of a certificate: the requested logins the user's roles permit, or every
/// permitted login when none is requested (`ls`). None at all is refused, naming the logins.
fn principals_for(
    user: &str,
    permissions: &roles::Permissions,
    asked: &[String],
) -> Result<Vec<String>, AuthError> {
    let principals: Vec<String> = if asked.is_empty() {
        permissions.logins.iter().cloned().collect()
    } else {
        asked.iter().filter(|l| permissions.logins.contains(*l)).cloned().collect()
    };
    if principals.is_empty() {
        return Err(AuthError::LoginsNotPermitted {
            user: user.to_owned(),
            asked: asked.join(", "),
            permitted: permissions.logins.iter().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(principals)
}

fn validate_scope(scope: &RequestScope) -> Result<(), AuthError> {
    if scope.logins.len() > SCOPE_ITEMS_MAX || scope.nodes.len() > SCOPE_ITEMS_MAX {
        return Err(AuthError::BadRequest(format!(
            "a headless request names at most {SCOPE_ITEMS_MAX} logins and {SCOPE_ITEMS_MAX} nodes"
        )));
    }
    if scope.command.chars().count() > COMMAND_SUMMARY_MAX {
        return Err(AuthError::BadRequest(format!(
            "the command summary is longer than {COMMAND_SUMMARY_MAX} characters; shorten it"
        )));
    }
    for login in &scope.logins {
        users::validate_login(login)?;
    }
    for node in &scope.nodes {
        let view = NodeView { name: node.clone(), addr: "x:0".into(), labels: Default::default() };
        nodes::validate(&view)?;
    }
    Ok(())
}

/// The reason an approval or login failed, for the audit log: the WebAuthn check name, or a
/// short word for the service's own refusals. Never the message, which may quote input.
fn reason_of(err: &AuthError) -> String {
    match err {
        AuthError::Webauthn { check, .. } => (*check).to_string(),
        AuthError::TotpRefused { .. } => "totp_refused".into(),
        AuthError::AssertionRequired { .. } => "assertion_missing".into(),
        AuthError::ChallengeInvalid => "challenge_unknown_or_used".into(),
        AuthError::ChallengeScope { .. } => "challenge_scope".into(),
        AuthError::Locked { .. } => "locked".into(),
        AuthError::RequestExpired { .. } => "expired".into(),
        AuthError::AlreadyDecided { .. } => "already_decided".into(),
        AuthError::LoginFailed => "login_failed".into(),
        AuthError::NotRequestOwner { .. } => "not_request_owner".into(),
        AuthError::RequestNotFound { .. } => "request_not_found".into(),
        other => format!("{:?}", other.code()).to_lowercase(),
    }
}

fn not_found(kind: &str, name: &str) -> AuthError {
    AuthError::ResourceNotFound { kind: kind.to_string(), name: users::shorten(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn the_service_can_be_shared_between_http_handlers() {
        assert_shareable::<AuthService>();
        fn assert_stream<T: Send + Unpin + futures::Stream>() {}
        assert_stream::<HeadlessEventStream>();
    }

    #[test]
    fn audit_reasons_are_check_names_not_messages() {
        let err = AuthError::Webauthn { check: "signature", message: "x".into() };
        assert_eq!(reason_of(&err), "signature");
        assert_eq!(reason_of(&AuthError::TotpRefused { to: "x" }), "totp_refused");
    }
}
