//! Certificates for one SSH session of a logged-in user (`POST /webapi/ssh/certs`), and the
//! per-session MFA ceremony a role can require, tried from the attacker's side as well: no
//! assertion, an assertion made for something else, the same assertion twice, a one-time
//! password, a login the roles do not permit, a locked user.

mod common;

use common::*;
use hwa_auth::certs::{EXT_MFA_VERIFIED, EXT_NODES, OPT_SOURCE_ADDRESS};
use hwa_core::admin::{LockAdd, LockTarget};
use hwa_core::api::{ChallengeScope, ErrorCode, MfaResponse, SessionCertRequest};
use ssh_key::Certificate;

/// A role requiring per-session MFA for every node, with the user's own logins.
const MFA_ROLE: &str = "kind: role\nversion: v1\nmetadata:\n  name: mfa\nspec:\n  logins: \
                        ['{{internal.logins}}']\n  node_labels:\n    '*': ['*']\n  \
                        require_session_mfa: true\n";

/// The client's address as the proxy sees it.
const CLIENT: &str = "203.0.113.9";

fn cert_request(key: &ClientKey, mfa: Option<serde_json::Value>) -> SessionCertRequest {
    SessionCertRequest {
        ssh_pub_key: key.public_line.clone(),
        scope: ssh_scope("alice", "node1"),
        mfa_response: mfa
            .map(|assertion| MfaResponse { webauthn_response: Some(assertion), totp_code: None }),
    }
}

async fn mfa_cluster() -> (Cluster, Person) {
    let cluster = Cluster::new().await;
    cluster.auth.apply_resource(MFA_ROLE, false).await.expect("the role applies");
    let alice = cluster.person_with_roles("alice", &["alice"], &["mfa"]).await;
    (cluster, alice)
}

#[tokio::test(start_paused = true)]
async fn without_an_mfa_role_a_session_gets_a_one_minute_scoped_certificate() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice", "root"]).await;
    let key = ClientKey::new(1);
    let answer = cluster
        .auth
        .session_certificate(&alice.session, &cert_request(&key, None), ip(CLIENT))
        .await
        .expect("a certificate");
    let cert = Certificate::from_openssh(&answer.ssh_certificate).expect("OpenSSH certificate");
    assert_eq!(cert.public_key(), key.private.public_key().key_data(), "for the sent key");
    assert_eq!(cert.valid_principals(), ["alice".to_string()], "only the asked login");
    assert_eq!(cert.valid_before() - cert.valid_after(), 60);
    assert_eq!(cert.key_id(), "user=alice session");
    assert_eq!(cert.extensions().get(EXT_NODES).map(String::as_str), Some("node1"));
    assert_eq!(cert.critical_options().get(OPT_SOURCE_ADDRESS).map(String::as_str), Some(CLIENT));
    assert!(
        !cert.extensions().contains_key(EXT_MFA_VERIFIED),
        "no ceremony took place, so the certificate does not claim one"
    );
    assert!(answer.host_ca.is_some(), "the client verifies nodes with the host CA");
}

#[tokio::test(start_paused = true)]
async fn an_mfa_role_refuses_a_certificate_without_an_assertion() {
    let (cluster, alice) = mfa_cluster().await;
    let err = cluster
        .auth
        .session_certificate(&alice.session, &cert_request(&ClientKey::new(1), None), ip(CLIENT))
        .await
        .expect_err("per-session MFA is required");
    assert_eq!(err.code(), ErrorCode::MfaRequired, "{err}");
    assert!(err.to_string().contains("session_mfa"), "says what to ask for: {err}");
}

#[tokio::test(start_paused = true)]
async fn a_session_mfa_assertion_makes_the_certificate_mfa_verified_once() {
    let (cluster, mut alice) = mfa_cluster().await;
    let assertion = alice.assertion(&cluster.auth, ChallengeScope::SessionMfa).await;
    let request = cert_request(&ClientKey::new(1), Some(assertion.clone()));
    let answer = cluster
        .auth
        .session_certificate(&alice.session, &request, ip(CLIENT))
        .await
        .expect("a certificate");
    let cert = Certificate::from_openssh(&answer.ssh_certificate).expect("OpenSSH certificate");
    let credential = cert.extensions().get(EXT_MFA_VERIFIED).expect("MFA-verified");
    assert_eq!(Some(credential.as_str()), assertion["id"].as_str(), "names the credential");

    // The same assertion for a second session: its challenge was taken by the first.
    let replay = cert_request(&ClientKey::new(2), Some(assertion));
    let err = cluster
        .auth
        .session_certificate(&alice.session, &replay, ip(CLIENT))
        .await
        .expect_err("a challenge answers once");
    assert_eq!(err.code(), ErrorCode::MfaFailed, "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_assertion_made_for_a_headless_approval_is_not_a_session_ceremony() {
    let (cluster, mut alice) = mfa_cluster().await;
    let key = ClientKey::new(3);
    let _waiting = cluster.login("alice", &key, ssh_scope("alice", "node1"));
    cluster.auth.headless_view(&alice.session, &key.id).await.expect("the request is alice's");
    let for_approval = alice.headless_assertion(&cluster.auth, &key.id).await;
    let err = cluster
        .auth
        .session_certificate(
            &alice.session,
            &cert_request(&ClientKey::new(1), Some(for_approval)),
            ip(CLIENT),
        )
        .await
        .expect_err("the challenge was for another purpose");
    assert_eq!(err.code(), ErrorCode::MfaFailed, "{err}");
    assert!(err.to_string().contains("per-session mfa"), "names what it was for: {err}");
}

#[tokio::test(start_paused = true)]
async fn another_users_session_mfa_assertion_does_not_verify_alice() {
    let (cluster, alice) = mfa_cluster().await;
    let mut bob = cluster.person_with_roles("bob", &["bob"], &["mfa"]).await;
    let bobs = bob.assertion(&cluster.auth, ChallengeScope::SessionMfa).await;
    let err = cluster
        .auth
        .session_certificate(
            &alice.session,
            &cert_request(&ClientKey::new(1), Some(bobs)),
            ip(CLIENT),
        )
        .await
        .expect_err("bob's challenge is not alice's");
    assert_eq!(err.code(), ErrorCode::MfaFailed, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_one_time_password_is_not_per_session_mfa() {
    let (cluster, alice) = mfa_cluster().await;
    let mut request = cert_request(&ClientKey::new(1), None);
    request.mfa_response =
        Some(MfaResponse { webauthn_response: None, totp_code: Some("1".into()) });
    let err = cluster
        .auth
        .session_certificate(&alice.session, &request, ip(CLIENT))
        .await
        .expect_err("only a security key counts");
    assert_eq!(err.code(), ErrorCode::MfaFailed, "{err}");
}

#[tokio::test(start_paused = true)]
async fn logins_outside_the_roles_and_locked_users_get_nothing() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let mut request = cert_request(&ClientKey::new(1), None);
    request.scope.logins = vec!["root".into()];
    let err = cluster
        .auth
        .session_certificate(&alice.session, &request, ip(CLIENT))
        .await
        .expect_err("root is not alice's login");
    assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");
    assert!(err.to_string().contains("root"), "{err}");

    let lock = LockAdd {
        target: LockTarget::User { user: "alice".into() },
        message: "left the company".into(),
        ttl_secs: None,
    };
    cluster.auth.add_lock(lock).await.expect("lock");
    let err = cluster
        .auth
        .session_certificate(&alice.session, &cert_request(&ClientKey::new(1), None), ip(CLIENT))
        .await
        .expect_err("a locked user gets no certificate");
    assert_eq!(err.code(), ErrorCode::Locked, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_key_that_is_not_an_openssh_public_key_is_refused() {
    let cluster = Cluster::new().await;
    let alice = cluster.person("alice", &["alice"]).await;
    let mut request = cert_request(&ClientKey::new(1), None);
    request.ssh_pub_key = "ssh-ed25519 not-base64".into();
    let err = cluster
        .auth
        .session_certificate(&alice.session, &request, ip(CLIENT))
        .await
        .expect_err("no key, no certificate");
    assert_eq!(err.code(), ErrorCode::BadRequest, "{err}");
}

/// Where Debian's openssh-client installs ssh-keygen.
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

#[tokio::test(start_paused = true)]
async fn stock_ssh_keygen_reads_every_field_of_an_issued_certificate() {
    if !std::path::Path::new(SSH_KEYGEN).exists() {
        eprintln!("skipped: {SSH_KEYGEN} is not installed (Debian's openssh-client)");
        return;
    }
    let (cluster, mut alice) = mfa_cluster().await;
    let assertion = alice.assertion(&cluster.auth, ChallengeScope::SessionMfa).await;
    let credential = assertion["id"].as_str().expect("a credential ID").to_owned();
    let request = cert_request(&ClientKey::new(1), Some(assertion));
    let answer = cluster
        .auth
        .session_certificate(&alice.session, &request, ip(CLIENT))
        .await
        .expect("a certificate");
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("id_ed25519-cert.pub");
    std::fs::write(&path, format!("{}\n", answer.ssh_certificate)).expect("certificate file");
    let out = std::process::Command::new(SSH_KEYGEN)
        .arg("-L")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // ssh-keygen prints extensions it does not know as the hex of their string-wrapped value.
    let wrapped = |value: &str| {
        let mut bytes = u32::try_from(value.len()).expect("short").to_be_bytes().to_vec();
        bytes.extend_from_slice(value.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    for expected in [
        "Type: ssh-ed25519-cert-v01@openssh.com user certificate",
        "Key ID: \"user=alice session\"",
        &format!("source-address {CLIENT}"),
        "permit-pty",
        &format!("hwa-mfa-verified@headless-webauthn UNKNOWN OPTION: {}", wrapped(&credential)),
        &format!("hwa-nodes@headless-webauthn UNKNOWN OPTION: {}", wrapped("node1")),
    ] {
        assert!(text.contains(expected), "ssh-keygen -L does not show `{expected}`:\n{text}");
    }
    let principals = text.split("Principals:").nth(1).expect("a principals section");
    assert!(principals.trim_start().starts_with("alice"), "{text}");
}
