//! The in-memory registry of waiting headless logins on this server.
//!
//! A login with no interest shown writes nothing to the store (SPEC HL-08); what bounds a
//! flood of such logins is this registry: at most `limits::PENDING_PER_USER_MAX` per user and
//! `limits::PENDING_PER_SERVER_MAX` in all, and one login per request ID. A [`WaiterGuard`]
//! frees its slot when the login ends, however it ends.
//!
//! # A newer login for the same request supersedes the waiting one
//! A client whose long poll lost its connection (a proxy restart, a partition, a crashed auth
//! server) sends the same request again. This server may not have noticed the dead connection
//! yet, so the old login still holds the slot. Refusing the new one would lock the client out
//! by its own stale wait; instead the newer login takes the slot over and the older one ends
//! with [`AuthError::Superseded`]. Only the holder of the key can send a login for its ID (the
//! ID is derived from the key and checked before registering, SPEC HL-09), and a takeover needs
//! the same user, so nobody else can end a waiting login this way. Each registration gets a
//! generation number and a guard frees the slot only while it is still the holder, so the
//! bounds keep counting exactly one slot per ID.
//!
//! # Limitations
//! The registry is per server: two logins with one ID on two auth servers both wait, on the
//! same stored record; the older one ends when its connection is noticed dead or at its timeout.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hwa_core::id::RequestId;
use hwa_core::limits::{PENDING_PER_SERVER_MAX, PENDING_PER_USER_MAX};
use tokio::sync::oneshot;

use crate::error::AuthError;

#[derive(Debug)]
pub struct Waiters {
    registry: Mutex<Registry>,
    per_user_max: usize,
    per_server_max: usize,
}

#[derive(Debug, Default)]
struct Registry {
    /// Request ID → the login holding it.
    by_id: BTreeMap<RequestId, Slot>,
    /// The generation the next registration gets.
    next_generation: u64,
}

/// The login currently holding a request ID.
#[derive(Debug)]
struct Slot {
    user: String,
    generation: u64,
    /// Tells the holder that a newer login took its place.
    supersede: oneshot::Sender<()>,
}

impl Default for Waiters {
    fn default() -> Self {
        Waiters::with_bounds(PENDING_PER_USER_MAX, PENDING_PER_SERVER_MAX)
    }
}

/// A waiting login's slot; dropping it frees the slot unless a newer login took it over.
#[derive(Debug)]
pub struct WaiterGuard {
    waiters: Arc<Waiters>,
    id: RequestId,
    generation: u64,
    superseded: oneshot::Receiver<()>,
}

impl WaiterGuard {
    /// Resolves once a newer login for the same request took this slot over; never resolves
    /// while this login is the holder.
    pub async fn superseded(&mut self) {
        if (&mut self.superseded).await.is_err() {
            // The sender lives in the registry exactly as long as this login holds the slot,
            // and is dropped without a message only when this guard removes it itself.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut registry = self.waiters.lock();
        if registry.by_id.get(&self.id).is_some_and(|slot| slot.generation == self.generation) {
            registry.by_id.remove(&self.id);
        }
    }
}

impl Waiters {
    /// A registry with other bounds than the protocol's, for tests of the bounds themselves.
    pub fn with_bounds(per_user_max: usize, per_server_max: usize) -> Self {
        Waiters { registry: Mutex::default(), per_user_max, per_server_max }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a waiting login, taking over the slot of an older login of the same user for
    /// the same ID (see the module doc), or says why it may not wait.
    pub fn register(
        self: &Arc<Self>,
        user: &str,
        id: &RequestId,
    ) -> Result<WaiterGuard, AuthError> {
        let mut registry = self.lock();
        let taking_over = match registry.by_id.get(id) {
            Some(slot) if slot.user != user => {
                return Err(AuthError::DuplicateWaiting { id: id.clone() });
            }
            Some(_) => true,
            None => false,
        };
        if !taking_over {
            let for_user = registry.by_id.values().filter(|s| s.user == user).count();
            if for_user >= self.per_user_max {
                return Err(AuthError::TooManyPendingForUser {
                    user: user.to_string(),
                    max: self.per_user_max,
                });
            }
            if registry.by_id.len() >= self.per_server_max {
                return Err(AuthError::TooManyPendingOnServer { max: self.per_server_max });
            }
        }
        let generation = registry.next_generation;
        registry.next_generation += 1;
        let (supersede, superseded) = oneshot::channel();
        let slot = Slot { user: user.to_string(), generation, supersede };
        if let Some(old) = registry.by_id.insert(id.clone(), slot) {
            tracing::debug!(request_id = %id, "a newer headless login took over the waiting one");
            // The old login may have ended already and dropped its receiver: nothing to tell.
            let _ = old.supersede.send(());
        }
        Ok(WaiterGuard { waiters: Arc::clone(self), id: id.clone(), generation, superseded })
    }

    /// The user whose login waits for `id` on this server, if any.
    pub fn user_of(&self, id: &RequestId) -> Option<String> {
        self.lock().by_id.get(id).map(|slot| slot.user.clone())
    }

    /// How many logins wait on this server, for tests of the bounds.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A client resuming after a lost connection sends the same request again while this server
    // may still hold its stale wait: the newer login must win, or the client would be locked
    // out by itself. Only the holder of the key can produce a login for the ID's public key.
    #[tokio::test]
    async fn a_second_login_with_the_same_id_supersedes_the_first() {
        let waiters = Arc::new(Waiters::default());
        let id = RequestId::derive(b"k");
        let mut first = waiters.register("alice", &id).unwrap();
        let mut second = waiters.register("alice", &id).unwrap();
        first.superseded().await;
        let still_waiting =
            tokio::time::timeout(std::time::Duration::from_millis(10), second.superseded()).await;
        assert!(still_waiting.is_err(), "the newer login must keep waiting");
        assert_eq!(waiters.len(), 1);
        assert_eq!(waiters.user_of(&id).as_deref(), Some("alice"));
    }

    #[test]
    fn only_the_current_holder_frees_the_slot() {
        let waiters = Arc::new(Waiters::with_bounds(1, 1));
        let id = RequestId::derive(b"k");
        let first = waiters.register("alice", &id).unwrap();
        let second = waiters.register("alice", &id).unwrap();
        drop(first);
        assert_eq!(waiters.user_of(&id).as_deref(), Some("alice"), "the stale guard freed it");
        assert!(matches!(
            waiters.register("alice", &RequestId::derive(b"other")),
            Err(AuthError::TooManyPendingForUser { max: 1, .. })
        ));
        drop(second);
        assert!(waiters.is_empty());
        assert!(waiters.register("alice", &RequestId::derive(b"other")).is_ok());
    }

    #[test]
    fn a_takeover_at_the_bounds_is_allowed_and_counts_once() {
        let waiters = Arc::new(Waiters::with_bounds(1, 1));
        let id = RequestId::derive(b"k");
        let _first = waiters.register("alice", &id).unwrap();
        let _second = waiters.register("alice", &id).unwrap();
        assert_eq!(waiters.len(), 1);
    }

    #[test]
    fn another_user_cannot_take_over_a_waiting_login() {
        let waiters = Arc::new(Waiters::default());
        let id = RequestId::derive(b"k");
        let _alice = waiters.register("alice", &id).unwrap();
        assert!(matches!(waiters.register("bob", &id), Err(AuthError::DuplicateWaiting { .. })));
        assert_eq!(waiters.user_of(&id).as_deref(), Some("alice"));
    }

    #[test]
    fn one_user_cannot_hold_more_than_the_per_user_bound() {
        let waiters = Arc::new(Waiters::default());
        let guards: Vec<_> = (0..PENDING_PER_USER_MAX)
            .map(|i| waiters.register("alice", &RequestId::derive(&i.to_le_bytes())).unwrap())
            .collect();
        let extra = RequestId::derive(b"one more");
        assert!(matches!(
            waiters.register("alice", &extra),
            Err(AuthError::TooManyPendingForUser { max: PENDING_PER_USER_MAX, .. })
        ));
        assert!(waiters.register("bob", &extra).is_ok());
        drop(guards);
    }

    #[test]
    fn the_server_bound_counts_every_user_and_says_to_retry_later() {
        let waiters = Arc::new(Waiters::with_bounds(2, 3));
        let _a = waiters.register("a", &RequestId::derive(b"1")).unwrap();
        let _b = waiters.register("b", &RequestId::derive(b"2")).unwrap();
        let _c = waiters.register("c", &RequestId::derive(b"3")).unwrap();
        let err = waiters.register("d", &RequestId::derive(b"4")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this server already holds 3 waiting headless logins; try again in a few minutes"
        );
    }
}
