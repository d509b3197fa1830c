//! Cluster membership of SSH nodes: join tokens, joining, host certificates, heartbeats, and
//! the decision whether a certificate caller may reach a node as a login through the proxy.
//!
//! - A join token is 256 random bits, shown once, stored only as its SHA-256 under
//!   `join_tokens/<hash>` with its expiry, and taken by a compare-and-swap delete when a node
//!   joins: it works once.
//! - Joining signs the node's submitted host public key with the host CA (principal: the node's
//!   name), registers the node in the inventory, and hands the node a node token
//!   (`node_tokens/<hash>` → name) that authenticates its heartbeats and audit events.
//! - [`Membership::authorize_node_access`] is the proxy's check before it splices bytes to a
//!   node (SPEC HL-20, HL-21): the user's roles must allow the node's labels and the login,
//!   the certificate must name the login, a node-scoped certificate must name this node, and a
//!   role with `require_session_mfa` needs the MFA-verified extension (SPEC HL-19).
//!
//! This module sits beside [`crate::AuthService`] rather than inside it: it reads the same
//! store and loads the same certificate authorities (`ca/user`, `ca/host`).
//!
//! # Limitations
//! Host certificates are valid for [`HOST_CERT_TTL`] and not renewed by heartbeats; a node
//! running longer must join again. Node tokens do not expire; removing a node from the
//! inventory does not revoke its token (a complete system would bind the token to the node
//! record and delete both together).

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hwa_core::api::NodeView;
use hwa_core::{SharedClock, SharedEntropy, UnixMillis};
use hwa_store::{SharedStore, Store, Written};
use serde::{Deserialize, Serialize};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{Certificate, LineEnding, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::ca::{CaKind, CertAuthority};
use crate::cert_auth::{self, CertCaller};
use crate::certs::OPT_SOURCE_ADDRESS;
use crate::error::AuthError;
use crate::roles::{Permissions, Role};
use crate::{kv, locks, nodes, roles, tokens, users};

/// Default life of a join token: the reference's `tctl tokens add` default of 30 minutes.
pub const JOIN_TOKEN_TTL_DEFAULT: Duration = Duration::from_secs(30 * 60);
/// Longest life an administrator may give a join token: one day.
pub const JOIN_TOKEN_TTL_MAX: Duration = Duration::from_secs(24 * 3600);
/// Life of a host certificate: one year, as a long-lived host identity usually is.
pub const HOST_CERT_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Host certificates are back-dated this much so a node whose clock runs slightly behind the
/// auth server still sees them valid (host certificates are long-lived, unlike user ones).
const HOST_CERT_BACKDATE: Duration = Duration::from_secs(60);
/// Roles read when deciding whether a node must require per-session MFA.
const ROLES_MAX: usize = 10_000;

/// `POST /v1/admin/tokens` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenAdd {
    /// Only `node` is known.
    #[serde(rename = "type")]
    pub kind: String,
    /// Life in seconds; default [`JOIN_TOKEN_TTL_DEFAULT`].
    pub ttl_secs: Option<u64>,
}

/// A new join token, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenAdded {
    pub token: String,
    pub expires_at: UnixMillis,
}

/// `POST /v1/nodes/join` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeJoin {
    pub token: String,
    pub name: String,
    /// Where the proxy reaches the node's SSH server, `host:port`.
    pub addr: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The node's host public key, one OpenSSH line.
    pub host_public_key: String,
}

/// What a node receives when it joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeJoined {
    /// The host certificate for the submitted key, one OpenSSH line.
    pub host_certificate: String,
    pub user_ca: String,
    pub host_ca: String,
    /// Authenticates the node's heartbeats and audit events (`Authorization: Bearer`).
    pub node_token: String,
    /// Whether a role that can reach this node requires per-session MFA (SPEC HL-19).
    pub require_session_mfa: bool,
}

/// `POST /v1/nodes/heartbeat` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    pub addr: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/admin/hosts/sign` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSign {
    pub host: String,
}

/// A host key made and certified by the auth service, for an agentless node (a stock sshd).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSigned {
    /// The private key in OpenSSH PEM form.
    pub private_key: String,
    pub certificate: String,
}

#[derive(Serialize, Deserialize)]
struct JoinTokenRecord {
    kind: String,
    expires_at: UnixMillis,
}

#[derive(Serialize, Deserialize)]
struct NodeTokenRecord {
    name: String,
}

/// Why the proxy may not open a tunnel.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The caller is who they say but may not do this (HTTP 403).
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// Node membership over the auth service's store.
#[derive(Clone)]
pub struct Membership {
    store: SharedStore,
    clock: SharedClock,
    entropy: SharedEntropy,
    user_ca: std::sync::Arc<CertAuthority>,
    host_ca: std::sync::Arc<CertAuthority>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").finish_non_exhaustive()
    }
}

impl Membership {
    /// Loads the cluster's authorities from `store` (creating them on a fresh store).
    pub async fn open(
        store: SharedStore,
        clock: SharedClock,
        entropy: SharedEntropy,
        cluster_name: &str,
    ) -> Result<Membership, AuthError> {
        let user_ca =
            CertAuthority::load_or_create(&*store, &*entropy, CaKind::User, cluster_name).await?;
        let host_ca =
            CertAuthority::load_or_create(&*store, &*entropy, CaKind::Host, cluster_name).await?;
        Ok(Membership {
            store,
            clock,
            entropy,
            user_ca: std::sync::Arc::new(user_ca),
            host_ca: std::sync::Arc::new(host_ca),
        })
    }

    fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The public key of an authority, one OpenSSH line.
    pub fn ca_public(&self, kind: CaKind) -> String {
        match kind {
            CaKind::User => self.user_ca.public_line().to_string(),
            CaKind::Host => self.host_ca.public_line().to_string(),
        }
    }

    /// A fresh single-use join token.
    pub async fn add_join_token(&self, req: &JoinTokenAdd) -> Result<JoinTokenAdded, AuthError> {
        if req.kind != "node" {
            return Err(AuthError::BadRequest(format!(
                "unknown token type `{}`; the only type is `node`",
                users::shorten(&req.kind)
            )));
        }
        let ttl = req.ttl_secs.map_or(JOIN_TOKEN_TTL_DEFAULT, Duration::from_secs);
        if ttl.is_zero() || ttl > JOIN_TOKEN_TTL_MAX {
            return Err(AuthError::BadRequest("a join token lives 1 s to 24 h".into()));
        }
        let token = tokens::new_token(&*self.entropy);
        let expires_at = self.clock.now().plus(ttl);
        let record = JoinTokenRecord { kind: req.kind.clone(), expires_at };
        kv::put(self.store(), &join_key(&token), &record, Some(expires_at)).await?;
        tracing::info!(kind = %req.kind, "join token created");
        Ok(JoinTokenAdded { token, expires_at })
    }

    /// Takes the join token, certifies the node's host key and registers the node.
    pub async fn join(&self, req: &NodeJoin) -> Result<NodeJoined, AuthError> {
        let refused = || AuthError::CertAuth("the join token is not valid or was used".into());
        if !tokens::looks_like_token(&req.token) {
            return Err(refused());
        }
        let key = join_key(&req.token);
        let Some(stored) = kv::get::<JoinTokenRecord>(self.store(), &key).await? else {
            return Err(refused());
        };
        if stored.value.expires_at <= self.clock.now() {
            return Err(refused());
        }
        let node =
            NodeView { name: req.name.clone(), addr: req.addr.clone(), labels: req.labels.clone() };
        nodes::validate(&node)?;
        let host_key = PublicKey::from_openssh(&req.host_public_key)
            .map_err(|e| AuthError::InvalidPublicKey(format!("host public key: {e}")))?;
        // Taking the token is the commit point: two nodes racing with one token, one wins.
        match self.store().delete(&key, Some(stored.revision)).await? {
            Written::Done { .. } => {}
            Written::Conflict { .. } => return Err(refused()),
        }
        let host_certificate = self.sign_host(&req.name, &host_key)?;
        nodes::upsert(self.store(), &node).await?;
        let node_token = tokens::new_token(&*self.entropy);
        let record = NodeTokenRecord { name: req.name.clone() };
        kv::put(self.store(), &node_token_key(&node_token), &record, None).await?;
        let require_session_mfa = self.mfa_required_for(&node).await?;
        tracing::info!(node = %req.name, addr = %req.addr, "node joined");
        Ok(NodeJoined {
            host_certificate,
            user_ca: self.ca_public(CaKind::User),
            host_ca: self.ca_public(CaKind::Host),
            node_token,
            require_session_mfa,
        })
    }

    /// The node a node token belongs to.
    pub async fn authenticate_node(&self, node_token: &str) -> Result<String, AuthError> {
        let refused = || AuthError::CertAuth("the node token is not valid; join again".into());
        if !tokens::looks_like_token(node_token) {
            return Err(refused());
        }
        let record = kv::get::<NodeTokenRecord>(self.store(), &node_token_key(node_token))
            .await?
            .ok_or_else(refused)?;
        Ok(record.value.name)
    }

    /// Re-registers an authenticated node with its current address and labels.
    pub async fn heartbeat(&self, name: &str, beat: &NodeHeartbeat) -> Result<(), AuthError> {
        let node = NodeView {
            name: name.to_string(),
            addr: beat.addr.clone(),
            labels: beat.labels.clone(),
        };
        nodes::upsert(self.store(), &node).await
    }

    /// A fresh Ed25519 host key and its host certificate for `host`.
    pub fn make_host_identity(&self, host: &str) -> Result<HostSigned, AuthError> {
        let probe =
            NodeView { name: host.to_string(), addr: "x:1".into(), labels: Default::default() };
        nodes::validate(&probe)?;
        let seed = Zeroizing::new(hwa_core::entropy::array::<32>(&*self.entropy));
        let key = PrivateKey::new(KeypairData::from(Ed25519Keypair::from_seed(&seed)), host)
            .map_err(|e| AuthError::Internal(format!("host key: {e}")))?;
        let certificate = self.sign_host(host, key.public_key())?;
        let private_key = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| AuthError::Internal(format!("encoding a host key: {e}")))?
            .to_string();
        Ok(HostSigned { private_key, certificate })
    }

    fn sign_host(&self, host: &str, key: &PublicKey) -> Result<String, AuthError> {
        let now = self.clock.now();
        let valid_after = now.minus(HOST_CERT_BACKDATE).secs_floor();
        let valid_before = now.plus(HOST_CERT_TTL).secs_floor();
        let nonce = hwa_core::entropy::array::<32>(&*self.entropy);
        let serial = u64::from_le_bytes(hwa_core::entropy::array(&*self.entropy));
        let build = || -> Result<ssh_key::Certificate, ssh_key::Error> {
            let mut builder =
                Builder::new(nonce.to_vec(), key.key_data().clone(), valid_after, valid_before)?;
            builder.serial(serial)?;
            builder.cert_type(CertType::Host)?;
            builder.key_id(format!("host={host}"))?;
            builder.valid_principal(host.to_string())?;
            builder.sign(self.host_ca.private_key())
        };
        let cert = build().map_err(|e| AuthError::Internal(format!("signing a host cert: {e}")))?;
        cert.to_openssh().map_err(|e| AuthError::Internal(format!("encoding a host cert: {e}")))
    }

    async fn mfa_required_for(&self, node: &NodeView) -> Result<bool, AuthError> {
        let all = kv::range::<Role>(self.store(), "roles/", ROLES_MAX).await?;
        Ok(all.iter().any(|(_, role)| {
            let one = Permissions {
                node_labels: vec![role.spec.node_labels.clone()],
                ..Permissions::default()
            };
            role.spec.require_session_mfa && one.allows_node(&node.labels)
        }))
    }

    /// The proxy's check before tunnelling `peer` to `node_name` as `login`: returns the node
    /// to dial. `authorization` is the `HwaCert` header signed over `method` and `path`.
    pub async fn authorize_node_access(
        &self,
        authorization: &str,
        method: &str,
        path: &str,
        peer: IpAddr,
        node_name: &str,
        login: &str,
    ) -> Result<NodeView, JoinError> {
        let now = self.clock.now();
        let caller = cert_auth::verify(&self.user_ca, now, authorization, method, path)?;
        locks::check(self.store(), now, &caller.user, caller.credential_id.as_deref()).await?;
        let user = users::load_existing(self.store(), &caller.user).await?;
        let permissions = roles::permissions(self.store(), &user.value).await?;
        let node = kv::get::<NodeView>(self.store(), &format!("nodes/{node_name}"))
            .await?
            .map(|v| v.value);
        let denied = JoinError::AccessDenied;
        let Some(node) = node.filter(|n| permissions.allows_node(&n.labels)) else {
            // A node the user may not see is answered like one that does not exist.
            return Err(denied(format!(
                "node {node_name} is not one user {} may reach; run `hwa ls` to see the nodes",
                caller.user
            )));
        };
        let source = source_address_of(authorization);
        check_certificate_scope(&caller, source.as_deref(), &permissions, &node, login, peer)?;
        Ok(node)
    }
}

/// The checks on the certificate itself, given the user's permissions.
fn check_certificate_scope(
    caller: &CertCaller,
    source_address: Option<&str>,
    permissions: &Permissions,
    node: &NodeView,
    login: &str,
    peer: IpAddr,
) -> Result<(), JoinError> {
    if !permissions.logins.contains(login) {
        let permitted: Vec<&str> = permissions.logins.iter().map(String::as_str).collect();
        return Err(JoinError::AccessDenied(format!(
            "user {} may not log in as {login} on node {}: the user's roles permit logins \
             [{}]; ask an administrator to add {login} to a role's logins",
            caller.user,
            node.name,
            permitted.join(", ")
        )));
    }
    if !caller.principals.iter().any(|p| p == login) {
        return Err(JoinError::AccessDenied(format!(
            "the certificate does not name login {login}; run the command again with \
             --login {login}"
        )));
    }
    if !caller.nodes.is_empty() && !caller.nodes.iter().any(|n| n == &node.name) {
        return Err(JoinError::AccessDenied(format!(
            "the certificate was approved for node(s) {} only, not {}; run the command again \
             naming {}",
            caller.nodes.join(", "),
            node.name,
            node.name
        )));
    }
    if permissions.require_session_mfa && caller.credential_id.is_none() {
        return Err(JoinError::AccessDenied(format!(
            "a role of user {} requires per-session MFA and the certificate is not \
             MFA-verified; use --headless",
            caller.user
        )));
    }
    if let Some(allowed) = source_address
        && !source_permits(allowed, peer)
    {
        return Err(JoinError::AccessDenied(format!(
            "the certificate may be used only from {allowed}, not from {peer}"
        )));
    }
    Ok(())
}

/// Whether `peer` is in a `source-address` list of exact addresses (what this service issues).
fn source_permits(list: &str, peer: IpAddr) -> bool {
    list.split(',').any(|entry| entry.trim().parse::<IpAddr>().is_ok_and(|ip| ip == peer))
}

fn join_key(token: &str) -> String {
    format!("join_tokens/{}", tokens::token_hash(token))
}

fn node_token_key(token: &str) -> String {
    format!("node_tokens/{}", tokens::token_hash(token))
}

/// The `source-address` critical option of the certificate in an already verified `HwaCert`
/// header.
fn source_address_of(header: &str) -> Option<String> {
    let cert_b64 = header.split_once(' ')?.1.trim().split('.').next()?;
    let bytes = STANDARD.decode(cert_b64).ok()?;
    let cert = Certificate::from_bytes(&bytes).ok()?;
    cert.critical_options().get(OPT_SOURCE_ADDRESS).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn caller(nodes: &[&str], mfa: bool) -> CertCaller {
        CertCaller {
            user: "alice".into(),
            principals: vec!["alice".into()],
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            credential_id: mfa.then(|| "AAAA".into()),
        }
    }

    fn permissions(mfa: bool) -> Permissions {
        Permissions {
            logins: BTreeSet::from(["alice".to_string()]),
            node_labels: vec![BTreeMap::from([("*".to_string(), vec!["*".to_string()])])],
            require_session_mfa: mfa,
        }
    }

    fn node(name: &str) -> NodeView {
        NodeView { name: name.into(), addr: "127.0.0.1:22".into(), labels: BTreeMap::new() }
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn denial(result: Result<(), JoinError>) -> String {
        match result {
            Err(JoinError::AccessDenied(why)) => why,
            other => panic!("expected access denied, got {other:?}"),
        }
    }

    #[test]
    fn a_certificate_for_node1_is_refused_on_node2() {
        let c = caller(&["node1"], true);
        assert!(
            check_certificate_scope(&c, None, &permissions(true), &node("node1"), "alice", PEER)
                .is_ok()
        );
        let why = denial(check_certificate_scope(
            &c,
            None,
            &permissions(true),
            &node("node2"),
            "alice",
            PEER,
        ));
        assert!(why.contains("node(s) node1 only, not node2"), "{why}");
    }

    #[test]
    fn a_login_the_roles_do_not_permit_is_refused_naming_the_login_and_the_permitted_ones() {
        let c = caller(&[], true);
        let why = denial(check_certificate_scope(
            &c,
            None,
            &permissions(false),
            &node("n"),
            "root",
            PEER,
        ));
        assert!(why.contains("may not log in as root") && why.contains("[alice]"), "{why}");
    }

    #[test]
    fn a_role_with_session_mfa_refuses_a_certificate_without_the_mfa_extension() {
        let c = caller(&[], false);
        let why = denial(check_certificate_scope(
            &c,
            None,
            &permissions(true),
            &node("n"),
            "alice",
            PEER,
        ));
        assert!(why.contains("per-session MFA"), "{why}");
        assert!(
            check_certificate_scope(&c, None, &permissions(false), &node("n"), "alice", PEER)
                .is_ok()
        );
    }

    #[test]
    fn a_certificate_used_from_another_address_is_refused() {
        let c = caller(&[], true);
        let p = permissions(true);
        let why =
            denial(check_certificate_scope(&c, Some("192.0.2.7"), &p, &node("n"), "alice", PEER));
        assert!(why.contains("only from 192.0.2.7"), "{why}");
        assert!(
            check_certificate_scope(&c, Some("127.0.0.1"), &p, &node("n"), "alice", PEER).is_ok()
        );
    }
}
