//! The story of SPEC section 1, end to end on one simulated cluster: signup through an invite,
//! a waiting headless login, the approver's view and challenge, approval, the certificate.

mod common;

use common::*;
use hwa_core::admin::AuditKind;
use hwa_core::api::{HeadlessEvent, RequestState};
use hwa_core::id::match_code;
use ssh_key::Certificate;

#[tokio::test(start_paused = true)]
async fn an_approved_request_gets_a_one_minute_certificate_for_its_key_and_scope() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice", "root"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, ssh_scope("root", "node1"));

    let view = cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    assert_eq!(view.user, "alice");
    assert_eq!(view.state, RequestState::Pending);
    assert_eq!(view.client_addr, "203.0.113.7");
    assert_eq!(view.scope.nodes, vec!["node1".to_string()]);
    assert_eq!(view.match_code, match_code(key.public_line.as_bytes()));
    assert!(view.key_fingerprint.starts_with("SHA256:"));

    assert_eq!(alice.approve(&cluster.auth, &key.id).await.unwrap(), RequestState::Approved);
    let issued = login.await.unwrap().unwrap();

    let cert = Certificate::from_openssh(&issued.ssh_certificate).unwrap();
    assert_eq!(cert.valid_before() - cert.valid_after(), 60);
    assert_eq!(cert.valid_principals(), ["root".to_string()]);
    assert_eq!(issued.principals, vec!["root".to_string()]);
    assert_eq!(cert.public_key(), key.private.public_key().key_data());
    assert_eq!(cert.critical_options().get("source-address").unwrap(), "203.0.113.7");
    assert_eq!(cert.extensions().get("hwa-nodes@headless-webauthn").unwrap(), "node1");
    let credential = cert.extensions().get("hwa-mfa-verified@headless-webauthn").unwrap();
    assert!(!credential.is_empty());
    let ca = ssh_key::PublicKey::from_openssh(&cluster.auth.user_ca_public()).unwrap();
    let now_secs = cert.valid_after();
    cert.validate_at(now_secs, [&ca.fingerprint(Default::default())]).unwrap();
    assert!(cert.key_id().contains("alice") && cert.key_id().contains(&key.id.to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_request_without_logins_gets_every_permitted_login() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice", "deploy"]).await;
    let key = ClientKey::new(2);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    alice.approve(&cluster.auth, &key.id).await.unwrap();
    let issued = login.await.unwrap().unwrap();
    assert_eq!(issued.principals, vec!["alice".to_string(), "deploy".to_string()]);
    let cert = Certificate::from_openssh(&issued.ssh_certificate).unwrap();
    assert!(cert.extensions().get("hwa-nodes@headless-webauthn").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_decision_on_another_auth_server_reaches_the_waiting_login() {
    // SPEC HL-11: the login waits on server 1; view and approval happen on server 2.
    let cluster = Cluster::new().await;
    let other = cluster.second_server().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(3);
    let login = cluster.login("alice", &key, Default::default());
    other.headless_view(&alice.session, &key.id).await.unwrap();
    alice.approve(&other, &key.id).await.unwrap();
    let issued = login.await.unwrap().unwrap();
    assert_eq!(issued.user, "alice");
}

#[tokio::test(start_paused = true)]
async fn a_watching_user_sees_new_requests_at_once_and_their_decisions() {
    use futures::StreamExt;
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let mut events = cluster.auth.headless_events(&alice.session).await.unwrap();
    let key = ClientKey::new(4);
    let login = cluster.login("alice", &key, Default::default());
    let Some(HeadlessEvent::Pending { request }) = events.next().await else {
        panic!("expected a pending event");
    };
    assert_eq!(request.id, key.id);
    alice.deny(&cluster.auth, &key.id).await.unwrap();
    let Some(HeadlessEvent::Decided { id, state }) = events.next().await else {
        panic!("expected a decided event");
    };
    assert_eq!((id, state), (key.id.clone(), RequestState::Denied));
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code(), hwa_core::api::ErrorCode::Denied);
}

#[tokio::test(start_paused = true)]
async fn audit_events_record_the_story_and_no_secret() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(5);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let response = alice.headless_assertion(&cluster.auth, &key.id).await;
    cluster
        .auth
        .headless_decide(&alice.session, &key.id, &accept(response.clone()), ip("198.51.100.2"))
        .await
        .unwrap();
    let issued = login.await.unwrap().unwrap();

    let events = cluster.auth.audit(100).await.unwrap();
    let kinds: Vec<AuditKind> = events.iter().map(|e| e.kind).collect();
    for kind in [
        AuditKind::HeadlessLoginRequested,
        AuditKind::HeadlessLoginApproved,
        AuditKind::CertificateIssued,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {kinds:?}");
    }
    let requested = events.iter().find(|e| e.kind == AuditKind::HeadlessLoginRequested).unwrap();
    assert_eq!(requested.fields["client_addr"], "203.0.113.7");

    let text = serde_json::to_string(&events).unwrap();
    let key_blob = key.public_line.split(' ').nth(1).unwrap();
    let cert_blob = issued.ssh_certificate.split(' ').nth(1).unwrap();
    let signature = response["response"]["signature"].as_str().unwrap();
    for secret in [key_blob, cert_blob, signature, PASSWORD, &alice.session.id] {
        assert!(!text.contains(secret), "an audit event contains a secret");
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_replays_the_same_certificate() {
    // Simulation seams: time from the clock, every random byte from the seeded entropy, so two
    // runs of one scenario issue byte-identical certificates.
    async fn run() -> String {
        let cluster = Cluster::new().await;
        let mut alice = cluster.person("alice", &["alice"]).await;
        let key = ClientKey::new(6);
        let login = cluster.login("alice", &key, Default::default());
        cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
        alice.approve(&cluster.auth, &key.id).await.unwrap();
        login.await.unwrap().unwrap().ssh_certificate
    }
    assert_eq!(run().await, run().await);
}
