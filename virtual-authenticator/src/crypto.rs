//! The crypto backend of the software authenticator: P-256 keys and credential IDs drawn from
//! an [`Entropy`], so that a seed replays them.
//!
//! `passkey-authenticator` takes its key generation from a [`CryptoBackend`] value (our seam
//! for keys) but draws credential IDs from the backend's `Rng` type through associated
//! functions that get no `self`. Those read the entropy of the ceremony in progress from a
//! tokio task-local, set by [`with_entropy`] around every authenticator call. Signing and
//! hashing stay with passkey-crypto's RustCrypto implementation.
//!
//! It also signs the re-written assertions of the fault switches ([`sign_es256`]).

use std::future::Future;
use std::ops::RangeInclusive;

use hwa_core::entropy::{OsEntropy, RngAdapter};
use hwa_core::{Entropy, SharedEntropy};
use p256::ecdsa::signature::Signer as _;
use passkey_crypto::coset::iana::{self, EnumI64 as _};
use passkey_crypto::coset::{CoseKey, CoseKeyBuilder, Label};
use passkey_crypto::rng::RngBackend;
use passkey_crypto::rust_crypto::{RustCryptoSecretKey, RustCryptoSha2};
use passkey_crypto::{CryptoBackend, SecretKeyT as _};

use crate::error::VaError;

tokio::task_local! {
    static CEREMONY_ENTROPY: SharedEntropy;
}

/// Runs `future` with `entropy` as the source of credential IDs.
pub(crate) async fn with_entropy<F: Future>(entropy: SharedEntropy, future: F) -> F::Output {
    CEREMONY_ENTROPY.scope(entropy, future).await
}

fn fill(dest: &mut [u8]) {
    let filled = CEREMONY_ENTROPY.try_with(|entropy| entropy.fill(dest));
    if filled.is_err() {
        // Only reached when passkey code draws randomness outside a ceremony we started;
        // the operating system's generator is the safe choice there.
        tracing::debug!(target: "hwa_virtual_authenticator", "randomness outside a ceremony");
        OsEntropy.fill(dest);
    }
}

/// The `Rng` of [`EntropyBackend`]: reads the ceremony's entropy.
#[derive(Debug)]
pub struct EntropyRng;

impl RngBackend for EntropyRng {
    fn random_vec(len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        fill(&mut out);
        out
    }

    fn random_array<const N: usize>() -> [u8; N] {
        let mut out = [0u8; N];
        fill(&mut out);
        out
    }

    fn from_range(range: RangeInclusive<u8>) -> u8 {
        let (low, high) = (*range.start(), *range.end());
        let span = u16::from(high.saturating_sub(low)) + 1;
        // Rejection sampling keeps the draw uniform.
        let limit = 256 - 256 % span;
        loop {
            let mut byte = [0u8; 1];
            fill(&mut byte);
            let value = u16::from(byte[0]);
            if value < limit {
                let offset = u8::try_from(value % span).unwrap_or(0);
                return low.saturating_add(offset);
            }
        }
    }
}

/// A [`CryptoBackend`] that makes ES256 (P-256) keys from an [`Entropy`].
#[derive(Debug, Clone)]
pub struct EntropyBackend {
    entropy: SharedEntropy,
}

impl EntropyBackend {
    pub fn new(entropy: SharedEntropy) -> Self {
        EntropyBackend { entropy }
    }
}

impl CryptoBackend for EntropyBackend {
    type Rng = EntropyRng;
    type Sha256 = RustCryptoSha2;
    type SecretKey = RustCryptoSecretKey;

    fn enumerate_algorithms(&self) -> Vec<iana::Algorithm> {
        vec![iana::Algorithm::ES256]
    }

    fn generate_key(
        &self,
        algorithm: iana::Algorithm,
    ) -> Result<Self::SecretKey, passkey_crypto::Error> {
        if !matches!(algorithm, iana::Algorithm::ES256 | iana::Algorithm::ESP256) {
            return Err(format!("algorithm {algorithm:?} is not supported").into());
        }
        let signing = p256::ecdsa::SigningKey::random(&mut RngAdapter(self.entropy.as_ref()));
        let cose = private_cose_key(&signing);
        RustCryptoSecretKey::from_cose_key(&cose)
            .map_err(|e| format!("generated key rejected: {e:?}").into())
    }
}

/// The COSE form (EC2, P-256, ES256) of a private key, as passkey-crypto writes it.
pub fn private_cose_key(signing: &p256::ecdsa::SigningKey) -> CoseKey {
    let point = signing.verifying_key().to_encoded_point(false);
    let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
    let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
    CoseKeyBuilder::new_ec2_priv_key(iana::EllipticCurve::P_256, x, y, signing.to_bytes().to_vec())
        .algorithm(iana::Algorithm::ES256)
        .build()
}

/// The private scalar `d` of a COSE EC2 key.
pub fn private_scalar(key: &CoseKey) -> Option<Vec<u8>> {
    let d_label = Label::Int(iana::Ec2KeyParameter::D.to_i64());
    key.params.iter().find(|(label, _)| *label == d_label).and_then(|(_, v)| v.as_bytes().cloned())
}

/// Rebuilds the COSE private key from its scalar.
pub fn cose_from_scalar(d: &[u8]) -> Result<CoseKey, VaError> {
    let signing = p256::ecdsa::SigningKey::from_slice(d)
        .map_err(|_| VaError::Authenticator("stored private key is not a P-256 scalar".into()))?;
    Ok(private_cose_key(&signing))
}

/// The public key, SEC1 uncompressed, of a private scalar.
pub fn public_key_sec1(d: &[u8]) -> Result<Vec<u8>, VaError> {
    let signing = p256::ecdsa::SigningKey::from_slice(d)
        .map_err(|_| VaError::Authenticator("stored private key is not a P-256 scalar".into()))?;
    Ok(signing.verifying_key().to_encoded_point(false).as_bytes().to_vec())
}

/// An ES256 signature (DER, as WebAuthn carries it) of `message` with scalar `d`.
pub fn sign_es256(d: &[u8], message: &[u8]) -> Result<Vec<u8>, VaError> {
    let signing = p256::ecdsa::SigningKey::from_slice(d)
        .map_err(|_| VaError::Authenticator("stored private key is not a P-256 scalar".into()))?;
    let signature: p256::ecdsa::Signature = signing.sign(message);
    Ok(signature.to_der().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hwa_core::entropy::SeededEntropy;

    use super::*;

    #[tokio::test]
    async fn credential_id_bytes_follow_the_ceremony_entropy() {
        let draw =
            || with_entropy(Arc::new(SeededEntropy::new(3)), async { EntropyRng::random_vec(32) });
        assert_eq!(draw().await, draw().await);
    }

    #[tokio::test]
    async fn range_draws_stay_in_range() {
        with_entropy(Arc::new(SeededEntropy::new(4)), async {
            for _ in 0..1000 {
                let v = EntropyRng::from_range(16..=64);
                assert!((16..=64).contains(&v));
            }
            assert_eq!(EntropyRng::from_range(9..=9), 9);
            // A full range rejects nothing, so it cannot loop.
            let _full = EntropyRng::from_range(0..=255);
        })
        .await;
    }

    #[test]
    fn a_private_scalar_survives_the_cose_round_trip_and_signs() {
        let d = [0x42u8; 32];
        let cose = cose_from_scalar(&d).unwrap();
        assert_eq!(private_scalar(&cose).unwrap(), d.to_vec());
        assert_eq!(public_key_sec1(&d).unwrap().len(), 65);
        // ECDSA with RFC 6979 nonces: the same message gives the same signature.
        assert_eq!(sign_es256(&d, b"m").unwrap(), sign_es256(&d, b"m").unwrap());
        assert!(cose_from_scalar(&[0u8; 32]).is_err());
    }
}
