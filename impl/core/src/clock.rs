//! The wall clock seam.
//!
//! Expiry of requests, certificate validity and audit timestamps all read the wall clock, and
//! turmoil does not simulate `SystemTime`. Code on simulated paths therefore never calls
//! `SystemTime::now` (clippy's `disallowed-methods` enforces it) and asks a [`Clock`] instead.
//!
//! Timers (`tokio::time::sleep`, timeouts) are not part of this seam: tokio's timer is already
//! virtualised by turmoil, so they stay as they are.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::time::UnixMillis;

/// Tells the current wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> UnixMillis;
}

/// A clock shared by the components of one host.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the real wall clock is read
    fn now(&self) -> UnixMillis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        UnixMillis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Simulated wall clock: a fixed epoch plus turmoil's simulated elapsed time, plus a skew that
/// a fault schedule may change at any step.
///
/// Read from outside any host (the simulator's harness checking invariants between steps), it
/// answers the simulated time it last saw, so those reads stay deterministic too. Outside a
/// turmoil simulation altogether it advances with tokio's clock from the moment it was made,
/// which keeps it usable in paused-time unit tests.
#[derive(Debug)]
pub struct SimClock {
    epoch: UnixMillis,
    skew_ms: AtomicI64,
    started: tokio::time::Instant,
    /// Simulated milliseconds last seen from inside a host; `u64::MAX` before the first.
    last_sim_ms: AtomicU64,
}

/// The epoch simulated clocks start from: 2026-01-01T00:00:00Z, a fixed date so that traces
/// do not depend on the day a simulation ran.
pub const SIM_EPOCH: UnixMillis = UnixMillis(1_767_225_600_000);

impl SimClock {
    pub fn new(epoch: UnixMillis) -> Self {
        SimClock {
            epoch,
            skew_ms: AtomicI64::new(0),
            started: tokio::time::Instant::now(),
            last_sim_ms: AtomicU64::new(u64::MAX),
        }
    }

    pub fn shared(epoch: UnixMillis) -> Arc<SimClock> {
        Arc::new(SimClock::new(epoch))
    }

    /// Sets how far this host's clock runs ahead (positive) or behind (negative).
    pub fn set_skew_ms(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    fn elapsed(&self) -> Duration {
        if let Some(elapsed) = turmoil::sim_elapsed() {
            let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX - 1);
            self.last_sim_ms.fetch_max(ms, Ordering::SeqCst);
            return elapsed;
        }
        match self.last_sim_ms.load(Ordering::SeqCst) {
            u64::MAX => self.started.elapsed(),
            ms => Duration::from_millis(ms),
        }
    }
}

impl Clock for SimClock {
    fn now(&self) -> UnixMillis {
        let base = self.epoch.plus(self.elapsed());
        let skew = self.skew_ms.load(Ordering::SeqCst);
        if skew >= 0 {
            base.plus(Duration::from_millis(skew.unsigned_abs()))
        } else {
            base.minus(Duration::from_millis(skew.unsigned_abs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sim_clock_follows_virtual_time_and_skew() {
        let clock = SimClock::new(SIM_EPOCH);
        assert_eq!(clock.now(), SIM_EPOCH);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(clock.now(), SIM_EPOCH.plus(Duration::from_secs(3)));
        clock.set_skew_ms(-4_000);
        assert_eq!(clock.now(), SIM_EPOCH.minus(Duration::from_secs(1)));
    }
}
