//! What an attacker may try against a node, each of which must be refused: the refusal takes
//! at least `AUTH_REJECTION_MIN`, tells the client nothing about why, and is audited with the
//! reason on the node.

mod support;

use std::sync::Arc;

use hwa_node::{AUTH_REJECTION_MIN, AccessPolicy, AuditKind};
use hwa_ssh::{HostTrust, Identity, SshError, Target};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::{Certificate, PrivateKey};
use support::{Cluster, NODE_NAME, RunningNode, default_policy, login};

/// Connects with a certificate from `mint` and expects a refusal audited as `reason`.
async fn assert_refused(
    cluster: &Cluster,
    node: &mut RunningNode,
    reason: &str,
    mint: impl FnOnce(&Cluster, &PrivateKey, &str) -> Certificate,
) {
    let me = login();
    let key = cluster.key();
    let cert = mint(cluster, &key, &me);
    let identity = Identity { key: Arc::new(key), cert };
    let started = tokio::time::Instant::now();
    let result = cluster.connect(node, &me, &identity).await;
    let elapsed = started.elapsed();
    match result {
        Err(SshError::AccessDenied { .. }) => {}
        other => panic!("{reason}: expected access denied, got {other:?}"),
    }
    assert!(elapsed >= AUTH_REJECTION_MIN, "{reason}: refused after only {elapsed:?}");
    match node.next_audit().await.kind {
        AuditKind::Rejected { reason: got, .. } => assert_eq!(got, reason),
        other => panic!("{reason}: expected a rejection event, got {other:?}"),
    }
}

fn sign(cluster: &Cluster, b: Builder) -> Certificate {
    b.sign(&cluster.user_ca).expect("the user CA signs")
}

#[tokio::test]
async fn certificates_that_fail_any_check_are_refused() {
    let cluster = Cluster::new(10);
    let mut node = cluster.start_node(default_policy()).await;

    assert_refused(&cluster, &mut node, "unknown_ca", |c, k, me| {
        c.user_cert_builder(k, me).sign(&c.key()).unwrap()
    })
    .await;
    assert_refused(&cluster, &mut node, "login_not_in_principals", |c, k, _| {
        sign(c, c.user_cert_builder(k, "somebody-else"))
    })
    .await;
    assert_refused(&cluster, &mut node, "missing_mfa", |c, k, me| {
        let now = c.now_secs();
        let mut b =
            Builder::new([1u8; 16], k.public_key().key_data().clone(), now - 1, now + 60).unwrap();
        b.cert_type(CertType::User).unwrap();
        b.valid_principal(me).unwrap();
        sign(c, b)
    })
    .await;
    assert_refused(&cluster, &mut node, "source_address_mismatch", |c, k, me| {
        sign(c, c.cert_builder(k, me, CertType::User, "10.9.9.9/32", NODE_NAME))
    })
    .await;
    assert_refused(&cluster, &mut node, "unknown_critical_option", |c, k, me| {
        let mut b = c.user_cert_builder(k, me);
        b.critical_option("force-command", "id").unwrap();
        sign(c, b)
    })
    .await;
    assert_refused(&cluster, &mut node, "node_not_in_scope", |c, k, me| {
        sign(c, c.cert_builder(k, me, CertType::User, "127.0.0.1", "db-1,web-10"))
    })
    .await;
    assert_refused(&cluster, &mut node, "not_a_user_certificate", |c, k, me| {
        sign(c, c.cert_builder(k, me, CertType::Host, "127.0.0.1", NODE_NAME))
    })
    .await;
    node.stop().await;
}

/// russh itself refuses certificates outside their window by the system clock before the
/// node's handler runs; the node then has nothing to audit, so only the refusal and its
/// timing are checked here. The node's own window check (by the injected clock) is covered by
/// the admission unit tests.
#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let cluster = Cluster::new(11);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let now = cluster.now_secs();
    for (after, before) in [(now - 600, now - 300), (now + 300, now + 600)] {
        let key = cluster.key();
        let mut b =
            Builder::new([3u8; 16], key.public_key().key_data().clone(), after, before).unwrap();
        b.cert_type(CertType::User).unwrap();
        b.valid_principal(&me).unwrap();
        b.extension("hwa-mfa-verified@headless-webauthn", "credential-1").unwrap();
        let identity = Identity { key: Arc::new(key), cert: sign(&cluster, b) };
        let started = tokio::time::Instant::now();
        let result = cluster.connect(&node, &me, &identity).await;
        assert!(matches!(result, Err(SshError::AccessDenied { .. })), "{result:?}");
        assert!(started.elapsed() >= AUTH_REJECTION_MIN);
    }
    node.stop().await;
}

#[tokio::test]
async fn a_login_outside_the_node_policy_is_refused() {
    let cluster = Cluster::new(12);
    let policy = AccessPolicy {
        require_session_mfa: true,
        allowed_logins: Some(["nobody-allowed".to_string()].into()),
    };
    let mut node = cluster.start_node(policy).await;
    assert_refused(&cluster, &mut node, "login_not_allowed", |c, k, me| {
        sign(c, c.user_cert_builder(k, me))
    })
    .await;
    node.stop().await;
}

#[tokio::test]
async fn a_plain_key_without_certificate_is_refused() {
    let cluster = Cluster::new(13);
    let mut node = cluster.start_node(default_policy()).await;
    let stream = cluster.net.dial(&node.addr).await.unwrap();
    let config = Arc::new(russh::client::Config::default());
    let mut handle =
        russh::client::connect_stream(config, stream, PinnedHost(node.host_key.clone()))
            .await
            .unwrap();
    let key = Arc::new(cluster.key());
    let started = tokio::time::Instant::now();
    let auth = handle
        .authenticate_publickey(login(), russh::keys::PrivateKeyWithHashAlg::new(key, None))
        .await
        .unwrap();
    assert!(!auth.success());
    assert!(started.elapsed() >= AUTH_REJECTION_MIN);
    match node.next_audit().await.kind {
        AuditKind::Rejected { reason, .. } => assert_eq!(reason, "not_a_certificate"),
        other => panic!("expected a rejection event, got {other:?}"),
    }
    node.stop().await;
}

#[tokio::test]
async fn the_client_refuses_a_node_without_the_expected_host_certificate() {
    let cluster = Cluster::new(14);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let identity = cluster.identity(&me);
    let other_ca = cluster.key();
    let cases = [
        HostTrust::CertificateAuthority {
            ca: other_ca.public_key().clone(),
            host_name: NODE_NAME.into(),
        },
        HostTrust::CertificateAuthority {
            ca: cluster.host_ca.public_key().clone(),
            host_name: "db-1".into(),
        },
        HostTrust::PinnedKey(cluster.key().public_key().clone()),
    ];
    for trust in cases {
        let target = Target { addr: node.addr.clone(), trust, login: me.clone() };
        let result = hwa_ssh::connect(&cluster.net, &cluster.clock, &target, &identity).await;
        assert!(matches!(result, Err(SshError::HostNotTrusted { .. })), "{result:?}");
    }
    let pinned = Target {
        addr: node.addr.clone(),
        trust: HostTrust::PinnedKey(node.host_key.clone()),
        login: me.clone(),
    };
    let conn = hwa_ssh::connect(&cluster.net, &cluster.clock, &pinned, &identity).await.unwrap();
    assert_eq!(conn.exec("true").await.unwrap().status, hwa_ssh::ExitStatus::Code(0));
    node.stop().await;
}

/// A raw russh client for the one attack `hwa-ssh` cannot make: offering a plain key.
struct PinnedHost(ssh_key::PublicKey);

impl russh::client::Handler for PinnedHost {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(matches!(key, russh::keys::PublicKeyOrCertificate::PublicKey { key, .. }
            if key.key_data() == self.0.key_data()))
    }
}

/// A connection that never logs in loses its slot after `LOGIN_GRACE` (120 s, virtual time
/// here), so idle connections cannot exhaust the node's connection limit.
#[tokio::test(start_paused = true)]
async fn an_idle_connection_that_never_logs_in_is_closed_after_the_grace_time() {
    use tokio::io::AsyncReadExt;

    let cluster = Cluster::new(15);
    let node = cluster.start_node(default_policy()).await;
    let mut stream = cluster.net.dial(&node.addr).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 256];
    // The server's identification line comes first; then nothing until the node hangs up.
    let mut total = 0;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(total > 0, "the node should have sent its identification");
    let waited = started.elapsed();
    assert!(waited >= hwa_node::server::LOGIN_GRACE, "{waited:?}");
    assert!(waited < hwa_node::server::INACTIVITY_TIMEOUT, "{waited:?}");
    node.stop().await;
}
