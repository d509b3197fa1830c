//! The SSH user certificates the auth service grants: to a headless approval (SPEC HL-17,
//! HL-21), and to one SSH session of a logged-in user (`hwa ssh` without `--headless`).
//!
//! - For the submitted public key only.
//! - `valid_after` is the issuing second, not back-dated: the window is the promised minute and
//!   no more. Nodes must keep their clocks within a second or two of the auth server (NTP);
//!   a node running behind would see the certificate as not yet valid, which fails closed.
//! - `valid_before` is `min(now + CERT_TTL, not_after)` (the request's expiry for a headless
//!   approval), whatever TTL the client asked.
//! - Principals: the requested logins that the user's roles permit; with none requested, every
//!   permitted login (`ls` names no login).
//! - Extensions: `permit-pty`, [`EXT_MFA_VERIFIED`] with the credential whose assertion
//!   approved the request or verified the session (absent when no ceremony took place), and
//!   [`EXT_NODES`] when nodes were named. Critical option `source-address` with the client's
//!   address, so the certificate is useless from anywhere else.
//! - Key ID: `user=<user> headless_request=<id>` or `user=<user> session`, which sshd logs.
//!
//! The checks that come before issuing (record equals request, locks) are the service's.

use std::net::IpAddr;

use hwa_core::id::RequestId;
use hwa_core::limits::CERT_TTL;
use hwa_core::{Entropy, UnixMillis};
use ssh_key::PublicKey;
use ssh_key::certificate::{Builder, CertType};

use crate::ca::CertAuthority;
use crate::error::AuthError;

/// Extension naming the credential (base64url) whose assertion approved the request, so a
/// node can treat the certificate as MFA-verified for this one command (SPEC HL-19).
pub const EXT_MFA_VERIFIED: &str = "hwa-mfa-verified@headless-webauthn";
/// Extension listing, comma-separated, the only nodes the certificate is for (SPEC HL-21).
pub const EXT_NODES: &str = "hwa-nodes@headless-webauthn";
/// The OpenSSH critical option restricting source addresses.
pub const OPT_SOURCE_ADDRESS: &str = "source-address";
/// OpenSSH's extension allowing a terminal.
pub const EXT_PERMIT_PTY: &str = "permit-pty";

/// Bytes of certificate nonce (OpenSSH uses 32).
const NONCE_BYTES: usize = 32;

/// What a certificate is issued for.
#[derive(Debug, Clone, Copy)]
pub enum CertFor<'a> {
    /// The approved headless request with this ID.
    Headless(&'a RequestId),
    /// One SSH session of a logged-in user.
    Session,
}

/// What to put into the certificate.
#[derive(Debug, Clone)]
pub struct CertRequest<'a> {
    pub user: &'a str,
    pub issued_for: CertFor<'a>,
    pub public_key: &'a PublicKey,
    pub principals: &'a [String],
    pub nodes: &'a [String],
    pub client_ip: IpAddr,
    /// The credential (base64url) whose assertion verified this certificate; `None` when no
    /// WebAuthn ceremony took place, and the certificate is then not MFA-verified.
    pub credential_id_b64: Option<&'a str>,
    /// The certificate ends no later than this (a headless request's expiry).
    pub not_after: UnixMillis,
}

/// A signed certificate.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub openssh: String,
    pub serial: u64,
    pub valid_after_secs: u64,
    pub valid_before_secs: u64,
}

/// The key ID: who and why, as sshd logs it.
pub fn key_id(user: &str, issued_for: CertFor<'_>) -> String {
    match issued_for {
        CertFor::Headless(id) => format!("user={user} headless_request={id}"),
        CertFor::Session => format!("user={user} session"),
    }
}

/// The user named by a key ID this module wrote.
pub fn user_of_key_id(key_id: &str) -> Option<&str> {
    key_id.strip_prefix("user=")?.split(' ').next().filter(|u| !u.is_empty())
}

pub fn issue(
    ca: &CertAuthority,
    entropy: &dyn Entropy,
    now: UnixMillis,
    req: &CertRequest<'_>,
) -> Result<IssuedCert, AuthError> {
    if req.principals.is_empty() {
        return Err(AuthError::Internal("a certificate without principals was asked for".into()));
    }
    let valid_after = now.secs_floor();
    let valid_before = now.plus(CERT_TTL).min(req.not_after).secs_end();
    if valid_before <= valid_after {
        return Err(match req.issued_for {
            CertFor::Headless(id) => AuthError::RequestExpired { id: id.clone() },
            CertFor::Session => AuthError::Internal("a session certificate with no time".into()),
        });
    }
    let nonce = hwa_core::entropy::array::<NONCE_BYTES>(entropy);
    let serial = u64::from_le_bytes(hwa_core::entropy::array(entropy));
    let build = || -> Result<ssh_key::Certificate, ssh_key::Error> {
        let mut builder = Builder::new(
            nonce.to_vec(),
            req.public_key.key_data().clone(),
            valid_after,
            valid_before,
        )?;
        builder.serial(serial)?;
        builder.cert_type(CertType::User)?;
        builder.key_id(key_id(req.user, req.issued_for))?;
        for principal in req.principals {
            builder.valid_principal(principal.clone())?;
        }
        builder.critical_option(OPT_SOURCE_ADDRESS, req.client_ip.to_string())?;
        builder.extension(EXT_PERMIT_PTY, "")?;
        if let Some(credential) = req.credential_id_b64 {
            builder.extension(EXT_MFA_VERIFIED, credential)?;
        }
        if !req.nodes.is_empty() {
            builder.extension(EXT_NODES, req.nodes.join(","))?;
        }
        builder.sign(ca.private_key())
    };
    let cert = build().map_err(|e| AuthError::Internal(format!("signing a certificate: {e}")))?;
    let openssh = cert
        .to_openssh()
        .map_err(|e| AuthError::Internal(format!("encoding a certificate: {e}")))?;
    Ok(IssuedCert {
        openssh,
        serial,
        valid_after_secs: valid_after,
        valid_before_secs: valid_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::CaKind;
    use hwa_core::entropy::SeededEntropy;
    use ssh_key::private::{Ed25519Keypair, KeypairData};
    use ssh_key::{Certificate, PrivateKey};

    fn sign_at(now: UnixMillis, expires_at: UnixMillis) -> Result<Certificate, AuthError> {
        let entropy = SeededEntropy::new(5);
        let ca = CertAuthority::from_seed(&[1; 32], CaKind::User, "t").unwrap();
        let key =
            PrivateKey::new(KeypairData::from(Ed25519Keypair::from_seed(&[2; 32])), "").unwrap();
        let id = RequestId::derive(b"k");
        let principals = ["alice".to_string()];
        let req = CertRequest {
            user: "alice",
            issued_for: CertFor::Headless(&id),
            public_key: key.public_key(),
            principals: &principals,
            nodes: &[],
            client_ip: "192.0.2.1".parse().unwrap(),
            credential_id_b64: Some("AAAA"),
            not_after: expires_at,
        };
        let issued = issue(&ca, &entropy, now, &req)?;
        Ok(Certificate::from_openssh(&issued.openssh).unwrap())
    }

    #[test]
    fn validity_is_one_minute_from_now_whatever_the_request_has_left() {
        let now = UnixMillis(1_767_225_600_000);
        let cert = sign_at(now, now.plus(std::time::Duration::from_secs(170))).unwrap();
        assert_eq!(cert.valid_after(), now.secs_floor());
        assert_eq!(cert.valid_before() - cert.valid_after(), 60);
    }

    #[test]
    fn validity_never_outlives_the_request() {
        let now = UnixMillis(1_767_225_600_000);
        let cert = sign_at(now, now.plus(std::time::Duration::from_secs(10))).unwrap();
        assert_eq!(cert.valid_before() - cert.valid_after(), 10);
        assert!(matches!(sign_at(now, now), Err(AuthError::RequestExpired { .. })));
    }

    #[test]
    fn the_user_is_read_back_from_the_key_id() {
        let id = RequestId::derive(b"k");
        assert_eq!(user_of_key_id(&key_id("alice", CertFor::Headless(&id))), Some("alice"));
        assert_eq!(user_of_key_id(&key_id("bob", CertFor::Session)), Some("bob"));
        assert_eq!(user_of_key_id("something else"), None);
    }
}
