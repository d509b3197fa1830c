//! What nodes report to the cluster's audit log: each event recorded under the user its
//! certificate's key ID names and the node the caller authenticated as, bounded in size.

mod common;

use common::*;
use hwa_core::UnixMillis;
use hwa_core::admin::AuditKind;
use hwa_core::api::ErrorCode;
use hwa_core::node_audit::{NODE_AUDIT_BATCH_MAX, NodeAuditBatch, NodeAuditEvent, NodeAuditKind};

fn event(node: &str, kind: NodeAuditKind) -> NodeAuditEvent {
    NodeAuditEvent {
        time: UnixMillis(5),
        node: node.into(),
        peer: "127.0.0.1:4000".parse().expect("an address"),
        kind,
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_is_recorded_for_its_user_on_the_authenticated_node() {
    let cluster = Cluster::new().await;
    let key_id = "user=alice headless_request=bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f".to_string();
    let batch = NodeAuditBatch {
        events: vec![
            // The body names another node; the authenticated name is the one recorded.
            event(
                "somewhere-else",
                NodeAuditKind::SessionStart {
                    login: "alice".into(),
                    key_id: key_id.clone(),
                    serial: 7,
                    credential_id: Some("Y3JlZA".into()),
                },
            ),
            event(
                "node1",
                NodeAuditKind::ChannelStart {
                    login: "alice".into(),
                    key_id: key_id.clone(),
                    request: "exec".into(),
                    detail: format!("echo {}", "x".repeat(2000)),
                },
            ),
            event(
                "node1",
                NodeAuditKind::SessionEnd { login: "alice".into(), key_id, duration_ms: 12 },
            ),
            event(
                "node1",
                NodeAuditKind::Rejected {
                    login: "root".into(),
                    key_id: None,
                    reason: "wrong_ca".into(),
                },
            ),
        ],
    };
    let recorded = cluster.auth.record_node_events("node1", &batch).await.expect("recorded");
    assert_eq!(recorded, 4);
    let log = cluster.auth.audit(100).await.expect("audit log");
    let kinds: Vec<AuditKind> = log.iter().map(|e| e.kind).collect();
    for kind in [
        AuditKind::SessionStart,
        AuditKind::SessionChannel,
        AuditKind::SessionEnd,
        AuditKind::SessionRejected,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {kinds:?}");
    }
    for e in &log {
        assert_eq!(e.fields.get("node").map(String::as_str), Some("node1"), "{e:?}");
    }
    let start = log.iter().find(|e| e.kind == AuditKind::SessionStart).expect("start");
    assert_eq!(start.user.as_deref(), Some("alice"));
    assert_eq!(start.fields.get("credential_id").map(String::as_str), Some("Y3JlZA"));
    let channel = log.iter().find(|e| e.kind == AuditKind::SessionChannel).expect("channel");
    let detail = channel.fields.get("detail").expect("the command");
    assert!(
        detail.len() < 600 && detail.ends_with("..."),
        "a long command is cut: {}",
        detail.len()
    );
    let rejected = log.iter().find(|e| e.kind == AuditKind::SessionRejected).expect("rejection");
    assert_eq!(rejected.user, None, "no certificate, no user");
    assert_eq!(rejected.fields.get("reason").map(String::as_str), Some("wrong_ca"));
}

#[tokio::test(start_paused = true)]
async fn an_oversized_report_is_refused_whole() {
    let cluster = Cluster::new().await;
    let one = event(
        "node1",
        NodeAuditKind::Rejected { login: "root".into(), key_id: None, reason: "wrong_ca".into() },
    );
    let batch = NodeAuditBatch { events: vec![one; NODE_AUDIT_BATCH_MAX + 1] };
    let err = cluster.auth.record_node_events("node1", &batch).await.expect_err("too many");
    assert_eq!(err.code(), ErrorCode::BadRequest, "{err}");
    let log = cluster.auth.audit(1000).await.expect("audit log");
    assert!(log.iter().all(|e| e.kind != AuditKind::SessionRejected), "nothing half-written");
}
