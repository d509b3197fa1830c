//! Shared fixture of the node's integration tests: a cluster's CAs minted in memory, a node
//! started on 127.0.0.1 with a random port, and certificates shaped like the auth service's.

#![allow(dead_code)] // each test binary uses a different part of the fixture
#![allow(clippy::unwrap_used)] // a fixture that cannot set itself up should fail the test loudly

use std::sync::Arc;
use std::time::Duration;

use hwa_core::clock::SystemClock;
use hwa_core::entropy::{Entropy, SeededEntropy};
use hwa_core::net::TokioNetwork;
use hwa_core::{SharedClock, SharedNetwork};
use hwa_node::admission::{EXT_MFA_VERIFIED, EXT_NODES, OPT_SOURCE_ADDRESS};
use hwa_node::{AccessPolicy, AuditEvent, NodeConfig};
use hwa_ssh::{HostTrust, Identity, SshConnection, SshError, Target};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{Certificate, PrivateKey, PublicKey};
use tokio::sync::{mpsc, oneshot};

/// Validity of test certificates, as the auth service issues them (SPEC HL-17).
pub const CERT_TTL_SECS: u64 = 60;

/// Name every test node runs under.
pub const NODE_NAME: &str = "web-1";

/// A cluster's key material, all in memory.
pub struct Cluster {
    pub user_ca: PrivateKey,
    pub host_ca: PrivateKey,
    entropy: SeededEntropy,
    pub clock: SharedClock,
    pub net: SharedNetwork,
}

impl Cluster {
    pub fn new(seed: u64) -> Cluster {
        let entropy = SeededEntropy::new(seed);
        let user_ca = key_from(&entropy);
        let host_ca = key_from(&entropy);
        Cluster {
            user_ca,
            host_ca,
            entropy,
            clock: SystemClock::shared(),
            net: TokioNetwork::shared(),
        }
    }

    pub fn key(&self) -> PrivateKey {
        key_from(&self.entropy)
    }

    pub fn now_secs(&self) -> u64 {
        self.clock.now().secs_floor()
    }

    /// A certificate as the auth service issues it for `login` on [`NODE_NAME`] from
    /// 127.0.0.1, with MFA verified; the caller may change the builder before signing.
    pub fn user_cert_builder(&self, key: &PrivateKey, login: &str) -> Builder {
        self.cert_builder(key, login, CertType::User, "127.0.0.1", NODE_NAME)
    }

    /// [`Cluster::user_cert_builder`] with another type, source address or node scope, for
    /// attacks (a builder refuses to set a field twice).
    pub fn cert_builder(
        &self,
        key: &PrivateKey,
        login: &str,
        cert_type: CertType,
        source: &str,
        nodes: &str,
    ) -> Builder {
        let now = self.now_secs();
        let mut nonce = [0u8; 16];
        self.entropy.fill(&mut nonce);
        let mut b =
            Builder::new(nonce, key.public_key().key_data().clone(), now - 1, now + CERT_TTL_SECS)
                .unwrap();
        b.cert_type(cert_type).unwrap();
        b.key_id(format!("{login}-headless")).unwrap();
        b.valid_principal(login).unwrap();
        b.critical_option(OPT_SOURCE_ADDRESS, source).unwrap();
        b.extension(EXT_MFA_VERIFIED, "credential-1").unwrap();
        b.extension(EXT_NODES, nodes).unwrap();
        b.extension("permit-pty", "").unwrap();
        b
    }

    pub fn identity(&self, login: &str) -> Identity {
        let key = self.key();
        let cert = self.user_cert_builder(&key, login).sign(&self.user_ca).unwrap();
        Identity { key: Arc::new(key), cert }
    }

    pub fn host_cert(&self, host_key: &PrivateKey, name: &str) -> Certificate {
        let now = self.now_secs();
        let mut b =
            Builder::new([5u8; 16], host_key.public_key().key_data().clone(), now - 60, now + 3600)
                .unwrap();
        b.cert_type(CertType::Host).unwrap();
        b.key_id(format!("host-{name}")).unwrap();
        b.valid_principal(name).unwrap();
        b.sign(&self.host_ca).unwrap()
    }

    pub fn host_trust(&self) -> HostTrust {
        HostTrust::CertificateAuthority {
            ca: self.host_ca.public_key().clone(),
            host_name: NODE_NAME.to_string(),
        }
    }

    pub async fn start_node(&self, policy: AccessPolicy) -> RunningNode {
        let host_key = self.key();
        let host_cert = self.host_cert(&host_key, NODE_NAME);
        let config = NodeConfig {
            name: NODE_NAME.into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            labels: Default::default(),
            user_ca_keys: vec![self.user_ca.public_key().clone()],
            host_key: host_key.clone(),
            host_cert: Some(host_cert),
            policy,
        };
        let bound = hwa_node::bind(config, &self.net).await.unwrap();
        let addr = bound.local_addr().unwrap();
        let (audit_tx, audit) = mpsc::channel(1024);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(self.clock.clone(), Arc::new(audit_tx), async {
            let _ = stopped.await;
        }));
        RunningNode {
            addr: addr.to_string(),
            port: addr.port(),
            host_key: host_key.public_key().clone(),
            audit,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn connect(
        &self,
        node: &RunningNode,
        login: &str,
        identity: &Identity,
    ) -> Result<SshConnection, SshError> {
        let target =
            Target { addr: node.addr.clone(), trust: self.host_trust(), login: login.to_string() };
        hwa_ssh::connect(&self.net, &self.clock, &target, identity).await
    }
}

fn key_from(entropy: &dyn Entropy) -> PrivateKey {
    let mut seed = [0u8; 32];
    entropy.fill(&mut seed);
    PrivateKey::from(Ed25519Keypair::from_seed(&seed))
}

/// The OS user the tests run as: the only login a non-root node can serve, and one a root
/// node serves without switching.
pub fn login() -> String {
    hwa_node::accounts::current().unwrap().name
}

pub fn default_policy() -> AccessPolicy {
    AccessPolicy { require_session_mfa: true, allowed_logins: None }
}

pub struct RunningNode {
    pub addr: String,
    pub port: u16,
    pub host_key: PublicKey,
    pub audit: mpsc::Receiver<AuditEvent>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), hwa_node::NodeError>>>,
}

impl RunningNode {
    /// The next audit event, waiting a little for it.
    pub async fn next_audit(&mut self) -> AuditEvent {
        tokio::time::timeout(Duration::from_secs(5), self.audit.recv())
            .await
            .expect("an audit event within 5 s")
            .expect("the audit channel open")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}
