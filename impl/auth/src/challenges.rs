//! WebAuthn challenges and the one thing each may be used for.
//!
//! A challenge is stored with its [`Purpose`] and the relying party's ceremony state under
//! `challenges/<user>/<challenge>`, expiring with the ceremony. It is *taken*, not read
//! (ARCHITECTURE.md "Challenges are taken, not read"): [`take`] reads it and deletes it by a
//! compare-and-swap at the revision it read, before anything is verified, so two answers to one
//! challenge can never both pass, even from an authenticator without a signature counter. Only
//! then is the purpose compared with what the caller wants (SPEC HL-13): a login challenge
//! cannot approve a headless request, nor can another request's.

use hwa_core::UnixMillis;
use hwa_core::api::ChallengeScope;
use hwa_core::id::RequestId;
use hwa_core::limits::CHALLENGE_TTL;
use hwa_store::{Store, Written};
use hwa_webauthn::CeremonyState;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::kv;

/// Longest challenge accepted in a key: 32 bytes are 43 base64url characters; anything much
/// longer was not issued here.
const CHALLENGE_TEXT_MAX: usize = 128;

/// What a challenge may be answered for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
pub enum Purpose {
    /// Signup through the invite whose hash is `invite`.
    Registration { invite: String },
    /// Password-then-WebAuthn login.
    Login,
    /// Approval of exactly this headless request.
    Headless { headless_id: RequestId },
    /// Per-session MFA for one SSH session.
    SessionMfa,
}

impl Purpose {
    pub fn from_scope(scope: &ChallengeScope) -> Purpose {
        match scope {
            ChallengeScope::Headless { headless_id } => {
                Purpose::Headless { headless_id: headless_id.clone() }
            }
            ChallengeScope::SessionMfa => Purpose::SessionMfa,
        }
    }

    /// How the purpose reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Purpose::Registration { .. } => "signup".to_string(),
            Purpose::Login => "login".to_string(),
            Purpose::Headless { headless_id } => format!("approval of request {headless_id}"),
            Purpose::SessionMfa => "per-session mfa".to_string(),
        }
    }
}

/// A stored challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    pub purpose: Purpose,
    pub state: CeremonyState,
    /// Signup only: the argon2id hash of the password given at the start, stored on the user
    /// when the ceremony finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

fn challenge_key(user: &str, challenge: &str) -> String {
    format!("challenges/{user}/{challenge}")
}

fn is_challenge_text(challenge: &str) -> bool {
    !challenge.is_empty()
        && challenge.len() <= CHALLENGE_TEXT_MAX
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a freshly started ceremony for `user`.
pub async fn put(
    store: &dyn Store,
    now: UnixMillis,
    user: &str,
    record: &ChallengeRecord,
) -> Result<(), AuthError> {
    if !is_challenge_text(&record.state.challenge) {
        return Err(AuthError::Internal("the relying party made a malformed challenge".into()));
    }
    let expires_at = record.state.expires_at.min(now.plus(CHALLENGE_TTL));
    let key = challenge_key(user, &record.state.challenge);
    match kv::create(store, &key, record, Some(expires_at)).await? {
        Some(_) => Ok(()),
        None => Err(AuthError::Internal("a fresh challenge collided with a stored one".into())),
    }
}

/// Takes the challenge `response` answers, for `user`, and checks it was issued for `wanted`.
pub async fn take(
    store: &dyn Store,
    now: UnixMillis,
    user: &str,
    response: &serde_json::Value,
    wanted: &Purpose,
) -> Result<ChallengeRecord, AuthError> {
    let challenge = hwa_webauthn::challenge_of_response(response)?;
    if !is_challenge_text(&challenge) {
        return Err(AuthError::ChallengeInvalid);
    }
    let key = challenge_key(user, &challenge);
    let Some(found) = kv::get::<ChallengeRecord>(store, &key).await? else {
        return Err(AuthError::ChallengeInvalid);
    };
    match store.delete(&key, Some(found.revision)).await? {
        Written::Done { .. } => {}
        Written::Conflict { .. } => return Err(AuthError::ChallengeInvalid),
    }
    let record = found.value;
    if record.state.expires_at <= now {
        return Err(AuthError::ChallengeInvalid);
    }
    if &record.purpose != wanted {
        return Err(AuthError::ChallengeScope {
            issued_for: record.purpose.describe(),
            wanted: wanted.describe(),
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64url_text_can_name_a_challenge_key() {
        assert!(is_challenge_text("abcDEF012-_"));
        assert!(!is_challenge_text("../users/alice"));
        assert!(!is_challenge_text(""));
        assert!(!is_challenge_text(&"a".repeat(200)));
    }

    #[test]
    fn purposes_of_two_requests_differ() {
        let a = Purpose::Headless { headless_id: RequestId::derive(b"a") };
        let b = Purpose::Headless { headless_id: RequestId::derive(b"b") };
        assert_ne!(a, b);
        assert_ne!(a, Purpose::Login);
    }
}
