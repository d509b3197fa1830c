//! The blackboard: what simulated hosts can see of each other outside the network.
//!
//! A person reads the approval URL off one screen and acts on another; in the simulator the
//! remote host's terminal output lands here and the approver's program reads it from here.
//! The board also collects what the invariant checker needs from the client side
//! ([`Observation`]): certificates received, logins that failed, decisions attempted.
//!
//! Waiting on the board is push-based ([`Board::wait_until`]) and, since turmoil runs every
//! host on one thread in a seeded order, deterministic.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hwa_core::api::ErrorCode;
use hwa_core::id::RequestId;

/// Something a client-side host saw, for the invariant checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A headless login returned a certificate.
    Certificate {
        host: String,
        user: String,
        request_id: RequestId,
        /// The OpenSSH certificate line.
        certificate: String,
        /// Whether the scenario meant this login to succeed; an attacker's is not.
        legitimate: bool,
    },
    /// A headless login ended without a certificate.
    LoginFailed {
        host: String,
        request_id: Option<RequestId>,
        code: Option<ErrorCode>,
        message: String,
    },
    /// An approver's decision attempt and its result.
    Decision {
        host: String,
        request_id: RequestId,
        /// What the approver meant to do: approve (`true`) or deny.
        approve: bool,
        /// Whether the server accepted that decision.
        accepted: bool,
        message: String,
        /// An earlier attempt could not reach the cluster and was run again, so a decision
        /// may have been taken by it with only its answer lost.
        answer_lost: bool,
    },
}

#[derive(Debug, Default)]
struct Inner {
    stderr: BTreeMap<String, String>,
    stdout: BTreeMap<String, String>,
    invites: BTreeMap<String, String>,
    flags: BTreeMap<String, u64>,
    captured: BTreeMap<String, Vec<String>>,
    observations: Vec<Observation>,
}

/// Shared by every host of one run.
#[derive(Clone, Debug, Default)]
pub struct Board {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<tokio::sync::Notify>,
}

impl Board {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut inner);
        drop(inner);
        self.changed.notify_waiters();
        out
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn write_stderr(&self, host: &str, text: &str) {
        self.with(|b| b.stderr.entry(host.to_owned()).or_default().push_str(text));
    }

    pub fn write_stdout(&self, host: &str, text: &str) {
        self.with(|b| b.stdout.entry(host.to_owned()).or_default().push_str(text));
    }

    pub fn stderr(&self, host: &str) -> String {
        self.read(|b| b.stderr.get(host).cloned().unwrap_or_default())
    }

    pub fn stdout(&self, host: &str) -> String {
        self.read(|b| b.stdout.get(host).cloned().unwrap_or_default())
    }

    pub fn set_invite(&self, user: &str, url: &str) {
        self.with(|b| b.invites.insert(user.to_owned(), url.to_owned()));
    }

    pub fn invite(&self, user: &str) -> Option<String> {
        self.read(|b| b.invites.get(user).cloned())
    }

    /// Raises a named counter (`ready:laptop`, `decided`, ...), waking waiters.
    pub fn bump(&self, flag: &str) {
        self.with(|b| *b.flags.entry(flag.to_owned()).or_default() += 1);
    }

    pub fn count(&self, flag: &str) -> u64 {
        self.read(|b| b.flags.get(flag).copied().unwrap_or(0))
    }

    /// Keeps material an eavesdropper could capture (an assertion on the wire, say), for the
    /// attacker scenarios to replay.
    pub fn capture(&self, kind: &str, material: String) {
        self.with(|b| b.captured.entry(kind.to_owned()).or_default().push(material));
    }

    pub fn captured(&self, kind: &str) -> Vec<String> {
        self.read(|b| b.captured.get(kind).cloned().unwrap_or_default())
    }

    pub fn observe(&self, observation: Observation) {
        self.with(|b| b.observations.push(observation));
    }

    pub fn observations(&self) -> Vec<Observation> {
        self.read(|b| b.observations.clone())
    }

    /// The request IDs `host` has printed approval URLs for, in order.
    pub fn printed_ids(&self, host: &str) -> Vec<RequestId> {
        let text = self.stderr(host);
        text.split_whitespace()
            .filter_map(|word| word.rsplit_once("/web/headless/").map(|(_, id)| id))
            .filter_map(|id| id.trim_end_matches(['.', ',']).parse().ok())
            .collect()
    }

    /// The host whose screen shows the approval URL of `id`.
    pub fn printed_by(&self, id: &RequestId) -> Option<String> {
        let hosts: Vec<String> = self.read(|b| b.stderr.keys().cloned().collect());
        hosts.into_iter().find(|host| self.printed_ids(host).contains(id))
    }

    /// The match code `host` printed last, if any (`match code: 123-456`).
    pub fn printed_match_code(&self, host: &str) -> Option<String> {
        let text = self.stderr(host);
        let words: Vec<&str> = text.split_whitespace().collect();
        words.iter().rev().find_map(|w| {
            let w = w.trim_matches(|c: char| !c.is_ascii_digit() && c != '-');
            let is_code = w.len() == 7 && w.as_bytes()[3] == b'-';
            (is_code && w.chars().filter(|c| c.is_ascii_digit()).count() == 6).then(|| w.to_owned())
        })
    }

    /// Waits until `ready` holds; wakes on every change of the board.
    pub async fn wait_until<T>(&self, mut ready: impl FnMut(&Board) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = ready(self) {
                return value;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_ids_and_match_codes_are_read_off_the_terminal_text() {
        let board = Board::default();
        board.write_stderr(
            "remote",
            "open http://auth1:3080/web/headless/bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f\n\
             match code: 123-456\n",
        );
        assert_eq!(
            board.printed_ids("remote")[0].to_string(),
            "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f"
        );
        assert_eq!(board.printed_match_code("remote").as_deref(), Some("123-456"));
        assert!(board.printed_ids("laptop").is_empty());
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_board_changes() {
        let board = Board::default();
        let waiter = {
            let board = board.clone();
            tokio::spawn(
                async move { board.wait_until(|b| (b.count("go") > 0).then_some(7)).await },
            )
        };
        tokio::task::yield_now().await;
        board.bump("go");
        assert_eq!(waiter.await.unwrap(), 7);
    }
}
