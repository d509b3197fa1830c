//! The event trace of a simulated run: one line per event, stamped with simulated time and the
//! host it happened on, and nothing that varies between runs of the same seed.
//!
//! It is a `tracing` layer, so the product's own events (at DEBUG and above, from `hwa_*`
//! targets) land in the trace next to the simulator's. Determinism is checked by running a
//! seed twice and comparing the traces byte for byte ([`Trace::digest`]).

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Most lines kept; a run past this is itself a bug (a loop), reported as a crash.
pub const TRACE_LINES_MAX: usize = 200_000;

/// The lines recorded so far, shared between the layer and the harness.
#[derive(Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Vec<String>>>,
    echo: Option<Echo>,
}

/// Where `--trace` shows each line as it is recorded; the binary decides (standard error).
#[derive(Clone)]
pub struct Echo(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for Echo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Echo")
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("lines", &self.len()).finish_non_exhaustive()
    }
}

impl Trace {
    /// A trace that also hands each line to `echo` as it is recorded (`--trace`).
    pub fn new(echo: Option<Echo>) -> Trace {
        Trace { lines: Arc::default(), echo }
    }

    /// Records a line from the harness itself (host `sim`).
    pub fn note(&self, sim_ms: u64, text: impl fmt::Display) {
        self.push(format!("{:>9} {:<10} {}", millis(sim_ms), "sim", text));
    }

    fn push(&self, line: String) {
        if let Some(echo) = &self.echo {
            (echo.0)(&line);
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() < TRACE_LINES_MAX {
            lines.push(line);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn overflowed(&self) -> bool {
        self.len() >= TRACE_LINES_MAX
    }

    /// SHA-256 of the whole trace, hex: equal digests mean byte-identical traces.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for line in self.lines() {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }

    /// The `tracing` layer that records product events into this trace.
    pub fn layer(&self) -> TraceLayer {
        TraceLayer { trace: self.clone() }
    }
}

/// Formats simulated milliseconds as seconds with three decimals.
fn millis(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Records events from the product's crates with the turmoil host they ran on.
#[derive(Debug)]
pub struct TraceLayer {
    trace: Trace,
}

/// The turmoil host a span belongs to, stored in the span's extensions.
struct HostName(String);

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        // turmoil wraps each host's tick in a span named `node` with the host's name.
        if attrs.metadata().name() != "node" {
            return;
        }
        let mut visitor = Fields::default();
        attrs.record(&mut visitor);
        if let (Some(span), Some(name)) = (ctx.span(id), visitor.name) {
            span.extensions_mut().insert(HostName(name));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("hwa") || *meta.level() > Level::DEBUG {
            return;
        }
        let host = ctx
            .event_scope(event)
            .and_then(|scope| {
                scope
                    .from_root()
                    .find_map(|span| span.extensions().get::<HostName>().map(|h| h.0.clone()))
            })
            .unwrap_or_else(|| "sim".to_owned());
        let sim_ms = turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64);
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        self.trace.push(format!(
            "{:>9} {:<10} {:<5} {}: {}{}",
            millis(sim_ms),
            host,
            meta.level(),
            meta.target(),
            visitor.message,
            visitor.rest
        ));
    }
}

/// Collects an event's message and fields in the order they were written.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    name: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "name" => self.name = Some(value.to_owned()),
            other => {
                let _ = write!(self.rest, " {other}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "name" => self.name = Some(format!("{value:?}").trim_matches('"').to_owned()),
            other => {
                let _ = write!(self.rest, " {other}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn product_events_are_recorded_and_others_are_not() {
        let trace = Trace::new(None);
        let subscriber = tracing_subscriber::registry().with(trace.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "hwa_auth::headless", request_id = "r1", "request approved");
            tracing::info!(target: "hyper::proto", "not ours");
            tracing::trace!(target: "hwa_auth", "too detailed for the trace");
        });
        assert_eq!(
            trace.lines(),
            vec![
                "    0.000 sim        INFO  hwa_auth::headless: request approved request_id=r1"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn equal_traces_have_equal_digests_and_one_byte_changes_it() {
        let (a, b, c) = (Trace::new(None), Trace::new(None), Trace::new(None));
        for t in [&a, &b, &c] {
            t.note(1, "start");
        }
        c.note(2, "x");
        a.note(2, "y");
        b.note(2, "y");
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }
}
