//! The headless flow from the attacker's side: every refusal of SPEC HL-08 to HL-14, HL-18
//! and HL-22, each with the message a person reads.

mod common;

use std::time::Duration;

use common::*;
use hwa_core::admin::{AuditKind, LockAdd, LockTarget};
use hwa_core::api::{
    ChallengeScope, DecisionAction, ErrorCode, HeadlessDecisionRequest, MfaResponse, RequestState,
};
use hwa_core::limits::PENDING_PER_USER_MAX;
use hwa_virtual_authenticator::{CounterFault, Faults};

#[tokio::test(start_paused = true)]
async fn another_user_cannot_see_challenge_or_decide_and_is_told_why() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let mut bob = cluster.person("bob", &["bob"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();

    let err = cluster.auth.headless_view(&bob.session, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert_eq!(
        err.to_string(),
        format!(
            "request {} is not a request of user bob: only the user who started a headless \
             request can see, approve or deny it; log in as that user",
            key.id
        )
    );
    let scope = ChallengeScope::Headless { headless_id: key.id.clone() };
    let err = cluster.auth.mfa_challenge(&bob.session, &scope).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let err = bob.deny(&cluster.auth, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    // Bob's own assertion, for a scope he may use, does not help either.
    let response = bob.assertion(&cluster.auth, ChallengeScope::SessionMfa).await;
    let err = cluster
        .auth
        .headless_decide(&bob.session, &key.id, &accept(response), ip("198.51.100.9"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    let audit = cluster.auth.audit(100).await.unwrap();
    let refused = audit.iter().find(|e| e.kind == AuditKind::HeadlessLoginApprovalFailed).unwrap();
    assert_eq!(refused.user.as_deref(), Some("bob"));
    assert_eq!(refused.fields["reason"], "not_request_owner");
    login.abort();
}

#[tokio::test(start_paused = true)]
async fn a_replayed_assertion_is_refused() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let first = ClientKey::new(1);
    let login = cluster.login("alice", &first, Default::default());
    cluster.auth.headless_view(&alice.session, &first.id).await.unwrap();
    let response = alice.headless_assertion(&cluster.auth, &first.id).await;
    let decision = accept(response);
    cluster
        .auth
        .headless_decide(&alice.session, &first.id, &decision, ip("10.0.0.1"))
        .await
        .unwrap();
    login.await.unwrap().unwrap();

    // The same assertion, replayed against a second request of the same user.
    let second = ClientKey::new(2);
    let login = cluster.login("alice", &second, Default::default());
    cluster.auth.headless_view(&alice.session, &second.id).await.unwrap();
    let err = cluster
        .auth
        .headless_decide(&alice.session, &second.id, &decision, ip("10.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MfaFailed);
    assert!(err.to_string().contains("already used"), "{err}");
    login.abort();
}

#[tokio::test(start_paused = true)]
async fn a_login_challenge_cannot_approve_a_request() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let options = cluster.auth.begin_login("alice", PASSWORD, ip("10.0.0.1")).await.unwrap();
    let response = alice.device.authenticate(&options, ORIGIN).await.unwrap();
    let err = cluster
        .auth
        .headless_decide(&alice.session, &key.id, &accept(response), ip("10.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MfaFailed);
    assert!(err.to_string().contains("for login, not for approval of request"), "{err}");
    login.abort();
}

#[tokio::test(start_paused = true)]
async fn another_requests_challenge_cannot_approve_this_one() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let (one, two) = (ClientKey::new(1), ClientKey::new(2));
    let login_one = cluster.login("alice", &one, Default::default());
    let login_two = cluster.login("alice", &two, Default::default());
    cluster.auth.headless_view(&alice.session, &one.id).await.unwrap();
    cluster.auth.headless_view(&alice.session, &two.id).await.unwrap();
    let for_two = alice.headless_assertion(&cluster.auth, &two.id).await;
    let err = cluster
        .auth
        .headless_decide(&alice.session, &one.id, &accept(for_two), ip("10.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MfaFailed);
    assert!(err.to_string().contains(&format!("approval of request {}", two.id)), "{err}");
    login_one.abort();
    login_two.abort();
}

#[tokio::test(start_paused = true)]
async fn a_one_time_password_is_refused_and_approval_needs_an_assertion() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let totp = HeadlessDecisionRequest {
        action: DecisionAction::Accept,
        mfa_response: Some(MfaResponse {
            webauthn_response: None,
            totp_code: Some("123456".into()),
        }),
    };
    let err = cluster.auth.headless_decide(&alice.session, &key.id, &totp, ip("10.0.0.1")).await;
    assert_eq!(
        err.unwrap_err().to_string(),
        "one-time passwords cannot approve headless requests; use your security key"
    );
    let bare = HeadlessDecisionRequest { action: DecisionAction::Accept, mfa_response: None };
    let err = cluster.auth.headless_decide(&alice.session, &key.id, &bare, ip("10.0.0.1")).await;
    assert_eq!(err.unwrap_err().code(), ErrorCode::MfaFailed);
    // Denial needs no assertion.
    assert_eq!(alice.deny(&cluster.auth, &key.id).await.unwrap(), RequestState::Denied);
    assert_eq!(login.await.unwrap().unwrap_err().code(), ErrorCode::Denied);
    let failed = cluster.auth.audit(100).await.unwrap();
    assert!(
        failed.iter().any(|e| e.fields.get("reason").map(String::as_str) == Some("totp_refused"))
    );
}

#[tokio::test(start_paused = true)]
async fn an_approval_after_expiry_is_refused_as_expired() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let response = alice.headless_assertion(&cluster.auth, &key.id).await;
    // The client went away; the request's three minutes pass.
    login.abort();
    tokio::time::sleep(Duration::from_secs(181)).await;
    let err = cluster
        .auth
        .headless_decide(&alice.session, &key.id, &accept(response), ip("10.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Expired, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_second_decision_is_refused_as_already_decided() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    alice.approve(&cluster.auth, &key.id).await.unwrap();
    let err = alice.deny(&cluster.auth, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::AlreadyDecided);
    assert!(err.to_string().contains("was already approved"), "{err}");
    login.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn racing_approvals_and_denials_have_exactly_one_winner() {
    // 8 approvals (each with its own fresh assertion) and 8 denials race for one request.
    // A counter-less authenticator, so that assertions verified out of order all pass the
    // counter check and only the compare-and-swap tells them apart.
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    alice
        .device
        .authenticator_mut()
        .set_faults(Faults { counter: CounterFault::Frozen, ..Faults::default() });
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    // Every decision is ready before the first is sent, so that all sixteen race.
    let mut decisions = Vec::new();
    for i in 0..16 {
        decisions.push(if i % 2 == 0 {
            accept(alice.headless_assertion(&cluster.auth, &key.id).await)
        } else {
            HeadlessDecisionRequest { action: DecisionAction::Denied, mfa_response: None }
        });
    }
    let mut tasks = Vec::new();
    for decision in decisions {
        let auth = cluster.auth.clone();
        let (session, id) = (alice.session.clone(), key.id.clone());
        tasks.push(tokio::spawn(async move {
            auth.headless_decide(&session, &id, &decision, ip("10.0.0.1")).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(err) => assert_eq!(err.code(), ErrorCode::AlreadyDecided, "{err}"),
        }
    }
    assert_eq!(winners, 1);
    let _ = login.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_id_not_derived_from_the_key_is_refused() {
    let cluster = Cluster::new().await;
    let (mine, other) = (ClientKey::new(1), ClientKey::new(2));
    let mut req = mine.request("alice", Default::default());
    req.headless_id = other.id.clone();
    let err = cluster.auth.headless_login(req, ip("10.0.0.1")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadRequest);
    assert!(err.to_string().contains("was not derived from the submitted public key"));
}

// A client whose long poll lost its connection sends the same login again while the server may
// still hold the stale wait: the newer login takes over (tests/headless_resume.rs has the whole
// story). Only the holder of the key can send a login for the ID's public key; another user
// naming the same request is still refused.
#[tokio::test(start_paused = true)]
async fn a_second_waiting_login_with_the_same_id_supersedes_the_first() {
    let cluster = Cluster::new().await;
    let key = ClientKey::new(1);
    let first = cluster.login("alice", &key, Default::default());
    tokio::task::yield_now().await;
    let second = cluster.login("alice", &key, Default::default());
    let err = first.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("a newer login for request"), "{err}");
    assert!(!second.is_finished());
    second.abort();
}

#[tokio::test(start_paused = true)]
async fn another_users_login_with_a_waiting_id_is_refused() {
    let cluster = Cluster::new().await;
    let key = ClientKey::new(1);
    let first = cluster.login("alice", &key, Default::default());
    tokio::task::yield_now().await;
    let err = cluster.login("bob", &key, Default::default()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(!first.is_finished());
    first.abort();
}

#[tokio::test(start_paused = true)]
async fn disabled_headless_is_refused_by_the_server() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let cap = "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  name: \
               cluster-auth-preference\nspec:\n  type: local\n  second_factors: [\"webauthn\"]\n  \
               webauthn:\n    rp_id: localhost\n  headless: false\n";
    cluster.auth.apply_resource(cap, false).await.unwrap();
    assert!(!cluster.auth.auth_settings().await.unwrap().headless_allowed);
    let key = ClientKey::new(1);
    let err = cluster.login("alice", &key, Default::default()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::HeadlessDisabled);
    assert!(err.to_string().contains("ask an administrator to set `headless: true`"));
    let err = cluster.auth.headless_view(&alice.session, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::HeadlessDisabled);
}

#[tokio::test(start_paused = true)]
async fn one_user_cannot_hold_more_waiting_logins_than_the_bound() {
    let cluster = Cluster::new().await;
    let waiting: Vec<_> = (0..PENDING_PER_USER_MAX as u8)
        .map(|n| cluster.login("alice", &ClientKey::new(n + 1), Default::default()))
        .collect();
    tokio::task::yield_now().await;
    let extra = ClientKey::new(200);
    let err = cluster.login("alice", &extra, Default::default()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooManyPending);
    // Another user is not affected.
    let bobs = cluster.login("bob", &extra, Default::default());
    tokio::task::yield_now().await;
    assert!(!bobs.is_finished());
    for task in waiting {
        task.abort();
    }
    bobs.abort();
}

#[tokio::test(start_paused = true)]
async fn a_lock_on_the_user_or_the_credential_blocks_approval() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    let lock = cluster
        .auth
        .add_lock(LockAdd {
            target: LockTarget::User { user: "alice".into() },
            message: "investigating".into(),
            ttl_secs: None,
        })
        .await
        .unwrap();
    let err = alice.approve(&cluster.auth, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Locked);
    assert!(err.to_string().contains("user alice is locked: investigating"), "{err}");
    cluster.auth.delete_lock(&lock.id).await.unwrap();

    // Learn the credential ID from a login, then lock that credential.
    let options = cluster.auth.begin_login("alice", PASSWORD, ip("10.0.0.1")).await.unwrap();
    let response = alice.device.authenticate(&options, ORIGIN).await.unwrap();
    let credential_id = response["id"].as_str().unwrap().to_string();
    cluster
        .auth
        .add_lock(LockAdd {
            target: LockTarget::Credential { credential_id },
            message: String::new(),
            ttl_secs: Some(600),
        })
        .await
        .unwrap();
    let err = alice.approve(&cluster.auth, &key.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Locked, "{err}");
    login.abort();
}

#[tokio::test(start_paused = true)]
async fn an_undecided_request_times_out_after_three_minutes_and_its_record_is_removed() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    assert_eq!(cluster.store.range("headless/", 10).await.unwrap().len(), 1);
    let started = tokio::time::Instant::now();
    let err = login.await.unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(err.to_string().contains("within 180 seconds"), "{err}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(170) && waited <= Duration::from_secs(181), "{waited:?}");
    assert!(cluster.store.range("headless/", 10).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_login_nobody_showed_interest_in_writes_nothing() {
    // SPEC HL-08: compare the whole store before and while a login waits unobserved.
    let cluster = Cluster::new().await;
    cluster.person("alice", &["alice"]).await;
    let before = cluster.store.range("", 100_000).await.unwrap();
    let key = ClientKey::new(1);
    let login = cluster.login("alice", &key, Default::default());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!login.is_finished());
    let during = cluster.store.range("", 100_000).await.unwrap();
    assert_eq!(before, during);
    login.abort();
}
