//! The cost of one store change event at a given pending count, measured on the store's own
//! watch fan-out ([`hwa_store::watch::WatchHub`], which every backend shares).
//!
//! `decision-latency` showed that with 10 000 logins pending the SQLite store's single thread
//! spends most of its time in `WatchHub::publish`: every committed change is offered to every
//! live watch, and each offer is a prefix comparison. This module rebuilds the hub as the
//! auth service fills it at a pending count and times `publish` and `subscribe` directly, so
//! the per-event cost is a number rather than a share of a profile.
//!
//! The subscriptions mirror the product: each waiting login watches its record key
//! (`headless/<user>/<id>`) and its user's watcher prefix (`headless_watch/<user>/`); each
//! event stream watches its user's request prefix (`headless/<user>/`).

use hwa_core::id::RequestId;
use hwa_store::watch::{ChannelWatcher, WatchHub};
use hwa_store::{Event, Item};
use serde::Serialize;
use tokio::time::Instant;

use crate::decision::{MEASURED_USER, background_plan};
use crate::stats::percentile_ns;

/// Events published (and watches added) per measurement.
pub const ROUNDS: usize = 201;

/// What one change event costs at a pending count.
#[derive(Clone, Debug, Serialize)]
pub struct FanOutCost {
    pub pending: usize,
    /// Live watches in the hub.
    pub watches: usize,
    /// `WatchHub::publish` of one change that one watch wants, median and p90.
    pub publish_median_ns: u64,
    pub publish_p90_ns: u64,
    /// `WatchHub::subscribe` of one new watch (it prunes dropped watches first).
    pub subscribe_median_ns: u64,
    pub subscribe_p90_ns: u64,
}

/// Builds the hub as `pending` waiting logins and their users' event streams fill it, and
/// times `publish` and `subscribe`.
pub fn measure(pending: usize) -> FanOutCost {
    let mut hub = WatchHub::new();
    let mut held: Vec<ChannelWatcher> = Vec::new();
    let mut logins: Vec<(String, usize)> = background_plan(pending);
    for (user, _) in &logins {
        held.push(hub.subscribe(&format!("headless/{user}/"), Vec::new()));
    }
    logins.push((MEASURED_USER.to_owned(), 1));
    let mut serial = 0u64;
    for (user, count) in &logins {
        for _ in 0..*count {
            serial += 1;
            let id = RequestId::derive(format!("key {serial}").as_bytes());
            held.push(hub.subscribe(&format!("headless/{user}/{id}"), Vec::new()));
            held.push(hub.subscribe(&format!("headless_watch/{user}/"), Vec::new()));
        }
    }
    let watches = hub.len();
    let id = RequestId::derive(format!("key {serial}").as_bytes());
    let key = format!("headless/{MEASURED_USER}/{id}");
    let mut publish = Vec::with_capacity(ROUNDS);
    for revision in 0..ROUNDS as u64 {
        let item = Item { key: key.clone(), value: vec![0; 300], revision, expires_at: None };
        let event = Event::Put(item);
        let start = Instant::now();
        hub.publish(&event);
        publish.push(start.elapsed());
    }
    let mut subscribe = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let prefix = format!("headless/{MEASURED_USER}/extra{round}");
        let start = Instant::now();
        let watcher = hub.subscribe(&prefix, Vec::new());
        subscribe.push(start.elapsed());
        drop(watcher);
    }
    drop(held);
    FanOutCost {
        pending,
        watches,
        publish_median_ns: percentile_ns(&publish, 50),
        publish_p90_ns: percentile_ns(&publish, 90),
        subscribe_median_ns: percentile_ns(&subscribe, 50),
        subscribe_p90_ns: percentile_ns(&subscribe, 90),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_holds_two_watches_per_login_and_one_per_stream() {
        let cost = measure(33);
        // 32 background logins over 2 users, plus the measured login: 2 × 33 + 2 streams.
        assert_eq!(cost.watches, 68);
        assert!(cost.publish_p90_ns >= cost.publish_median_ns);
    }
}
