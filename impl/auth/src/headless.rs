//! The headless request record and its state machine (ARCHITECTURE.md "The headless request
//! record").
//!
//! Key `headless/<user>/<id>`. States: `stub` (the user showed interest; nothing else known),
//! `pending` (the waiting login filled in key, address and scope), `approved` (with the
//! credential that asserted) and `denied`. Only `stub → pending`, `pending → approved` and
//! `pending → denied` exist, each a compare-and-swap at the revision read, so one decision wins
//! any race (SPEC HL-14). A login with no interest writes nothing (HL-08): see
//! [`crate::waiters`]. `headless_watch/<user>/<watcher>` records say that the user is watching
//! for requests, which counts as interest in every request.
//!
//! This module owns the record's shape and the transitions; who may trigger them, and in which
//! order checks happen, is the service's.

use std::time::Duration;

use hwa_core::UnixMillis;
use hwa_core::api::{HeadlessRequestView, RequestScope, RequestState};
use hwa_core::id::{RequestId, match_code};
use hwa_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, StateName};
use crate::kv::{self, Versioned};

/// How long a watcher record lives without refresh; the event stream refreshes it at a third
/// of this, so a crashed watcher stops counting as interest within this time.
pub const WATCHER_TTL: Duration = Duration::from_secs(30);

/// How long a record stays in the store after its request expired, so that an approver who
/// is late is told "expired" rather than "not found". A login that times out removes its
/// record at once (SPEC HL-10); this only matters when the login is gone (client or server).
pub const EXPIRED_RECORD_GRACE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    Stub,
    Pending,
    Approved,
    Denied,
}

/// What the waiting login submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginDetails {
    /// `authorized_keys` text, exactly the bytes the ID was derived from.
    pub ssh_pub_key: String,
    pub client_addr: String,
    pub key_fingerprint: String,
    pub scope: RequestScope,
}

/// Who decided, and with which credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The approving credential, base64url; `None` for a denial.
    pub credential_id: Option<String>,
    pub approver_addr: String,
    pub decided_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlessRecord {
    pub id: RequestId,
    pub user: String,
    pub state: RecordState,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub login: Option<LoginDetails>,
    pub decision: Option<Decision>,
}

pub fn record_key(user: &str, id: &RequestId) -> String {
    format!("headless/{user}/{id}")
}

pub fn user_prefix(user: &str) -> String {
    format!("headless/{user}/")
}

pub fn watcher_prefix(user: &str) -> String {
    format!("headless_watch/{user}/")
}

impl HeadlessRecord {
    /// When the store may drop the record.
    pub fn store_expiry(&self) -> UnixMillis {
        self.expires_at.plus(EXPIRED_RECORD_GRACE)
    }

    pub fn stub(user: &str, id: &RequestId, now: UnixMillis, expires_at: UnixMillis) -> Self {
        HeadlessRecord {
            id: id.clone(),
            user: user.to_string(),
            state: RecordState::Stub,
            created_at: now,
            expires_at,
            login: None,
            decision: None,
        }
    }

    /// The state an approver sees; `None` for a stub, which has nothing to show.
    pub fn api_state(&self) -> Option<RequestState> {
        match self.state {
            RecordState::Stub => None,
            RecordState::Pending => Some(RequestState::Pending),
            RecordState::Approved => Some(RequestState::Approved),
            RecordState::Denied => Some(RequestState::Denied),
        }
    }

    /// What an approver sees before deciding (SPEC HL-15).
    pub fn view(&self, now: UnixMillis) -> Option<HeadlessRequestView> {
        let state = self.api_state()?;
        let login = self.login.as_ref()?;
        Some(HeadlessRequestView {
            id: self.id.clone(),
            user: self.user.clone(),
            state,
            client_addr: login.client_addr.clone(),
            key_fingerprint: login.key_fingerprint.clone(),
            scope: login.scope.clone(),
            expires_at: self.expires_at,
            seconds_left: now.until(self.expires_at).as_secs(),
            match_code: match_code(login.ssh_pub_key.as_bytes()),
        })
    }

    /// The error for deciding a request that is not pending.
    pub fn not_pending(&self) -> AuthError {
        match self.api_state() {
            Some(state @ (RequestState::Approved | RequestState::Denied)) => {
                AuthError::AlreadyDecided { id: self.id.clone(), state: StateName(state) }
            }
            _ => AuthError::RequestNotFound { id: self.id.clone(), user: self.user.clone() },
        }
    }
}

pub async fn load(
    store: &dyn Store,
    user: &str,
    id: &RequestId,
) -> Result<Option<Versioned<HeadlessRecord>>, AuthError> {
    kv::get(store, &record_key(user, id)).await
}

/// Applies a decision to a pending record by compare-and-swap. A lost race reads the winner
/// and reports it as already decided.
pub async fn decide(
    store: &dyn Store,
    current: &Versioned<HeadlessRecord>,
    state: RecordState,
    decision: Decision,
) -> Result<HeadlessRecord, AuthError> {
    let mut next = current.value.clone();
    next.state = state;
    next.decision = Some(decision);
    let key = record_key(&next.user, &next.id);
    match kv::swap(store, &key, current.revision, &next, Some(next.store_expiry())).await? {
        Some(_) => Ok(next),
        None => match load(store, &next.user, &next.id).await? {
            Some(now) => Err(now.value.not_pending()),
            None => Err(AuthError::RequestExpired { id: next.id.clone() }),
        },
    }
}
