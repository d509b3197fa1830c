//! Bearer tokens (sessions, invites, the admin token): how they are made and how they are
//! stored. Only the SHA-256 of a token is ever written (ARCHITECTURE.md "Secrets at rest"), so
//! a copy of the store does not let anyone log in.

use hwa_core::Entropy;
use sha2::{Digest, Sha256};

/// Random bytes in a token: 256 bits, beyond guessing for any attacker.
pub const TOKEN_BYTES: usize = 32;

/// A fresh token, hex encoded.
pub fn new_token(entropy: &dyn Entropy) -> String {
    hwa_core::entropy::token_hex(entropy, TOKEN_BYTES)
}

/// The hex SHA-256 of a token: its storage key and its loggable identity.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the shape of a token this service hands out, checked before it is
/// hashed into a storage key.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwa_core::entropy::SeededEntropy;

    #[test]
    fn a_new_token_has_the_accepted_shape_and_its_hash_differs_from_it() {
        let token = new_token(&SeededEntropy::new(1));
        assert!(looks_like_token(&token));
        assert_ne!(token_hash(&token), token);
        assert!(!looks_like_token("../sessions/x"));
    }
}
