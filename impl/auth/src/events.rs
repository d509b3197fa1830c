//! [`HeadlessEventStream`]: new and decided headless requests of one user, pushed as they
//! happen (`hwa headless watch`, the SSE endpoint).
//!
//! While a stream is alive it keeps a watcher record `headless_watch/<user>/<random>` fresh in
//! the store: that is the user's standing interest (SPEC HL-08), so logins for the user on any
//! auth server write their pending record at once and the stream can show it. When the stream
//! is dropped the background task notices, deletes the record and ends.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use hwa_core::api::{HeadlessEvent, RequestState};
use hwa_core::id::RequestId;
use hwa_core::{SharedClock, SharedEntropy};
use hwa_store::{Event, SharedStore, Watcher};
use tokio::sync::mpsc;

use crate::error::AuthError;
use crate::headless::{HeadlessRecord, WATCHER_TTL, user_prefix, watcher_prefix};

/// Events buffered for a slow reader before new ones are dropped (with a warning): a person
/// decides a handful of requests a minute.
pub const EVENT_BUFFER: usize = 64;

/// A stream of [`HeadlessEvent`]s; implements `futures::Stream`.
pub struct HeadlessEventStream {
    receiver: mpsc::Receiver<HeadlessEvent>,
}

impl fmt::Debug for HeadlessEventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadlessEventStream").finish_non_exhaustive()
    }
}

impl futures::Stream for HeadlessEventStream {
    type Item = HeadlessEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HeadlessEvent>> {
        self.receiver.poll_recv(cx)
    }
}

/// Registers the watcher record and starts the task that feeds the stream.
pub async fn open(
    store: SharedStore,
    clock: SharedClock,
    entropy: SharedEntropy,
    user: String,
) -> Result<HeadlessEventStream, AuthError> {
    let watcher_key =
        format!("{}{}", watcher_prefix(&user), hwa_core::entropy::token_hex(&*entropy, 8));
    refresh(&*store, &*clock, &watcher_key).await?;
    let watch = store.watch(&user_prefix(&user)).await?;
    let (sender, receiver) = mpsc::channel(EVENT_BUFFER);
    tokio::spawn(feed(store, clock, user, watcher_key, watch, sender));
    Ok(HeadlessEventStream { receiver })
}

async fn refresh(
    store: &dyn hwa_store::Store,
    clock: &dyn hwa_core::Clock,
    watcher_key: &str,
) -> Result<(), AuthError> {
    let expires_at = clock.now().plus(WATCHER_TTL);
    crate::kv::put(store, watcher_key, &expires_at, Some(expires_at)).await?;
    Ok(())
}

async fn feed(
    store: SharedStore,
    clock: SharedClock,
    user: String,
    watcher_key: String,
    mut watch: Box<dyn Watcher>,
    sender: mpsc::Sender<HeadlessEvent>,
) {
    let mut seen: BTreeMap<RequestId, RequestState> = BTreeMap::new();
    let mut refresh_timer = tokio::time::interval(WATCHER_TTL / 3);
    loop {
        tokio::select! {
            _ = sender.closed() => break,
            _ = refresh_timer.tick() => {
                if let Err(err) = refresh(&*store, &*clock, &watcher_key).await {
                    tracing::warn!(%user, error = %err, "could not refresh the headless watcher");
                }
            }
            event = watch.next() => {
                let Some(event) = event else {
                    match store.watch(&user_prefix(&user)).await {
                        Ok(again) => { watch = again; continue; }
                        Err(err) => {
                            tracing::warn!(%user, error = %err, "headless watch ended");
                            break;
                        }
                    }
                };
                if let Some(out) = translate(&event, &mut seen, clock.now())
                    && sender.try_send(out).is_err()
                    && !sender.is_closed()
                {
                    tracing::warn!(%user, "headless event dropped: the reader is too slow");
                }
            }
        }
    }
    if let Err(err) = store.delete(&watcher_key, None).await {
        tracing::debug!(%user, error = %err, "could not delete the headless watcher record");
    }
}

/// The event to show for a store change, once per request and state.
fn translate(
    event: &Event,
    seen: &mut BTreeMap<RequestId, RequestState>,
    now: hwa_core::UnixMillis,
) -> Option<HeadlessEvent> {
    let item = match event {
        Event::Put(item) => item,
        Event::Delete { key, .. } => {
            let id = key.rsplit('/').next()?.parse::<RequestId>().ok()?;
            seen.remove(&id);
            return None;
        }
    };
    let record: HeadlessRecord = serde_json::from_slice(&item.value).ok()?;
    let state = record.api_state()?;
    let before = seen.get(&record.id).copied();
    // A decision is news only for a request this stream showed as pending; decided records
    // still in the store when the stream opens are history.
    if before == Some(state) || (before.is_none() && state != RequestState::Pending) {
        return None;
    }
    seen.insert(record.id.clone(), state);
    match state {
        RequestState::Pending => Some(HeadlessEvent::Pending { request: record.view(now)? }),
        decided => Some(HeadlessEvent::Decided { id: record.id, state: decided }),
    }
}
