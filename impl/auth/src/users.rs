//! Users: names, argon2id password hashes, WebAuthn user handles, the `logins` trait and the
//! roles a user holds, and the credentials registered for them.
//!
//! Keys: `users/<name>` holds a [`UserRecord`]; `credentials/<user>/<credential id base64url>`
//! holds a `hwa_webauthn::StoredCredential`. Invites, sessions and the WebAuthn ceremonies
//! themselves live elsewhere.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use hwa_core::{Entropy, UnixMillis};
use hwa_store::Store;
use hwa_webauthn::{StoredCredential, WebauthnUser};
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::kv;
use crate::service::PasswordHashing;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8; we ask for 12 because a
/// password here is the only factor before the security key is touched).
pub const PASSWORD_MIN_CHARS: usize = 12;

/// Longest password accepted, so a huge body cannot make hashing expensive.
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// Longest user name, as in the reference's user resource limits.
pub const USER_NAME_MAX: usize = 64;

/// Longest SSH login: Linux `LOGIN_NAME_MAX` minus the terminator is 255, but `useradd`
/// refuses more than 32 characters, the practical limit.
pub const LOGIN_MAX: usize = 32;

/// Bytes in a WebAuthn user handle (WebAuthn allows 1 to 64; 32 random bytes never collide).
pub const USER_HANDLE_BYTES: usize = 32;

/// Bytes of argon2 salt (the PHC string format recommends 16).
const SALT_BYTES: usize = 16;

/// Credentials read per user; a person registers a few keys, never thousands.
pub const CREDENTIALS_PER_USER_MAX: usize = 64;

/// Users listed at most by `hwactl users ls`.
pub const USERS_MAX: usize = 100_000;

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// The WebAuthn user handle: random, never derived from the name.
    pub handle: Vec<u8>,
    /// SSH logins (the `{{internal.logins}}` trait).
    pub logins: Vec<String>,
    pub roles: Vec<String>,
    /// argon2id PHC string; `None` until the user signs up.
    pub password_hash: Option<String>,
    pub created_at: UnixMillis,
    pub signed_up_at: Option<UnixMillis>,
}

impl UserRecord {
    pub fn webauthn_user(&self) -> WebauthnUser {
        WebauthnUser {
            handle: self.handle.clone(),
            name: self.name.clone(),
            display_name: self.name.clone(),
        }
    }
}

pub fn user_key(name: &str) -> String {
    format!("users/{name}")
}

pub fn credential_prefix(user: &str) -> String {
    format!("credentials/{user}/")
}

pub fn credential_key(user: &str, credential: &StoredCredential) -> String {
    format!("credentials/{user}/{}", credential.id_b64())
}

/// Checks a user name before it becomes part of a storage key.
pub fn validate_user_name(name: &str) -> Result<(), AuthError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !first_ok || !rest_ok || name.len() > USER_NAME_MAX {
        return Err(AuthError::InvalidUserName(shorten(name)));
    }
    Ok(())
}

/// Checks an SSH login name.
pub fn validate_login(login: &str) -> Result<(), AuthError> {
    let mut chars = login.chars();
    let first_ok =
        chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !first_ok || !rest_ok || login.len() > LOGIN_MAX {
        return Err(AuthError::InvalidLogin(shorten(login)));
    }
    Ok(())
}

pub fn check_password_rules(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(AuthError::PasswordTooShort { min: PASSWORD_MIN_CHARS });
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(AuthError::PasswordTooLong { max: PASSWORD_MAX_CHARS });
    }
    Ok(())
}

/// Hashes a password into an argon2id PHC string with a salt drawn from `entropy`.
pub fn hash_password(
    password: &str,
    entropy: &dyn Entropy,
    cost: PasswordHashing,
) -> Result<String, AuthError> {
    let salt_bytes: [u8; SALT_BYTES] = hwa_core::entropy::array(entropy);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| AuthError::Internal(format!("argon2 salt: {e}")))?;
    let hasher = argon2(cost)?;
    let hash = hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Internal(format!("argon2 hash: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches `phc`; the parameters come from the PHC string itself.
pub fn verify_password(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

fn argon2(cost: PasswordHashing) -> Result<Argon2<'static>, AuthError> {
    // OWASP password storage cheat sheet: argon2id, m=19 MiB, t=2, p=1.
    let (m_kib, t, p) = match cost {
        PasswordHashing::Standard => (19 * 1024, 2, 1),
        PasswordHashing::Fast => (Params::MIN_M_COST, Params::MIN_T_COST, 1),
    };
    let params = Params::new(m_kib, t, p, None)
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn load(
    store: &dyn Store,
    name: &str,
) -> Result<Option<kv::Versioned<UserRecord>>, AuthError> {
    kv::get(store, &user_key(name)).await
}

pub async fn load_existing(
    store: &dyn Store,
    name: &str,
) -> Result<kv::Versioned<UserRecord>, AuthError> {
    load(store, name).await?.ok_or_else(|| AuthError::UserNotFound(name.to_string()))
}

/// The user's registered credentials, in credential ID order.
pub async fn credentials(
    store: &dyn Store,
    user: &str,
) -> Result<Vec<StoredCredential>, AuthError> {
    let found = kv::range(store, &credential_prefix(user), CREDENTIALS_PER_USER_MAX).await?;
    Ok(found.into_iter().map(|(_, credential)| credential).collect())
}

/// A name cut short for an error message, so a megabyte of input is not echoed back.
pub fn shorten(text: &str) -> String {
    text.chars().take(USER_NAME_MAX + 8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwa_core::entropy::SeededEntropy;

    #[test]
    fn user_names_that_could_escape_a_storage_key_are_refused() {
        assert!(validate_user_name("alice").is_ok());
        assert!(validate_user_name("a.b-c_1").is_ok());
        for bad in ["", "Alice", "../x", "a/b", "-x", "a b", &"a".repeat(65)] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_short_password_is_refused_with_the_minimum_named() {
        let err = check_password_rules("short").unwrap_err();
        assert!(err.to_string().contains("at least 12 characters"));
        assert!(check_password_rules("correct horse battery").is_ok());
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let entropy = SeededEntropy::new(3);
        let phc = hash_password("correct horse battery", &entropy, PasswordHashing::Fast).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterz"));
        assert!(!verify_password("not a hash", "x"));
    }
}
