//! Audit events of a node and the seam they leave through.
//!
//! A node records when an SSH session starts and ends, what each channel ran, and every
//! refused login with the reason (which the client never sees). The event types are the wire
//! types of [`hwa_core::node_audit`]. The node does not decide where the events go: `hwad`
//! supplies an [`AuditSink`] that forwards them to the auth service's audit log; tests and
//! standalone nodes may use the bounded channel sink or [`TracingAuditSink`].

use std::sync::Arc;

pub use hwa_core::node_audit::{NodeAuditEvent as AuditEvent, NodeAuditKind as AuditKind};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// Receives a node's audit events. Must not block: a slow consumer drops events and says so
/// rather than stalling SSH sessions.
pub trait AuditSink: Send + Sync + std::fmt::Debug + 'static {
    fn record(&self, event: AuditEvent);
}

pub type SharedAuditSink = Arc<dyn AuditSink>;

/// Writes every event as an INFO line and nothing else.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    fn record(&self, event: AuditEvent) {
        let json = serde_json_line(&event);
        info!(target: "hwa_node::audit", node = %event.node, peer = %event.peer, "{json}");
    }
}

/// Hands events to a bounded queue, for a forwarder task to send on.
impl AuditSink for mpsc::Sender<AuditEvent> {
    fn record(&self, event: AuditEvent) {
        if let Err(e) = self.try_send(event) {
            warn!(target: "hwa_node::audit", error = %e, "audit queue full or closed; dropped");
        }
    }
}

fn serde_json_line(event: &AuditEvent) -> String {
    // Every field is a plain string or number, so encoding cannot fail; an empty line would
    // only hide the event's details, not the fact that it was logged.
    serde_json::to_string(event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwa_core::UnixMillis;

    #[test]
    fn events_serialise_flat_with_an_event_tag() {
        let event = AuditEvent {
            time: UnixMillis(1_000),
            node: "web-1".into(),
            peer: "127.0.0.1:5000".parse().unwrap(),
            kind: AuditKind::Rejected {
                login: "alice".into(),
                key_id: None,
                reason: "expired".into(),
            },
        };
        let json: serde_json::Value = serde_json::from_str(&serde_json_line(&event)).unwrap();
        assert_eq!(json["event"], "rejected");
        assert_eq!(json["reason"], "expired");
        assert_eq!(json["node"], "web-1");
        assert_eq!(json["time"], 1_000);
    }
}
