//! A headless login that lost its connection and is sent again (by the client, with the same
//! key, ID and body): the newer login supersedes a stale wait on the same server, resumes the
//! stored request as it is on any server, and after a decision gets the certificate or the
//! denial. The slot bounds count each request once throughout.

mod common;

use std::time::Duration;

use common::*;
use hwa_core::admin::AuditKind;
use hwa_core::api::{ErrorCode, HeadlessRequestView, RequestState};
use hwa_core::limits::PENDING_PER_USER_MAX;
use ssh_key::Certificate;

/// Lets the spawned logins run until they wait (time is paused, so this costs nothing).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The approver's view of the stored request, without the seconds left, which pass.
async fn stored(cluster: &Cluster, alice: &Person, key: &ClientKey) -> HeadlessRequestView {
    let view = cluster.auth.headless_view(&alice.session, &key.id).await;
    let mut view = view.expect("the approver sees the stored request");
    view.seconds_left = 0;
    view
}

async fn requested_events(cluster: &Cluster) -> usize {
    let audit = cluster.auth.audit(100).await.expect("the audit log is readable");
    audit.iter().filter(|e| e.kind == AuditKind::HeadlessLoginRequested).count()
}

#[tokio::test(start_paused = true)]
async fn the_superseded_login_ends_and_the_newer_one_gets_the_certificate() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let stale = cluster.login("alice", &key, Default::default());
    let before = stored(&cluster, &alice, &key).await;

    let resumed = cluster.login("alice", &key, Default::default());
    let err = stale.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(
        err.to_string(),
        format!(
            "a newer login for request {} took over this one; the command that sent it waits \
             for the decision",
            key.id
        )
    );
    settle().await;
    let after = stored(&cluster, &alice, &key).await;
    assert_eq!(after, before, "the resumed login must not change the stored request");

    assert_eq!(alice.approve(&cluster.auth, &key.id).await.unwrap(), RequestState::Approved);
    let issued = resumed.await.unwrap().unwrap();
    let cert = Certificate::from_openssh(&issued.ssh_certificate).unwrap();
    assert_eq!(cert.public_key(), key.private.public_key().key_data());
    assert_eq!(requested_events(&cluster).await, 1, "one request, audited once");
}

#[tokio::test(start_paused = true)]
async fn a_takeover_keeps_the_per_user_bound_exact() {
    let cluster = Cluster::new().await;
    let keys: Vec<_> = (1..=PENDING_PER_USER_MAX as u8).map(ClientKey::new).collect();
    let mut waiting: Vec<_> =
        keys.iter().map(|k| cluster.login("alice", k, Default::default())).collect();
    settle().await;
    // At the bound, the same request may still be taken over, any number of times.
    for _ in 0..3 {
        waiting.push(cluster.login("alice", &keys[0], Default::default()));
        settle().await;
    }
    let extra = ClientKey::new(200);
    let err = cluster.login("alice", &extra, Default::default()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooManyPending);
    // The superseded logins ended without freeing the slot their successor holds.
    let ended = waiting.iter().filter(|t| t.is_finished()).count();
    assert_eq!(ended, 3);
    // Ending the holder frees exactly one slot.
    waiting.pop().unwrap().abort();
    settle().await;
    let next = cluster.login("alice", &extra, Default::default());
    settle().await;
    assert!(!next.is_finished(), "the freed slot is usable");
    let err = cluster.login("alice", &ClientKey::new(201), Default::default());
    assert_eq!(err.await.unwrap().unwrap_err().code(), ErrorCode::TooManyPending);
    next.abort();
    for task in waiting {
        task.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn a_login_resuming_after_approval_gets_its_certificate() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let lost = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    // The server holding the login crashed: its wait is gone, the record lives on.
    lost.abort();
    alice.approve(&cluster.auth, &key.id).await.unwrap();

    let other = cluster.second_server().await;
    let issued = other.headless_login(key.request("alice", Default::default()), ip("203.0.113.7"));
    let issued = tokio::time::timeout(Duration::from_secs(1), issued).await.unwrap().unwrap();
    let cert = Certificate::from_openssh(&issued.ssh_certificate).unwrap();
    assert_eq!(cert.public_key(), key.private.public_key().key_data());
}

#[tokio::test(start_paused = true)]
async fn a_login_resuming_after_denial_gets_the_denial() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let lost = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    lost.abort();
    alice.deny(&cluster.auth, &key.id).await.unwrap();

    let resumed = cluster.login("alice", &key, Default::default());
    let err = tokio::time::timeout(Duration::from_secs(1), resumed).await.unwrap().unwrap();
    assert_eq!(err.unwrap_err().code(), ErrorCode::Denied);
}

#[tokio::test(start_paused = true)]
async fn a_login_resumed_on_another_server_waits_for_the_stored_request() {
    let cluster = Cluster::new().await;
    let other = cluster.second_server().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let lost = cluster.login("alice", &key, Default::default());
    let before = stored(&cluster, &alice, &key).await;
    lost.abort();

    let req = key.request("alice", Default::default());
    let resumed = tokio::spawn(async move { other.headless_login(req, ip("203.0.113.7")).await });
    settle().await;
    assert!(!resumed.is_finished());
    let after = stored(&cluster, &alice, &key).await;
    assert_eq!(after, before);
    alice.approve(&cluster.auth, &key.id).await.unwrap();
    assert_eq!(resumed.await.unwrap().unwrap().user, "alice");
    assert_eq!(requested_events(&cluster).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_login_keeps_the_original_lifetime() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let lost = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    lost.abort();
    tokio::time::sleep(Duration::from_secs(120)).await;

    let started = tokio::time::Instant::now();
    let resumed = cluster.login("alice", &key, Default::default());
    let err = resumed.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    let waited = started.elapsed();
    assert!(waited <= Duration::from_secs(61), "waited {waited:?}, past the request's expiry");
}

#[tokio::test(start_paused = true)]
async fn a_resumed_login_asking_for_another_scope_or_address_is_refused() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice", "root"]).await;
    let key = ClientKey::new(1);
    let lost = cluster.login("alice", &key, ssh_scope("alice", "node1"));
    let before = stored(&cluster, &alice, &key).await;
    lost.abort();

    let wider = key.request("alice", ssh_scope("root", "node1"));
    let err = cluster.auth.headless_login(wider, ip("203.0.113.7")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("must send the same request"), "{err}");
    let elsewhere = key.request("alice", ssh_scope("alice", "node1"));
    let err = cluster.auth.headless_login(elsewhere, ip("192.0.2.66")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);

    assert_eq!(stored(&cluster, &alice, &key).await, before);
    let same = cluster.login("alice", &key, ssh_scope("alice", "node1"));
    alice.approve(&cluster.auth, &key.id).await.unwrap();
    assert_eq!(same.await.unwrap().unwrap().principals, vec!["alice".to_string()]);
}
