//! The checks between an approval and the certificate (SPEC HL-18), exercised by writing the
//! approved record straight into the shared store, as a buggy or compromised auth server
//! sharing it could; and the lifetime of a user's standing interest (HL-08).

mod common;

use std::time::Duration;

use common::*;
use hwa_core::admin::{LockAdd, LockTarget};
use hwa_core::api::ErrorCode;

/// Turns the pending record of `key` into an approved one, edited by `edit`.
async fn force_approve(cluster: &Cluster, key: &ClientKey, edit: impl Fn(&mut serde_json::Value)) {
    let store_key = format!("headless/alice/{}", key.id);
    let item = cluster.store.get(&store_key).await.expect("store read");
    let item = item.expect("the login wrote its pending record");
    let mut record: serde_json::Value = serde_json::from_slice(&item.value).expect("a JSON record");
    assert_eq!(record["state"], "pending");
    record["state"] = "approved".into();
    record["decision"] = serde_json::json!({
        "credential_id": "Y3JlZA",
        "approver_addr": "10.0.0.1",
        "decided_at": 0,
    });
    edit(&mut record);
    let bytes = serde_json::to_vec(&record).expect("JSON encoding");
    cluster
        .store
        .compare_and_swap(&store_key, item.revision, bytes, item.expires_at)
        .await
        .expect("store write");
}

#[tokio::test(start_paused = true)]
async fn an_approved_record_for_another_key_issues_nothing() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let swapped_in = ClientKey::new(2).public_line;
    force_approve(&cluster, &key, |r| r["login"]["ssh_pub_key"] = swapped_in.clone().into()).await;
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_lock_set_after_approval_blocks_issuance() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let lock = LockAdd {
        target: LockTarget::Credential { credential_id: "Y3JlZA".into() },
        message: "key reported lost".into(),
        ttl_secs: None,
    };
    cluster.auth.add_lock(lock).await.unwrap();
    force_approve(&cluster, &key, |_| {}).await;
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Locked);
    assert!(err.to_string().contains("credential Y3JlZA is locked: key reported lost"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn viewing_a_request_no_login_waits_for_says_so_and_leaves_nothing_behind() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let err = cluster.auth.headless_view(&alice.session, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().starts_with(&format!("no headless request {}", key.id)), "{err}");
    assert!(cluster.store.range("headless/", 10).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_closed_event_stream_stops_counting_as_interest() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let events = cluster.auth.headless_events(&alice.session).await.unwrap();
    assert_eq!(cluster.store.range("headless_watch/alice/", 10).await.unwrap().len(), 1);
    drop(events);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(cluster.store.range("headless_watch/", 10).await.unwrap().is_empty());
    let login = cluster.login("alice", &ClientKey::new(1), Default::default());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(cluster.store.range("headless/", 10).await.unwrap().is_empty());
    login.abort();
}
