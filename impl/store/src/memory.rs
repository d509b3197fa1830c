//! The in-process store, for the simulator and unit tests.
//!
//! Everything lives in one `BTreeMap` behind a plain mutex, so iteration order and therefore
//! every simulated run is deterministic. The mutex is never held across an `.await`: the store
//! has no background task and no runtime of its own, which lets several turmoil hosts (each with
//! its own tokio runtime) share one instance and lets any of them crash without leaving it
//! locked.
//!
//! Expiry follows the injected clock. An item whose `expires_at <= clock.now()` is removed, with
//! a delete event at a new revision, by a sweep that runs at the start of every operation;
//! owners that want delete events while the store is idle call [`MemoryStore::sweep_expired`]
//! from a timer.
//!
//! Every operation first yields to the scheduler, as a real store's round trip would. A store
//! that answered at once would run each request's read and its later write back to back, so
//! under the simulator no two requests could ever interleave between them, and a lost update
//! (a write that should have been a compare-and-swap) would never show.
//!
//! What this store leaves to others: durability (it has none) and cross-process watches.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use hwa_core::{SharedClock, UnixMillis};

use crate::watch::WatchHub;
use crate::{Event, Item, Store, StoreResult, Watcher, Written, check_key, check_prefix};

/// A deterministic in-memory [`Store`].
#[derive(Debug)]
pub struct MemoryStore {
    clock: SharedClock,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<String, Item>,
    /// `(expires_at, key)` of every item that expires, so a sweep reads only what is due.
    expiries: BTreeSet<(UnixMillis, String)>,
    /// The revision of the last write or delete; 0 before the first.
    revision: u64,
    hub: WatchHub,
}

impl MemoryStore {
    pub fn new(clock: SharedClock) -> Arc<MemoryStore> {
        Arc::new(MemoryStore { clock, state: Mutex::new(State::default()) })
    }

    /// Removes every expired item, sending a delete event for each. Returns how many.
    pub fn sweep_expired(&self) -> usize {
        let now = self.clock.now();
        self.lock().sweep(now)
    }

    /// The revision of the last change, 0 for a store never written.
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    /// Locks the state after sweeping what expired, so every operation sees the clock's now.
    fn lock_swept(&self) -> MutexGuard<'_, State> {
        let now = self.clock.now();
        let mut state = self.lock();
        state.sweep(now);
        state
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug in this file, and every
        // mutation below leaves the state consistent before anything that could panic; keep
        // serving rather than poisoning every host that shares the store.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn sweep(&mut self, now: UnixMillis) -> usize {
        let mut swept = 0;
        while let Some((expires_at, key)) = self.expiries.first().cloned() {
            if expires_at > now {
                break;
            }
            self.expiries.pop_first();
            self.items.remove(&key);
            self.revision += 1;
            tracing::debug!(key = %key, revision = self.revision, "item expired");
            self.hub.publish(&Event::Delete { key, revision: self.revision });
            swept += 1;
        }
        swept
    }

    fn write(&mut self, key: &str, value: Vec<u8>, expires_at: Option<UnixMillis>) -> u64 {
        self.forget_expiry(key);
        self.revision += 1;
        let item = Item { key: key.to_owned(), value, revision: self.revision, expires_at };
        if let Some(at) = expires_at {
            self.expiries.insert((at, key.to_owned()));
        }
        self.items.insert(key.to_owned(), item.clone());
        self.hub.publish(&Event::Put(item));
        self.revision
    }

    fn remove(&mut self, key: &str) -> u64 {
        self.forget_expiry(key);
        self.items.remove(key);
        self.revision += 1;
        self.hub.publish(&Event::Delete { key: key.to_owned(), revision: self.revision });
        self.revision
    }

    fn forget_expiry(&mut self, key: &str) {
        if let Some(at) = self.items.get(key).and_then(|item| item.expires_at) {
            self.expiries.remove(&(at, key.to_owned()));
        }
    }

    fn range(&self, prefix: &str, limit: usize) -> Vec<Item> {
        self.items
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(_, item)| item.clone())
            .collect()
    }
}

/// Where a real store's network or disk round trip would let other tasks run.
async fn round_trip() {
    tokio::task::yield_now().await;
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Item>> {
        round_trip().await;
        check_key(key)?;
        Ok(self.lock_swept().items.get(key).cloned())
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        round_trip().await;
        check_key(key)?;
        let mut state = self.lock_swept();
        if let Some(current) = state.items.get(key) {
            return Ok(Written::Conflict { current: Some(current.clone()) });
        }
        Ok(Written::Done { revision: state.write(key, value, expires_at) })
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<u64> {
        round_trip().await;
        check_key(key)?;
        Ok(self.lock_swept().write(key, value, expires_at))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected_revision: u64,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        round_trip().await;
        check_key(key)?;
        let mut state = self.lock_swept();
        match state.items.get(key) {
            Some(current) if current.revision == expected_revision => {
                Ok(Written::Done { revision: state.write(key, value, expires_at) })
            }
            current => Ok(Written::Conflict { current: current.cloned() }),
        }
    }

    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> StoreResult<Written> {
        round_trip().await;
        check_key(key)?;
        let mut state = self.lock_swept();
        match state.items.get(key) {
            Some(current) if expected_revision.is_none_or(|rev| rev == current.revision) => {
                Ok(Written::Done { revision: state.remove(key) })
            }
            current => Ok(Written::Conflict { current: current.cloned() }),
        }
    }

    async fn range(&self, prefix: &str, limit: usize) -> StoreResult<Vec<Item>> {
        round_trip().await;
        check_prefix(prefix)?;
        Ok(self.lock_swept().range(prefix, limit))
    }

    async fn watch(&self, prefix: &str) -> StoreResult<Box<dyn Watcher>> {
        round_trip().await;
        check_prefix(prefix)?;
        let mut state = self.lock_swept();
        // Snapshot and subscription under one lock: no write can fall between them.
        let snapshot = state.range(prefix, usize::MAX);
        Ok(Box::new(state.hub.subscribe(prefix, snapshot)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hwa_core::clock::{SIM_EPOCH, SimClock};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn explicit_sweep_reports_expiry_to_watchers_while_idle() {
        let store = MemoryStore::new(SimClock::shared(SIM_EPOCH));
        let expires_at = SIM_EPOCH.plus(Duration::from_secs(1));
        store.put("a/x", b"v".to_vec(), Some(expires_at)).await.unwrap();
        let mut watcher = store.watch("a/").await.unwrap();
        assert!(matches!(watcher.next().await, Some(Event::Put(_))));

        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(store.sweep_expired(), 1);
        let event = watcher.next().await.unwrap();
        assert_eq!(event, Event::Delete { key: "a/x".into(), revision: 2 });
        assert_eq!(store.revision(), 2);
    }

    #[tokio::test]
    async fn dropped_watchers_are_forgotten_at_the_next_write() {
        let store = MemoryStore::new(SimClock::shared(SIM_EPOCH));
        let kept = store.watch("a/").await.unwrap();
        let dropped = store.watch("a/").await.unwrap();
        assert_eq!(store.lock().hub.len(), 2);
        drop(dropped);
        store.put("a/x", Vec::new(), None).await.unwrap();
        assert_eq!(store.lock().hub.len(), 1);
        drop(kept);
    }

    #[tokio::test(start_paused = true)]
    async fn rewriting_an_item_replaces_its_expiry() {
        let store = MemoryStore::new(SimClock::shared(SIM_EPOCH));
        let soon = SIM_EPOCH.plus(Duration::from_secs(1));
        store.put("k", b"1".to_vec(), Some(soon)).await.unwrap();
        store.put("k", b"2".to_vec(), None).await.unwrap();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(store.sweep_expired(), 0);
        assert_eq!(store.get("k").await.unwrap().unwrap().value, b"2");
    }
}
