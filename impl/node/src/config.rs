//! What a node is told at start: its name, where to listen, which user CAs it trusts, its own
//! host key and certificate, and the access policy it enforces.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;

use ssh_key::{Certificate, PrivateKey, PublicKey};

/// A node's configuration.
#[derive(Clone)]
pub struct NodeConfig {
    /// The node's name: what users type after `hwa ssh`, what host certificates name, and what
    /// the `hwa-nodes@headless-webauthn` extension lists (SPEC HL-21).
    pub name: String,
    pub listen: SocketAddr,
    pub labels: BTreeMap<String, String>,
    /// The cluster's user CA public keys; several during a CA rotation.
    pub user_ca_keys: Vec<PublicKey>,
    pub host_key: PrivateKey,
    /// A host certificate for `host_key` signed by the cluster's host CA, so that clients can
    /// verify the node without pinning its key.
    pub host_cert: Option<Certificate>,
    pub policy: AccessPolicy,
}

impl fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The host private key never reaches a log line.
        f.debug_struct("NodeConfig")
            .field("name", &self.name)
            .field("listen", &self.listen)
            .field("labels", &self.labels)
            .field("user_ca_keys", &self.user_ca_keys.len())
            .field("host_cert", &self.host_cert.as_ref().map(|c| c.key_id().to_string()))
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The access rules a node enforces beyond what the certificate itself grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Per-session MFA: only certificates carrying `hwa-mfa-verified@headless-webauthn` are
    /// admitted (SPEC HL-19).
    pub require_session_mfa: bool,
    /// When set, only these logins may be used on this node, whatever the certificate says
    /// (SPEC HL-20).
    pub allowed_logins: Option<BTreeSet<String>>,
}
