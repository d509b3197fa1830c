//! The storage seam: one small interface for all durable state, and its implementations.
//!
//! Users, credentials, headless requests, challenges, sessions, audit events: everything the
//! auth service keeps goes through [`Store`]. Keys are `/`-separated strings; values are opaque
//! bytes (the auth service stores JSON). Every item carries a revision, which increases with
//! every write to the store, so a reader can make a later write conditional on what it read
//! ([`Store::compare_and_swap`]). Items may carry an expiry, after which they are invisible and
//! removed, with a delete event.
//!
//! Implementations:
//! - [`memory::MemoryStore`]: in process, for the simulator and unit tests.
//! - [`sqlite::SqliteStore`]: a SQLite file in the data directory, the embedded default.
//! - `etcd::EtcdStore` (cargo feature `etcd`): an etcd cluster, for several auth servers.
//!
//! [`watch`] is the in-process fan-out of change events that the backends share.
//!
//! [`suite`] is one behaviour suite that every implementation must pass.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use hwa_core::UnixMillis;

#[cfg(feature = "etcd")]
pub mod etcd;
pub mod memory;
pub mod sqlite;
pub mod suite;
pub mod watch;

/// A stored item.
#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub value: Vec<u8>,
    /// The store-wide revision of the write that produced this value.
    pub revision: u64,
    pub expires_at: Option<UnixMillis>,
}

impl fmt::Debug for Item {
    // Values may hold secrets (password hashes, ceremony state); never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("revision", &self.revision)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A change seen by a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The item was created or replaced.
    Put(Item),
    /// The item was deleted, or it expired.
    Delete { key: String, revision: u64 },
}

impl Event {
    pub fn key(&self) -> &str {
        match self {
            Event::Put(item) => &item.key,
            Event::Delete { key, .. } => key,
        }
    }
}

/// The outcome of a conditional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The write happened, at this revision.
    Done { revision: u64 },
    /// The condition did not hold; this is what the key holds now (`None`: nothing).
    Conflict { current: Option<Item> },
}

/// Storage failures the caller cannot fix by retrying with other arguments.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("invalid key `{0}`: keys are non-empty, `/`-separated and contain no NUL")]
    InvalidKey(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A live subscription to changes under a prefix.
///
/// The first events delivered are a [`Event::Put`] for every item that existed under the
/// prefix when the watch began, so a write made just before subscribing is never missed; then
/// every later change, in revision order. Delivery is pushed: `next` waits without polling.
#[async_trait]
pub trait Watcher: Send + fmt::Debug {
    /// The next event, or `None` when the store closed the watch (it was dropped, or the
    /// watcher fell behind by more than [`WATCH_BUFFER`] events and must watch again).
    async fn next(&mut self) -> Option<Event>;
}

/// Events a watcher may fall behind by before the store closes it. Bounded so a stalled
/// reader cannot make the store buffer without limit.
pub const WATCH_BUFFER: usize = 4096;

/// Durable key-value storage with revisions, expiry and watches.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    async fn get(&self, key: &str) -> StoreResult<Option<Item>>;

    /// Creates `key` only if it holds nothing.
    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written>;

    /// Writes `key` unconditionally.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<u64>;

    /// Replaces `key` only if its current revision is `expected_revision`.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected_revision: u64,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written>;

    /// Deletes `key`; with `expected_revision`, only if the revision matches. Deleting
    /// nothing is a conflict with `current: None`.
    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> StoreResult<Written>;

    /// Every live item whose key starts with `prefix`, in key order, at most `limit`.
    async fn range(&self, prefix: &str, limit: usize) -> StoreResult<Vec<Item>>;

    /// Watches every key starting with `prefix`.
    async fn watch(&self, prefix: &str) -> StoreResult<Box<dyn Watcher>>;
}

pub type SharedStore = Arc<dyn Store>;

/// Checks a key's shape; implementations call it on every key they are given.
pub fn check_key(key: &str) -> StoreResult<()> {
    if key.is_empty() || key.contains('\0') || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::InvalidKey(key.chars().take(80).collect()));
    }
    Ok(())
}

/// Checks a prefix given to [`Store::range`] or [`Store::watch`]: like a key, except that the
/// empty prefix (everything) is allowed.
pub fn check_prefix(prefix: &str) -> StoreResult<()> {
    if prefix.is_empty() { Ok(()) } else { check_key(prefix) }
}

/// Longest key accepted; keys are built from names and IDs, never from free text.
pub const MAX_KEY_BYTES: usize = 512;
