//! The behaviour every [`Store`](crate::Store) implementation must show, as one runnable suite.
//!
//! A backend's integration test builds a [`Target`] (a factory of fresh, empty stores that read
//! a [`ManualClock`]) and calls [`run_all`]. Each case gets its own store, so cases never see
//! each other's keys; a failing case panics with the target and case name.
//!
//! The suite owns the contract's observable behaviour: conditional writes and their conflicts,
//! revision order, prefix ranges, expiry, watch snapshots and ordering, slow watchers, races on
//! one key, key validation and value bytes. Behaviour that only one backend has (durability
//! across a reopen, a server's own expiry clock) is tested next to that backend.
//!
//! The clock is a [`ManualClock`] that cases move by hand; nothing here reads the wall clock.
//! Tokio timers are used only to bound waits, so the suite runs with real or paused tokio time.

use std::collections::BTreeSet;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use hwa_core::{Clock, UnixMillis};

use crate::{Event, Item, MAX_KEY_BYTES, SharedStore, StoreError, WATCH_BUFFER, Watcher, Written};

/// A wall clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    pub fn new(start: UnixMillis) -> Arc<ManualClock> {
        Arc::new(ManualClock { now_ms: AtomicU64::new(start.0) })
    }

    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.now_ms.load(Ordering::SeqCst))
    }
}

/// Makes a fresh, empty store reading the target's clock.
pub type MakeStore = Box<dyn Fn() -> BoxFuture<'static, SharedStore> + Send + Sync>;

/// A backend under test.
pub struct Target {
    pub name: String,
    pub clock: Arc<ManualClock>,
    pub make: MakeStore,
    /// Longest wait for the delete event of an item whose expiry passed on the clock. Backends
    /// that sweep on every operation deliver it at once; a server that expires by its own clock
    /// (etcd leases) needs the real seconds its lease runs.
    pub expiry_event_within: Duration,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("name", &self.name).finish_non_exhaustive()
    }
}

/// How long a case waits for an event that must come.
pub const EVENT_WAIT: Duration = Duration::from_secs(20);

/// How long a case waits to be satisfied that an event will not come.
pub const QUIET_WAIT: Duration = Duration::from_millis(200);

type Case = for<'a> fn(&'a Target, SharedStore) -> BoxFuture<'a, ()>;

/// Every case, by name.
pub const CASES: &[(&str, Case)] = &[
    ("get_of_a_missing_key_is_none", |t, s| Box::pin(get_of_a_missing_key_is_none(t, s))),
    ("create_conflicts_with_an_existing_item", |t, s| Box::pin(create_conflicts(t, s))),
    ("put_replaces_and_returns_the_new_revision", |t, s| Box::pin(put_replaces(t, s))),
    ("compare_and_swap_needs_the_current_revision", |t, s| Box::pin(cas_semantics(t, s))),
    ("delete_is_unconditional_or_by_revision", |t, s| Box::pin(delete_semantics(t, s))),
    ("revisions_strictly_increase", |t, s| Box::pin(revisions_increase(t, s))),
    ("range_lists_a_prefix_in_key_order", |t, s| Box::pin(range_in_key_order(t, s))),
    ("a_prefix_does_not_match_siblings", |t, s| Box::pin(prefix_not_siblings(t, s))),
    ("expired_items_vanish_with_a_delete_event", |t, s| Box::pin(expiry(t, s))),
    ("an_expired_key_can_be_created_again", |t, s| Box::pin(expired_recreate(t, s))),
    ("a_watch_starts_with_a_snapshot", |t, s| Box::pin(watch_snapshot(t, s))),
    ("a_watch_delivers_changes_in_order", |t, s| Box::pin(watch_order(t, s))),
    ("two_watchers_see_the_same_changes", |t, s| Box::pin(two_watchers(t, s))),
    ("a_watcher_too_far_behind_is_closed", |t, s| Box::pin(slow_watcher(t, s))),
    ("racing_compare_and_swaps_have_one_winner", |t, s| Box::pin(racing_cas(t, s))),
    ("invalid_keys_are_rejected", |t, s| Box::pin(invalid_keys(t, s))),
    ("values_are_arbitrary_bytes", |t, s| Box::pin(arbitrary_values(t, s))),
];

/// Runs every case against `target`, each with a fresh store.
pub async fn run_all(target: &Target) {
    for (name, case) in CASES {
        run_one(target, name, *case).await;
    }
}

/// Runs one case, naming the target and the case if it fails.
pub async fn run_one(target: &Target, name: &str, case: Case) {
    tracing::info!(target_name = %target.name, case = name, "store suite case");
    let store = (target.make)().await;
    if let Err(panic) = AssertUnwindSafe(case(target, store)).catch_unwind().await {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        panic!("store suite: {} / {name} failed: {message}", target.name);
    }
}

async fn get_of_a_missing_key_is_none(_: &Target, store: SharedStore) {
    assert_eq!(store.get("nothing/here").await.expect("get"), None);
    assert_eq!(store.range("nothing/", 10).await.expect("range"), Vec::new());
}

async fn create_conflicts(_: &Target, store: SharedStore) {
    let revision = done(store.create("users/ann", b"first".to_vec(), None).await);
    let item = store.get("users/ann").await.expect("get").expect("created item");
    assert_eq!(
        item,
        Item { key: "users/ann".into(), value: b"first".to_vec(), revision, expires_at: None }
    );

    let again = store.create("users/ann", b"second".to_vec(), None).await.expect("create");
    assert_eq!(again, Written::Conflict { current: Some(item.clone()) });
    assert_eq!(store.get("users/ann").await.expect("get"), Some(item));
}

async fn put_replaces(target: &Target, store: SharedStore) {
    let expires_at = target.clock.now().plus(Duration::from_secs(3_600));
    let first = store.put("k", b"1".to_vec(), None).await.expect("put");
    let second = store.put("k", b"2".to_vec(), Some(expires_at)).await.expect("put");
    assert!(second > first, "second put {second} not after first {first}");
    let item = store.get("k").await.expect("get").expect("item");
    assert_eq!(
        (item.value, item.revision, item.expires_at),
        (b"2".to_vec(), second, Some(expires_at))
    );
}

async fn cas_semantics(_: &Target, store: SharedStore) {
    let missing = store.compare_and_swap("k", 1, b"x".to_vec(), None).await.expect("cas");
    assert_eq!(missing, Written::Conflict { current: None });

    let first = done(store.create("k", b"1".to_vec(), None).await);
    let swapped = done(store.compare_and_swap("k", first, b"2".to_vec(), None).await);
    assert!(swapped > first);

    let stale = store.compare_and_swap("k", first, b"3".to_vec(), None).await.expect("cas");
    let current = store.get("k").await.expect("get").expect("item");
    assert_eq!((current.value.as_slice(), current.revision), (b"2".as_slice(), swapped));
    assert_eq!(stale, Written::Conflict { current: Some(current) });
}

async fn delete_semantics(_: &Target, store: SharedStore) {
    let nothing = store.delete("k", None).await.expect("delete");
    assert_eq!(nothing, Written::Conflict { current: None });

    let revision = done(store.create("k", b"v".to_vec(), None).await);
    let wrong = store.delete("k", Some(revision + 1_000)).await.expect("delete");
    let current = store.get("k").await.expect("get");
    assert!(current.is_some());
    assert_eq!(wrong, Written::Conflict { current });

    let deleted = done(store.delete("k", Some(revision)).await);
    assert!(deleted > revision);
    assert_eq!(store.get("k").await.expect("get"), None);

    let put = store.put("k", b"again".to_vec(), None).await.expect("put");
    let unconditional = done(store.delete("k", None).await);
    assert!(unconditional > put);
    assert_eq!(
        store.delete("k", Some(put)).await.expect("delete"),
        Written::Conflict { current: None }
    );
}

async fn revisions_increase(_: &Target, store: SharedStore) {
    let mut revisions = Vec::new();
    revisions.push(done(store.create("a", b"1".to_vec(), None).await));
    revisions.push(store.put("b", b"1".to_vec(), None).await.expect("put"));
    revisions.push(done(store.compare_and_swap("a", revisions[0], b"2".to_vec(), None).await));
    revisions.push(done(store.delete("b", None).await));
    revisions.push(store.put("a", b"3".to_vec(), None).await.expect("put"));
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "revisions not increasing: {revisions:?}");
    let item = store.get("a").await.expect("get").expect("item");
    assert_eq!(item.revision, revisions[4]);
}

async fn range_in_key_order(_: &Target, store: SharedStore) {
    for key in ["r/b", "r/ca", "q", "r/a", "r0", "r/c/1"] {
        store.put(key, key.as_bytes().to_vec(), None).await.expect("put");
    }
    assert_eq!(
        keys(&store.range("r/", 100).await.expect("range")),
        ["r/a", "r/b", "r/c/1", "r/ca"]
    );
    assert_eq!(keys(&store.range("r/", 2).await.expect("range")), ["r/a", "r/b"]);
    assert_eq!(store.range("r/", 0).await.expect("range"), Vec::new());
    assert_eq!(
        keys(&store.range("", 100).await.expect("range")),
        ["q", "r/a", "r/b", "r/c/1", "r/ca", "r0"]
    );
    let items = store.range("r/c", 100).await.expect("range");
    assert_eq!(
        items.iter().map(|i| i.value.clone()).collect::<Vec<_>>(),
        [b"r/c/1".to_vec(), b"r/ca".to_vec()]
    );
}

async fn prefix_not_siblings(_: &Target, store: SharedStore) {
    store.put("a/b", b"".to_vec(), None).await.expect("put");
    store.put("a/b/x", b"".to_vec(), None).await.expect("put");
    let mut watcher = store.watch("a/b/").await.expect("watch");
    store.put("a/bc", b"".to_vec(), None).await.expect("put");
    store.put("a/bc/x", b"".to_vec(), None).await.expect("put");
    store.put("a/b/y", b"".to_vec(), None).await.expect("put");

    assert_eq!(keys(&store.range("a/b/", 100).await.expect("range")), ["a/b/x", "a/b/y"]);
    assert_eq!(next(&mut watcher).await.key(), "a/b/x");
    assert_eq!(next(&mut watcher).await.key(), "a/b/y");
    quiet(&mut watcher).await;
}

async fn expiry(target: &Target, store: SharedStore) {
    let expires_at = target.clock.now().plus(Duration::from_secs(1));
    let put = store.put("exp/a", b"short".to_vec(), Some(expires_at)).await.expect("put");
    store.put("exp/b", b"long".to_vec(), None).await.expect("put");
    let mut watcher = store.watch("exp/").await.expect("watch");
    assert_eq!(next(&mut watcher).await.key(), "exp/a");
    assert_eq!(next(&mut watcher).await.key(), "exp/b");
    assert!(store.get("exp/a").await.expect("get").is_some(), "item gone before its expiry");

    target.clock.advance(Duration::from_secs(2));
    assert_eq!(store.get("exp/a").await.expect("get"), None);
    assert_eq!(keys(&store.range("exp/", 10).await.expect("range")), ["exp/b"]);
    let cas = store.compare_and_swap("exp/a", put, b"x".to_vec(), None).await.expect("cas");
    assert_eq!(cas, Written::Conflict { current: None });

    let event = next_within(&mut watcher, target.expiry_event_within).await;
    match event {
        Event::Delete { key, revision } => {
            assert_eq!(key, "exp/a");
            assert!(revision > put, "delete revision {revision} not after put {put}");
        }
        other => panic!("expected the expiry's delete event, got {other:?}"),
    }
}

async fn expired_recreate(target: &Target, store: SharedStore) {
    let expires_at = target.clock.now().plus(Duration::from_secs(1));
    store.create("exp/x", b"old".to_vec(), Some(expires_at)).await.expect("create");
    target.clock.advance(Duration::from_secs(2));
    let revision = done(store.create("exp/x", b"new".to_vec(), None).await);
    let item = store.get("exp/x").await.expect("get").expect("recreated item");
    assert_eq!(
        (item.value.as_slice(), item.revision, item.expires_at),
        (b"new".as_slice(), revision, None)
    );
}

async fn watch_snapshot(_: &Target, store: SharedStore) {
    let before = store.put("w/early", b"1".to_vec(), None).await.expect("put");
    let mut watcher = store.watch("w/").await.expect("watch");
    let after = store.put("w/late", b"2".to_vec(), None).await.expect("put");
    match next(&mut watcher).await {
        Event::Put(item) => assert_eq!((item.key.as_str(), item.revision), ("w/early", before)),
        other => panic!("expected the snapshot put, got {other:?}"),
    }
    match next(&mut watcher).await {
        Event::Put(item) => assert_eq!((item.key.as_str(), item.revision), ("w/late", after)),
        other => panic!("expected the live put, got {other:?}"),
    }
    quiet(&mut watcher).await;
}

async fn watch_order(_: &Target, store: SharedStore) {
    let mut watcher = store.watch("o/").await.expect("watch");
    let expected = write_mixed(&store, 60).await;
    for (key, revision, is_put) in expected {
        let event = next(&mut watcher).await;
        assert_eq!(event.key(), key);
        match event {
            Event::Put(item) => assert!(is_put && item.revision == revision, "bad put {item:?}"),
            Event::Delete { revision: got, .. } => assert!(!is_put && got == revision),
        }
    }
    quiet(&mut watcher).await;
}

async fn two_watchers(_: &Target, store: SharedStore) {
    let mut first = store.watch("o/").await.expect("watch");
    let mut second = store.watch("o/").await.expect("watch");
    let expected = write_mixed(&store, 20).await;
    for _ in &expected {
        assert_eq!(next(&mut first).await, next(&mut second).await);
    }
    drop(first);
    store.put("o/after", b"".to_vec(), None).await.expect("put");
    assert_eq!(next(&mut second).await.key(), "o/after");
}

async fn slow_watcher(_: &Target, store: SharedStore) {
    // A watcher that reads nothing while WATCH_BUFFER + 50 changes happen must end after at
    // most WATCH_BUFFER events, rather than make the store buffer all of them.
    let mut watcher = store.watch("s/").await.expect("watch");
    let writes = WATCH_BUFFER + 50;
    for i in 0..writes {
        store.put(&format!("s/{}", i % 7), Vec::new(), None).await.expect("put");
    }
    let mut seen = 0;
    loop {
        match tokio::time::timeout(EVENT_WAIT, watcher.next()).await {
            Ok(Some(_)) => seen += 1,
            Ok(None) => break,
            Err(_) => panic!("slow watcher neither closed nor delivered after {seen} events"),
        }
    }
    assert!(seen <= WATCH_BUFFER + 1, "slow watcher got {seen} of {writes} events");
    let mut again = store.watch("s/").await.expect("watch again");
    assert_eq!(next(&mut again).await.key(), "s/0");
}

async fn racing_cas(_: &Target, store: SharedStore) {
    // 8 tasks each add 1 to a counter 15 times by read + compare-and-swap. Every success must
    // have read a distinct revision (one winner per revision) and the counter ends at 120.
    const TASKS: u64 = 8;
    const ROUNDS: u64 = 15;
    done(store.create("counter", 0u64.to_be_bytes().to_vec(), None).await);
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            while (wins.len() as u64) < ROUNDS {
                let item = store.get("counter").await.expect("get").expect("counter");
                let value = u64::from_be_bytes(item.value.try_into().expect("8 bytes")) + 1;
                let new = value.to_be_bytes().to_vec();
                match store.compare_and_swap("counter", item.revision, new, None).await {
                    Ok(Written::Done { revision }) => wins.push((item.revision, revision)),
                    Ok(Written::Conflict { .. }) => tokio::task::yield_now().await,
                    Err(e) => panic!("compare-and-swap failed: {e}"),
                }
            }
            wins
        }));
    }
    let mut read = BTreeSet::new();
    let mut written = BTreeSet::new();
    for task in tasks {
        for (from, to) in task.await.expect("task") {
            assert!(read.insert(from), "two winners from revision {from}");
            assert!(written.insert(to), "two writes at revision {to}");
        }
    }
    let item = store.get("counter").await.expect("get").expect("counter");
    assert_eq!(item.value, (TASKS * ROUNDS).to_be_bytes());
    assert_eq!(written.last(), Some(&item.revision));
}

async fn invalid_keys(_: &Target, store: SharedStore) {
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    for key in ["", "a\0b", long.as_str()] {
        assert!(is_invalid(store.get(key).await.map(|_| ())), "get accepted {key:?}");
        assert!(is_invalid(store.put(key, Vec::new(), None).await.map(|_| ())));
        assert!(is_invalid(store.create(key, Vec::new(), None).await.map(|_| ())));
        assert!(is_invalid(store.compare_and_swap(key, 1, Vec::new(), None).await.map(|_| ())));
        assert!(is_invalid(store.delete(key, None).await.map(|_| ())));
    }
    assert!(is_invalid(store.range("a\0", 1).await.map(|_| ())));
    assert!(is_invalid(store.watch("a\0").await.map(|_| ())));
    let longest = "k".repeat(MAX_KEY_BYTES);
    store.put(&longest, b"ok".to_vec(), None).await.expect("longest key");
}

async fn arbitrary_values(_: &Target, store: SharedStore) {
    let every_byte: Vec<u8> = (0..=255).collect();
    let mebibyte: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut watcher = store.watch("v/").await.expect("watch");
    for (key, value) in [("v/empty", Vec::new()), ("v/bytes", every_byte), ("v/mib", mebibyte)] {
        store.put(key, value.clone(), None).await.expect("put");
        let item = store.get(key).await.expect("get").expect("item");
        assert!(
            item.value == value,
            "{key}: got {} bytes back, wrote {}",
            item.value.len(),
            value.len()
        );
        match next(&mut watcher).await {
            Event::Put(item) => assert!(item.value == value, "{key}: watch changed the value"),
            other => panic!("expected a put, got {other:?}"),
        }
    }
    let listed = store.range("v/", 10).await.expect("range");
    assert_eq!(listed.iter().map(|i| i.value.len()).collect::<Vec<_>>(), [256, 0, 1 << 20]);
}

/// Writes `count` changes under `o/` (puts, and a delete every third), returning
/// `(key, revision, is_put)` in order.
async fn write_mixed(store: &SharedStore, count: usize) -> Vec<(String, u64, bool)> {
    let mut expected = Vec::new();
    for i in 0..count {
        let key = format!("o/{}", i % 5);
        if i % 3 == 2 {
            if let Written::Done { revision } = store.delete(&key, None).await.expect("delete") {
                expected.push((key, revision, false));
            }
        } else {
            let revision = store.put(&key, i.to_string().into_bytes(), None).await.expect("put");
            expected.push((key, revision, true));
        }
    }
    expected
}

fn done(written: Result<Written, StoreError>) -> u64 {
    match written.expect("store call") {
        Written::Done { revision } => revision,
        Written::Conflict { current } => panic!("expected the write to happen, got {current:?}"),
    }
}

fn keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item.key.as_str()).collect()
}

fn is_invalid(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::InvalidKey(_)))
}

async fn next(watcher: &mut Box<dyn Watcher>) -> Event {
    next_within(watcher, EVENT_WAIT).await
}

async fn next_within(watcher: &mut Box<dyn Watcher>, wait: Duration) -> Event {
    match tokio::time::timeout(wait, watcher.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("watch closed while an event was expected"),
        Err(_) => panic!("no event within {wait:?}"),
    }
}

async fn quiet(watcher: &mut Box<dyn Watcher>) {
    if let Ok(event) = tokio::time::timeout(QUIET_WAIT, watcher.next()).await {
        panic!("expected no more events, got {event:?}");
    }
}
