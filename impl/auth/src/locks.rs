//! Locks: an administrator's way to stop a user, or one credential, at once. A lock blocks
//! approvals, certificate issuance and certificate-authenticated calls. Stored as
//! [`LockView`] JSON under `locks/<id>`, expiring when the lock has a TTL.

use std::time::Duration;

use hwa_core::admin::{LockAdd, LockTarget, LockView};
use hwa_core::{Entropy, UnixMillis};
use hwa_store::Store;

use crate::error::AuthError;
use crate::kv;

/// Locks read at most; every check reads them all, so the bound keeps checks cheap.
pub const LOCKS_MAX: usize = 10_000;

/// Longest lock message kept.
const MESSAGE_MAX: usize = 512;

pub async fn add(
    store: &dyn Store,
    entropy: &dyn Entropy,
    now: UnixMillis,
    req: LockAdd,
) -> Result<LockView, AuthError> {
    match &req.target {
        LockTarget::User { user } => crate::users::validate_user_name(user)?,
        LockTarget::Credential { credential_id } => {
            let ok = !credential_id.is_empty()
                && credential_id.len() <= 1366
                && credential_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(AuthError::BadRequest(
                    "credential_id must be the credential id in base64url without padding, as \
                     `hwactl users ls` shows it"
                        .into(),
                ));
            }
        }
    }
    let id = hwa_core::entropy::token_hex(entropy, 8);
    let expires_at = req.ttl_secs.map(|secs| now.plus(Duration::from_secs(secs)));
    let message = if req.message.is_empty() {
        "locked by an administrator".to_string()
    } else {
        req.message.chars().take(MESSAGE_MAX).collect()
    };
    let view =
        LockView { id: id.clone(), target: req.target, message, created_at: now, expires_at };
    kv::put(store, &format!("locks/{id}"), &view, expires_at).await?;
    Ok(view)
}

pub async fn list(store: &dyn Store, now: UnixMillis) -> Result<Vec<LockView>, AuthError> {
    let all = kv::range::<LockView>(store, "locks/", LOCKS_MAX).await?;
    Ok(all.into_iter().map(|(_, v)| v).filter(|v| v.expires_at.is_none_or(|t| t > now)).collect())
}

pub async fn delete(store: &dyn Store, id: &str) -> Result<(), AuthError> {
    let well_formed = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(AuthError::LockNotFound(crate::users::shorten(id)));
    }
    match store.delete(&format!("locks/{id}"), None).await? {
        hwa_store::Written::Done { .. } => Ok(()),
        hwa_store::Written::Conflict { .. } => Err(AuthError::LockNotFound(id.to_string())),
    }
}

/// Refuses when `user`, or `credential_id` (base64url) when given, is locked.
pub async fn check(
    store: &dyn Store,
    now: UnixMillis,
    user: &str,
    credential_id: Option<&str>,
) -> Result<(), AuthError> {
    for lock in list(store, now).await? {
        let target = match &lock.target {
            LockTarget::User { user: locked } if locked == user => format!("user {user}"),
            LockTarget::Credential { credential_id: locked }
                if Some(locked.as_str()) == credential_id =>
            {
                format!("credential {locked}")
            }
            _ => continue,
        };
        return Err(AuthError::Locked { target, message: lock.message });
    }
    Ok(())
}
