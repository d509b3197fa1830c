//! Dialling a node, verifying it is the node we meant, and logging in with a certificate.
//!
//! Host verification never trusts on first use. Either the caller knows the cluster's host CA
//! and the node must present a host certificate from it naming the expected host
//! ([`HostTrust::CertificateAuthority`]), or the caller pins the node's exact host key
//! ([`HostTrust::PinnedKey`]), for example one printed by an administrator.
//!
//! What this module leaves to others: where the certificate comes from (`hwa-client`), and
//! what the node allows once logged in (`hwa-node`).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use hwa_core::{SharedClock, SharedNetwork};
use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;
use ssh_key::certificate::CertType;
use ssh_key::{Algorithm, Certificate, EcdsaCurve, PrivateKey, PublicKey};
use tracing::{debug, info};

use crate::error::SshError;

/// Host-key algorithms whose certificate form the client asks for when it trusts a host CA:
/// the key types the cluster's CAs and nodes use (Ed25519 first, P-256 for hardware-backed
/// keys).
const HOST_CERT_ALGORITHMS: &[Algorithm] =
    &[Algorithm::Ed25519, Algorithm::Ecdsa { curve: EcdsaCurve::NistP256 }];

/// How the client decides that the server it reached is the node it meant.
#[derive(Clone, Debug)]
pub enum HostTrust {
    /// The node must present a host certificate signed by `ca` whose principals include
    /// `host_name`, valid now by the client's clock.
    CertificateAuthority { ca: PublicKey, host_name: String },
    /// No host CA is known: the node must present exactly this host key. There is no
    /// trust-on-first-use fallback; a caller without a pin or CA cannot connect.
    PinnedKey(PublicKey),
}

/// Where to connect and as whom.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port` as the network seam dials it.
    pub addr: String,
    pub trust: HostTrust,
    /// The login (OS user) on the node.
    pub login: String,
}

/// The user's key pair and the certificate issued for it. Held in memory only.
#[derive(Clone)]
pub struct Identity {
    pub key: Arc<PrivateKey>,
    pub cert: Certificate,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key never reaches a log line; the certificate's key ID identifies it.
        f.debug_struct("Identity").field("key_id", &self.cert.key_id()).finish_non_exhaustive()
    }
}

/// An authenticated SSH connection to one node.
pub struct SshConnection {
    pub(crate) handle: Handle<ClientHandler>,
    pub(crate) addr: String,
}

impl fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnection").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Dials `target.addr`, verifies the host per `target.trust` and logs in as `target.login`
/// with the certificate in `identity`.
pub async fn connect(
    net: &SharedNetwork,
    clock: &SharedClock,
    target: &Target,
    identity: &Identity,
) -> Result<SshConnection, SshError> {
    let addr = target.addr.clone();
    let stream =
        net.dial(&addr).await.map_err(|source| SshError::Dial { addr: addr.clone(), source })?;

    let verdict = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        trust: target.trust.clone(),
        clock: clock.clone(),
        verdict: verdict.clone(),
    };
    let config = Arc::new(client_config(&target.trust));
    let mut handle = match client::connect_stream(config, stream, handler).await {
        Ok(handle) => handle,
        Err(source) => {
            let reason = verdict.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Err(match reason {
                Some(reason) => SshError::HostNotTrusted { addr, reason },
                None => SshError::Protocol { addr, source },
            });
        }
    };

    let auth = handle
        .authenticate_openssh_cert(
            target.login.clone(),
            identity.key.clone(),
            identity.cert.clone(),
        )
        .await
        .map_err(|source| SshError::Protocol { addr: addr.clone(), source })?;
    if !auth.success() {
        return Err(SshError::AccessDenied { addr, login: target.login.clone() });
    }
    info!(target: "hwa_ssh", %addr, login = %target.login, "logged in");
    Ok(SshConnection { handle, addr })
}

impl SshConnection {
    /// The address this connection was dialled at.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the node has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Says goodbye to the node and closes the connection.
    pub async fn close(self) -> Result<(), SshError> {
        self.handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await
            .map_err(|source| SshError::Protocol { addr: self.addr.clone(), source })
    }

    pub(crate) async fn open_session(&self) -> Result<russh::Channel<client::Msg>, SshError> {
        self.handle.channel_open_session().await.map_err(SshError::Channel)
    }
}

fn client_config(trust: &HostTrust) -> client::Config {
    let mut preferred = russh::Preferred::DEFAULT;
    if matches!(trust, HostTrust::CertificateAuthority { .. }) {
        preferred.host_key_certificates = Cow::Borrowed(HOST_CERT_ALGORITHMS);
    }
    client::Config { preferred, ..client::Config::default() }
}

/// The russh callbacks of one connection: only host verification matters here.
#[derive(Debug)]
pub(crate) struct ClientHandler {
    trust: HostTrust,
    clock: SharedClock,
    /// Why the host was refused, kept so that [`connect`] can say it.
    verdict: Arc<Mutex<Option<String>>>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let now_secs = self.clock.now().secs_floor();
        match verify_host(&self.trust, server, now_secs) {
            Ok(()) => Ok(true),
            Err(reason) => {
                debug!(target: "hwa_ssh", %reason, "host refused");
                *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
                Ok(false)
            }
        }
    }
}

/// Decides whether the key or certificate a server presented satisfies `trust` at `now_secs`.
/// The error says why not, for the user.
pub fn verify_host(
    trust: &HostTrust,
    server: &PublicKeyOrCertificate,
    now_secs: u64,
) -> Result<(), String> {
    match (trust, server) {
        (
            HostTrust::CertificateAuthority { ca, host_name },
            PublicKeyOrCertificate::Certificate(cert),
        ) => verify_host_certificate(ca, host_name, cert, now_secs),
        (HostTrust::CertificateAuthority { .. }, PublicKeyOrCertificate::PublicKey { .. }) => {
            Err("it presented a bare host key where a host certificate was required".into())
        }
        (HostTrust::PinnedKey(pin), PublicKeyOrCertificate::PublicKey { key, .. }) => {
            if key.key_data() == pin.key_data() {
                Ok(())
            } else {
                Err("its host key does not match the pinned key".into())
            }
        }
        (HostTrust::PinnedKey(pin), PublicKeyOrCertificate::Certificate(cert)) => {
            if cert.public_key() == pin.key_data() {
                Ok(())
            } else {
                Err("its host key does not match the pinned key".into())
            }
        }
    }
}

fn verify_host_certificate(
    ca: &PublicKey,
    host_name: &str,
    cert: &Certificate,
    now_secs: u64,
) -> Result<(), String> {
    if cert.cert_type() != CertType::Host {
        return Err("its certificate is not a host certificate".into());
    }
    if cert.signature_key() != ca.key_data() {
        return Err("its host certificate is not signed by the cluster's host CA".into());
    }
    if cert.verify_signature().is_err() {
        return Err("its host certificate has a bad signature".into());
    }
    // An empty principal list means "any host" to OpenSSH; a cluster CA always names the node,
    // so an empty list is treated as naming none.
    if !cert.valid_principals().iter().any(|p| p == host_name) {
        return Err(format!("its host certificate is not issued for `{host_name}`"));
    }
    if now_secs < cert.valid_after() || now_secs >= cert.valid_before() {
        return Err("its host certificate is not valid now (check the clocks)".into());
    }
    if !cert.critical_options().is_empty() {
        return Err(
            "its host certificate carries critical options this client does not know".into()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ssh_key::certificate::Builder;
    use ssh_key::private::Ed25519Keypair;

    use super::*;

    const NOW: u64 = 1_767_225_600;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn host_cert(ca: &PrivateKey, host: &PrivateKey, name: &str, kind: CertType) -> Certificate {
        let public = host.public_key().key_data().clone();
        let mut b = Builder::new([1u8; 16], public, NOW - 10, NOW + 10).unwrap();
        b.cert_type(kind).unwrap();
        b.valid_principal(name).unwrap();
        b.sign(ca).unwrap()
    }

    fn ca_trust(ca: &PrivateKey, name: &str) -> HostTrust {
        HostTrust::CertificateAuthority { ca: ca.public_key().clone(), host_name: name.into() }
    }

    fn presented(cert: Certificate) -> PublicKeyOrCertificate {
        PublicKeyOrCertificate::Certificate(cert)
    }

    #[test]
    fn a_host_certificate_from_the_ca_for_the_expected_name_is_trusted() {
        let (ca, host) = (key(1), key(2));
        let cert = host_cert(&ca, &host, "web-1", CertType::Host);
        assert_eq!(verify_host(&ca_trust(&ca, "web-1"), &presented(cert), NOW), Ok(()));
    }

    #[test]
    fn host_certificates_with_any_flaw_are_refused() {
        let (ca, host) = (key(1), key(2));
        let trust = ca_trust(&ca, "web-1");
        let other_ca = host_cert(&key(3), &host, "web-1", CertType::Host);
        let other_name = host_cert(&ca, &host, "db-1", CertType::Host);
        let user_type = host_cert(&ca, &host, "web-1", CertType::User);
        for cert in [other_ca, other_name, user_type] {
            assert!(verify_host(&trust, &presented(cert), NOW).is_err());
        }
        let good = host_cert(&ca, &host, "web-1", CertType::Host);
        assert!(verify_host(&trust, &presented(good.clone()), NOW + 10).is_err());
        assert!(verify_host(&trust, &presented(good), NOW - 11).is_err());
    }

    #[test]
    fn a_bare_key_is_trusted_only_when_pinned() {
        let host = key(2);
        let bare =
            PublicKeyOrCertificate::PublicKey { key: host.public_key().clone(), hash_alg: None };
        assert!(verify_host(&ca_trust(&key(1), "web-1"), &bare, NOW).is_err());
        assert_eq!(
            verify_host(&HostTrust::PinnedKey(host.public_key().clone()), &bare, NOW),
            Ok(())
        );
        let wrong_pin = HostTrust::PinnedKey(key(4).public_key().clone());
        assert!(verify_host(&wrong_pin, &bare, NOW).is_err());
    }
}
