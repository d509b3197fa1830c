//! Per-client-address token buckets for the unauthenticated endpoints (SPEC HL-07).
//!
//! Each client address owns a bucket of [`UNAUTH_RATE_BURST`] tokens that refills evenly over
//! [`UNAUTH_RATE_WINDOW`]; a request takes one token or is refused with `rate_limited`. Time
//! comes from `tokio::time`, which turmoil simulates, so a simulated flood is limited exactly as
//! a real one.
//!
//! IPv6 clients are keyed by their /64 prefix: one host usually owns a whole /64 and could
//! otherwise take a fresh address for every request.
//!
//! What this file leaves to others: which routes are limited (the router), and limits on
//! waiting logins per user and per server (the auth service, `limits::PENDING_*`).
//!
//! # Limitations
//!
//! Buckets live in one process. Several proxies behind a load balancer each allow the full
//! burst; a shared limit would need a counter in the store, which costs a write per request.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use hwa_core::limits::{UNAUTH_RATE_BURST, UNAUTH_RATE_WINDOW};
use tokio::time::Instant;

/// Client addresses tracked at once. A flood from more addresses evicts the least recently
/// seen bucket, so memory stays bounded; an evicted client starts again with a full bucket,
/// which costs that client nothing and an attacker at most one extra burst per eviction.
pub const TRACKED_ADDRS_MAX: usize = 16_384;

/// A limiter for one class of endpoint.
#[derive(Debug)]
pub struct RateLimiter {
    burst: u32,
    window: Duration,
    tracked_max: usize,
    buckets: Mutex<BTreeMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(UNAUTH_RATE_BURST, UNAUTH_RATE_WINDOW, TRACKED_ADDRS_MAX)
    }
}

impl RateLimiter {
    pub fn new(burst: u32, window: Duration, tracked_max: usize) -> RateLimiter {
        RateLimiter {
            burst: burst.max(1),
            window: window.max(Duration::from_millis(1)),
            tracked_max: tracked_max.max(1),
            buckets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes a token for `addr` at `now`, or says how long until the next token.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = bucket_key(addr);
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&key) && buckets.len() >= self.tracked_max {
            self.make_room(&mut buckets, now);
        }
        let burst = f64::from(self.burst);
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: burst, last: now });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * self.per_sec();
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(Duration::from_secs_f64(missing / self.per_sec()))
    }

    /// Addresses currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    fn per_sec(&self) -> f64 {
        f64::from(self.burst) / self.window.as_secs_f64()
    }

    /// Drops buckets that have refilled completely (they carry no information); if none has,
    /// drops the least recently seen one.
    fn make_room(&self, buckets: &mut BTreeMap<IpAddr, Bucket>, now: Instant) {
        let window = self.window;
        buckets.retain(|_, bucket| now.saturating_duration_since(bucket.last) < window);
        if buckets.len() < self.tracked_max {
            return;
        }
        let oldest = buckets.iter().min_by_key(|(_, bucket)| bucket.last).map(|(addr, _)| *addr);
        if let Some(addr) = oldest {
            buckets.remove(&addr);
        }
    }
}

/// The address a bucket is kept under: IPv4 as is, IPv6 by its /64 prefix (IPv4-mapped IPv6
/// addresses count as their IPv4 address).
pub fn bucket_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_the_next_request_is_refused_until_a_token_refills() {
        // 3 tokens per 30 s: one token every 10 s.
        let limiter = RateLimiter::new(3, Duration::from_secs(30), 8);
        let client = addr("192.0.2.1");
        for _ in 0..3 {
            assert!(limiter.check(client, Instant::now()).is_ok());
        }
        let wait = limiter.check(client, Instant::now()).expect_err("fourth is refused");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10), "{wait:?}");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(limiter.check(client, Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn one_client_exhausting_its_bucket_does_not_limit_another() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60), 8);
        assert!(limiter.check(addr("192.0.2.1"), Instant::now()).is_ok());
        assert!(limiter.check(addr("192.0.2.1"), Instant::now()).is_err());
        assert!(limiter.check(addr("192.0.2.2"), Instant::now()).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tracked_addresses_never_exceed_the_bound() {
        let limiter = RateLimiter::new(5, Duration::from_secs(60), 4);
        for i in 0..50u8 {
            let _ = limiter.check(IpAddr::from([10, 0, 0, i]), Instant::now());
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        assert_eq!(limiter.tracked(), 4);
    }

    #[test]
    fn ipv6_clients_of_one_prefix_share_a_bucket() {
        assert_eq!(bucket_key(addr("2001:db8::1")), bucket_key(addr("2001:db8::ffff:2")));
        assert_ne!(bucket_key(addr("2001:db8::1")), bucket_key(addr("2001:db8:0:1::1")));
        assert_eq!(bucket_key(addr("::ffff:192.0.2.7")), addr("192.0.2.7"));
    }
}
