//! The PIN/UV auth protocols one and two (CTAP 2.1, section 6.5): how a client proves to a key
//! that the person typed the right PIN without the PIN crossing the wire in clear, and how a
//! request then carries proof that it comes from that client.
//!
//! Both sides agree on a secret by ECDH over P-256 ([`KeyPair`], [`CoseKey`]); the secret
//! encrypts the PIN hash and the token the key answers with ([`SharedSecret`]). The token
//! then authenticates each request's client data hash ([`authenticate`], [`verify`]).
//! Protocol one (CTAP 2.0 keys) hashes the ECDH secret with SHA-256 and encrypts with a zero IV;
//! protocol two derives separate HMAC and AES keys with HKDF and sends a random IV with each
//! ciphertext.

use aes::Aes256;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use ciborium::Value;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use hwa_core::Entropy;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cbor::{self, Fields};
use crate::error::CtapError;

const BLOCK: usize = 16;

/// The shortest PIN a key accepts, in Unicode code points (CTAP 2.1 default minimum).
pub const MIN_PIN_CHARS: usize = 4;
/// The longest PIN, in UTF-8 bytes: it is padded to 64 bytes with at least one zero.
pub const MAX_PIN_BYTES: usize = 63;

/// Which PIN/UV auth protocol a key and client speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    One,
    Two,
}

impl Protocol {
    pub fn number(self) -> u8 {
        match self {
            Protocol::One => 1,
            Protocol::Two => 2,
        }
    }

    pub fn from_number(n: u64) -> Option<Protocol> {
        match n {
            1 => Some(Protocol::One),
            2 => Some(Protocol::Two),
            _ => None,
        }
    }
}

/// A P-256 public key in the COSE form CTAP uses for key agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

/// COSE key members and values (RFC 9052/9053): kty EC2, alg ECDH-ES+HKDF-256, crv P-256.
const KTY: i64 = 1;
const ALG: i64 = 3;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const KTY_EC2: i64 = 2;
const ALG_ECDH_ES_HKDF_256: i64 = -25;
const CRV_P256: i64 = 1;

impl CoseKey {
    pub fn to_value(&self) -> Value {
        cbor::int_map(vec![
            (KTY, Some(cbor::int(KTY_EC2))),
            (ALG, Some(cbor::int(ALG_ECDH_ES_HKDF_256))),
            (CRV, Some(cbor::int(CRV_P256))),
            (X, Some(cbor::bytes(&self.x))),
            (Y, Some(cbor::bytes(&self.y))),
        ])
    }

    /// Reads a key the other side sent; a point off the curve is refused here, before any
    /// secret is combined with it.
    pub fn from_fields(fields: &Fields<'_>) -> Result<CoseKey, CtapError> {
        let kty = fields.get(KTY).cloned();
        let crv = fields.get(CRV).cloned();
        if kty != Some(cbor::int(KTY_EC2)) || crv != Some(cbor::int(CRV_P256)) {
            return Err(CtapError::malformed("the key agreement key is not an EC2 P-256 key"));
        }
        let coordinate = |key| -> Result<[u8; 32], CtapError> {
            fields.bytes(key)?.try_into().map_err(|_| {
                CtapError::malformed("a key agreement coordinate is not 32 bytes long")
            })
        };
        let key = CoseKey { x: coordinate(X)?, y: coordinate(Y)? };
        key.public_key()?;
        Ok(key)
    }

    fn public_key(&self) -> Result<p256::PublicKey, CtapError> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&self.x);
        sec1[33..].copy_from_slice(&self.y);
        p256::PublicKey::from_sec1_bytes(&sec1)
            .map_err(|_| CtapError::malformed("the key agreement key is not a point on P-256"))
    }
}

/// One side's ephemeral key agreement key.
pub struct KeyPair {
    secret: p256::SecretKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("public", &self.public()).finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key from `entropy` (retrying the negligible chance of an out-of-range scalar).
    pub fn generate(entropy: &dyn Entropy) -> KeyPair {
        loop {
            let candidate = Zeroizing::new(hwa_core::entropy::array::<32>(entropy));
            if let Ok(secret) = p256::SecretKey::from_slice(candidate.as_slice()) {
                return KeyPair { secret };
            }
        }
    }

    pub fn public(&self) -> CoseKey {
        let sec1 = self.secret.public_key().to_sec1_bytes();
        let mut key = CoseKey { x: [0; 32], y: [0; 32] };
        key.x.copy_from_slice(&sec1[1..33]);
        key.y.copy_from_slice(&sec1[33..65]);
        key
    }

    /// The secret both sides derive from this key and the other side's public key.
    pub fn agree(&self, protocol: Protocol, peer: &CoseKey) -> Result<SharedSecret, CtapError> {
        let shared = self.secret.diffie_hellman(&peer.public_key()?);
        let z = shared.raw_secret_bytes();
        let (hmac_key, aes_key) = match protocol {
            Protocol::One => {
                let k: [u8; 32] = Sha256::digest(z).into();
                (Zeroizing::new(k), Zeroizing::new(k))
            }
            Protocol::Two => {
                let hkdf = Hkdf::<Sha256>::new(Some(&[0u8; 32]), z);
                let mut hmac_key = Zeroizing::new([0u8; 32]);
                let mut aes_key = Zeroizing::new([0u8; 32]);
                let derive = |info: &[u8], okm: &mut [u8; 32]| {
                    if hkdf.expand(info, okm).is_err() {
                        unreachable!("32 bytes is a valid HKDF-SHA-256 output length");
                    }
                };
                derive(b"CTAP2 HMAC key", &mut hmac_key);
                derive(b"CTAP2 AES key", &mut aes_key);
                (hmac_key, aes_key)
            }
        };
        Ok(SharedSecret { protocol, hmac_key, aes_key })
    }
}

/// The secret a client and a key share for one PIN exchange.
pub struct SharedSecret {
    protocol: Protocol,
    hmac_key: Zeroizing<[u8; 32]>,
    aes_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret").field("protocol", &self.protocol).finish_non_exhaustive()
    }
}

impl SharedSecret {
    /// Encrypts whole blocks; protocol two puts a fresh IV from `entropy` in front.
    pub fn encrypt(&self, plain: &[u8], entropy: &dyn Entropy) -> Result<Vec<u8>, CtapError> {
        if plain.is_empty() || !plain.len().is_multiple_of(BLOCK) {
            return Err(CtapError::malformed("only whole AES blocks are encrypted"));
        }
        let iv = match self.protocol {
            Protocol::One => [0u8; BLOCK],
            Protocol::Two => hwa_core::entropy::array::<BLOCK>(entropy),
        };
        let mut out = vec![0u8; plain.len()];
        cbc::Encryptor::<Aes256>::new(&(*self.aes_key).into(), &iv.into())
            .encrypt_padded_b2b::<NoPadding>(plain, &mut out)
            .map_err(|_| CtapError::malformed("AES-CBC encryption failed"))?;
        Ok(match self.protocol {
            Protocol::One => out,
            Protocol::Two => [iv.as_slice(), &out].concat(),
        })
    }

    /// Decrypts what the other side encrypted with [`SharedSecret::encrypt`].
    pub fn decrypt(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CtapError> {
        let (iv, body) = match self.protocol {
            Protocol::One => ([0u8; BLOCK], sealed),
            Protocol::Two => {
                if sealed.len() < BLOCK {
                    return Err(CtapError::malformed("an encrypted value is shorter than its IV"));
                }
                let (iv, body) = sealed.split_at(BLOCK);
                let mut block = [0u8; BLOCK];
                block.copy_from_slice(iv);
                (block, body)
            }
        };
        if body.is_empty() || !body.len().is_multiple_of(BLOCK) {
            return Err(CtapError::malformed("an encrypted value is not whole AES blocks"));
        }
        let mut out = Zeroizing::new(vec![0u8; body.len()]);
        cbc::Decryptor::<Aes256>::new(&(*self.aes_key).into(), &iv.into())
            .decrypt_padded_b2b::<NoPadding>(body, &mut out)
            .map_err(|_| CtapError::malformed("AES-CBC decryption failed"))?;
        Ok(out)
    }

    /// Authenticates `message` with the shared HMAC key (for setting and changing a PIN).
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        authenticate(self.protocol, self.hmac_key.as_slice(), message)
    }
}

/// The `pinUvAuthParam` of `message` under `key` (a PIN token): HMAC-SHA-256, cut to 16 bytes
/// for protocol one.
pub fn authenticate(protocol: Protocol, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut tag = mac(key, message).finalize().into_bytes().to_vec();
    if protocol == Protocol::One {
        tag.truncate(16);
    }
    tag
}

/// Checks a `pinUvAuthParam` in constant time.
pub fn verify(protocol: Protocol, key: &[u8], message: &[u8], param: &[u8]) -> bool {
    let want = match protocol {
        Protocol::One => 16,
        Protocol::Two => 32,
    };
    param.len() == want && mac(key, message).verify_truncated_left(param).is_ok()
}

fn mac(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(message);
    mac
}

/// `LEFT(SHA-256(PIN), 16)`: what a key stores and compares, never the PIN itself.
pub fn pin_hash(pin: &str) -> [u8; 16] {
    let digest = Sha256::digest(pin.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// Checks a PIN against the limits every key enforces, so a person hears about a short PIN
/// from us rather than as a key's error code.
pub fn check_pin(pin: &str) -> Result<(), CtapError> {
    if pin.chars().count() < MIN_PIN_CHARS {
        return Err(CtapError::Unsupported(format!(
            "a security key PIN has at least {MIN_PIN_CHARS} characters"
        )));
    }
    if pin.len() > MAX_PIN_BYTES {
        return Err(CtapError::Unsupported(format!(
            "a security key PIN has at most {MAX_PIN_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwa_core::entropy::SeededEntropy;

    fn pair(protocol: Protocol) -> (SharedSecret, SharedSecret) {
        let entropy = SeededEntropy::new(7);
        let (a, b) = (KeyPair::generate(&entropy), KeyPair::generate(&entropy));
        (a.agree(protocol, &b.public()).unwrap(), b.agree(protocol, &a.public()).unwrap())
    }

    #[test]
    fn both_sides_derive_one_secret_in_either_protocol() {
        let entropy = SeededEntropy::new(1);
        for protocol in [Protocol::One, Protocol::Two] {
            let (client, key) = pair(protocol);
            let sealed = client.encrypt(&[7u8; 32], &entropy).unwrap();
            assert_eq!(sealed.len(), if protocol == Protocol::One { 32 } else { 48 });
            assert_eq!(key.decrypt(&sealed).unwrap().as_slice(), &[7u8; 32]);
            assert_eq!(client.authenticate(b"m"), key.authenticate(b"m"));
        }
    }

    #[test]
    fn protocol_two_keeps_hmac_and_aes_keys_apart() {
        let (client, _) = pair(Protocol::Two);
        assert_ne!(*client.hmac_key, *client.aes_key);
        let (client, _) = pair(Protocol::One);
        assert_eq!(*client.hmac_key, *client.aes_key);
    }

    #[test]
    fn a_tag_checks_only_with_its_key_message_and_length() {
        for protocol in [Protocol::One, Protocol::Two] {
            let tag = authenticate(protocol, b"token", b"client data hash");
            assert!(verify(protocol, b"token", b"client data hash", &tag));
            assert!(!verify(protocol, b"other", b"client data hash", &tag));
            assert!(!verify(protocol, b"token", b"another hash", &tag));
            assert!(!verify(protocol, b"token", b"client data hash", &tag[..8]));
            assert!(!verify(protocol, b"token", b"client data hash", &[]));
        }
    }

    #[test]
    fn off_curve_keys_and_odd_ciphertexts_are_refused() {
        let entropy = SeededEntropy::new(3);
        let mut key = KeyPair::generate(&entropy).public();
        key.y[31] ^= 1;
        let fields = Fields::of("test", key.to_value()).unwrap();
        assert!(CoseKey::from_fields(&fields).unwrap_err().to_string().contains("not a point"));
        let (client, _) = pair(Protocol::Two);
        assert!(client.decrypt(&[0u8; 8]).is_err());
        assert!(client.decrypt(&[0u8; 24]).is_err());
        assert!(client.decrypt(&[0u8; 16]).is_err());
        assert!(client.encrypt(&[0u8; 15], &entropy).is_err());
    }

    #[test]
    fn a_key_round_trips_through_cose() {
        let key = KeyPair::generate(&SeededEntropy::new(9)).public();
        let fields = Fields::of("test", key.to_value()).unwrap();
        assert_eq!(CoseKey::from_fields(&fields).unwrap(), key);
    }

    #[test]
    fn pins_are_checked_for_length_in_characters_and_bytes() {
        assert!(check_pin("123").is_err());
        assert!(check_pin("1234").is_ok());
        assert!(check_pin("ééé").is_err());
        assert!(check_pin(&"x".repeat(63)).is_ok());
        assert!(check_pin(&"x".repeat(64)).is_err());
        assert_eq!(pin_hash("1234").len(), 16);
    }
}
