//! The records the auth service stores and passes back: a registered credential, the server
//! side of an open ceremony, the user as WebAuthn sees it, and the result of an assertion.
//!
//! Their byte fields are opaque to the caller: `webauthn_rp`'s own binary encodings, so that
//! a record written by one auth server is read by another.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwa_core::UnixMillis;
use serde::{Deserialize, Serialize};

/// The user as WebAuthn sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebauthnUser {
    /// The user handle: 16 to 64 random bytes, never the user name (WebAuthn section 14.6.1).
    pub handle: Vec<u8>,
    pub name: String,
    pub display_name: String,
}

/// A registered credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredential {
    /// The credential ID the authenticator chose.
    pub id: Vec<u8>,
    /// The user handle of the user it was registered for.
    pub user_handle: Vec<u8>,
    /// Opaque: public key, signature counter and flags, in `webauthn_rp`'s encoding.
    pub data: Vec<u8>,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
}

impl StoredCredential {
    /// The credential ID, base64url without padding, as it appears in WebAuthn JSON.
    pub fn id_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.id)
    }
}

/// The server side of an open ceremony, stored by the caller under its challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyState {
    /// The challenge bytes, base64url without padding, as they appear in `clientDataJSON`.
    pub challenge: String,
    /// Opaque: `webauthn_rp`'s encoded server state.
    pub data: Vec<u8>,
    /// After this the ceremony is refused with [`crate::WebauthnError::Expired`].
    pub expires_at: UnixMillis,
}

/// The result of a verified assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub credential_id: Vec<u8>,
    /// The credential with its new counter and last use: store it in place of the old one.
    pub updated: StoredCredential,
    pub user_verified: bool,
    pub sign_count: u32,
}
