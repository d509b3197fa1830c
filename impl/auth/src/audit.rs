//! The audit log (SPEC HL-25): events of [`hwa_core::admin::AuditEvent`] under
//! `audit/<20-digit time in ms>/<20-digit sequence>-<random>`, so that a range read returns
//! them in time order and two auth servers writing in the same millisecond never collide.
//!
//! Callers pass only identifiers, addresses, fingerprints and reasons; the field names below
//! are the whole vocabulary, and none of them can hold a secret.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hwa_core::admin::{AuditEvent, AuditKind};
use hwa_core::{Entropy, UnixMillis};
use hwa_store::Store;

use crate::error::AuthError;
use crate::kv;

/// How long events are kept (the reference keeps its audit log a year by default on most
/// backends; we keep 90 days in the cluster store, which is not an archive).
pub const AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Events read at most by one `audit` call.
pub const AUDIT_READ_MAX: usize = 100_000;

/// Field names an event may carry.
pub mod field {
    pub const REQUEST_ID: &str = "request_id";
    pub const CLIENT_ADDR: &str = "client_addr";
    pub const APPROVER_ADDR: &str = "approver_addr";
    pub const CREDENTIAL_ID: &str = "credential_id";
    pub const KEY_FINGERPRINT: &str = "key_fingerprint";
    pub const REASON: &str = "reason";
    pub const PRINCIPALS: &str = "principals";
    pub const VALID_BEFORE: &str = "valid_before";
    pub const SERVER: &str = "server";
    pub const COMMAND: &str = "command";
    pub const KIND: &str = "kind";
    pub const NAME: &str = "name";
    pub const LOCK_ID: &str = "lock_id";
    pub const NODE: &str = "node";
    pub const NODE_TIME: &str = "node_time";
    pub const PEER: &str = "peer";
    pub const LOGIN: &str = "login";
    pub const KEY_ID: &str = "key_id";
    pub const SERIAL: &str = "serial";
    pub const DURATION_MS: &str = "duration_ms";
    pub const REQUEST: &str = "request";
    pub const DETAIL: &str = "detail";
}

/// Writes events with an increasing per-process sequence.
#[derive(Debug, Default)]
pub struct Auditor {
    seq: AtomicU64,
}

impl Auditor {
    pub async fn emit(
        &self,
        store: &dyn Store,
        entropy: &dyn Entropy,
        now: UnixMillis,
        kind: AuditKind,
        user: Option<&str>,
        fields: &[(&str, String)],
    ) -> Result<(), AuthError> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let fields: BTreeMap<String, String> =
            fields.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        let event = AuditEvent { time: now, kind, seq, user: user.map(str::to_string), fields };
        let suffix = hwa_core::entropy::token_hex(entropy, 4);
        let key = format!("audit/{:020}/{seq:020}-{suffix}", now.0);
        tracing::info!(target: "hwa_auth::audit", kind = ?kind, user = ?event.user, "audit event");
        kv::put(store, &key, &event, Some(now.plus(AUDIT_RETENTION))).await?;
        Ok(())
    }
}

/// The newest `limit` events, oldest first.
pub async fn newest(store: &dyn Store, limit: usize) -> Result<Vec<AuditEvent>, AuthError> {
    let all = kv::range::<AuditEvent>(store, "audit/", AUDIT_READ_MAX).await?;
    let skip = all.len().saturating_sub(limit);
    Ok(all.into_iter().skip(skip).map(|(_, event)| event).collect())
}
