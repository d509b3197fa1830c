//! The WebAuthn client: plays the browser between a relying party's JSON and the authenticator.

use crate::authenticator::SoftAuthenticator;
use crate::error::VaError;

/// Plays the browser: checks the origin, writes the client data, encodes the JSON answers.
#[derive(Debug)]
pub struct WebauthnClient {
    authenticator: SoftAuthenticator,
}

impl WebauthnClient {
    pub fn new(authenticator: SoftAuthenticator) -> Self {
        WebauthnClient { authenticator }
    }

    /// Creates a credential; answers a `RegistrationResponseJSON`.
    pub async fn register(
        &mut self,
        _creation_options: &serde_json::Value,
        _origin: &str,
    ) -> Result<serde_json::Value, VaError> {
        Err(VaError::Authenticator("registration is being implemented".into()))
    }

    /// Asserts with a stored credential; answers an `AuthenticationResponseJSON`.
    pub async fn authenticate(
        &mut self,
        _request_options: &serde_json::Value,
        _origin: &str,
    ) -> Result<serde_json::Value, VaError> {
        Err(VaError::Authenticator("assertion is being implemented".into()))
    }

    pub fn authenticator(&self) -> &SoftAuthenticator {
        &self.authenticator
    }

    pub fn authenticator_mut(&mut self) -> &mut SoftAuthenticator {
        &mut self.authenticator
    }
}
