//! JSON records in the store: typed reads and writes over [`hwa_store::Store`], so the other
//! modules never handle raw bytes. A record that does not parse is reported as an internal
//! error naming its key, never as the caller's fault.

use hwa_core::UnixMillis;
use hwa_store::{Store, Written};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AuthError;

/// A record read from the store, with the revision a later compare-and-swap must name.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub revision: u64,
    pub expires_at: Option<UnixMillis>,
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, AuthError> {
    serde_json::to_vec(value).map_err(|e| AuthError::Internal(format!("encoding a record: {e}")))
}

pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, AuthError> {
    serde_json::from_slice(bytes).map_err(|e| AuthError::corrupt(key, e))
}

pub async fn get<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<Versioned<T>>, AuthError> {
    let Some(item) = store.get(key).await? else {
        return Ok(None);
    };
    let value = decode(key, &item.value)?;
    Ok(Some(Versioned { value, revision: item.revision, expires_at: item.expires_at }))
}

/// Creates `key` if it holds nothing; `Ok(false)` when something is already there.
pub async fn create<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    expires_at: Option<UnixMillis>,
) -> Result<Option<u64>, AuthError> {
    match store.create(key, encode(value)?, expires_at).await? {
        Written::Done { revision } => Ok(Some(revision)),
        Written::Conflict { .. } => Ok(None),
    }
}

pub async fn put<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
    expires_at: Option<UnixMillis>,
) -> Result<u64, AuthError> {
    Ok(store.put(key, encode(value)?, expires_at).await?)
}

/// Replaces `key` if it is still at `revision`; `Ok(None)` when another writer came first.
pub async fn swap<T: Serialize>(
    store: &dyn Store,
    key: &str,
    revision: u64,
    value: &T,
    expires_at: Option<UnixMillis>,
) -> Result<Option<u64>, AuthError> {
    match store.compare_and_swap(key, revision, encode(value)?, expires_at).await? {
        Written::Done { revision } => Ok(Some(revision)),
        Written::Conflict { .. } => Ok(None),
    }
}

/// Every record under `prefix`, in key order, at most `limit`.
pub async fn range<T: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
    limit: usize,
) -> Result<Vec<(String, T)>, AuthError> {
    let items = store.range(prefix, limit).await?;
    items.into_iter().map(|item| Ok((item.key.clone(), decode(&item.key, &item.value)?))).collect()
}
