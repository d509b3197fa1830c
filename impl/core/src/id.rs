//! The headless request ID (SPEC HL-03) and the match code (SPEC HL-15).
//!
//! The ID is derived from the client's SSH public key, so that the server can refuse a request
//! whose ID and key disagree (HL-09) and an attacker cannot race a victim's ID with a key of its
//! own. The derivation mirrors the reference implementation byte for byte: SHA-256 over a
//! 16-byte zero namespace and the key in `authorized_keys` text form, truncated to 16 bytes, with
//! the UUID version nibble set to 5 and the RFC 4122 variant bits. It is not an RFC 4122 version
//! 5 UUID, which would use SHA-1.
//!
//! The match code is a short number both the waiting client and the approval page show, so a
//! person can see that the request they approve is the one their terminal is waiting on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The namespace prefix of the derivation: sixteen zero bytes, as in the reference.
const ID_NAMESPACE: [u8; 16] = [0u8; 16];

/// Domain separation for the match code, so it never equals a prefix of anything else hashed
/// from the key.
const MATCH_CODE_DOMAIN: &[u8] = b"headless-webauthn match code v1\0";

/// A headless request ID: a lowercase hyphenated UUID string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(uuid::Uuid);

impl RequestId {
    /// Derives the ID from the SSH public key exactly as sent to the server.
    pub fn derive(ssh_pub_key: &[u8]) -> RequestId {
        let mut hasher = Sha256::new();
        hasher.update(ID_NAMESPACE);
        hasher.update(ssh_pub_key);
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x50;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        RequestId(uuid::Uuid::from_bytes(bytes))
    }

    /// Whether this ID is the one derived from `ssh_pub_key` (SPEC HL-09).
    pub fn matches_key(&self, ssh_pub_key: &[u8]) -> bool {
        *self == RequestId::derive(ssh_pub_key)
    }
}

/// Why a string is not a request ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a headless request ID; IDs look like bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f")]
pub struct RequestIdError(String);

impl FromStr for RequestId {
    type Err = RequestIdError;

    /// Accepts only the canonical lowercase hyphenated form, so that one request has exactly
    /// one spelling in storage keys and URLs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown: String = s.chars().take(64).collect();
        let parsed = uuid::Uuid::try_parse(s).map_err(|_| RequestIdError(shown.clone()))?;
        let canonical = parsed.hyphenated().to_string();
        if canonical != s {
            return Err(RequestIdError(shown));
        }
        Ok(RequestId(parsed))
    }
}

impl TryFrom<String> for RequestId {
    type Error = RequestIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.to_string()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0.hyphenated())
    }
}

/// The six-digit code shown as `123-456` by the waiting client and by every approver.
pub fn match_code(ssh_pub_key: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(MATCH_CODE_DOMAIN);
    hasher.update(ssh_pub_key);
    let digest = hasher.finalize();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
    format!("{:03}-{:03}", n / 1000, n % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_the_reference_vector() {
        let id = RequestId::derive(b"fake-ssh-public-key");
        assert_eq!(id.to_string(), "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f");
    }

    #[test]
    fn derivation_sets_version_and_variant_bits() {
        let id = RequestId::derive(b"another key");
        let text = id.to_string();
        assert_eq!(&text[14..15], "5");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn a_different_key_gives_a_different_id() {
        let id = RequestId::derive(b"fake-ssh-public-key");
        assert!(id.matches_key(b"fake-ssh-public-key"));
        assert!(!id.matches_key(b"fake-ssh-public-kez"));
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        assert!("bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f".parse::<RequestId>().is_ok());
        assert!("BB2D2F28-D1B9-54F5-BFE0-33A70D669F5F".parse::<RequestId>().is_err());
        assert!("bb2d2f28d1b954f5bfe033a70d669f5f".parse::<RequestId>().is_err());
        assert!("../../etc/passwd".parse::<RequestId>().is_err());
    }

    #[test]
    fn match_code_is_six_digits_and_depends_on_the_key() {
        let a = match_code(b"key a");
        assert_eq!(a.len(), 7);
        assert_eq!(&a[3..4], "-");
        assert_eq!(a, match_code(b"key a"));
        assert_ne!(a, match_code(b"key b"));
    }
}
