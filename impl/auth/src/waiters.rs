//! The in-memory registry of waiting headless logins on this server.
//!
//! A login with no interest shown writes nothing to the store (SPEC HL-08); what bounds a
//! flood of such logins is this registry: at most `limits::PENDING_PER_USER_MAX` per user and
//! `limits::PENDING_PER_SERVER_MAX` in all, and one login per request ID. A [`WaiterGuard`]
//! frees its slot when the login ends, however it ends.
//!
//! # Limitations
//! The registry is per server: two logins with one ID on two auth servers are told apart only
//! once the second one finds the first one's pending record in the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hwa_core::id::RequestId;
use hwa_core::limits::{PENDING_PER_SERVER_MAX, PENDING_PER_USER_MAX};

use crate::error::AuthError;

#[derive(Debug)]
pub struct Waiters {
    /// Request ID → user of every waiting login.
    by_id: Mutex<BTreeMap<RequestId, String>>,
    per_user_max: usize,
    per_server_max: usize,
}

impl Default for Waiters {
    fn default() -> Self {
        Waiters::with_bounds(PENDING_PER_USER_MAX, PENDING_PER_SERVER_MAX)
    }
}

/// A waiting login's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct WaiterGuard {
    waiters: Arc<Waiters>,
    id: RequestId,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        self.waiters.lock().remove(&self.id);
    }
}

impl Waiters {
    /// A registry with other bounds than the protocol's, for tests of the bounds themselves.
    pub fn with_bounds(per_user_max: usize, per_server_max: usize) -> Self {
        Waiters { by_id: Mutex::default(), per_user_max, per_server_max }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<RequestId, String>> {
        self.by_id.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a waiting login, or says why it may not wait.
    pub fn register(
        self: &Arc<Self>,
        user: &str,
        id: &RequestId,
    ) -> Result<WaiterGuard, AuthError> {
        let mut by_id = self.lock();
        if by_id.contains_key(id) {
            return Err(AuthError::DuplicateWaiting { id: id.clone() });
        }
        let for_user = by_id.values().filter(|u| u.as_str() == user).count();
        if for_user >= self.per_user_max {
            return Err(AuthError::TooManyPendingForUser {
                user: user.to_string(),
                max: self.per_user_max,
            });
        }
        if by_id.len() >= self.per_server_max {
            return Err(AuthError::TooManyPendingOnServer { max: self.per_server_max });
        }
        by_id.insert(id.clone(), user.to_string());
        Ok(WaiterGuard { waiters: Arc::clone(self), id: id.clone() })
    }

    /// The user whose login waits for `id` on this server, if any.
    pub fn user_of(&self, id: &RequestId) -> Option<String> {
        self.lock().get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_login_with_the_same_id_is_refused_until_the_first_ends() {
        let waiters = Arc::new(Waiters::default());
        let id = RequestId::derive(b"k");
        let guard = waiters.register("alice", &id).unwrap();
        assert!(matches!(waiters.register("alice", &id), Err(AuthError::DuplicateWaiting { .. })));
        drop(guard);
        assert!(waiters.register("alice", &id).is_ok());
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
