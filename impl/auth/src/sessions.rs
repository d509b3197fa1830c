//! Web sessions: the bearer token a login or signup hands out, stored only as its hash under
//! `sessions/<sha256>`, living `limits::SESSION_TTL`.

use hwa_core::api::SessionResponse;
use hwa_core::limits::SESSION_TTL;
use hwa_core::{Entropy, UnixMillis};
use hwa_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::kv;
use crate::service::Session;
use crate::tokens::{looks_like_token, new_token, token_hash};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SessionRecord {
    user: String,
    created_at: UnixMillis,
    expires_at: UnixMillis,
}

fn session_key(hash: &str) -> String {
    format!("sessions/{hash}")
}

pub async fn create(
    store: &dyn Store,
    entropy: &dyn Entropy,
    now: UnixMillis,
    user: &str,
) -> Result<SessionResponse, AuthError> {
    let token = new_token(entropy);
    let expires_at = now.plus(SESSION_TTL);
    let record = SessionRecord { user: user.to_string(), created_at: now, expires_at };
    kv::put(store, &session_key(&token_hash(&token)), &record, Some(expires_at)).await?;
    Ok(SessionResponse { user: user.to_string(), token, expires_at })
}

pub async fn authenticate(
    store: &dyn Store,
    now: UnixMillis,
    token: &str,
) -> Result<Session, AuthError> {
    if !looks_like_token(token) {
        return Err(AuthError::SessionInvalid);
    }
    let hash = token_hash(token);
    let record = kv::get::<SessionRecord>(store, &session_key(&hash))
        .await?
        .ok_or(AuthError::SessionInvalid)?;
    if record.value.expires_at <= now {
        return Err(AuthError::SessionInvalid);
    }
    Ok(Session { user: record.value.user, id: hash })
}

pub async fn delete(store: &dyn Store, token: &str) -> Result<(), AuthError> {
    if looks_like_token(token) {
        store.delete(&session_key(&token_hash(token)), None).await?;
    }
    Ok(())
}

/// Ends every session of `user` (when the user is deleted or locked out).
pub async fn delete_for_user(store: &dyn Store, user: &str) -> Result<(), AuthError> {
    let all = kv::range::<SessionRecord>(store, "sessions/", SESSIONS_SCAN_MAX).await?;
    for (key, record) in all {
        if record.user == user {
            store.delete(&key, None).await?;
        }
    }
    Ok(())
}

/// Sessions scanned when deleting a user's sessions.
const SESSIONS_SCAN_MAX: usize = 1_000_000;
