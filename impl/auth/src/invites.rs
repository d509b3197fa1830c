//! Signup invites: a one-hour bearer token an administrator hands to a new user, stored only
//! as its hash under `invites/<sha256>`. The invite is consumed when signup finishes.

use hwa_core::limits::INVITE_TTL;
use hwa_core::{Entropy, UnixMillis};
use hwa_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::kv;
use crate::tokens::{looks_like_token, new_token, token_hash};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRecord {
    pub user: String,
    pub expires_at: UnixMillis,
}

fn invite_key(hash: &str) -> String {
    format!("invites/{hash}")
}

/// Creates an invite for `user`; returns the token (shown once) and its expiry.
pub async fn create(
    store: &dyn Store,
    entropy: &dyn Entropy,
    now: UnixMillis,
    user: &str,
) -> Result<(String, UnixMillis), AuthError> {
    let token = new_token(entropy);
    let expires_at = now.plus(INVITE_TTL);
    let record = InviteRecord { user: user.to_string(), expires_at };
    kv::put(store, &invite_key(&token_hash(&token)), &record, Some(expires_at)).await?;
    Ok((token, expires_at))
}

/// The live invite behind `token`, with its storage key (to delete it once used).
pub async fn lookup(
    store: &dyn Store,
    now: UnixMillis,
    token: &str,
) -> Result<(InviteRecord, String), AuthError> {
    if !looks_like_token(token) {
        return Err(AuthError::InviteInvalid);
    }
    let hash = token_hash(token);
    let key = invite_key(&hash);
    let record = kv::get::<InviteRecord>(store, &key).await?.ok_or(AuthError::InviteInvalid)?;
    if record.value.expires_at <= now {
        return Err(AuthError::InviteInvalid);
    }
    Ok((record.value, hash))
}

/// Consumes the invite whose hash is `hash`.
pub async fn consume(store: &dyn Store, hash: &str) -> Result<(), AuthError> {
    store.delete(&invite_key(hash), None).await?;
    Ok(())
}

/// Removes every invite of `user` (when the user is deleted).
pub async fn delete_for_user(store: &dyn Store, user: &str) -> Result<(), AuthError> {
    for (key, invite) in
        kv::range::<InviteRecord>(store, "invites/", crate::users::USERS_MAX).await?
    {
        if invite.user == user {
            store.delete(&key, None).await?;
        }
    }
    Ok(())
}
