//! The software authenticator: 1Password's `passkey-authenticator` with our credential store
//! ([`crate::store`]) and crypto backend ([`crate::crypto`]), and its fault switches.
//!
//! It keeps a signature counter per credential (starting at 0, plus one per assertion), holds
//! P-256 (ES256) keys only, and answers "none" attestation. User presence and verification
//! are always granted: the person is simulated. Like a synced passkey (passkey-rs's choice),
//! it reports its credentials as backup eligible and backed up.

use std::path::Path;

use hwa_core::SharedEntropy;
use hwa_core::entropy::OsEntropy;
use passkey_authenticator::{
    Authenticator, CredentialIdLength, UiHint, UserCheck, UserValidationMethod,
};
use passkey_client::Client;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};

use crate::crypto::EntropyBackend;
use crate::error::VaError;
use crate::faults::Faults;
use crate::store::SoftStore;

/// Length of the credential IDs we make: 32 random bytes, well above WebAuthn's 16-byte floor.
pub const CREDENTIAL_ID_BYTES: u8 = 32;

/// The passkey-client `Client` around our authenticator.
pub(crate) type PasskeyClient =
    Client<SoftStore, SoftUser, EntropyBackend, public_suffix::PublicSuffixList, ()>;

/// A software authenticator holding P-256 credentials.
pub struct SoftAuthenticator {
    pub(crate) client: PasskeyClient,
    pub(crate) entropy: SharedEntropy,
    faults: Faults,
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("store", self.client.authenticator().store())
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl SoftAuthenticator {
    /// Opens (or creates, mode 0600) a JSON credential file; refuses a file readable by group
    /// or others. Keys come from the operating system's generator.
    pub fn open_file(path: &Path) -> Result<Self, VaError> {
        Ok(Self::build(SoftStore::open(path)?, OsEntropy::shared()))
    }

    /// An authenticator whose keys and credential IDs come from `entropy`: the same seed
    /// gives the same credentials.
    pub fn in_memory(entropy: SharedEntropy) -> Self {
        Self::build(SoftStore::in_memory(), entropy)
    }

    fn build(store: SoftStore, entropy: SharedEntropy) -> Self {
        let backend = EntropyBackend::new(entropy.clone());
        let mut authenticator = Authenticator::new(Aaguid::new_empty(), store, SoftUser, backend);
        authenticator.set_make_credentials_with_signature_counter(true);
        authenticator.set_make_credential_id_length(CredentialIdLength::from(CREDENTIAL_ID_BYTES));
        // Our client checks origins itself (crate::origin) before passkey-client sees them.
        let client = Client::new(authenticator).allows_insecure_localhost(true);
        SoftAuthenticator { client, entropy, faults: Faults::default() }
    }

    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    pub fn credential_count(&self) -> usize {
        self.client.authenticator().store().len()
    }

    pub(crate) fn credential(&self, id: &[u8]) -> Option<&Passkey> {
        self.client.authenticator().store().get(id)
    }
}

/// The simulated person: present and verified whenever asked.
#[derive(Debug, Clone, Copy)]
pub struct SoftUser;

#[async_trait::async_trait]
impl UserValidationMethod for SoftUser {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}
