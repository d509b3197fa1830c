//! The admin token: created at the first start, replaced at every start of `hwad` (which
//! writes it into `admin-identity.json`), stored only as its hash under `admin/token`, and
//! compared in constant time.

use hwa_core::Entropy;
use hwa_store::Store;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::AuthError;
use crate::kv;
use crate::tokens::{looks_like_token, new_token, token_hash};

const ADMIN_KEY: &str = "admin/token";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct AdminRecord {
    token_sha256: String,
}

/// Creates the admin token if there is none; `Some(token)` only when it was created now.
pub async fn create_if_absent(
    store: &dyn Store,
    entropy: &dyn Entropy,
) -> Result<Option<String>, AuthError> {
    let token = new_token(entropy);
    let record = AdminRecord { token_sha256: token_hash(&token) };
    Ok(kv::create(store, ADMIN_KEY, &record, None).await?.map(|_| token))
}

pub async fn rotate(store: &dyn Store, entropy: &dyn Entropy) -> Result<String, AuthError> {
    let token = new_token(entropy);
    kv::put(store, ADMIN_KEY, &AdminRecord { token_sha256: token_hash(&token) }, None).await?;
    Ok(token)
}

pub async fn authenticate(store: &dyn Store, token: &str) -> Result<(), AuthError> {
    if !looks_like_token(token) {
        return Err(AuthError::AdminTokenInvalid);
    }
    let record =
        kv::get::<AdminRecord>(store, ADMIN_KEY).await?.ok_or(AuthError::AdminTokenInvalid)?;
    let given = token_hash(token);
    if bool::from(given.as_bytes().ct_eq(record.value.token_sha256.as_bytes())) {
        Ok(())
    } else {
        Err(AuthError::AdminTokenInvalid)
    }
}
