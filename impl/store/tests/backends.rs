//! Runs the behaviour suite against every backend, plus what only SQLite promises: its data,
//! its revision counter and its expiry survive closing and reopening the file.
//!
//! The etcd backend has its own test binary (`tests/etcd.rs`), since it needs a server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use hwa_core::UnixMillis;
use hwa_core::clock::SIM_EPOCH;
use hwa_store::memory::MemoryStore;
use hwa_store::sqlite::SqliteStore;
use hwa_store::suite::{self, ManualClock, Target};
use hwa_store::{Event, SharedStore, Store, Written};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_suite() {
    let clock = ManualClock::new(SIM_EPOCH);
    let shared = clock.clone();
    let target = Target {
        name: "memory".into(),
        clock,
        make: Box::new(move || {
            let store: SharedStore = MemoryStore::new(shared.clone());
            async move { store }.boxed()
        }),
        expiry_event_within: Duration::from_secs(1),
    };
    suite::run_all(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_suite() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let clock = ManualClock::new(SIM_EPOCH);
    let shared = clock.clone();
    let opened = Arc::new(AtomicUsize::new(0));
    let target = Target {
        name: "sqlite".into(),
        clock,
        make: Box::new(move || {
            let n = opened.fetch_add(1, Ordering::SeqCst);
            let path = dir.path().join(format!("store-{n}.db"));
            let store: SharedStore = SqliteStore::open(&path, shared.clone()).unwrap();
            async move { store }.boxed()
        }),
        expiry_event_within: Duration::from_secs(1),
    };
    suite::run_all(&target).await;
}

#[tokio::test]
async fn sqlite_data_and_revisions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hwa.db");
    let clock = ManualClock::new(SIM_EPOCH);

    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    store.put("users/ann", b"ann".to_vec(), None).await.unwrap();
    let last = store.put("users/bob", b"bob".to_vec(), None).await.unwrap();
    store.delete("users/bob", None).await.unwrap();
    let deleted_at = store.revision().await.unwrap();
    assert!(deleted_at > last);
    drop(store);

    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    let ann = store.get("users/ann").await.unwrap().unwrap();
    assert_eq!(ann.value, b"ann");
    assert_eq!(store.get("users/bob").await.unwrap(), None);
    assert_eq!(store.revision().await.unwrap(), deleted_at);
    let next = store.put("users/cy", Vec::new(), None).await.unwrap();
    assert!(next > deleted_at, "revision went from {deleted_at} to {next} across a reopen");
}

#[tokio::test]
async fn sqlite_items_expired_while_closed_are_gone_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hwa.db");
    let clock = ManualClock::new(SIM_EPOCH);

    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    let soon = SIM_EPOCH.plus(Duration::from_secs(10));
    store.put("challenges/ann/x", b"c".to_vec(), Some(soon)).await.unwrap();
    store.put("challenges/ann/y", b"c".to_vec(), Some(UnixMillis(u64::MAX))).await.unwrap();
    drop(store);

    clock.advance(Duration::from_secs(11));
    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    let mut watcher = store.watch("challenges/").await.unwrap();
    assert!(matches!(watcher.next().await, Some(Event::Put(item)) if item.key.ends_with('y')));
    assert_eq!(store.sweep_expired().await.unwrap(), 0, "the first command swept already");
    assert_eq!(keys(&*store).await, ["challenges/ann/y"]);
    let created = store.create("challenges/ann/x", b"new".to_vec(), None).await.unwrap();
    assert!(matches!(created, Written::Done { .. }));
}

// Real time: the sweeper's thread works outside tokio, and paused time would race past it.
#[tokio::test]
async fn sqlite_sweeper_reports_expiry_while_idle() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(SIM_EPOCH);
    let store = SqliteStore::open(&dir.path().join("hwa.db"), clock.clone()).unwrap();
    let soon = SIM_EPOCH.plus(Duration::from_secs(1));
    let put = store.put("headless/ann/1", b"r".to_vec(), Some(soon)).await.unwrap();
    let mut watcher = store.watch("headless/").await.unwrap();
    assert!(matches!(watcher.next().await, Some(Event::Put(_))));

    clock.advance(Duration::from_secs(2));
    // No store call from here on: only the sweeper can produce the event.
    let event = tokio::time::timeout(Duration::from_secs(5), watcher.next()).await.unwrap();
    assert_eq!(event, Some(Event::Delete { key: "headless/ann/1".into(), revision: put + 1 }));
}

#[tokio::test]
async fn sqlite_file_is_private_and_watchers_end_when_the_store_is_dropped() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hwa.db");
    let store = SqliteStore::open(&path, ManualClock::new(SIM_EPOCH)).unwrap();
    store.put("k", b"v".to_vec(), None).await.unwrap();
    for file in [path.clone(), path.with_extension("db-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{} is not private", file.display());
    }

    let mut watcher = store.watch("").await.unwrap();
    drop(store);
    assert!(matches!(watcher.next().await, Some(Event::Put(_))), "the snapshot comes first");
    assert_eq!(watcher.next().await, None);
}

#[tokio::test]
async fn memory_store_watchers_end_when_the_store_is_dropped() {
    let store = MemoryStore::new(ManualClock::new(SIM_EPOCH));
    let mut watcher = store.watch("").await.unwrap();
    drop(store);
    assert_eq!(watcher.next().await, None);
}

async fn keys(store: &dyn Store) -> Vec<String> {
    store.range("", 100).await.expect("range").into_iter().map(|item| item.key).collect()
}
