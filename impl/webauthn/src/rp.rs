//! The relying party and its four ceremony steps, on top of `webauthn_rp`.
//!
//! # Challenges come from our [`Entropy`]
//!
//! `webauthn_rp` draws every challenge from its own ambient generator (`rand::random`, in
//! `Challenge::new`) and offers no way to pass challenge bytes in: the type is deliberately not
//! constructible. Simulated runs must replay, so after `start_ceremony` we overwrite the
//! challenge in the encoded server state (its `serializable_server_state` binary form, where
//! it sits at a fixed offset as 16 little-endian bytes) with bytes drawn from the caller's
//! [`Entropy`], and put the same bytes in the options JSON. The splice first checks that the
//! bytes at that offset are the library's own challenge, and the state is decoded again right
//! away, so a change of the library's layout fails loudly instead of silently.
//!
//! # Expiry follows the caller's clock
//!
//! The library would compare its own expiration against the ambient `SystemTime`, which the
//! simulator does not control. Its expiration in the encoded state is overwritten with a date
//! in the year 9999 (so the state holds nothing from the ambient clock and a seed replays it
//! byte for byte), and [`CeremonyState`] carries `expires_at` from the caller's clock,
//! checked first.
//!
//! # Limitations
//!
//! - Challenges are 16 bytes, the WebAuthn minimum, not [`hwa_core::limits::CHALLENGE_BYTES`]
//!   (32): `webauthn_rp` represents a challenge as a `u128` and refuses any other length in
//!   the client data.
//! - User handles must be 16 to 64 bytes; `webauthn_rp` types the handle length statically,
//!   so each ceremony dispatches on the length.
//! - Only `none` attestation is requested; the library accepts `none` and self attestation
//!   and never checks a certificate chain.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwa_core::limits::CHALLENGE_TTL;
use hwa_core::{Entropy, UnixMillis};
use serde_json::Value;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::{
    AllowedCredentials, AuthenticationVerificationOptions, NonDiscoverableCredentialRequestOptions,
    SignatureCounterEnforcement,
};
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationVerificationOptions, ResidentKeyRequirement, UserHandle, Username,
};
use webauthn_rp::request::{
    AsciiDomain, Credentials as _, ExtensionInfo, PublicKeyCredentialDescriptor, RpId,
    TimedCeremony as _, UserVerificationRequirement,
};
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, CredentialId, Origin};
use webauthn_rp::{
    AuthenticatedCredential, NonDiscoverableAuthentication,
    NonDiscoverableAuthenticationServerState, Registration, RegistrationServerState,
};

use crate::client_data::{self, TYPE_CREATE, TYPE_GET};
use crate::error::{WebauthnError, map_auth_error, map_reg_error};
use crate::records::{CeremonyState, StoredCredential, VerifiedAssertion, WebauthnUser};

/// Shortest user handle we accept: WebAuthn recommends 64 random bytes and any shorter handle
/// should still be unguessable, so 16 (128 bits) is the floor.
pub const USER_HANDLE_MIN_BYTES: usize = 16;

/// Longest user handle WebAuthn allows (WebAuthn L3, section 5.4.3).
pub const USER_HANDLE_MAX_BYTES: usize = 64;

/// Challenge length `webauthn_rp` supports: a `u128` (the WebAuthn minimum of 16 bytes).
pub const RP_CHALLENGE_BYTES: usize = 16;

/// Version byte in front of [`StoredCredential::data`], so the layout can change later.
const CREDENTIAL_DATA_V1: u8 = 1;

/// Length of `webauthn_rp`'s encoded `DynamicState` (its `Encode` output is `[u8; 7]`).
const DYNAMIC_STATE_BYTES: usize = 7;

/// Expiration written into `webauthn_rp`'s state: 9999-12-31T23:59:59Z, so that its check
/// against the ambient clock never fires and [`CeremonyState::expires_at`] alone decides.
const LIBRARY_EXPIRATION_SECS: u64 = 253_402_300_799;

/// Kind bytes in front of [`CeremonyState::data`].
const KIND_REGISTRATION: u8 = b'R';
const KIND_ASSERTION: u8 = b'A';

/// Offset of the challenge in the encoded registration state: after the one-byte mediation.
const REGISTRATION_CHALLENGE_OFFSET: usize = 1;

/// Offset of the challenge in the encoded assertion state: it comes first.
const ASSERTION_CHALLENGE_OFFSET: usize = 0;

/// What the relying party is: its RP ID, its display name and the origins pages may run at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpConfig {
    /// The RP ID: a domain such as `example.com`, or `localhost` for development.
    pub rp_id: String,
    /// Shown by some authenticators when creating a credential.
    pub rp_name: String,
    /// Exact origins (`https://example.com`, `http://localhost:3080`) pages may run at. Empty
    /// means only `https://<rp_id>`.
    pub allowed_origins: Vec<String>,
}

/// A configured relying party.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    config: RpConfig,
    rp_id: RpId,
    origins: Vec<String>,
}

/// An allowed origin, compared exactly with the client data's origin.
#[derive(Debug)]
struct AllowedOrigin<'a>(&'a str);

impl PartialEq<Origin<'_>> for AllowedOrigin<'_> {
    fn eq(&self, other: &Origin<'_>) -> bool {
        self.0 == other.0.as_ref()
    }
}

impl RelyingParty {
    /// Validates the configuration.
    pub fn new(config: RpConfig) -> Result<Self, WebauthnError> {
        let domain = AsciiDomain::try_from(config.rp_id.to_ascii_lowercase()).map_err(|e| {
            WebauthnError::Config(format!("rp_id {:?} is not a domain: {e}", config.rp_id))
        })?;
        let mut origins = Vec::with_capacity(config.allowed_origins.len().max(1));
        for origin in &config.allowed_origins {
            origins.push(normalize_origin(origin)?);
        }
        if origins.is_empty() {
            origins.push(format!("https://{}", domain.as_ref()));
        }
        Ok(RelyingParty { rp_id: RpId::Domain(domain), origins, config })
    }

    pub fn config(&self) -> &RpConfig {
        &self.config
    }

    /// Starts registering a credential for `user`; `existing` are the user's credentials,
    /// which the authenticator is told not to create again.
    pub fn start_registration(
        &self,
        user: &WebauthnUser,
        existing: &[StoredCredential],
        entropy: &dyn Entropy,
        now: UnixMillis,
    ) -> Result<(Value, CeremonyState), WebauthnError> {
        let len = check_handle_len(&user.handle)?;
        let challenge = draw_challenge(entropy);
        macro_rules! go {
            ($($n:literal)*) => {
                match len {
                    $($n => self.start_registration_n::<$n>(user, existing, &challenge, now),)*
                    _ => Err(handle_len_error(len)),
                }
            };
        }
        user_handle_lengths!(go)
    }

    /// Verifies a `RegistrationResponseJSON` against the state `start_registration` made.
    ///
    /// The caller must still refuse a credential ID that is already registered (to anyone):
    /// WebAuthn L3, section 7.1, step 26.
    pub fn finish_registration(
        &self,
        state: &CeremonyState,
        response: &Value,
        now: UnixMillis,
    ) -> Result<StoredCredential, WebauthnError> {
        let result = self.verify_registration(state, response, now);
        if let Err(e) = &result {
            tracing::debug!(target: "hwa_webauthn", check = e.check(), "registration refused");
        }
        result
    }

    fn verify_registration(
        &self,
        state: &CeremonyState,
        response: &Value,
        now: UnixMillis,
    ) -> Result<StoredCredential, WebauthnError> {
        let (len, encoded) = open_state(state, KIND_REGISTRATION, now)?;
        let response = unwrap_credential(response);
        client_data::check_credential_type(response)?;
        let data = client_data::parse(response)?;
        client_data::check(&data, TYPE_CREATE, &state.challenge, &self.origins)?;
        let bytes = serde_json::to_vec(response)
            .map_err(|e| WebauthnError::Malformed(format!("response: {e}")))?;
        let registration = Registration::from_json_relaxed(&bytes)
            .map_err(|e| WebauthnError::Malformed(format!("registration response: {e}")))?;
        macro_rules! go {
            ($($n:literal)*) => {
                match len {
                    $($n => self.finish_registration_n::<$n>(encoded, &registration, now),)*
                    _ => Err(handle_len_error(len)),
                }
            };
        }
        user_handle_lengths!(go)
    }

    /// Starts an assertion by `user` with one of `credentials`; user verification required.
    pub fn start_assertion(
        &self,
        user: &WebauthnUser,
        credentials: &[StoredCredential],
        entropy: &dyn Entropy,
        now: UnixMillis,
    ) -> Result<(Value, CeremonyState), WebauthnError> {
        let len = check_handle_len(&user.handle)?;
        let mut allowed = AllowedCredentials::with_capacity(credentials.len());
        for cred in credentials.iter().filter(|c| c.user_handle == user.handle) {
            let id = CredentialId::<Vec<u8>>::decode(cred.id.clone())
                .map_err(|e| WebauthnError::Malformed(format!("stored credential id: {e}")))?;
            let transports = CredentialParts::parse(&cred.data)?.transports;
            allowed.push(PublicKeyCredentialDescriptor { id, transports }.into());
        }
        let mut options =
            NonDiscoverableCredentialRequestOptions::second_factor(&self.rp_id, allowed)
                .map_err(|_| WebauthnError::AllowedCredential)?;
        options.options().user_verification = UserVerificationRequirement::Required;
        options.options().timeout = NonZeroU32::MAX;
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| WebauthnError::Config(format!("assertion options: {e}")))?;
        let sent = server.sent_challenge().0;
        let mut encoded =
            server.encode().map_err(|e| WebauthnError::Config(format!("assertion state: {e}")))?;
        let ours = draw_challenge(entropy);
        let challenge = splice_challenge(&mut encoded, ASSERTION_CHALLENGE_OFFSET, sent, &ours)?;
        splice_expiration(&mut encoded, server.expiration())?;
        let decoded = NonDiscoverableAuthenticationServerState::decode(&encoded)
            .map_err(|e| WebauthnError::Config(format!("assertion state: {e}")))?;
        check_spliced(decoded.sent_challenge().0, decoded.expiration(), &ours)?;
        let json = serde_json::to_value(&client)
            .map_err(|e| WebauthnError::Config(format!("assertion options: {e}")))?;
        Ok(self.finish_start(json, challenge, KIND_ASSERTION, len, encoded, now))
    }

    /// Verifies an `AuthenticationResponseJSON` by `user` against the state
    /// `start_assertion` made. Nothing is returned for storing unless every check passed.
    pub fn finish_assertion(
        &self,
        state: &CeremonyState,
        response: &Value,
        user: &WebauthnUser,
        credentials: &[StoredCredential],
        now: UnixMillis,
    ) -> Result<VerifiedAssertion, WebauthnError> {
        let result = self.verify_assertion(state, response, user, credentials, now);
        match &result {
            Ok(v) => tracing::debug!(
                target: "hwa_webauthn",
                sign_count = v.sign_count,
                "assertion verified"
            ),
            Err(e) => {
                tracing::debug!(target: "hwa_webauthn", check = e.check(), "assertion refused")
            }
        }
        result
    }

    fn verify_assertion(
        &self,
        state: &CeremonyState,
        response: &Value,
        user: &WebauthnUser,
        credentials: &[StoredCredential],
        now: UnixMillis,
    ) -> Result<VerifiedAssertion, WebauthnError> {
        let (len, encoded) = open_state(state, KIND_ASSERTION, now)?;
        if len != user.handle.len() {
            return Err(WebauthnError::UserHandle);
        }
        let response = unwrap_credential(response);
        client_data::check_credential_type(response)?;
        let id = client_data::credential_id(response)?;
        let stored =
            credentials.iter().find(|c| c.id == id).ok_or(WebauthnError::AllowedCredential)?;
        if stored.user_handle != user.handle {
            return Err(WebauthnError::UserHandle);
        }
        let assertion = client_data::response_object(response)?;
        // Absent, null and "" all mean "no user handle" (non-discoverable credentials).
        if assertion.get("userHandle").is_some_and(|h| !h.is_null() && h != "")
            && client_data::b64_field(assertion, "userHandle")? != user.handle
        {
            return Err(WebauthnError::UserHandle);
        }
        let data = client_data::parse(response)?;
        client_data::check(&data, TYPE_GET, &state.challenge, &self.origins)?;
        let flags = authenticator_flags(assertion)?;
        let mut normalized = response.clone();
        if normalized["response"]["userHandle"] == "" {
            // webauthn_rp wants an absent handle as null, not as an empty string.
            normalized["response"]["userHandle"] = Value::Null;
        }
        let bytes = serde_json::to_vec(&normalized)
            .map_err(|e| WebauthnError::Malformed(format!("response: {e}")))?;
        macro_rules! go {
            ($($n:literal)*) => {
                match len {
                    $($n => self.finish_assertion_n::<$n>(encoded, &bytes, user, stored, now),)*
                    _ => Err(handle_len_error(len)),
                }
            };
        }
        let (updated, sign_count) = user_handle_lengths!(go)?;
        Ok(VerifiedAssertion {
            credential_id: updated.id.clone(),
            updated,
            user_verified: flags & FLAG_UV != 0,
            sign_count,
        })
    }

    fn start_registration_n<const N: usize>(
        &self,
        user: &WebauthnUser,
        existing: &[StoredCredential],
        challenge: &[u8; RP_CHALLENGE_BYTES],
        now: UnixMillis,
    ) -> Result<(Value, CeremonyState), WebauthnError>
    where
        UserHandle<N>: Default,
    {
        let handle = user_handle::<N>(&user.handle)?;
        let name = Username::try_from(user.name.as_str())
            .map_err(|e| WebauthnError::Malformed(format!("user name {:?}: {e}", user.name)))?;
        let display_name = if user.display_name.is_empty() {
            None
        } else {
            Some(Nickname::try_from(user.display_name.as_str()).map_err(|e| {
                WebauthnError::Malformed(format!("display name {:?}: {e}", user.display_name))
            })?)
        };
        let mut exclude = Vec::with_capacity(existing.len());
        for cred in existing {
            let id = CredentialId::<Vec<u8>>::decode(cred.id.clone())
                .map_err(|e| WebauthnError::Malformed(format!("stored credential id: {e}")))?;
            let transports = CredentialParts::parse(&cred.data)?.transports;
            exclude.push(PublicKeyCredentialDescriptor { id, transports });
        }
        let entity = PublicKeyCredentialUserEntity { name, id: &handle, display_name };
        let mut options = PublicKeyCredentialCreationOptions::passkey(&self.rp_id, entity, exclude);
        // Ask for credProtect but do not insist on it: Chromium's virtual authenticator and
        // many security keys do not return it, and user verification is enforced on every
        // assertion anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        // A discoverable credential is not needed (assertions always list the credentials)
        // and would fill small security keys.
        options.authenticator_selection.resident_key = ResidentKeyRequirement::Discouraged;
        options.timeout = NonZeroU32::MAX;
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| WebauthnError::Config(format!("registration options: {e}")))?;
        let sent = server.sent_challenge().0;
        let mut encoded = server
            .encode()
            .map_err(|e| WebauthnError::Config(format!("registration state: {e}")))?;
        let challenge_b64 =
            splice_challenge(&mut encoded, REGISTRATION_CHALLENGE_OFFSET, sent, challenge)?;
        splice_expiration(&mut encoded, server.expiration())?;
        let decoded = RegistrationServerState::<N>::decode(&encoded)
            .map_err(|e| WebauthnError::Config(format!("registration state: {e}")))?;
        check_spliced(decoded.sent_challenge().0, decoded.expiration(), challenge)?;
        let mut json = serde_json::to_value(&client)
            .map_err(|e| WebauthnError::Config(format!("registration options: {e}")))?;
        if let Some(rp) = json.get_mut("rp").and_then(Value::as_object_mut) {
            rp.insert("name".into(), Value::String(self.config.rp_name.clone()));
        }
        Ok(self.finish_start(json, challenge_b64, KIND_REGISTRATION, N, encoded, now))
    }

    fn finish_registration_n<const N: usize>(
        &self,
        encoded: &[u8],
        registration: &Registration,
        now: UnixMillis,
    ) -> Result<StoredCredential, WebauthnError>
    where
        UserHandle<N>: Default,
    {
        let server = RegistrationServerState::<N>::decode(encoded)
            .map_err(|e| WebauthnError::Malformed(format!("ceremony state: {e}")))?;
        let origins: Vec<AllowedOrigin<'_>> =
            self.origins.iter().map(|o| AllowedOrigin(o)).collect();
        let options = RegistrationVerificationOptions::<AllowedOrigin<'_>, AllowedOrigin<'_>> {
            allowed_origins: &origins,
            ..Default::default()
        };
        let registered =
            server.verify(&self.rp_id, registration, &options).map_err(map_reg_error)?;
        tracing::debug!(target: "hwa_webauthn", "registration verified");
        let (id, transports, user_id, static_state, dynamic_state, _) = registered.into_parts();
        let static_bytes = static_state
            .encode()
            .map_err(|e| WebauthnError::Malformed(format!("public key: {e:?}")))?;
        let parts = CredentialParts { dynamic: dynamic_state, transports, static_bytes };
        Ok(StoredCredential {
            id: id.as_ref().to_vec(),
            user_handle: user_id.as_ref().to_vec(),
            data: parts.encode(),
            created_at: now,
            last_used_at: None,
        })
    }

    fn finish_assertion_n<const N: usize>(
        &self,
        encoded: &[u8],
        response: &[u8],
        user: &WebauthnUser,
        stored: &StoredCredential,
        now: UnixMillis,
    ) -> Result<(StoredCredential, u32), WebauthnError>
    where
        UserHandle<N>: Default,
    {
        let server = NonDiscoverableAuthenticationServerState::decode(encoded)
            .map_err(|e| WebauthnError::Malformed(format!("ceremony state: {e}")))?;
        let authentication = NonDiscoverableAuthentication::<N>::from_json_relaxed(response)
            .map_err(|e| WebauthnError::Malformed(format!("assertion response: {e}")))?;
        let handle = user_handle::<N>(&user.handle)?;
        let parts = CredentialParts::parse(&stored.data)?;
        let static_state =
            StaticState::<CompressedPubKey<_, _, _, Vec<u8>>>::decode(&parts.static_bytes)
                .map_err(|e| WebauthnError::Malformed(format!("stored public key: {e}")))?;
        let id = CredentialId::<&[u8]>::decode(&stored.id)
            .map_err(|e| WebauthnError::Malformed(format!("stored credential id: {e}")))?;
        let mut credential = AuthenticatedCredential::new(id, &handle, static_state, parts.dynamic)
            .map_err(|e| WebauthnError::Malformed(format!("stored credential: {e}")))?;
        let origins: Vec<AllowedOrigin<'_>> =
            self.origins.iter().map(|o| AllowedOrigin(o)).collect();
        let options = AuthenticationVerificationOptions::<AllowedOrigin<'_>, AllowedOrigin<'_>> {
            allowed_origins: &origins,
            update_uv: true,
            sig_counter_enforcement: SignatureCounterEnforcement::Fail,
            ..Default::default()
        };
        server
            .verify(&self.rp_id, &authentication, &mut credential, &options)
            .map_err(map_auth_error)?;
        let dynamic = credential.dynamic_state();
        let parts = CredentialParts { dynamic, ..parts };
        let updated =
            StoredCredential { data: parts.encode(), last_used_at: Some(now), ..stored.clone() };
        Ok((updated, dynamic.sign_count))
    }

    fn finish_start(
        &self,
        mut json: Value,
        challenge: String,
        kind: u8,
        handle_len: usize,
        encoded: Vec<u8>,
        now: UnixMillis,
    ) -> (Value, CeremonyState) {
        if let Some(object) = json.as_object_mut() {
            object.insert("challenge".into(), Value::String(challenge.clone()));
            let timeout_ms = u64::try_from(CHALLENGE_TTL.as_millis()).unwrap_or(u64::MAX);
            object.insert("timeout".into(), Value::from(timeout_ms));
        }
        let mut data = Vec::with_capacity(encoded.len() + 2);
        data.push(kind);
        // Bounded by USER_HANDLE_MAX_BYTES (64), checked before any ceremony starts.
        data.push(u8::try_from(handle_len).unwrap_or(u8::MAX));
        data.extend_from_slice(&encoded);
        let state = CeremonyState { challenge, data, expires_at: now.plus(CHALLENGE_TTL) };
        (json, state)
    }
}

/// The challenge of a registration or assertion response, base64url as in `clientDataJSON`,
/// so the caller can take the matching [`CeremonyState`] out of its store before verifying.
pub fn challenge_of_response(response: &Value) -> Result<String, WebauthnError> {
    let data = client_data::parse(unwrap_credential(response))?;
    Ok(data.challenge.trim_end_matches('=').to_owned())
}

/// Expands to `$m!(16 17 ... 64)`: every user handle length we accept.
macro_rules! user_handle_lengths {
    ($m:ident) => {
        $m!(16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40
            41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64)
    };
}
use user_handle_lengths;

/// User-present flag of the authenticator data (WebAuthn L3, section 6.1).
pub const FLAG_UP: u8 = 0x01;
/// User-verified flag.
pub const FLAG_UV: u8 = 0x04;
/// Backup-eligible flag.
pub const FLAG_BE: u8 = 0x08;
/// Backup-state flag.
pub const FLAG_BS: u8 = 0x10;

/// Offset of the flags byte in authenticator data: after the 32-byte RP ID hash.
const AUTH_DATA_FLAGS_OFFSET: usize = 32;

fn authenticator_flags(assertion: &Value) -> Result<u8, WebauthnError> {
    let data = client_data::b64_field(assertion, "authenticatorData")?;
    data.get(AUTH_DATA_FLAGS_OFFSET)
        .copied()
        .ok_or_else(|| WebauthnError::Malformed("authenticator data too short".into()))
}

/// Accepts a credential alone or wrapped as `{"credential": ...}` / `{"publicKey": ...}`.
fn unwrap_credential(response: &Value) -> &Value {
    response.get("credential").or_else(|| response.get("publicKey")).unwrap_or(response)
}

fn check_handle_len(handle: &[u8]) -> Result<usize, WebauthnError> {
    let len = handle.len();
    if (USER_HANDLE_MIN_BYTES..=USER_HANDLE_MAX_BYTES).contains(&len) {
        Ok(len)
    } else {
        Err(handle_len_error(len))
    }
}

fn handle_len_error(len: usize) -> WebauthnError {
    WebauthnError::Config(format!(
        "user handle is {len} bytes; use {USER_HANDLE_MIN_BYTES} to {USER_HANDLE_MAX_BYTES} \
         random bytes"
    ))
}

fn user_handle<const N: usize>(bytes: &[u8]) -> Result<UserHandle<N>, WebauthnError>
where
    UserHandle<N>: Default,
{
    let array: [u8; N] = bytes.try_into().map_err(|_| handle_len_error(bytes.len()))?;
    match UserHandle::<N>::decode(array) {
        Ok(handle) => Ok(handle),
    }
}

fn draw_challenge(entropy: &dyn Entropy) -> [u8; RP_CHALLENGE_BYTES] {
    hwa_core::entropy::array(entropy)
}

/// Replaces the library's challenge at `offset` by `ours`; answers its base64url form.
fn splice_challenge(
    encoded: &mut [u8],
    offset: usize,
    library: u128,
    ours: &[u8; RP_CHALLENGE_BYTES],
) -> Result<String, WebauthnError> {
    let slot = encoded
        .get_mut(offset..offset + RP_CHALLENGE_BYTES)
        .filter(|slot| **slot == library.to_le_bytes())
        .ok_or_else(|| {
            WebauthnError::Config(
                "webauthn_rp's ceremony state layout changed; update hwa-webauthn".into(),
            )
        })?;
    slot.copy_from_slice(ours);
    Ok(URL_SAFE_NO_PAD.encode(ours))
}

/// Replaces the library's expiration (12 bytes: seconds as a little-endian `u64`, then
/// nanoseconds as a `u32`, found by value since fields before it vary in length) by
/// [`LIBRARY_EXPIRATION_SECS`]: the state then holds nothing from the ambient clock.
fn splice_expiration(encoded: &mut [u8], library: SystemTime) -> Result<(), WebauthnError> {
    let layout_changed = || {
        WebauthnError::Config(
            "webauthn_rp's ceremony state layout changed; update hwa-webauthn".into(),
        )
    };
    let since = library.duration_since(UNIX_EPOCH).map_err(|_| layout_changed())?;
    let theirs = encode_system_time(since.as_secs(), since.subsec_nanos());
    let mut found = encoded.windows(theirs.len()).enumerate().filter(|(_, w)| *w == theirs);
    let (Some((at, _)), None) = (found.next(), found.next()) else {
        return Err(layout_changed());
    };
    encoded[at..at + theirs.len()].copy_from_slice(&encode_system_time(LIBRARY_EXPIRATION_SECS, 0));
    Ok(())
}

fn encode_system_time(secs: u64, nanos: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&secs.to_le_bytes());
    out[8..].copy_from_slice(&nanos.to_le_bytes());
    out
}

/// Checks that the decoded state carries our challenge and our expiration.
fn check_spliced(
    challenge: u128,
    expiration: SystemTime,
    ours: &[u8; RP_CHALLENGE_BYTES],
) -> Result<(), WebauthnError> {
    let far = UNIX_EPOCH + Duration::from_secs(LIBRARY_EXPIRATION_SECS);
    if challenge.to_le_bytes() == *ours && expiration == far {
        Ok(())
    } else {
        Err(WebauthnError::Config(
            "webauthn_rp's ceremony state layout changed; update hwa-webauthn".into(),
        ))
    }
}

fn open_state(
    state: &CeremonyState,
    kind: u8,
    now: UnixMillis,
) -> Result<(usize, &[u8]), WebauthnError> {
    if now > state.expires_at {
        return Err(WebauthnError::Expired);
    }
    match state.data.as_slice() {
        [k, len, rest @ ..] if *k == kind => Ok((usize::from(*len), rest)),
        [_, _, ..] => Err(WebauthnError::ClientDataType),
        _ => Err(WebauthnError::Malformed("ceremony state too short".into())),
    }
}

fn normalize_origin(origin: &str) -> Result<String, WebauthnError> {
    let url = url::Url::parse(origin)
        .map_err(|e| WebauthnError::Config(format!("allowed origin {origin:?}: {e}")))?;
    let serialized = url.origin().ascii_serialization();
    if serialized == "null" || !matches!(url.scheme(), "https" | "http") {
        return Err(WebauthnError::Config(format!(
            "allowed origin {origin:?} must be http(s)://host[:port]"
        )));
    }
    Ok(serialized)
}

/// The opaque [`StoredCredential::data`]: version, dynamic state, transports, static state.
#[derive(Debug)]
struct CredentialParts {
    dynamic: DynamicState,
    transports: AuthTransports,
    static_bytes: Vec<u8>,
}

impl CredentialParts {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + DYNAMIC_STATE_BYTES + self.static_bytes.len());
        out.push(CREDENTIAL_DATA_V1);
        match self.dynamic.encode() {
            Ok(bytes) => out.extend_from_slice(&bytes),
        }
        match self.transports.encode() {
            Ok(byte) => out.push(byte),
        }
        out.extend_from_slice(&self.static_bytes);
        out
    }

    fn parse(data: &[u8]) -> Result<Self, WebauthnError> {
        let bad = |what: &str| WebauthnError::Malformed(format!("stored credential data: {what}"));
        let (version, rest) = data.split_first().ok_or_else(|| bad("empty"))?;
        if *version != CREDENTIAL_DATA_V1 {
            return Err(bad("unknown version"));
        }
        let (dynamic, rest) =
            rest.split_at_checked(DYNAMIC_STATE_BYTES).ok_or_else(|| bad("short"))?;
        let (transports, static_bytes) = rest.split_first().ok_or_else(|| bad("short"))?;
        let dynamic_array: [u8; DYNAMIC_STATE_BYTES] =
            dynamic.try_into().map_err(|_| bad("short"))?;
        Ok(CredentialParts {
            dynamic: DynamicState::decode(dynamic_array).map_err(|e| bad(&e.to_string()))?,
            transports: AuthTransports::decode(*transports).map_err(|e| bad(&e.to_string()))?,
            static_bytes: static_bytes.to_vec(),
        })
    }
}
