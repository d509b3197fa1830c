//! The `HwaCert` authorization scheme (see [`hwa_core::api::CERT_AUTH_SCHEME`]): a caller that
//! holds only a headless certificate proves it holds the key by signing the method, path and
//! time of its HTTP request.
//!
//! `Authorization: HwaCert <certificate>.<unix millis>.<signature>`, where `<certificate>` is
//! the certificate's binary encoding and `<signature>` the binary SSHSIG (namespace
//! [`CERT_AUTH_NAMESPACE`]) over `METHOD SP PATH SP UNIX_MILLIS`, both in standard base64 with
//! padding. [`header`] builds one, for the client and for tests.
//!
//! The certificate must be signed by this cluster's user CA and be valid now; the time must be
//! within [`CERT_AUTH_SKEW`] of now and of the validity window. Locks are the service's check.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hwa_core::UnixMillis;
use hwa_core::api::{CERT_AUTH_NAMESPACE, CERT_AUTH_SCHEME};
use ssh_key::certificate::CertType;
use ssh_key::encoding::{Decode, Encode};
use ssh_key::{Certificate, HashAlg, PrivateKey, PublicKey, SshSig};

use crate::ca::CertAuthority;
use crate::certs::{EXT_MFA_VERIFIED, EXT_NODES, user_of_key_id};
use crate::error::AuthError;

/// How far the signed time may be from the server's clock: the ± 30 s that the contract of
/// the scheme allows for clock skew between a client and the proxy.
pub const CERT_AUTH_SKEW: Duration = Duration::from_secs(30);

/// Longest header accepted: a certificate and a signature are well under 4 KiB.
const HEADER_MAX_BYTES: usize = 16 * 1024;

/// What a verified header proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertCaller {
    pub user: String,
    pub principals: Vec<String>,
    pub nodes: Vec<String>,
    /// The approving credential (base64url), for lock checks.
    pub credential_id: Option<String>,
}

/// Builds the header value for `cert_openssh` signed with `key`.
pub fn header(
    cert_openssh: &str,
    key: &PrivateKey,
    method: &str,
    path: &str,
    millis: UnixMillis,
) -> Result<String, AuthError> {
    let cert = Certificate::from_openssh(cert_openssh)
        .map_err(|e| AuthError::BadRequest(format!("not an openssh certificate: {e}")))?;
    let cert_bytes = cert.to_bytes().map_err(|e| AuthError::Internal(e.to_string()))?;
    let message = signed_message(method, path, millis);
    let sig = key
        .sign(CERT_AUTH_NAMESPACE, HashAlg::Sha512, message.as_bytes())
        .map_err(|e| AuthError::Internal(format!("signing: {e}")))?;
    let sig_bytes = sig.encode_vec().map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(format!(
        "{CERT_AUTH_SCHEME} {}.{}.{}",
        STANDARD.encode(cert_bytes),
        millis.0,
        STANDARD.encode(sig_bytes)
    ))
}

fn signed_message(method: &str, path: &str, millis: UnixMillis) -> String {
    format!("{method} {path} {}", millis.0)
}

/// Verifies a header for `method` and `path` at `now`.
pub fn verify(
    user_ca: &CertAuthority,
    now: UnixMillis,
    header: &str,
    method: &str,
    path: &str,
) -> Result<CertCaller, AuthError> {
    let refuse = |why: &str| AuthError::CertAuth(why.to_string());
    if header.len() > HEADER_MAX_BYTES {
        return Err(refuse("the header is too large"));
    }
    let rest = header
        .strip_prefix(CERT_AUTH_SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| refuse("the header does not use the HwaCert scheme"))?;
    let mut parts = rest.trim().split('.');
    let (Some(cert_b64), Some(millis_text), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse("expected `HwaCert <certificate>.<unix millis>.<signature>`"));
    };
    let cert_bytes =
        STANDARD.decode(cert_b64).map_err(|_| refuse("the certificate is not base64"))?;
    let cert = Certificate::from_bytes(&cert_bytes)
        .map_err(|_| refuse("the certificate is not an openssh certificate"))?;
    if cert.cert_type() != CertType::User {
        return Err(refuse("the certificate is not a user certificate"));
    }
    cert.validate_at(now.secs_floor(), [user_ca.fingerprint()]).map_err(|_| {
        refuse(
            "the certificate is not signed by this cluster's user ca or is not valid now; run \
             the command again",
        )
    })?;
    let millis = UnixMillis(millis_text.parse().map_err(|_| refuse("the time is not a number"))?);
    let skew_ok = millis.until(now) <= CERT_AUTH_SKEW && now.until(millis) <= CERT_AUTH_SKEW;
    let window_start = UnixMillis(cert.valid_after().saturating_mul(1000)).minus(CERT_AUTH_SKEW);
    let window_end = UnixMillis(cert.valid_before().saturating_mul(1000)).plus(CERT_AUTH_SKEW);
    if !skew_ok || millis < window_start || millis > window_end {
        return Err(refuse("the signed time is too far from the server's clock; check the clock"));
    }
    let sig_bytes = STANDARD.decode(sig_b64).map_err(|_| refuse("the signature is not base64"))?;
    let sig = SshSig::decode(&mut sig_bytes.as_slice())
        .map_err(|_| refuse("the signature is not an sshsig"))?;
    let key = PublicKey::from(cert.public_key().clone());
    key.verify(CERT_AUTH_NAMESPACE, signed_message(method, path, millis).as_bytes(), &sig)
        .map_err(|_| refuse("the signature does not verify for this method and path"))?;
    let user = user_of_key_id(cert.key_id())
        .ok_or_else(|| refuse("the certificate was not issued by this cluster's auth service"))?
        .to_string();
    let nodes = cert
        .extensions()
        .get(EXT_NODES)
        .map(|list| list.split(',').filter(|n| !n.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(CertCaller {
        user,
        principals: cert.valid_principals().to_vec(),
        nodes,
        credential_id: cert.extensions().get(EXT_MFA_VERIFIED).cloned(),
    })
}
