//! Push delivery of change events to the watchers of one process.
//!
//! [`WatchHub`] is the fan-out every backend shares: the backend calls [`WatchHub::subscribe`]
//! with a snapshot taken under the same lock as its writes, and [`WatchHub::publish`] after each
//! committed change, so a subscriber sees the snapshot and then every later change exactly once,
//! in revision order. Ordering and atomicity are the caller's job (it holds its own lock around
//! both calls); the hub only routes, bounds and prunes.
//!
//! Each subscriber has a bounded channel of [`WATCH_BUFFER`] events. A subscriber whose channel
//! is full is dropped: its watcher drains what was buffered and then ends, which tells the
//! reader to watch again rather than letting the store buffer without limit. The snapshot does
//! not count against the bound; it is handed to the watcher directly.

use std::collections::{BTreeMap, VecDeque};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::{Event, Item, WATCH_BUFFER, Watcher};

/// The live subscriptions of one store.
#[derive(Debug, Default)]
pub struct WatchHub {
    subscribers: BTreeMap<u64, Subscriber>,
    next_id: u64,
}

#[derive(Debug)]
struct Subscriber {
    prefix: String,
    sender: mpsc::Sender<Event>,
}

impl WatchHub {
    pub fn new() -> Self {
        WatchHub::default()
    }

    /// Registers a watcher of `prefix` whose first events are Puts of `snapshot`.
    pub fn subscribe(&mut self, prefix: &str, snapshot: Vec<Item>) -> ChannelWatcher {
        self.prune_closed();
        let (sender, receiver) = mpsc::channel(WATCH_BUFFER);
        let id = self.next_id;
        self.next_id += 1;
        self.subscribers.insert(id, Subscriber { prefix: prefix.to_owned(), sender });
        ChannelWatcher::new(prefix, snapshot, receiver)
    }

    /// Delivers `event` to every subscriber whose prefix it matches, closing those that fell
    /// too far behind and forgetting those whose watcher was dropped.
    pub fn publish(&mut self, event: &Event) {
        let mut gone = Vec::new();
        for (id, subscriber) in &self.subscribers {
            if !event.key().starts_with(&subscriber.prefix) {
                continue;
            }
            match subscriber.sender.try_send(event.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        prefix = %subscriber.prefix,
                        buffer = WATCH_BUFFER,
                        "watcher fell behind; closing it so it watches again"
                    );
                    gone.push(*id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(*id),
            }
        }
        for id in gone {
            self.subscribers.remove(&id);
        }
    }

    /// Forgets subscribers whose watcher was dropped.
    pub fn prune_closed(&mut self) {
        self.subscribers.retain(|_, subscriber| !subscriber.sender.is_closed());
    }

    /// How many subscriptions are live (dropped watchers not yet pruned included).
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

/// A watcher fed by a [`WatchHub`] (or by any task holding the sending half of its channel).
#[derive(Debug)]
pub struct ChannelWatcher {
    prefix: String,
    snapshot: VecDeque<Event>,
    receiver: mpsc::Receiver<Event>,
}

impl ChannelWatcher {
    /// A watcher that yields Puts of `snapshot` first, then what arrives on `receiver`.
    pub fn new(prefix: &str, snapshot: Vec<Item>, receiver: mpsc::Receiver<Event>) -> Self {
        ChannelWatcher {
            prefix: prefix.to_owned(),
            snapshot: snapshot.into_iter().map(Event::Put).collect(),
            receiver,
        }
    }
}

#[async_trait]
impl Watcher for ChannelWatcher {
    async fn next(&mut self) -> Option<Event> {
        if let Some(event) = self.snapshot.pop_front() {
            return Some(event);
        }
        let event = self.receiver.recv().await;
        if event.is_none() {
            tracing::debug!(prefix = %self.prefix, "watch closed by the store");
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, revision: u64) -> Item {
        Item { key: key.to_owned(), value: vec![1], revision, expires_at: None }
    }

    #[tokio::test]
    async fn events_reach_only_subscribers_of_a_matching_prefix() {
        let mut hub = WatchHub::new();
        let mut users = hub.subscribe("users/", vec![item("users/a", 1)]);
        let mut other = hub.subscribe("other/", Vec::new());
        hub.publish(&Event::Put(item("users/b", 2)));
        hub.publish(&Event::Delete { key: "users/a".into(), revision: 3 });
        drop(hub);
        assert_eq!(users.next().await.map(|e| e.key().to_owned()), Some("users/a".into()));
        assert_eq!(users.next().await.map(|e| e.key().to_owned()), Some("users/b".into()));
        assert!(matches!(users.next().await, Some(Event::Delete { revision: 3, .. })));
        assert_eq!(users.next().await, None);
        assert_eq!(other.next().await, None);
    }

    #[tokio::test]
    async fn dropped_watchers_are_forgotten() {
        let mut hub = WatchHub::new();
        let watcher = hub.subscribe("a/", Vec::new());
        assert_eq!(hub.len(), 1);
        drop(watcher);
        hub.publish(&Event::Put(item("a/x", 1)));
        assert!(hub.is_empty());
    }
}
