//! Safety invariants, checked after every simulation step.
//!
//! The checker watches the whole shared store (one watch, every change seen once, in revision
//! order) and reads the clients' observations from the blackboard. It holds the run to these
//! rules:
//!
//! 1. At most one decision per request: a record only moves `stub → pending → approved|denied`
//!    and a decided request is never decided again, not even after its record expired.
//! 2. A certificate implies an approved record of the same user, decided with a credential
//!    registered to that user, and the certificate names that credential.
//! 3. The certificate's key is the request's key.
//! 4. Validity is at most 60 seconds and never ends after the request expired.
//! 5. No challenge is accepted twice: a challenge, once taken, never exists again.
//! 6. An audit event exists for every decision (checked when the run ends, since the event is
//!    written just after the decision).
//! 7. Nothing is written to a remote client host's disk (checked when the run ends).
//! 8. No certificate reaches a host the scenario marked as an attacker.
//! 9. A request lives 3 minutes (SPEC HL-10), give or take the skew between two servers'
//!    clocks, and is never decided after it expired.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures::FutureExt;
use hwa_auth::headless::{HeadlessRecord, RecordState};
use hwa_core::admin::{AuditEvent, AuditKind};
use hwa_core::limits::{CERT_TTL, REQUEST_TTL};
use hwa_store::{Event, SharedStore, Watcher};
use ssh_key::Certificate;

use crate::board::{Board, Observation};

/// How far two servers' clocks may disagree for the lifetime check: more than any skew the
/// explorer draws, far less than any lifetime that would be a bug.
const SKEW_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The certificate extension naming the approving credential.
const EXT_MFA_VERIFIED: &str = hwa_auth::certs::EXT_MFA_VERIFIED;

#[derive(Debug)]
pub struct Checker {
    store: SharedStore,
    watcher: Box<dyn Watcher>,
    /// The last record seen under each `headless/` key.
    records: BTreeMap<String, HeadlessRecord>,
    /// Every decided record, by request ID: the decision is final for the whole run.
    decided: BTreeMap<String, HeadlessRecord>,
    /// Credentials by `<user>/<credential id>` that were ever registered.
    credentials: BTreeSet<String>,
    /// Challenge keys that were taken (deleted).
    taken_challenges: BTreeSet<String>,
    observations_seen: usize,
    /// Every headless key ever written.
    written: BTreeSet<String>,
    /// Homes of remote hosts, which must stay empty.
    remote_homes: Vec<(String, PathBuf)>,
}

impl Checker {
    /// Starts watching `store`. Call before the simulation takes its first step.
    pub fn new(
        store: SharedStore,
        remote_homes: Vec<(String, PathBuf)>,
    ) -> Result<Checker, String> {
        let watcher = futures::executor::block_on(store.watch(""))
            .map_err(|e| format!("cannot watch the simulated store: {e}"))?;
        Ok(Checker {
            store,
            watcher,
            records: BTreeMap::new(),
            decided: BTreeMap::new(),
            credentials: BTreeSet::new(),
            taken_challenges: BTreeSet::new(),
            observations_seen: 0,
            written: BTreeSet::new(),
            remote_homes,
        })
    }

    /// Examines everything that changed since the last step.
    pub fn step(&mut self, board: &Board) -> Result<(), String> {
        while let Some(next) = self.watcher.next().now_or_never() {
            let Some(event) = next else {
                return Err("the store closed the checker's watch; it fell behind".into());
            };
            self.on_event(event)?;
        }
        let observations = board.observations();
        for observation in &observations[self.observations_seen..] {
            self.on_observation(observation)?;
        }
        self.observations_seen = observations.len();
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<(), String> {
        let key = event.key().to_owned();
        match event {
            Event::Put(item) if key.starts_with("headless/") => {
                let record: HeadlessRecord = serde_json::from_slice(&item.value)
                    .map_err(|e| format!("{key} holds a record the checker cannot read: {e}"))?;
                self.written.insert(key.clone());
                self.on_record(&key, record)
            }
            Event::Put(_) if key.starts_with("credentials/") => {
                self.credentials.insert(key["credentials/".len()..].to_owned());
                Ok(())
            }
            Event::Put(_) if key.starts_with("challenges/") => {
                if self.taken_challenges.contains(&key) {
                    return Err(format!("challenge {key} exists again after it was taken"));
                }
                Ok(())
            }
            Event::Delete { .. } if key.starts_with("challenges/") => {
                self.taken_challenges.insert(key);
                Ok(())
            }
            Event::Delete { .. } if key.starts_with("headless/") => {
                self.records.remove(&key);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_record(&mut self, key: &str, record: HeadlessRecord) -> Result<(), String> {
        let id = record.id.to_string();
        // A filled-in stub carries the creation time of the server that showed interest and
        // the expiry of the server holding the login: their clocks may disagree.
        let lifetime = record.created_at.until(record.expires_at);
        if lifetime > REQUEST_TTL + SKEW_ALLOWANCE {
            return Err(format!(
                "request {id} lives {} s, longer than the {} s of a headless request",
                lifetime.as_secs(),
                REQUEST_TTL.as_secs()
            ));
        }
        if let Some(decision) = &record.decision
            && decision.decided_at > record.expires_at
        {
            return Err(format!(
                "request {id} was decided {} ms after it expired",
                record.expires_at.until(decision.decided_at).as_millis()
            ));
        }
        let before = self.records.get(key).map(|r| r.state);
        let allowed = match (before, record.state) {
            (None, RecordState::Stub | RecordState::Pending) => true,
            (Some(RecordState::Stub), RecordState::Stub | RecordState::Pending) => true,
            (Some(RecordState::Pending), RecordState::Pending) => {
                self.records.get(key).is_some_and(|r| r.login == record.login)
            }
            (Some(RecordState::Pending), RecordState::Approved | RecordState::Denied) => true,
            (None, RecordState::Approved | RecordState::Denied) => false,
            (Some(a), b) => a == b && self.records.get(key).is_some_and(|r| *r == record),
        };
        if !allowed {
            return Err(format!(
                "request {id}: transition {} -> {:?} is not allowed",
                before.map_or("none".to_owned(), |s| format!("{s:?}")),
                record.state
            ));
        }
        if matches!(record.state, RecordState::Approved | RecordState::Denied) {
            if let Some(earlier) = self.decided.get(&id)
                && earlier.decision != record.decision
            {
                return Err(format!(
                    "request {id} was decided twice: {:?} then {:?}",
                    earlier.state, record.state
                ));
            }
            if record.state == RecordState::Approved {
                let credential = record.decision.as_ref().and_then(|d| d.credential_id.clone());
                let Some(credential) = credential else {
                    return Err(format!("request {id} was approved without a credential"));
                };
                if !self.credentials.contains(&format!("{}/{credential}", record.user)) {
                    return Err(format!(
                        "request {id} of {} was approved with credential {credential}, which is \
                         not registered to that user",
                        record.user
                    ));
                }
            }
            self.decided.entry(id).or_insert_with(|| record.clone());
        }
        self.records.insert(key.to_owned(), record);
        Ok(())
    }

    fn on_observation(&self, observation: &Observation) -> Result<(), String> {
        let Observation::Certificate { host, user, request_id, certificate, legitimate } =
            observation
        else {
            return Ok(());
        };
        if !legitimate {
            return Err(format!("attacker host {host} obtained a certificate for {user}"));
        }
        let id = request_id.to_string();
        let Some(record) = self.decided.get(&id) else {
            return Err(format!(
                "{host} holds a certificate for request {id}, which was never approved"
            ));
        };
        if record.state != RecordState::Approved || record.user != *user {
            return Err(format!(
                "{host} holds a certificate for {user} from request {id}, decided {:?} for {}",
                record.state, record.user
            ));
        }
        let cert = Certificate::from_openssh(certificate.trim())
            .map_err(|e| format!("{host} received an unreadable certificate: {e}"))?;
        let credential = record.decision.as_ref().and_then(|d| d.credential_id.as_deref());
        if cert.extensions().get(EXT_MFA_VERIFIED).map(String::as_str) != credential {
            return Err(format!("certificate for {id} does not name the approving credential"));
        }
        let login =
            record.login.as_ref().ok_or(format!("approved request {id} has no login details"))?;
        let request_key = ssh_key::PublicKey::from_openssh(login.ssh_pub_key.trim())
            .map_err(|e| format!("request {id} holds an unreadable key: {e}"))?;
        if cert.public_key() != request_key.key_data() {
            return Err(format!("certificate for {id} is for another key than the request's"));
        }
        let validity = cert.valid_before().saturating_sub(cert.valid_after());
        if validity > CERT_TTL.as_secs() {
            return Err(format!("certificate for {id} is valid {validity} s, more than 60 s"));
        }
        if cert.valid_before() > record.expires_at.secs_end() {
            return Err(format!("certificate for {id} outlives its request"));
        }
        Ok(())
    }

    /// The checks that can only be made once the run is over.
    pub fn finish(&mut self, board: &Board) -> Result<(), String> {
        self.step(board)?;
        let audit = futures::executor::block_on(self.store.range("audit/", usize::MAX))
            .map_err(|e| format!("cannot read the audit log: {e}"))?;
        let mut decided_in_audit = BTreeSet::new();
        for item in audit {
            let event: AuditEvent = serde_json::from_slice(&item.value)
                .map_err(|e| format!("{} holds an unreadable audit event: {e}", item.key))?;
            if matches!(
                event.kind,
                AuditKind::HeadlessLoginApproved | AuditKind::HeadlessLoginRejected
            ) && let Some(id) = event.fields.get("request_id")
            {
                decided_in_audit.insert(id.clone());
            }
        }
        for id in self.decided.keys() {
            if !decided_in_audit.contains(id) {
                return Err(format!(
                    "request {id} was decided but the audit log has no event for it"
                ));
            }
        }
        for (host, home) in &self.remote_homes {
            let entries = std::fs::read_dir(home).map(|d| d.count()).unwrap_or(0);
            if entries > 0 {
                return Err(format!(
                    "the headless client wrote {entries} file(s) on {host}'s disk"
                ));
            }
        }
        Ok(())
    }

    /// How many distinct headless records were ever written.
    pub fn records_written(&self) -> usize {
        self.written.len()
    }

    /// Request IDs decided so far, with their final state.
    pub fn decisions(&self) -> BTreeMap<String, RecordState> {
        self.decided.iter().map(|(id, r)| (id.clone(), r.state)).collect()
    }
}
