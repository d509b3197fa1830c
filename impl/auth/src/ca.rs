//! The cluster's two Ed25519 certificate authorities: the user CA signs the certificates an
//! approval grants, the host CA signs node host certificates.
//!
//! Each key is generated from the [`hwa_core::Entropy`] seam on the first start and stored as
//! its 32-byte seed under `ca/user` and `ca/host` (ARCHITECTURE.md "Secrets at rest": the store
//! is the secret). Several auth servers sharing a store race with `create`; the loser reads the
//! winner's key, so every server signs with the same CA.
//!
//! # Limitations
//! No rotation: a real deployment would add a second key, trust both, and retire the first.

use hwa_core::Entropy;
use hwa_store::Store;
use serde::{Deserialize, Serialize};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{HashAlg, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::kv;

/// Which authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaKind {
    User,
    Host,
}

impl CaKind {
    fn key(self) -> &'static str {
        match self {
            CaKind::User => "ca/user",
            CaKind::Host => "ca/host",
        }
    }

    fn label(self) -> &'static str {
        match self {
            CaKind::User => "user",
            CaKind::Host => "host",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CaRecord {
    /// Hex of the Ed25519 seed.
    seed_hex: String,
}

/// A loaded authority.
pub struct CertAuthority {
    key: PrivateKey,
    public_line: String,
    fingerprint: ssh_key::Fingerprint,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority").field("fingerprint", &self.fingerprint.to_string()).finish()
    }
}

impl CertAuthority {
    /// Loads the authority, creating it on the first start.
    pub async fn load_or_create(
        store: &dyn Store,
        entropy: &dyn Entropy,
        kind: CaKind,
        cluster_name: &str,
    ) -> Result<CertAuthority, AuthError> {
        let seed = Zeroizing::new(hwa_core::entropy::array::<32>(entropy));
        let fresh = CaRecord { seed_hex: hex::encode(*seed) };
        if kv::create(store, kind.key(), &fresh, None).await?.is_some() {
            tracing::info!(ca = kind.label(), "created certificate authority");
            return Self::from_seed(&seed, kind, cluster_name);
        }
        let stored = kv::get::<CaRecord>(store, kind.key())
            .await?
            .ok_or_else(|| AuthError::Internal(format!("{} vanished", kind.key())))?;
        let bytes = Zeroizing::new(
            hex::decode(&stored.value.seed_hex).map_err(|e| AuthError::corrupt(kind.key(), e))?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| AuthError::corrupt(kind.key(), "seed length"))?,
        );
        Self::from_seed(&seed, kind, cluster_name)
    }

    pub(crate) fn from_seed(
        seed: &[u8; 32],
        kind: CaKind,
        cluster_name: &str,
    ) -> Result<Self, AuthError> {
        let keypair = Ed25519Keypair::from_seed(seed);
        let comment = format!("hwa {} ca {cluster_name}", kind.label());
        let key = PrivateKey::new(KeypairData::from(keypair), comment)
            .map_err(|e| AuthError::Internal(format!("ca key: {e}")))?;
        let public: &PublicKey = key.public_key();
        let public_line =
            public.to_openssh().map_err(|e| AuthError::Internal(format!("ca public key: {e}")))?;
        let fingerprint = public.fingerprint(HashAlg::Sha256);
        Ok(CertAuthority { key, public_line, fingerprint })
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// One OpenSSH line, as `TrustedUserCAKeys` or `@cert-authority` read it.
    pub fn public_line(&self) -> &str {
        &self.public_line
    }

    pub fn fingerprint(&self) -> &ssh_key::Fingerprint {
        &self.fingerprint
    }
}
