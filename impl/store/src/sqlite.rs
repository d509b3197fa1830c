//! The embedded default store: one SQLite file in the data directory.
//!
//! One process owns a data directory, so this store keeps one connection and delivers watch
//! events to the watchers of its own process only.
//!
//! # Threading
//! SQLite calls block. The connection lives on a dedicated OS thread that runs commands from a
//! bounded queue one at a time; async callers send a closure and await a oneshot reply. One
//! owner thread (rather than `spawn_blocking` around a mutex) gives a total order of writes for
//! free, which is what makes watches exact: the thread publishes each change after its commit
//! and takes a watch's snapshot between two commands, so no write can fall between a snapshot
//! and its subscription. It also keeps blocking-pool threads from queueing on a lock, and it
//! does not care which tokio runtime the caller runs on.
//!
//! # Durability
//! Journal mode WAL, `synchronous=FULL`: every commit is on disk before the call returns.
//! `NORMAL` would keep the file consistent but may undo the last commits on power loss, and the
//! writes here are security decisions (a consumed challenge, a revoked session, a denied
//! request) that must not silently come back; they are few, so the fsync per commit is cheap.
//! Every operation is one transaction, and the revision counter lives in the same file
//! (`meta`), so revisions survive restarts and never go backwards.
//!
//! # Expiry
//! Reads hide items whose `expires_at <= clock.now()`. Expired items are deleted, each with a
//! delete event at a new revision, by a sweep before every command and by a sweeper task every
//! [`SWEEP_PERIOD`], so watchers hear of expiry even while the store is idle.
//!
//! What this store leaves to others: creating the data directory (0700) is the daemon's job;
//! the database file itself is created 0600 here.

use std::fmt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use hwa_core::{SharedClock, UnixMillis};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use crate::watch::WatchHub;
use crate::{
    Event, Item, Store, StoreError, StoreResult, Watcher, Written, check_key, check_prefix,
};

/// How often the sweeper deletes expired items when no operation does it first. Headless
/// requests live 3 minutes and challenges a few minutes, so a second of lateness in the delete
/// event is invisible to people; reads never see an expired item whatever the period.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// Most expired items one sweep deletes, so one sweep cannot hold the writer for long; the rest
/// go in the next sweep, and reads hide them meanwhile.
pub const SWEEP_BATCH: usize = 1_000;

/// How long a statement waits for a lock held by another connection (an operator's `sqlite3`
/// shell, a backup) before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Commands waiting for the connection thread; callers wait (asynchronously) when it is full.
pub const COMMAND_QUEUE: usize = 1_024;

/// The schema this code writes; a file with a higher version came from a newer release.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS items (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        revision INTEGER NOT NULL,
        expires_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS items_by_expiry ON items (expires_at)
        WHERE expires_at IS NOT NULL;
";

type Command = Box<dyn FnOnce(&mut Worker) + Send>;

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    /// `None` only while dropping, so the connection thread sees its queue close.
    commands: Option<mpsc::Sender<Command>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    sweeper: tokio::task::AbortHandle,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts its sweeper. Must be called
    /// inside a tokio runtime.
    pub fn open(path: &Path, clock: SharedClock) -> StoreResult<Arc<SqliteStore>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Unavailable("open the sqlite store from inside a tokio runtime".into())
        })?;
        create_private_file(path)?;
        let conn = open_connection(path)?;
        let revision = repair_revision(&conn)?;
        let mut worker = Worker { conn, clock, hub: WatchHub::new() };

        let (sender, mut receiver) = mpsc::channel::<Command>(COMMAND_QUEUE);
        let thread = std::thread::Builder::new()
            .name("hwa-store-sqlite".into())
            .spawn(move || {
                while let Some(command) = receiver.blocking_recv() {
                    worker.sweep_logged();
                    command(&mut worker);
                }
                tracing::debug!("sqlite store closed");
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the sqlite thread: {e}")))?;

        let sweeper = runtime.spawn(sweep_periodically(sender.downgrade())).abort_handle();
        tracing::info!(path = %path.display(), revision, "sqlite store opened");
        Ok(Arc::new(SqliteStore {
            path: path.to_owned(),
            commands: Some(sender),
            worker: Mutex::new(Some(thread)),
            sweeper,
        }))
    }

    /// Deletes every expired item now, sending delete events. Returns how many.
    pub async fn sweep_expired(&self) -> StoreResult<usize> {
        self.call(|worker| worker.sweep()).await
    }

    /// The revision of the last change, 0 for a store never written.
    pub async fn revision(&self) -> StoreResult<u64> {
        self.call(|worker| Ok(read_revision(&worker.conn)?)).await
    }

    /// Runs `op` on the connection thread and waits for its answer.
    async fn call<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Worker) -> StoreResult<T> + Send + 'static,
    {
        let stopped = || StoreError::Unavailable("the sqlite store is closed".into());
        let commands = self.commands.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        let command: Command = Box::new(move |worker| {
            // The caller may have given up waiting; then nobody needs the answer.
            let _ = reply.send(op(worker));
        });
        commands.send(command).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.sweeper.abort();
        // Closing the queue stops the thread after the commands already queued; waiting for it
        // means the file is closed when drop returns, so the directory can be reopened at once.
        self.commands = None;
        let thread = self.worker.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "sqlite thread panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Item>> {
        check_key(key)?;
        let key = key.to_owned();
        self.call(move |worker| {
            let now = worker.clock.now();
            read_live(&worker.conn, &key, now).map_err(backend)
        })
        .await
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        check_key(key)?;
        let key = key.to_owned();
        self.call(move |worker| {
            worker.change(|tx, now, next| match read_live(tx, &key, now)? {
                Some(current) => Ok((Written::Conflict { current: Some(current) }, None)),
                None => write_item(tx, &key, value, expires_at, next),
            })
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<u64> {
        check_key(key)?;
        let key = key.to_owned();
        let written = self
            .call(move |worker| {
                worker.change(|tx, _now, next| write_item(tx, &key, value, expires_at, next))
            })
            .await?;
        match written {
            Written::Done { revision } => Ok(revision),
            Written::Conflict { .. } => Err(backend("an unconditional write reported a conflict")),
        }
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected_revision: u64,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        check_key(key)?;
        let key = key.to_owned();
        self.call(move |worker| {
            worker.change(|tx, now, next| match read_live(tx, &key, now)? {
                Some(current) if current.revision == expected_revision => {
                    write_item(tx, &key, value, expires_at, next)
                }
                current => Ok((Written::Conflict { current }, None)),
            })
        })
        .await
    }

    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> StoreResult<Written> {
        check_key(key)?;
        let key = key.to_owned();
        self.call(move |worker| {
            worker.change(|tx, now, next| match read_live(tx, &key, now)? {
                Some(current) if expected_revision.is_none_or(|rev| rev == current.revision) => {
                    tx.execute("DELETE FROM items WHERE key = ?1", params![key])?;
                    let event = Event::Delete { key, revision: next };
                    Ok((Written::Done { revision: next }, Some(event)))
                }
                current => Ok((Written::Conflict { current }, None)),
            })
        })
        .await
    }

    async fn range(&self, prefix: &str, limit: usize) -> StoreResult<Vec<Item>> {
        check_prefix(prefix)?;
        let prefix = prefix.to_owned();
        self.call(move |worker| {
            let now = worker.clock.now();
            read_range(&worker.conn, &prefix, limit, now).map_err(backend)
        })
        .await
    }

    async fn watch(&self, prefix: &str) -> StoreResult<Box<dyn Watcher>> {
        check_prefix(prefix)?;
        let prefix = prefix.to_owned();
        self.call(move |worker| {
            // The snapshot and the subscription happen in one command on the only thread that
            // writes, so no change can fall between them.
            let now = worker.clock.now();
            let snapshot = read_range(&worker.conn, &prefix, usize::MAX, now).map_err(backend)?;
            let watcher: Box<dyn Watcher> = Box::new(worker.hub.subscribe(&prefix, snapshot));
            Ok(watcher)
        })
        .await
    }
}

/// What the connection thread owns.
struct Worker {
    conn: Connection,
    clock: SharedClock,
    hub: WatchHub,
}

impl Worker {
    /// Runs one change in one transaction. `op` gets the transaction, the clock's now and the
    /// revision its write must carry; it returns the outcome and the event to publish, if it
    /// wrote anything. The revision is spent only when it did.
    fn change<F>(&mut self, op: F) -> StoreResult<Written>
    where
        F: FnOnce(&Transaction<'_>, UnixMillis, u64) -> rusqlite::Result<(Written, Option<Event>)>,
    {
        let now = self.clock.now();
        // The counter is read inside the write transaction rather than cached, so even a
        // second writer on the file (which this store does not expect) cannot reuse a revision.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next = read_revision(&tx)? + 1;
        let (written, event) = op(&tx, now, next)?;
        if let Some(event) = event {
            store_revision(&tx, next)?;
            tx.commit()?;
            self.hub.publish(&event);
        }
        Ok(written)
    }

    /// Deletes up to [`SWEEP_BATCH`] expired items in one transaction, then publishes their
    /// delete events. Finding nothing due (the usual case) takes one indexed read and no lock.
    fn sweep(&mut self) -> StoreResult<usize> {
        let now = to_sql_millis(self.clock.now());
        let due = expired_keys(&self.conn, now)?;
        if due.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut revision = read_revision(&tx)?;
        let mut events = Vec::with_capacity(due.len());
        for key in due {
            let deleted = tx.execute(
                "DELETE FROM items WHERE key = ?1 AND expires_at <= ?2",
                params![key, now],
            )?;
            if deleted == 1 {
                revision += 1;
                events.push(Event::Delete { key, revision });
            }
        }
        store_revision(&tx, revision)?;
        tx.commit()?;
        for event in &events {
            tracing::debug!(key = %event.key(), "item expired");
            self.hub.publish(event);
        }
        self.hub.prune_closed();
        Ok(events.len())
    }

    fn sweep_logged(&mut self) {
        if let Err(error) = self.sweep() {
            tracing::warn!(%error, "sweeping expired items failed; reads still hide them");
        }
    }
}

async fn sweep_periodically(commands: mpsc::WeakSender<Command>) {
    let mut interval = tokio::time::interval(SWEEP_PERIOD);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(commands) = commands.upgrade() else { return };
        // The thread sweeps before every command, so an empty command is a sweep. A full queue
        // means commands (and their sweeps) are coming anyway.
        let _ = commands.try_send(Box::new(|_| {}));
    }
}

fn write_item(
    tx: &Transaction<'_>,
    key: &str,
    value: Vec<u8>,
    expires_at: Option<UnixMillis>,
    revision: u64,
) -> rusqlite::Result<(Written, Option<Event>)> {
    tx.execute(
        "INSERT INTO items (key, value, revision, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision,
             expires_at = excluded.expires_at",
        params![key, value, to_sql_revision(revision)?, expires_at.map(to_sql_millis)],
    )?;
    let item = Item { key: key.to_owned(), value, revision, expires_at };
    Ok((Written::Done { revision }, Some(Event::Put(item))))
}

/// Keys whose expiry passed, oldest expiry first, at most [`SWEEP_BATCH`].
fn expired_keys(conn: &Connection, now: i64) -> rusqlite::Result<Vec<String>> {
    let batch = i64::try_from(SWEEP_BATCH).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "SELECT key FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1
         ORDER BY expires_at, key LIMIT ?2",
    )?
    .query_map(params![now, batch], |row| row.get(0))?
    .collect()
}

fn read_live(conn: &Connection, key: &str, now: UnixMillis) -> rusqlite::Result<Option<Item>> {
    conn.prepare_cached(
        "SELECT key, value, revision, expires_at FROM items
         WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    )?
    .query_row(params![key, to_sql_millis(now)], item_from_row)
    .optional()
}

fn read_range(
    conn: &Connection,
    prefix: &str,
    limit: usize,
    now: UnixMillis,
) -> rusqlite::Result<Vec<Item>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let now = to_sql_millis(now);
    // Keys compare as UTF-8 bytes (SQLite's BINARY collation), like Rust strings, so the keys
    // under `prefix` are exactly those in [prefix, prefix_end), an index range scan.
    let items = match prefix_end(prefix) {
        Some(end) => conn
            .prepare_cached(
                "SELECT key, value, revision, expires_at FROM items
                 WHERE key >= ?1 AND key < ?2 AND (expires_at IS NULL OR expires_at > ?3)
                 ORDER BY key LIMIT ?4",
            )?
            .query_map(params![prefix, end, now, limit], item_from_row)?
            .collect::<Result<Vec<_>, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT key, value, revision, expires_at FROM items
                 WHERE key >= ?1 AND (expires_at IS NULL OR expires_at > ?2)
                 ORDER BY key LIMIT ?3",
            )?
            .query_map(params![prefix, now, limit], item_from_row)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    debug_assert!(items.iter().all(|item| item.key.starts_with(prefix)));
    Ok(items)
}

/// The smallest string greater than every string starting with `prefix`, or `None` when there
/// is none (the empty prefix, or one made only of `char::MAX`).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn item_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let revision: i64 = row.get(2)?;
    let expires_at: Option<i64> = row.get(3)?;
    Ok(Item {
        key: row.get(0)?,
        value: row.get(1)?,
        revision: from_sql_int(2, revision)?,
        expires_at: expires_at.map(|ms| from_sql_int(3, ms).map(UnixMillis)).transpose()?,
    })
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(backend(format!(
            "{} cannot use WAL journaling (got `{mode}`)",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    migrate(&conn, path)?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> StoreResult<()> {
    conn.execute_batch(SCHEMA)?;
    let version: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_version", [], |row| row.get(0))?;
    match version {
        None => {
            conn.execute("INSERT INTO schema_version (version) VALUES (?1)", [SCHEMA_VERSION])?;
        }
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::Unavailable(format!(
                "{} has schema version {v} but this release knows only up to {SCHEMA_VERSION}; \
                 run a newer release",
                path.display()
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// The revision of the last change, from `meta`; 0 for a new file.
fn read_revision(conn: &Connection) -> rusqlite::Result<u64> {
    let stored: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE name = 'revision'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    from_sql_int(0, stored.unwrap_or(0))
}

/// Makes sure the counter is at least every item's revision, and returns it. They only differ
/// if the file was edited by hand; taking the larger keeps revisions from going backwards.
fn repair_revision(conn: &Connection) -> StoreResult<u64> {
    let counter = read_revision(conn)?;
    let highest: Option<i64> =
        conn.query_row("SELECT MAX(revision) FROM items", [], |row| row.get(0))?;
    let highest = from_sql_int(0, highest.unwrap_or(0))?;
    if highest > counter {
        tracing::warn!(counter, highest, "revision counter behind the items; raising it");
        let tx = conn.unchecked_transaction()?;
        store_revision(&tx, highest)?;
        tx.commit()?;
    }
    Ok(counter.max(highest))
}

fn store_revision(tx: &Transaction<'_>, revision: u64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('revision', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![to_sql_revision(revision)?],
    )?;
    Ok(())
}

/// Creates the database file readable by its owner only, and tightens an existing one.
fn create_private_file(path: &Path) -> StoreResult<()> {
    let private = |e: std::io::Error| {
        StoreError::Unavailable(format!(
            "cannot create {} with mode 0600: {e}; check that the data directory exists and \
             belongs to this user",
            path.display()
        ))
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(private)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(private)
}

/// SQLite integers are signed; times past year 292 million are clamped, which changes nothing
/// a clock can reach.
fn to_sql_millis(at: UnixMillis) -> i64 {
    i64::try_from(at.0).unwrap_or(i64::MAX)
}

fn to_sql_revision(revision: u64) -> rusqlite::Result<i64> {
    i64::try_from(revision).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_sql_int(column: usize, value: i64) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Integer, e.into())
    })
}

fn backend(message: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("sqlite: {message}"))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(ref code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Unavailable(format!(
                    "sqlite database is locked by another process: {error}"
                ))
            }
            other => backend(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_string_after_every_key_with_the_prefix() {
        assert_eq!(prefix_end("a/b").as_deref(), Some("a/c"));
        assert_eq!(prefix_end("a/\u{10FFFF}").as_deref(), Some("a0"));
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }
}
