//! What a node reports to the cluster's audit log: sessions starting and ending, the work of
//! each channel, and refused logins with their reason (which the client never sees).
//!
//! The node (`hwa_node`) emits these; `hwad --roles=node` sends them in batches to
//! `POST /v1/nodes/audit`, authenticated by the node token, and the auth service records them
//! as audit events. The auth service trusts the node's account of what happened on it, but
//! not its name: the node is the one its token names, whatever a body says.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::time::UnixMillis;

/// Most events one `POST /v1/nodes/audit` may carry.
pub const NODE_AUDIT_BATCH_MAX: usize = 256;

/// One thing that happened on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAuditEvent {
    /// The node's clock when it happened.
    pub time: UnixMillis,
    pub node: String,
    pub peer: SocketAddr,
    #[serde(flatten)]
    pub kind: NodeAuditKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NodeAuditKind {
    /// A certificate was admitted and an SSH session began.
    SessionStart { login: String, key_id: String, serial: u64, credential_id: Option<String> },
    /// The SSH session ended.
    SessionEnd { login: String, key_id: String, duration_ms: u64 },
    /// A login attempt was refused; `reason` is the node's refusal code.
    Rejected { login: String, key_id: Option<String>, reason: String },
    /// A channel started work: `exec` with the command, `shell`, or a subsystem.
    ChannelStart { login: String, key_id: String, request: String, detail: String },
}

/// The body of `POST /v1/nodes/audit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAuditBatch {
    pub events: Vec<NodeAuditEvent>,
}
