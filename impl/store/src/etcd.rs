//! The clustered store: items in etcd, for several auth servers sharing one state.
//!
//! Every key is stored under a namespace (for example `hwa/`), so one etcd cluster can serve
//! several deployments and tests. An item's revision is etcd's mod revision of the key, so
//! revisions are cluster-wide and increase with every change, though not by one.
//!
//! # Values
//! etcd stores the caller's bytes inside a small envelope that also records `expires_at`:
//! version byte [`ENVELOPE_VERSION`], a byte saying whether an expiry follows, the expiry as 8
//! big-endian bytes when it does, then the value. The expiry is needed to answer `Item` in full
//! and to hide expired items by the injected clock.
//!
//! # Expiry
//! An item that expires is attached to a lease of the remaining whole seconds, rounded up;
//! etcd deletes it when the lease runs out and every watcher gets the delete event. Until then
//! reads hide it by the store's clock, and conditional writes treat it as absent (a create on
//! an expired key replaces it, guarded by its mod revision). etcd enforces a minimum lease
//! length (about 1.5 × the election timeout), so delete events may come a second or two after
//! `expires_at`; reads never see an expired item whatever the lease does.
//!
//! # Conditional writes
//! A create, compare-and-swap or conditional delete reads the key, decides on what it read,
//! and commits with an etcd transaction guarded by the key's mod revision (or its absence). If
//! the key changed in between, it reads again, at most [`WRITE_ATTEMPTS`] times.
//!
//! # Watches
//! A watch reads the prefix at some etcd revision R, then starts an etcd watch from R + 1, so
//! no change can fall between the snapshot and the live events: etcd replays history from R + 1.
//! A task forwards events into the same bounded channel the other backends use and closes the
//! watch when the reader falls [`WATCH_BUFFER`] events behind, when etcd
//! cancels it (history compacted) or when the connection fails; the reader then watches again.
//!
//! # Limitations
//! The connection to etcd is made by the etcd client's own transport, not through
//! `hwa_core::Network`: this backend is for real deployments, and the simulator uses
//! [`MemoryStore`](crate::memory::MemoryStore). TLS and authentication to etcd are not
//! configured here yet; a production cluster would pass client certificates through
//! `etcd_client::ConnectOptions`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KeyValue, PutOptions, Txn,
    TxnOp, WatchOptions, WatchStream,
};
use hwa_core::{SharedClock, UnixMillis};
use tokio::sync::mpsc;

use crate::watch::ChannelWatcher;
use crate::{
    Event, Item, Store, StoreError, StoreResult, WATCH_BUFFER, Watcher, Written, check_key,
    check_prefix,
};

/// First byte of every stored value; a different byte means another program wrote the key.
pub const ENVELOPE_VERSION: u8 = 1;

/// How often a conditional write reads again because the key changed between its read and its
/// transaction. Each retry means another writer made progress, so a few suffice; more means
/// the key is under a write storm and the caller should back off.
pub const WRITE_ATTEMPTS: usize = 16;

/// How long connecting to etcd may take before `connect` fails.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one etcd request may take. etcd answers in milliseconds when healthy; a leader
/// election takes about a second with default settings.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Items fetched per etcd range request while listing or taking a watch's snapshot.
pub const RANGE_PAGE: usize = 512;

/// A [`Store`] in an etcd cluster.
pub struct EtcdStore {
    client: Client,
    namespace: String,
    clock: SharedClock,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`), keeping every key
    /// under `namespace`.
    pub async fn connect(
        endpoints: &[String],
        namespace: &str,
        clock: SharedClock,
    ) -> StoreResult<Arc<EtcdStore>> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let mut client = Client::connect(endpoints, Some(options)).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot connect to etcd at {}: {e}; check that etcd runs there",
                endpoints.join(",")
            ))
        })?;
        // Connecting is lazy; one request proves the cluster answers.
        let status = client.status().await.map_err(failed)?;
        tracing::info!(
            endpoints = %endpoints.join(","),
            namespace,
            version = status.version(),
            "etcd store connected"
        );
        Ok(Arc::new(EtcdStore { client, namespace: namespace.to_owned(), clock }))
    }

    fn etcd_key(&self, key: &str) -> Vec<u8> {
        format!("{}{key}", self.namespace).into_bytes()
    }

    /// The key as stored, whether or not it expired by the clock.
    async fn fetch(&self, key: &str) -> StoreResult<Option<Stored>> {
        let response =
            self.client.kv_client().get(self.etcd_key(key), None).await.map_err(failed)?;
        response.kvs().first().map(|kv| self.decode(kv)).transpose()
    }

    fn decode(&self, kv: &KeyValue) -> StoreResult<Stored> {
        let item = decode_item(&self.namespace, kv)?;
        let now = self.clock.now();
        let live = item.expires_at.is_none_or(|at| at > now);
        Ok(Stored { item, live })
    }

    /// Puts `value` at `key` if `allowed` holds for what the key holds now (live items only).
    async fn write_if(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
        allowed: impl Fn(Option<&Item>) -> bool,
    ) -> StoreResult<Written> {
        let envelope = seal_envelope(expires_at, &value);
        // Granted once the condition first holds, so a conflict leaves no lease behind.
        let mut lease: Option<Option<i64>> = None;
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.fetch(key).await?;
            let current = live_item(&stored);
            if !allowed(current.as_ref()) {
                return Ok(Written::Conflict { current });
            }
            let lease = match lease {
                Some(granted) => granted,
                None => *lease.insert(self.lease_for(expires_at).await?),
            };
            let put = TxnOp::put(self.etcd_key(key), envelope.clone(), lease.map(with_lease));
            if let Some(revision) = self.commit_if_unchanged(key, stored.as_ref(), put).await? {
                return Ok(Written::Done { revision });
            }
        }
        Err(contended(key))
    }

    /// Runs `op` if `key` is still as `seen`; the new revision, or `None` if it changed.
    async fn commit_if_unchanged(
        &self,
        key: &str,
        seen: Option<&Stored>,
        op: TxnOp,
    ) -> StoreResult<Option<u64>> {
        let etcd_key = self.etcd_key(key);
        let guard = match seen {
            None => Compare::version(etcd_key, CompareOp::Equal, 0),
            Some(stored) => {
                let revision = i64::try_from(stored.item.revision).unwrap_or(i64::MAX);
                Compare::mod_revision(etcd_key, CompareOp::Equal, revision)
            }
        };
        let txn = Txn::new().when([guard]).and_then([op]);
        let response = self.client.kv_client().txn(txn).await.map_err(failed)?;
        if !response.succeeded() {
            return Ok(None);
        }
        header_revision(response.header().map(|h| h.revision())).map(Some)
    }

    /// A lease that ends at `expires_at` (rounded up to whole seconds), if there is an expiry.
    async fn lease_for(&self, expires_at: Option<UnixMillis>) -> StoreResult<Option<i64>> {
        let Some(at) = expires_at else { return Ok(None) };
        let remaining = self.clock.now().until(at);
        let ttl_secs = remaining.as_millis().div_ceil(1_000).max(1);
        let ttl_secs = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        let lease = self.client.lease_client().grant(ttl_secs, None).await.map_err(failed)?;
        Ok(Some(lease.id()))
    }

    /// Every item under `prefix` at one etcd revision, live or not, at most `limit` live ones;
    /// and that revision.
    async fn list(&self, prefix: &str, limit: usize) -> StoreResult<(Vec<Item>, i64)> {
        let start = self.etcd_key(prefix);
        let end = prefix_end(&start);
        let mut from = start;
        let mut items = Vec::new();
        let mut at_revision = None;
        while items.len() < limit {
            let mut options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(i64::try_from(RANGE_PAGE).unwrap_or(i64::MAX));
            if let Some(revision) = at_revision {
                options = options.with_revision(revision);
            }
            let response =
                self.client.kv_client().get(from.clone(), Some(options)).await.map_err(failed)?;
            let revision = response.header().map(|h| h.revision()).unwrap_or_default();
            at_revision.get_or_insert(revision);
            for kv in response.kvs() {
                let stored = self.decode(kv)?;
                if stored.live && items.len() < limit {
                    items.push(stored.item);
                }
            }
            match response.kvs().last() {
                Some(last) if response.more() => {
                    from = last.key().to_vec();
                    from.push(0);
                }
                _ => break,
            }
        }
        Ok((items, at_revision.unwrap_or_default()))
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Item>> {
        check_key(key)?;
        Ok(live_item(&self.fetch(key).await?))
    }

    async fn create(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        check_key(key)?;
        self.write_if(key, value, expires_at, |current| current.is_none()).await
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<u64> {
        check_key(key)?;
        let lease = self.lease_for(expires_at).await?;
        let envelope = seal_envelope(expires_at, &value);
        let response = self
            .client
            .kv_client()
            .put(self.etcd_key(key), envelope, lease.map(with_lease))
            .await
            .map_err(failed)?;
        header_revision(response.header().map(|h| h.revision()))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected_revision: u64,
        value: Vec<u8>,
        expires_at: Option<UnixMillis>,
    ) -> StoreResult<Written> {
        check_key(key)?;
        self.write_if(key, value, expires_at, |current| {
            current.is_some_and(|item| item.revision == expected_revision)
        })
        .await
    }

    async fn delete(&self, key: &str, expected_revision: Option<u64>) -> StoreResult<Written> {
        check_key(key)?;
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self.fetch(key).await?;
            let current = live_item(&stored);
            let allowed = current
                .as_ref()
                .is_some_and(|item| expected_revision.is_none_or(|rev| rev == item.revision));
            if !allowed {
                return Ok(Written::Conflict { current });
            }
            let delete = TxnOp::delete(self.etcd_key(key), None);
            if let Some(revision) = self.commit_if_unchanged(key, stored.as_ref(), delete).await? {
                return Ok(Written::Done { revision });
            }
        }
        Err(contended(key))
    }

    async fn range(&self, prefix: &str, limit: usize) -> StoreResult<Vec<Item>> {
        check_prefix(prefix)?;
        Ok(self.list(prefix, limit).await?.0)
    }

    async fn watch(&self, prefix: &str) -> StoreResult<Box<dyn Watcher>> {
        check_prefix(prefix)?;
        let (snapshot, revision) = self.list(prefix, usize::MAX).await?;
        let start = self.etcd_key(prefix);
        let options = WatchOptions::new()
            .with_range(prefix_end(&start))
            .with_start_revision(revision.saturating_add(1));
        let mut stream =
            self.client.watch_client().watch(start, Some(options)).await.map_err(failed)?;
        // etcd first confirms the watch; a cancel here means the revision was compacted away.
        match stream.message().await.map_err(failed)? {
            Some(response) if response.created() && !response.canceled() => {}
            Some(response) => {
                return Err(StoreError::Unavailable(format!(
                    "etcd refused the watch of `{prefix}`: {}; watch again",
                    response.cancel_reason()
                )));
            }
            None => return Err(StoreError::Unavailable("etcd closed the watch stream".into())),
        }
        let (sender, receiver) = mpsc::channel(WATCH_BUFFER);
        let forwarder =
            Forwarder { namespace: self.namespace.clone(), prefix: prefix.to_owned(), sender };
        tokio::spawn(forwarder.run(stream));
        Ok(Box::new(ChannelWatcher::new(prefix, snapshot, receiver)))
    }
}

/// Moves one etcd watch's events into a watcher's channel.
struct Forwarder {
    namespace: String,
    prefix: String,
    sender: mpsc::Sender<Event>,
}

impl Forwarder {
    async fn run(self, mut stream: WatchStream) {
        loop {
            let response = tokio::select! {
                () = self.sender.closed() => return,
                response = stream.message() => response,
            };
            let response = match response {
                Ok(Some(response)) if !response.canceled() => response,
                Ok(Some(response)) => {
                    tracing::warn!(
                        prefix = %self.prefix,
                        reason = response.cancel_reason(),
                        "etcd cancelled a watch; closing it so the reader watches again"
                    );
                    return;
                }
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, %error, "etcd watch failed; closing it");
                    return;
                }
            };
            for event in response.events() {
                let Some(event) = self.convert(event) else { continue };
                if let Err(error) = self.sender.try_send(event) {
                    if matches!(error, mpsc::error::TrySendError::Full(_)) {
                        tracing::warn!(
                            prefix = %self.prefix,
                            buffer = WATCH_BUFFER,
                            "watcher fell behind; closing it so it watches again"
                        );
                    }
                    return;
                }
            }
        }
    }

    fn convert(&self, event: &etcd_client::Event) -> Option<Event> {
        let kv = event.kv()?;
        match event.event_type() {
            EventType::Put => match decode_item(&self.namespace, kv) {
                Ok(item) => Some(Event::Put(item)),
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, %error, "skipping an unreadable event");
                    None
                }
            },
            EventType::Delete => {
                let key = kv.key().strip_prefix(self.namespace.as_bytes())?;
                let key = std::str::from_utf8(key).ok()?.to_owned();
                let revision = u64::try_from(kv.mod_revision()).ok()?;
                Some(Event::Delete { key, revision })
            }
        }
    }
}

fn decode_item(namespace: &str, kv: &KeyValue) -> StoreResult<Item> {
    let key = kv
        .key()
        .strip_prefix(namespace.as_bytes())
        .and_then(|key| std::str::from_utf8(key).ok())
        .ok_or_else(|| backend("etcd returned a key outside the namespace"))?;
    let revision = u64::try_from(kv.mod_revision())
        .map_err(|_| backend(format!("etcd returned a negative revision for `{key}`")))?;
    let (expires_at, value) = open_envelope(kv.value()).ok_or_else(|| {
        backend(format!("`{key}` holds a value this store did not write; remove it"))
    })?;
    Ok(Item { key: key.to_owned(), value: value.to_vec(), revision, expires_at })
}

/// A key as etcd holds it, and whether it is live by the store's clock.
#[derive(Debug)]
struct Stored {
    item: Item,
    live: bool,
}

fn live_item(stored: &Option<Stored>) -> Option<Item> {
    stored.as_ref().filter(|stored| stored.live).map(|stored| stored.item.clone())
}

fn seal_envelope(expires_at: Option<UnixMillis>, value: &[u8]) -> Vec<u8> {
    let mut envelope = Vec::with_capacity(value.len() + 10);
    envelope.push(ENVELOPE_VERSION);
    match expires_at {
        Some(at) => {
            envelope.push(1);
            envelope.extend_from_slice(&at.0.to_be_bytes());
        }
        None => envelope.push(0),
    }
    envelope.extend_from_slice(value);
    envelope
}

fn open_envelope(stored: &[u8]) -> Option<(Option<UnixMillis>, &[u8])> {
    match stored {
        [ENVELOPE_VERSION, 0, value @ ..] => Some((None, value)),
        [ENVELOPE_VERSION, 1, rest @ ..] => {
            let (at, value) = rest.split_first_chunk::<8>()?;
            Some((Some(UnixMillis(u64::from_be_bytes(*at))), value))
        }
        _ => None,
    }
}

/// The end of etcd's range for every key starting with `prefix`: the prefix with its last byte
/// below 0xff increased and what follows dropped, or `[0]` (no end) when there is none.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn with_lease(lease: i64) -> PutOptions {
    PutOptions::new().with_lease(lease)
}

fn header_revision(revision: Option<i64>) -> StoreResult<u64> {
    revision
        .and_then(|revision| u64::try_from(revision).ok())
        .ok_or_else(|| backend("etcd answered a write without a revision"))
}

fn contended(key: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "`{key}` changed {WRITE_ATTEMPTS} times while writing it; back off and retry"
    ))
}

fn failed(error: etcd_client::Error) -> StoreError {
    use etcd_client::Error;
    match &error {
        Error::TransportError(_) | Error::IoError(_) => {
            StoreError::Unavailable(format!("etcd is unreachable: {error}"))
        }
        Error::GRpcStatus(status)
            if matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Aborted
            ) =>
        {
            StoreError::Unavailable(format!("etcd is unavailable: {error}"))
        }
        _ => backend(error),
    }
}

fn backend(message: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("etcd: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_values_and_expiry() {
        let sealed = seal_envelope(Some(UnixMillis(42)), b"value");
        assert_eq!(open_envelope(&sealed), Some((Some(UnixMillis(42)), b"value".as_slice())));
        let sealed = seal_envelope(None, b"");
        assert_eq!(open_envelope(&sealed), Some((None, b"".as_slice())));
        assert_eq!(open_envelope(b"plain text"), None);
        assert_eq!(open_envelope(&[ENVELOPE_VERSION, 1, 0, 0]), None);
    }

    #[test]
    fn prefix_end_covers_exactly_the_prefix() {
        assert_eq!(prefix_end(b"hwa/a"), b"hwa/b");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b""), [0]);
    }
}
