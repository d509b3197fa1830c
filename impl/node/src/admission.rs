//! Admission of user certificates: the checks a node makes before it lets anyone in.
//!
//! russh verifies only the certificate's signature and its validity window against the
//! system clock. This module decides everything else, against the injected clock:
//!
//! 1. the certificate is signed by one of the cluster's user CA keys (the signature key is
//!    compared, then the signature verified again here so the decision does not rest on the
//!    SSH library alone);
//! 2. it is a user certificate, not a host certificate;
//! 3. the requested login is one of its principals (SPEC HL-17);
//! 4. `valid_after <= now < valid_before`;
//! 5. every critical option is understood, and `source-address` contains the peer (HL-21);
//! 6. the node's policy allows the login (HL-20);
//! 7. when per-session MFA is required, the `hwa-mfa-verified@headless-webauthn` extension is
//!    present (HL-19);
//! 8. when the `hwa-nodes@headless-webauthn` extension is present, this node is named in it
//!    (HL-21).
//!
//! It also records whether the certificate carries `permit-pty`, which decides later whether
//! a terminal may be allocated, as sshd decides it.
//!
//! A [`Refusal`] names the failed check for the node's log and audit trail only; the client
//! is never told which check failed.

use std::fmt;
use std::net::IpAddr;

use hwa_core::UnixMillis;
use ssh_key::Certificate;
use ssh_key::certificate::CertType;

use crate::config::NodeConfig;
use crate::source_address;

/// Extension naming the WebAuthn credential that approved the certificate: its presence is
/// what per-session MFA requires (SPEC HL-17, HL-19).
pub const EXT_MFA_VERIFIED: &str = "hwa-mfa-verified@headless-webauthn";

/// Extension listing, comma-separated, the nodes a least-privilege certificate may reach
/// (SPEC HL-21).
pub const EXT_NODES: &str = "hwa-nodes@headless-webauthn";

/// The standard extension without which OpenSSH's sshd refuses a terminal (PROTOCOL.certkeys);
/// the auth service grants it on every certificate it issues.
pub const EXT_PERMIT_PTY: &str = "permit-pty";

/// The critical option restricting where a certificate may be used from (PROTOCOL.certkeys).
pub const OPT_SOURCE_ADDRESS: &str = "source-address";

/// A certificate that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub login: String,
    pub key_id: String,
    pub serial: u64,
    /// The credential that approved it, when the certificate says MFA was verified.
    pub credential_id: Option<String>,
    /// Whether the certificate allows a terminal (`permit-pty`), as sshd enforces it.
    pub permit_pty: bool,
}

/// Why a certificate was refused. For the node's log and audit trail only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A plain public key was offered; this node admits certificates only.
    NotACertificate,
    UnknownCa,
    BadSignature,
    NotAUserCertificate,
    LoginNotInPrincipals,
    NotYetValid {
        valid_after: u64,
        now: u64,
    },
    Expired {
        valid_before: u64,
        now: u64,
    },
    UnknownCriticalOption(String),
    BadSourceAddress(String),
    SourceAddressMismatch {
        peer: IpAddr,
    },
    LoginNotAllowedOnNode,
    MissingMfa,
    NodeNotInScope,
    /// The login is not an account on this machine.
    UnknownAccount,
    /// The node does not run as root and the login is another user.
    AccountNotServable {
        running_as: u32,
    },
    /// Looking the account up failed.
    AccountLookup(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotACertificate => write!(f, "plain public key offered, not a certificate"),
            Refusal::UnknownCa => write!(f, "certificate not signed by a trusted user CA"),
            Refusal::BadSignature => write!(f, "certificate signature does not verify"),
            Refusal::NotAUserCertificate => write!(f, "host certificate offered as a user one"),
            Refusal::LoginNotInPrincipals => write!(f, "login not among the principals"),
            Refusal::NotYetValid { valid_after, now } => {
                write!(f, "certificate not valid before {valid_after}, now {now}")
            }
            Refusal::Expired { valid_before, now } => {
                write!(f, "certificate expired at {valid_before}, now {now}")
            }
            Refusal::UnknownCriticalOption(name) => write!(f, "unknown critical option {name}"),
            Refusal::BadSourceAddress(e) => write!(f, "unusable source-address option: {e}"),
            Refusal::SourceAddressMismatch { peer } => {
                write!(f, "peer {peer} not in the source-address option")
            }
            Refusal::LoginNotAllowedOnNode => write!(f, "login not allowed on this node"),
            Refusal::MissingMfa => write!(f, "per-session MFA required, extension missing"),
            Refusal::NodeNotInScope => write!(f, "node not named in the certificate's scope"),
            Refusal::UnknownAccount => write!(f, "no such account on this machine"),
            Refusal::AccountNotServable { running_as } => {
                write!(f, "node runs as uid {running_as} and can serve only that account")
            }
            Refusal::AccountLookup(e) => write!(f, "account lookup failed: {e}"),
        }
    }
}

impl Refusal {
    /// A short stable code for audit events and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotACertificate => "not_a_certificate",
            Refusal::UnknownCa => "unknown_ca",
            Refusal::BadSignature => "bad_signature",
            Refusal::NotAUserCertificate => "not_a_user_certificate",
            Refusal::LoginNotInPrincipals => "login_not_in_principals",
            Refusal::NotYetValid { .. } => "not_yet_valid",
            Refusal::Expired { .. } => "expired",
            Refusal::UnknownCriticalOption(_) => "unknown_critical_option",
            Refusal::BadSourceAddress(_) => "bad_source_address",
            Refusal::SourceAddressMismatch { .. } => "source_address_mismatch",
            Refusal::LoginNotAllowedOnNode => "login_not_allowed",
            Refusal::MissingMfa => "missing_mfa",
            Refusal::NodeNotInScope => "node_not_in_scope",
            Refusal::UnknownAccount => "unknown_account",
            Refusal::AccountNotServable { .. } => "account_not_servable",
            Refusal::AccountLookup(_) => "account_lookup",
        }
    }
}

/// Runs checks 1 to 8 on `cert`, presented by `peer` to log in as `login` at `now`.
pub fn admit(
    cert: &Certificate,
    login: &str,
    peer: IpAddr,
    now: UnixMillis,
    config: &NodeConfig,
) -> Result<Admitted, Refusal> {
    check_issuer(cert, config)?;
    if cert.cert_type() != CertType::User {
        return Err(Refusal::NotAUserCertificate);
    }
    if !cert.valid_principals().iter().any(|p| p == login) {
        return Err(Refusal::LoginNotInPrincipals);
    }
    check_validity(cert, now)?;
    check_critical_options(cert, peer)?;
    if let Some(allowed) = &config.policy.allowed_logins
        && !allowed.contains(login)
    {
        return Err(Refusal::LoginNotAllowedOnNode);
    }
    let credential_id = cert.extensions().get(EXT_MFA_VERIFIED).cloned();
    if config.policy.require_session_mfa && credential_id.is_none() {
        return Err(Refusal::MissingMfa);
    }
    if let Some(nodes) = cert.extensions().get(EXT_NODES)
        && !nodes.split(',').map(str::trim).any(|n| n == config.name)
    {
        return Err(Refusal::NodeNotInScope);
    }
    Ok(Admitted {
        login: login.to_string(),
        key_id: cert.key_id().to_string(),
        serial: cert.serial(),
        credential_id,
        permit_pty: cert.extensions().contains_key(EXT_PERMIT_PTY),
    })
}

fn check_issuer(cert: &Certificate, config: &NodeConfig) -> Result<(), Refusal> {
    let signer = cert.signature_key();
    if !config.user_ca_keys.iter().any(|ca| ca.key_data() == signer) {
        return Err(Refusal::UnknownCa);
    }
    cert.verify_signature().map_err(|_| Refusal::BadSignature)
}

fn check_validity(cert: &Certificate, now: UnixMillis) -> Result<(), Refusal> {
    let now = now.secs_floor();
    if now < cert.valid_after() {
        return Err(Refusal::NotYetValid { valid_after: cert.valid_after(), now });
    }
    if now >= cert.valid_before() {
        return Err(Refusal::Expired { valid_before: cert.valid_before(), now });
    }
    Ok(())
}

fn check_critical_options(cert: &Certificate, peer: IpAddr) -> Result<(), Refusal> {
    for (name, value) in cert.critical_options().iter() {
        if name != OPT_SOURCE_ADDRESS {
            return Err(Refusal::UnknownCriticalOption(name.clone()));
        }
        match source_address::permits(value, peer) {
            Ok(true) => {}
            Ok(false) => return Err(Refusal::SourceAddressMismatch { peer }),
            Err(e) => return Err(Refusal::BadSourceAddress(e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ssh_key::PrivateKey;
    use ssh_key::certificate::Builder;
    use ssh_key::private::Ed25519Keypair;

    use super::*;
    use crate::config::AccessPolicy;

    const NOW_SECS: u64 = 1_767_225_600;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
    }

    fn config(ca: &PrivateKey) -> NodeConfig {
        NodeConfig {
            name: "web-1".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            labels: Default::default(),
            user_ca_keys: vec![ca.public_key().clone()],
            host_key: key(9),
            host_cert: None,
            policy: AccessPolicy { require_session_mfa: true, allowed_logins: None },
        }
    }

    fn builder(user: &PrivateKey) -> Builder {
        typed_builder(user, CertType::User)
    }

    fn typed_builder(user: &PrivateKey, cert_type: CertType) -> Builder {
        let public = user.public_key().key_data().clone();
        let mut b = Builder::new(vec![7; 16], public, NOW_SECS - 1, NOW_SECS + 59).unwrap();
        b.cert_type(cert_type).unwrap();
        b.key_id("alice").unwrap();
        b.valid_principal("alice").unwrap();
        b.critical_option(OPT_SOURCE_ADDRESS, "127.0.0.1").unwrap();
        b.extension(EXT_MFA_VERIFIED, "cred-1").unwrap();
        b.extension(EXT_NODES, "web-1,db-1").unwrap();
        b
    }

    fn now() -> UnixMillis {
        UnixMillis(NOW_SECS * 1000)
    }

    fn local() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn a_scoped_mfa_certificate_from_the_right_address_is_admitted() {
        let ca = key(1);
        let cert = builder(&key(2)).sign(&ca).unwrap();
        let admitted = admit(&cert, "alice", local(), now(), &config(&ca)).unwrap();
        assert_eq!(admitted.credential_id.as_deref(), Some("cred-1"));
    }

    #[test]
    fn each_failed_check_gives_its_own_refusal() {
        let ca = key(1);
        let cfg = config(&ca);
        let cert = builder(&key(2)).sign(&ca).unwrap();
        assert_eq!(admit(&cert, "bob", local(), now(), &cfg), Err(Refusal::LoginNotInPrincipals));
        let late = UnixMillis((NOW_SECS + 59) * 1000);
        assert!(matches!(admit(&cert, "alice", local(), late, &cfg), Err(Refusal::Expired { .. })));
        let early = UnixMillis((NOW_SECS - 2) * 1000);
        assert!(matches!(
            admit(&cert, "alice", local(), early, &cfg),
            Err(Refusal::NotYetValid { .. })
        ));
        let other: IpAddr = "10.1.1.1".parse().unwrap();
        assert!(matches!(
            admit(&cert, "alice", other, now(), &cfg),
            Err(Refusal::SourceAddressMismatch { .. })
        ));
        let foreign = builder(&key(2)).sign(&key(3)).unwrap();
        assert_eq!(admit(&foreign, "alice", local(), now(), &cfg), Err(Refusal::UnknownCa));
    }

    #[test]
    fn a_node_outside_the_scope_extension_refuses() {
        let ca = key(1);
        let mut cfg = config(&ca);
        cfg.name = "web-10".into();
        let cert = builder(&key(2)).sign(&ca).unwrap();
        assert_eq!(admit(&cert, "alice", local(), now(), &cfg), Err(Refusal::NodeNotInScope));
    }

    #[test]
    fn unknown_critical_options_and_host_certificates_are_refused() {
        let ca = key(1);
        let cfg = config(&ca);
        let mut b = builder(&key(2));
        b.critical_option("force-command", "true").unwrap();
        assert_eq!(
            admit(&b.sign(&ca).unwrap(), "alice", local(), now(), &cfg),
            Err(Refusal::UnknownCriticalOption("force-command".into()))
        );
        let b = typed_builder(&key(2), CertType::Host);
        assert_eq!(
            admit(&b.sign(&ca).unwrap(), "alice", local(), now(), &cfg),
            Err(Refusal::NotAUserCertificate)
        );
    }

    #[test]
    fn policy_requires_mfa_and_limits_logins() {
        let ca = key(1);
        let mut cfg = config(&ca);
        let mut b = Builder::new(
            vec![7; 16],
            key(2).public_key().key_data().clone(),
            NOW_SECS - 1,
            NOW_SECS + 59,
        )
        .unwrap();
        b.cert_type(CertType::User).unwrap();
        b.valid_principal("alice").unwrap();
        let plain = b.sign(&ca).unwrap();
        assert_eq!(admit(&plain, "alice", local(), now(), &cfg), Err(Refusal::MissingMfa));
        cfg.policy.require_session_mfa = false;
        assert!(admit(&plain, "alice", local(), now(), &cfg).is_ok());
        cfg.policy.allowed_logins = Some(BTreeSet::from(["root".to_string()]));
        assert_eq!(
            admit(&plain, "alice", local(), now(), &cfg),
            Err(Refusal::LoginNotAllowedOnNode)
        );
    }
}
