//! JSON bodies of the administration API, which `hwactl` calls with the admin identity that
//! `hwad` writes into its data directory ([`AdminIdentity`]).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /v1/admin/users` | [`UserAdd`] | [`UserAdded`] |
//! | `GET /v1/admin/users` | | `Vec<`[`UserSummary`]`>` |
//! | `DELETE /v1/admin/users/{name}` | | |
//! | `GET /v1/admin/resources/{kind}[/{name}]` | | the resource as YAML (`text/yaml`) |
//! | `PUT /v1/admin/resources?force=true` | a resource as YAML | [`ResourceApplied`] |
//! | `GET /v1/admin/roles` | | every role as YAML documents |
//! | `GET /v1/admin/locks` | | `Vec<`[`LockView`]`>` |
//! | `POST /v1/admin/locks` | [`LockAdd`] | [`LockView`] |
//! | `DELETE /v1/admin/locks/{id}` | | |
//! | `GET /v1/admin/audit?limit=N` | | `Vec<`[`AuditEvent`]`>`, oldest first |
//!
//! Every call carries `Authorization: Bearer <admin token>`; errors are
//! [`crate::api::ApiError`] bodies, as on the public surface.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

/// Written by `hwad` to `<data-dir>/admin-identity.json` (mode 0600) at start, read by
/// `hwactl --data-dir`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminIdentity {
    /// Where the proxy listens, `host:port`.
    pub proxy_addr: String,
    /// Whether the proxy speaks plain HTTP (loopback development only).
    pub insecure_http: bool,
    /// PEM of the proxy's TLS certificate when it is self-signed, so `hwactl` can pin it.
    pub tls_cert_pem: Option<String>,
    pub token: String,
}

/// File name of [`AdminIdentity`] inside the data directory.
pub const ADMIN_IDENTITY_FILE: &str = "admin-identity.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAdd {
    pub user: String,
    /// SSH logins the user may use (the `{{internal.logins}}` trait of the reference).
    #[serde(default)]
    pub logins: Vec<String>,
    /// Roles; empty means the built-in `access` role.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAdded {
    pub user: String,
    pub invite_url: String,
    pub expires_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub user: String,
    pub roles: Vec<String>,
    pub logins: Vec<String>,
    pub credentials: usize,
    pub signed_up: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceApplied {
    pub kind: String,
    pub name: String,
    pub created: bool,
}

/// What a lock blocks: every certificate for a user, or every use of one credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum LockTarget {
    User {
        user: String,
    },
    /// Credential ID, base64url without padding, as `hwactl users ls` shows it.
    Credential {
        credential_id: String,
    },
}

/// serde cannot combine `deny_unknown_fields` with the flattened target, so this type accepts
/// unknown fields; the proxy parses the request body with a flat copy that refuses them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockAdd {
    #[serde(flatten)]
    pub target: LockTarget,
    #[serde(default)]
    pub message: String,
    /// Seconds until the lock lifts by itself; `None` keeps it until removed.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockView {
    pub id: String,
    #[serde(flatten)]
    pub target: LockTarget,
    pub message: String,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
}

/// Kinds of audit event (SPEC HL-25), named like the reference's event codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    HeadlessLoginRequested,
    HeadlessLoginApproved,
    HeadlessLoginApprovalFailed,
    HeadlessLoginRejected,
    CertificateIssued,
    UserCreated,
    UserDeleted,
    UserSignedUp,
    UserLogin,
    UserLoginFailed,
    ResourceApplied,
    LockCreated,
    LockDeleted,
    /// Reported by a node: a certificate was admitted and an SSH session began.
    SessionStart,
    /// Reported by a node: the SSH session ended.
    SessionEnd,
    /// Reported by a node: a login attempt was refused, with the reason.
    SessionRejected,
    /// Reported by a node: a channel of a session ran a command, a shell or a subsystem.
    SessionChannel,
}

/// One audit event. Secrets never appear here: no keys, certificates, tokens or assertions,
/// only fingerprints and IDs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub time: UnixMillis,
    pub kind: AuditKind,
    /// Server-assigned, increasing; orders events that share a millisecond.
    pub seq: u64,
    pub user: Option<String>,
    /// Free-form fields: `request_id`, `client_addr`, `approver_addr`, `credential_id`,
    /// `key_fingerprint`, `reason`, `principals`, `valid_before`, `server`.
    pub fields: BTreeMap<String, String>,
}
