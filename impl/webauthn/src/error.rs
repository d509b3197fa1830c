//! Errors of the relying party: one variant per check of SPEC section 3 (WebAuthn Level 3,
//! section 7.2), plus malformed input, expiry and configuration errors.
//!
//! The auth service reports [`WebauthnError::check`] in audit events ("approval failed, reason")
//! and the conformance suite matches on it, so those names are stable.

use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::register::error::RegCeremonyErr;

/// Why a ceremony failed. Messages say which check failed, never echo secrets.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebauthnError {
    /// The credential's `type` is not `public-key`.
    #[error(
        "the credential type is not \"public-key\"; answer with a WebAuthn public key credential"
    )]
    ResponseType,
    /// The asserting credential is not one of the user's registered credentials.
    #[error("the credential is not registered for this user; use a registered security key")]
    AllowedCredential,
    /// The user handle returned by the authenticator is not the user's.
    #[error("the credential belongs to another user")]
    UserHandle,
    /// The client data is not UTF-8 JSON of the expected shape.
    #[error("the client data is not valid UTF-8 JSON: {0}")]
    ClientDataJson(String),
    /// The client data `type` is not the one of this ceremony.
    #[error("the client data type is not the one of this ceremony")]
    ClientDataType,
    /// The client data challenge is not the one issued for this ceremony.
    #[error("the challenge does not match the one issued; start the ceremony again")]
    Challenge,
    /// The origin is not one of the allowed origins.
    #[error(
        "the origin is not allowed for this relying party; open the page at a configured origin"
    )]
    Origin,
    /// The client data says the ceremony ran in a cross-origin frame.
    #[error("cross-origin ceremonies are not allowed")]
    CrossOrigin,
    /// The authenticator data's RP ID hash is not SHA-256 of our RP ID.
    #[error("the authenticator signed for another relying party id")]
    RpIdHash,
    /// The user-present flag is not set.
    #[error("the authenticator did not confirm user presence; touch the security key")]
    UserPresent,
    /// The user-verified flag is not set although verification is required.
    #[error("the authenticator did not verify the user; use a key with a PIN or biometrics")]
    UserVerified,
    /// Backup eligibility and backup state flags are inconsistent (BE=0, BS=1).
    #[error("the authenticator's backup flags are inconsistent")]
    BackupFlags,
    /// The signature does not verify with the stored public key.
    #[error("the assertion signature does not verify")]
    Signature,
    /// The signature counter did not increase: a cloned-authenticator signal.
    #[error("the signature counter did not increase; the security key may have been cloned")]
    Counter,
    /// The authenticator or client returned extensions that were not requested.
    #[error("the response carries extensions that were not requested")]
    Extensions,
    /// The attestation (registration only) is unusable: unsupported key, bad format.
    #[error("the attestation is not acceptable: {0}")]
    Attestation(String),
    /// Input that could not be parsed at all.
    #[error("malformed webauthn input: {0}")]
    Malformed(String),
    /// The ceremony state expired before the response arrived.
    #[error("the webauthn challenge expired; start the ceremony again")]
    Expired,
    /// The relying party configuration is invalid.
    #[error("invalid webauthn configuration: {0}")]
    Config(String),
}

impl WebauthnError {
    /// The stable name of the SPEC section 3 step that failed.
    pub fn check(&self) -> &'static str {
        match self {
            WebauthnError::ResponseType => "response_type",
            WebauthnError::AllowedCredential => "allowed_credential",
            WebauthnError::UserHandle => "user_handle",
            WebauthnError::ClientDataJson(_) => "client_data_json",
            WebauthnError::ClientDataType => "type",
            WebauthnError::Challenge => "challenge",
            WebauthnError::Origin => "origin",
            WebauthnError::CrossOrigin => "cross_origin",
            WebauthnError::RpIdHash => "rp_id_hash",
            WebauthnError::UserPresent => "user_present",
            WebauthnError::UserVerified => "user_verified",
            WebauthnError::BackupFlags => "backup_flags",
            WebauthnError::Signature => "signature",
            WebauthnError::Counter => "counter",
            WebauthnError::Extensions => "extensions",
            WebauthnError::Attestation(_) => "attestation",
            WebauthnError::Malformed(_) => "malformed",
            WebauthnError::Expired => "expired",
            WebauthnError::Config(_) => "config",
        }
    }
}

/// Maps a failed assertion check of `webauthn_rp` to our check.
pub(crate) fn map_auth_error(error: AuthCeremonyErr) -> WebauthnError {
    use webauthn_rp::response::auth::error::AuthenticatorDataErr as Data;
    match error {
        AuthCeremonyErr::Timeout => WebauthnError::Expired,
        AuthCeremonyErr::CollectedClientData(e) => WebauthnError::ClientDataJson(e.to_string()),
        AuthCeremonyErr::CollectedClientDataRelaxed(e) => {
            WebauthnError::ClientDataJson(e.to_string())
        }
        AuthCeremonyErr::AuthenticatorData(Data::UserNotPresent) => WebauthnError::UserPresent,
        AuthCeremonyErr::AuthenticatorData(Data::BackupWithoutEligibility) => {
            WebauthnError::BackupFlags
        }
        AuthCeremonyErr::AuthenticatorData(Data::AuthenticatorExtension(_)) => {
            WebauthnError::Extensions
        }
        AuthCeremonyErr::AuthenticatorData(e) => {
            WebauthnError::Malformed(format!("authenticator data: {e}"))
        }
        AuthCeremonyErr::PubKey(e) => WebauthnError::Malformed(format!("stored public key: {e}")),
        AuthCeremonyErr::AssertionSignature => WebauthnError::Signature,
        AuthCeremonyErr::OriginMismatch => WebauthnError::Origin,
        AuthCeremonyErr::CrossOrigin | AuthCeremonyErr::TopOriginMismatch => {
            WebauthnError::CrossOrigin
        }
        AuthCeremonyErr::ChallengeMismatch => WebauthnError::Challenge,
        AuthCeremonyErr::RpIdHashMismatch => WebauthnError::RpIdHash,
        AuthCeremonyErr::UserNotVerified => WebauthnError::UserVerified,
        AuthCeremonyErr::BackupEligible
        | AuthCeremonyErr::BackupNotEligible
        | AuthCeremonyErr::BackupDoesNotExist => WebauthnError::BackupFlags,
        AuthCeremonyErr::Extension(_) => WebauthnError::Extensions,
        AuthCeremonyErr::SignatureCounter => WebauthnError::Counter,
        AuthCeremonyErr::UserHandleMismatch | AuthCeremonyErr::MissingUserHandle => {
            WebauthnError::UserHandle
        }
        AuthCeremonyErr::CredentialIdMismatch | AuthCeremonyErr::NoMatchingAllowedCredential => {
            WebauthnError::AllowedCredential
        }
        other => WebauthnError::Malformed(other.to_string()),
    }
}

/// Maps a failed registration check of `webauthn_rp` to our check.
pub(crate) fn map_reg_error(error: RegCeremonyErr) -> WebauthnError {
    use webauthn_rp::response::register::error::{
        AttestationObjectErr, AuthenticatorDataErr as Data,
    };
    match error {
        RegCeremonyErr::Timeout => WebauthnError::Expired,
        RegCeremonyErr::CollectedClientData(e) => WebauthnError::ClientDataJson(e.to_string()),
        RegCeremonyErr::CollectedClientDataRelaxed(e) => {
            WebauthnError::ClientDataJson(e.to_string())
        }
        RegCeremonyErr::AttestationObject(AttestationObjectErr::AuthData(
            Data::BackupWithoutEligibility,
        )) => WebauthnError::BackupFlags,
        RegCeremonyErr::AttestationObject(e) => WebauthnError::Attestation(e.to_string()),
        RegCeremonyErr::PubKey(e) => WebauthnError::Attestation(e.to_string()),
        RegCeremonyErr::PublicKeyAlgorithmMismatch => {
            WebauthnError::Attestation("public key algorithm not offered".into())
        }
        RegCeremonyErr::AttestationSignature => WebauthnError::Signature,
        RegCeremonyErr::OriginMismatch => WebauthnError::Origin,
        RegCeremonyErr::CrossOrigin | RegCeremonyErr::TopOriginMismatch => {
            WebauthnError::CrossOrigin
        }
        RegCeremonyErr::ChallengeMismatch => WebauthnError::Challenge,
        RegCeremonyErr::RpIdHashMismatch => WebauthnError::RpIdHash,
        RegCeremonyErr::UserNotPresent => WebauthnError::UserPresent,
        RegCeremonyErr::UserNotVerified => WebauthnError::UserVerified,
        RegCeremonyErr::BackupEligible
        | RegCeremonyErr::BackupNotEligible
        | RegCeremonyErr::BackupDoesNotExist => WebauthnError::BackupFlags,
        RegCeremonyErr::Extension(_) => WebauthnError::Extensions,
        other => WebauthnError::Malformed(other.to_string()),
    }
}
