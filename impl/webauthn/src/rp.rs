//! The relying party and its four ceremony steps.

use hwa_core::{Entropy, UnixMillis};

use crate::error::WebauthnError;
use crate::records::{CeremonyState, StoredCredential, VerifiedAssertion, WebauthnUser};

/// What the relying party is: its RP ID, its display name and the origins pages may run at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub allowed_origins: Vec<String>,
}

/// A configured relying party.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    config: RpConfig,
}

impl RelyingParty {
    pub fn new(config: RpConfig) -> Result<Self, WebauthnError> {
        Ok(RelyingParty { config })
    }

    pub fn config(&self) -> &RpConfig {
        &self.config
    }

    pub fn start_registration(
        &self,
        _user: &WebauthnUser,
        _existing: &[StoredCredential],
        _entropy: &dyn Entropy,
        _now: UnixMillis,
    ) -> Result<(serde_json::Value, CeremonyState), WebauthnError> {
        Err(WebauthnError::Config("registration is being implemented".into()))
    }

    pub fn finish_registration(
        &self,
        _state: &CeremonyState,
        _response: &serde_json::Value,
        _now: UnixMillis,
    ) -> Result<StoredCredential, WebauthnError> {
        Err(WebauthnError::Config("registration is being implemented".into()))
    }

    pub fn start_assertion(
        &self,
        _user: &WebauthnUser,
        _credentials: &[StoredCredential],
        _entropy: &dyn Entropy,
        _now: UnixMillis,
    ) -> Result<(serde_json::Value, CeremonyState), WebauthnError> {
        Err(WebauthnError::Config("assertion is being implemented".into()))
    }

    pub fn finish_assertion(
        &self,
        _state: &CeremonyState,
        _response: &serde_json::Value,
        _user: &WebauthnUser,
        _credentials: &[StoredCredential],
        _now: UnixMillis,
    ) -> Result<VerifiedAssertion, WebauthnError> {
        Err(WebauthnError::Config("assertion is being implemented".into()))
    }
}

/// The challenge of a registration or assertion response, base64url as in `clientDataJSON`.
pub fn challenge_of_response(_response: &serde_json::Value) -> Result<String, WebauthnError> {
    Err(WebauthnError::Config("being implemented".into()))
}
