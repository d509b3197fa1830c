//! The WebAuthn client: plays the browser between a relying party's JSON and the
//! authenticator.
//!
//! It takes the options a page would pass to `PublicKeyCredential.parse*OptionsFromJSON`
//! (bare, or wrapped as `{"publicKey": {...}}`), checks the page's origin against the RP ID
//! itself ([`crate::origin`]), writes the client data through passkey-client, and answers
//! what `credential.toJSON()` gives a page. Fault switches are applied last
//! ([`crate::tamper`]).

use std::time::Duration;

use passkey_client::{DefaultClientData, WebauthnError};
use passkey_types::ctap2::Ctap2Error;
use passkey_types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
};
use serde_json::Value;

use crate::authenticator::SoftAuthenticator;
use crate::crypto::{self, with_entropy};
use crate::error::VaError;
use crate::{origin, tamper};

/// How long an `absent` authenticator takes to fail when no delay is set: at once, the way a
/// browser reports a missing security key the moment the ceremony starts.
const ABSENT_DEFAULT_WAIT: Duration = Duration::ZERO;

/// Plays the browser: checks the origin, writes the client data, encodes the JSON answers.
#[derive(Debug)]
pub struct WebauthnClient {
    authenticator: SoftAuthenticator,
}

impl WebauthnClient {
    pub fn new(authenticator: SoftAuthenticator) -> Self {
        WebauthnClient { authenticator }
    }

    /// Creates a credential from `PublicKeyCredentialCreationOptions` JSON, as a page at
    /// `origin` would; answers a `RegistrationResponseJSON`.
    pub async fn register(
        &mut self,
        creation_options: &Value,
        origin: &str,
    ) -> Result<Value, VaError> {
        let public_key: PublicKeyCredentialCreationOptions = parse_options(creation_options)?;
        let rp_id = match &public_key.rp.id {
            Some(id) => id.clone(),
            None => origin_host(origin)?,
        };
        let url = origin::check(origin, &rp_id)?;
        let faults = self.wait_for_user().await?;
        // CTAP2 makeCredential step 1: a listed credential already here ends the ceremony.
        // passkey-authenticator 0.6 asks the user but then goes on, so the check lives here.
        let excluded = public_key
            .exclude_credentials
            .iter()
            .flatten()
            .any(|d| self.authenticator.credential(&d.id).is_some_and(|p| p.rp_id == rp_id));
        if excluded {
            return Err(VaError::Excluded { rp_id });
        }
        let entropy = self.authenticator.entropy.clone();
        let request = CredentialCreationOptions { public_key };
        let created = with_entropy(
            entropy,
            self.authenticator.client.register(&url, request, DefaultClientData),
        )
        .await
        .map_err(|e| client_error(e, &rp_id))?;
        let mut json = to_json(&created)?;
        tamper::registration(&mut json, &faults)?;
        tracing::debug!(target: "hwa_virtual_authenticator", rp_id = %rp_id, "registered");
        Ok(json)
    }

    /// Asserts with a stored credential from `PublicKeyCredentialRequestOptions` JSON, as a
    /// page at `origin` would; answers an `AuthenticationResponseJSON`.
    pub async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
    ) -> Result<Value, VaError> {
        let public_key: PublicKeyCredentialRequestOptions = parse_options(request_options)?;
        let rp_id = match &public_key.rp_id {
            Some(id) => id.clone(),
            None => origin_host(origin)?,
        };
        let url = origin::check(origin, &rp_id)?;
        let faults = self.wait_for_user().await?;
        let entropy = self.authenticator.entropy.clone();
        let request = CredentialRequestOptions { public_key };
        let asserted = with_entropy(
            entropy,
            self.authenticator.client.authenticate(&url, request, DefaultClientData),
        )
        .await
        .map_err(|e| client_error(e, &rp_id))?;
        let id = asserted.raw_id.to_vec();
        let mut json = to_json(&asserted)?;
        let d = self
            .authenticator
            .credential(&id)
            .and_then(|p| crypto::private_scalar(&p.key))
            .ok_or_else(|| VaError::NoCredential { rp_id: rp_id.clone() })?;
        tamper::assertion(&mut json, &faults, &d)?;
        tracing::debug!(target: "hwa_virtual_authenticator", rp_id = %rp_id, "asserted");
        Ok(json)
    }

    pub fn authenticator(&self) -> &SoftAuthenticator {
        &self.authenticator
    }

    pub fn authenticator_mut(&mut self) -> &mut SoftAuthenticator {
        &mut self.authenticator
    }

    /// The slow or absent user of the fault switches.
    async fn wait_for_user(&self) -> Result<crate::Faults, VaError> {
        let faults = self.authenticator.faults();
        if let Some(delay) = faults.delay {
            tokio::time::sleep(delay).await;
        } else if faults.absent {
            tokio::time::sleep(ABSENT_DEFAULT_WAIT).await;
        }
        if faults.absent {
            return Err(VaError::Absent);
        }
        Ok(faults)
    }
}

fn parse_options<T: serde::de::DeserializeOwned>(options: &Value) -> Result<T, VaError> {
    let inner = options.get("publicKey").unwrap_or(options);
    serde_json::from_value(inner.clone()).map_err(|e| VaError::Options(e.to_string()))
}

fn origin_host(origin: &str) -> Result<String, VaError> {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .ok_or_else(|| VaError::Origin { origin: origin.to_owned(), rp_id: String::new() })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, VaError> {
    serde_json::to_value(value)
        .map_err(|e| VaError::Authenticator(format!("cannot encode the response: {e}")))
}

fn client_error(error: WebauthnError, rp_id: &str) -> VaError {
    let rp_id = rp_id.to_owned();
    match error {
        WebauthnError::CredentialNotFound => VaError::NoCredential { rp_id },
        WebauthnError::AuthenticatorError(code) if code == u8::from(Ctap2Error::NoCredentials) => {
            VaError::NoCredential { rp_id }
        }
        WebauthnError::AuthenticatorError(code)
            if code == u8::from(Ctap2Error::CredentialExcluded) =>
        {
            VaError::Excluded { rp_id }
        }
        other => VaError::Authenticator(format!("{other:?}")),
    }
}
