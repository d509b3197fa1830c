//! The `HwaCert` authorization header (see [`hwa_core::api::CERT_AUTH_SCHEME`]): a headless
//! identity proves each request by signing `METHOD SP PATH SP UNIX_MILLIS` with its key.
//!
//! Wire form: `HwaCert <certificate>.<millis>.<signature>`, where `<certificate>` is the
//! certificate's binary encoding (the base64 field of its OpenSSH line) and `<signature>` the
//! binary SSHSIG blob (what `ssh-keygen -Y sign` armours in PEM), namespace
//! [`CERT_AUTH_NAMESPACE`], hash SHA-512; both standard base64 with padding, as the auth
//! service's verifier (`hwa_auth::cert_auth`) expects.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hwa_core::api::{CERT_AUTH_NAMESPACE, CERT_AUTH_SCHEME};
use hwa_core::time::UnixMillis;
use ssh_key::HashAlg;
use ssh_key::encoding::Encode;

use crate::error::ClientError;
use crate::headless::HeadlessIdentity;

/// The text the header's signature covers.
pub fn signed_text(method: &str, path: &str, now: UnixMillis) -> String {
    format!("{method} {path} {}", now.0)
}

impl HeadlessIdentity {
    /// The `Authorization` header value for one request made at `now`.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        now: UnixMillis,
    ) -> Result<String, ClientError> {
        let cert_bytes = self
            .certificate
            .to_bytes()
            .map_err(|e| ClientError::Protocol(format!("encoding the certificate failed: {e}")))?;
        let message = signed_text(method, path, now);
        let signature = self
            .private_key()
            .sign(CERT_AUTH_NAMESPACE, HashAlg::Sha512, message.as_bytes())
            .map_err(|e| ClientError::Protocol(format!("signing the request failed: {e}")))?;
        let blob = signature
            .encode_vec()
            .map_err(|e| ClientError::Protocol(format!("encoding the signature failed: {e}")))?;
        Ok(format!(
            "{CERT_AUTH_SCHEME} {}.{}.{}",
            STANDARD.encode(cert_bytes),
            now.0,
            STANDARD.encode(blob)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_text_is_method_path_and_millis() {
        assert_eq!(signed_text("GET", "/webapi/nodes", UnixMillis(42)), "GET /webapi/nodes 42");
    }
}
