//! `hwa-bench decision-latency`: the time from the approver sending its decision
//! (`PUT /webapi/headless/<id>`, with the WebAuthn assertion already made) to the waiting client
//! holding its certificate, with 1, 1 000 and 10 000 headless requests pending, on SQLite.
//!
//! "P pending" counts every waiting login at the moment of the decision, the measured one
//! included: the measured user's one login plus P − 1 background logins, spread over as few
//! background users as the per-user cap allows (`PENDING_PER_USER_MAX`, 16). The server-wide
//! cap (`PENDING_PER_SERVER_MAX`, 10 000) therefore admits P = 10 000 exactly. Each background
//! user holds an event stream open (as `hwa headless watch` does), which is the interest that
//! makes every one of its logins write a pending record: the store holds P pending records.
//!
//! Each P gets a fresh data directory and cluster ([`crate::cluster`]). Background logins live
//! in a helper process ([`crate::waiting::Helper`]); the measured login and the approver live
//! here. One unmeasured sample warms connections and caches first.
//!
//! # Limitations
//! Client and server share the machine (and, for the measured pair, the process and its tokio
//! runtime), as they would not in production; the numbers include loopback TCP and a new
//! connection per call, as the `hwa` client makes. Background logins live for the request
//! lifetime (3 minutes); a run that takes longer to fill and measure sees some restart, which
//! the report shows as the pending count before and after the samples.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use futures::{StreamExt, TryStreamExt};
use hwa_auth::headless::{HeadlessRecord, RecordState};
use hwa_client::http::{HttpClient, Trust};
use hwa_core::api::RequestState;
use hwa_core::entropy::OsEntropy;
use hwa_core::limits::{PENDING_PER_SERVER_MAX, PENDING_PER_USER_MAX, REQUEST_TTL};
use hwa_store::SharedStore;
use serde::Serialize;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::fanout::FanOutCost;
use crate::machine::{self, MachineFacts, OpenFiles};
use crate::people::Approver;
use crate::stats::{Summary, micros};
use crate::waiting::{Helper, LoginKey, wait_for_certificate};

/// The pending counts the issue asks for.
pub const DEFAULT_PENDING: &[usize] = &[1, 1_000, 10_000];

/// Samples per pending count unless told otherwise.
pub const DEFAULT_SAMPLES: usize = 20;

/// Signups running at once while background users are created.
pub const SIGNUP_CONCURRENCY: usize = 8;

/// How long the background logins may take to become pending. Past the request lifetime the
/// first ones would start timing out, so the wait ends well before it.
pub const FILL_TIMEOUT: Duration = Duration::from_secs(165);

/// How often the store is asked how many records are pending while filling.
pub const FILL_POLL: Duration = Duration::from_secs(2);

/// A store command answered within this counts as the store being idle.
pub const SETTLE_LATENCY: Duration = Duration::from_millis(20);

/// Longest wait for the store to become idle after setup.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between samples, so the audit writes of one decision do not overlap the next.
pub const SAMPLE_GAP: Duration = Duration::from_millis(100);

/// The measured user's name.
pub const MEASURED_USER: &str = "measured";

/// What to run.
#[derive(Clone, Debug)]
pub struct Params {
    pub pending: Vec<usize>,
    pub samples: usize,
}

/// The result of one pending count.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// Logins waiting at the decision, the measured one included.
    pub pending: usize,
    pub background_logins: usize,
    pub background_users: usize,
    /// Whether every background login was pending before the first sample (if not, the
    /// pending records columns say how many were).
    pub filled: bool,
    /// Pending records in the store just before the first and after the last sample.
    pub pending_records_before: usize,
    pub pending_records_after: usize,
    /// Decision sent to certificate held by the waiting client.
    pub decision_to_certificate: Summary,
    /// Decision sent to the approver's `PUT` answered.
    pub decision_answered: Summary,
    /// Store writes committed between the decision and the certificate (median and max);
    /// with background users this includes their event streams' watcher refreshes.
    pub store_writes_median: u64,
    pub store_writes_max: u64,
    /// Cluster start, signups, event streams and background logins until all were pending.
    pub setup_ms: u64,
    /// Of which: from the first background login sent to the last one pending.
    pub fill_ms: u64,
    /// Of which: waiting, after the last login was pending, for the store's queue to drain
    /// (its audit writes and event-stream refreshes), so samples do not wait behind setup.
    pub settle_ms: u64,
    /// Time from the first background login to the last sample (must stay under the request
    /// lifetime for the background count to hold).
    pub background_age_ms: u64,
    /// Peak RSS of the benchmark process after this case (server, approver, measured client;
    /// cumulative over the cases run before).
    pub process_peak_rss_kib: Option<u64>,
    /// Peak RSS of the helper process holding the background logins.
    pub helper_peak_rss_kib: Option<u64>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub command: String,
    pub machine: MachineFacts,
    pub open_files: Option<OpenFiles>,
    pub open_files_error: Option<String>,
    pub password_hashing: &'static str,
    pub samples_per_case: usize,
    pub cases: Vec<Case>,
    /// The store's watch fan-out cost at each pending count, measured directly.
    pub fan_out: Vec<FanOutCost>,
    pub load_at_end: String,
}

/// Runs every pending count in turn.
pub async fn run(params: &Params, command: String) -> anyhow::Result<Report> {
    let machine = MachineFacts::read();
    let (open_files, open_files_error) = match machine::raise_open_files() {
        Ok(limits) => (Some(limits), None),
        Err(e) => (None, Some(e.to_string())),
    };
    if let Some(e) = &open_files_error {
        tracing::warn!(error = %e, "cannot raise the open-files limit");
    }
    let mut cases = Vec::new();
    for &pending in &params.pending {
        if pending == 0 || pending > PENDING_PER_SERVER_MAX {
            return Err(anyhow!(
                "pending count {pending} is outside 1..={PENDING_PER_SERVER_MAX} (the \
                 server-wide cap on waiting logins)"
            ));
        }
        tracing::info!(pending, "case starting");
        let case = run_case(pending, params.samples).await?;
        tracing::info!(pending, median_us = case.decision_to_certificate.median_us, "case done");
        cases.push(case);
    }
    let fan_out = params.pending.iter().map(|&p| crate::fanout::measure(p)).collect();
    Ok(Report {
        benchmark: "decision-latency",
        command,
        machine,
        open_files,
        open_files_error,
        password_hashing: "fast (argon2id at its smallest parameters; signup only)",
        samples_per_case: params.samples,
        cases,
        fan_out,
        load_at_end: machine::load_average(),
    })
}

/// The background plan for `pending` logins: `(user, logins)` with at most the per-user cap.
pub fn background_plan(pending: usize) -> Vec<(String, usize)> {
    let mut left = pending.saturating_sub(1);
    let mut plan = Vec::new();
    while left > 0 {
        let n = left.min(PENDING_PER_USER_MAX);
        plan.push((format!("bg{:05}", plan.len()), n));
        left -= n;
    }
    plan
}

async fn run_case(pending: usize, samples: usize) -> anyhow::Result<Case> {
    let setup_start = Instant::now();
    let cluster = Cluster::start().await?;
    let (auth, net, proxy, origin) =
        (&cluster.auth, &cluster.net, &cluster.proxy, cluster.origin.as_str());
    let mut measured = Approver::sign_up(auth, net, proxy, origin, MEASURED_USER).await?;
    let plan = background_plan(pending);
    let background: usize = plan.iter().map(|(_, n)| n).sum();
    let users: Vec<Approver> = futures::stream::iter(
        plan.iter().map(|(user, _)| Approver::sign_up(auth, net, proxy, origin, user)),
    )
    .buffer_unordered(SIGNUP_CONCURRENCY)
    .try_collect()
    .await?;
    let seen = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(users.len());
    for user in &users {
        streams.push(user.watch(Arc::clone(&seen)).await?);
    }
    let fill_start = Instant::now();
    let helper = if plan.is_empty() { None } else { Some(Helper::start(proxy, &plan)?) };
    let filled = wait_until_pending(&cluster.store, &seen, background).await?;
    let fill = fill_start.elapsed();
    let settle_start = Instant::now();
    settle(&cluster).await?;
    let settle = settle_start.elapsed();
    let pending_records_before = pending_records(&cluster.store).await?;
    let setup = setup_start.elapsed();
    tracing::info!(pending, setup_ms = setup.as_millis() as u64, "background logins pending");

    sample(&cluster, &mut measured, false).await.map(drop).context("the warm-up sample failed")?;
    let mut to_certificate = Vec::with_capacity(samples);
    let mut answered = Vec::with_capacity(samples);
    let mut writes = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (certificate, answer, written) = sample(&cluster, &mut measured, true).await?;
        to_certificate.push(certificate);
        answered.push(answer);
        writes.push(written);
        tokio::time::sleep(SAMPLE_GAP).await;
    }
    let background_age = fill_start.elapsed();
    let pending_records_after = pending_records(&cluster.store).await?;
    let helper_peak_rss_kib = helper.as_ref().and_then(|h| machine::peak_rss_kib_of(h.pid()));
    if background_age >= REQUEST_TTL {
        tracing::warn!("background logins outlived the request lifetime; some restarted");
    }
    for stream in streams {
        stream.abort();
    }
    if let Some(helper) = helper {
        helper.stop()?;
    }
    let empty = || anyhow!("no samples were taken; use --samples 1 or more");
    let case = Case {
        pending,
        background_logins: background,
        background_users: plan.len(),
        filled,
        pending_records_before,
        pending_records_after,
        decision_to_certificate: Summary::of(&to_certificate).ok_or_else(empty)?,
        decision_answered: Summary::of(&answered).ok_or_else(empty)?,
        store_writes_median: median(&mut writes),
        store_writes_max: writes.iter().copied().max().unwrap_or(0),
        setup_ms: micros(setup) / 1000,
        fill_ms: micros(fill) / 1000,
        settle_ms: micros(settle) / 1000,
        background_age_ms: micros(background_age) / 1000,
        process_peak_rss_kib: machine::peak_rss_kib(),
        helper_peak_rss_kib,
    };
    cluster.stop().await;
    Ok(case)
}

/// Waits until the store holds `target` pending records, or [`FILL_TIMEOUT`] passed; returns
/// whether it got there. The event streams' own count is only progress: a stream drops events
/// for a slow reader, so the store is the authority.
async fn wait_until_pending(
    store: &SharedStore,
    announced: &AtomicUsize,
    target: usize,
) -> anyhow::Result<bool> {
    let start = Instant::now();
    loop {
        let pending = pending_records(store).await?;
        if pending >= target {
            return Ok(true);
        }
        if start.elapsed() > FILL_TIMEOUT {
            tracing::warn!(
                pending,
                target,
                "background logins did not all become pending in time; measuring anyway"
            );
            return Ok(false);
        }
        let announced = announced.load(Ordering::Relaxed);
        tracing::info!(pending, announced, target, "filling");
        tokio::time::sleep(FILL_POLL).await;
    }
}

/// Waits until a no-op store command answers within [`SETTLE_LATENCY`] a few times in a row,
/// or [`SETTLE_TIMEOUT`] passed.
async fn settle(cluster: &Cluster) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut quick = 0;
    while quick < 3 {
        let asked = Instant::now();
        cluster.sqlite.revision().await?;
        quick = if asked.elapsed() <= SETTLE_LATENCY { quick + 1 } else { 0 };
        if start.elapsed() > SETTLE_TIMEOUT {
            tracing::warn!("the store is still busy after setup; measuring anyway");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Counts the pending headless records in the store.
async fn pending_records(store: &SharedStore) -> anyhow::Result<usize> {
    let items = store.range("headless/", usize::MAX).await?;
    Ok(items
        .iter()
        .filter_map(|item| serde_json::from_slice::<HeadlessRecord>(&item.value).ok())
        .filter(|record| record.state == RecordState::Pending)
        .count())
}

/// One decision: start a login, look at it, prepare the assertion, then time the decision.
/// Returns (decision to certificate, decision to answer, store writes in between).
async fn sample(
    cluster: &Cluster,
    approver: &mut Approver,
    measured: bool,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let key = LoginKey::generate(&OsEntropy)?;
    let client = HttpClient::new(cluster.net.clone(), cluster.proxy.clone(), &Trust::System)?;
    let login_key = key.clone();
    let login =
        tokio::spawn(async move { wait_for_certificate(&client, MEASURED_USER, &login_key).await });
    let view = approver.view(&key.id).await.context("the approver cannot see the request")?;
    if view.state != RequestState::Pending {
        return Err(anyhow!("request {} is {:?}, not pending", key.id, view.state));
    }
    let decision = approver.prepare_approval(&key.id).await?;
    let revision_before = cluster.sqlite.revision().await?;
    let start = Instant::now();
    approver.send(&decision).await?;
    let answered = start.elapsed();
    let (_, arrived) = login.await.context("the waiting login task failed")??;
    let to_certificate = arrived.saturating_duration_since(start);
    let written = cluster.sqlite.revision().await?.saturating_sub(revision_before);
    if measured {
        tracing::debug!(us = micros(to_certificate), "sample");
    }
    Ok((to_certificate, answered, written))
}

/// The lower median of `values` (0 for none).
fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// What the numbers show, computed from the report: how latency grows with the pending count,
/// and how much of it the client waits after the approver already has its answer.
pub fn findings(report: &Report) -> String {
    let mut out = String::new();
    let (Some(first), Some(last)) = (report.cases.first(), report.cases.last()) else {
        return "No case ran.".to_owned();
    };
    let median = |c: &Case| c.decision_to_certificate.median_us.max(1) as f64;
    out.push_str(&format!(
        "- The median grows {:.2}x from {} to {} pending ({} ms to {} ms).\n",
        median(last) / median(first),
        first.pending,
        last.pending,
        crate::stats::ms(first.decision_to_certificate.median_us),
        crate::stats::ms(last.decision_to_certificate.median_us),
    ));
    for c in &report.cases {
        let after =
            c.decision_to_certificate.median_us.saturating_sub(c.decision_answered.median_us);
        out.push_str(&format!(
            "- {} pending: the approver's `PUT` is answered at a median {} ms; the certificate \
             reaches the client {} ms after that (median difference).\n",
            c.pending,
            crate::stats::ms(c.decision_answered.median_us),
            crate::stats::ms(after),
        ));
    }
    for (c, f) in report.cases.iter().zip(&report.fan_out) {
        let pub_us = f.publish_median_ns as f64 / 1000.0;
        out.push_str(&format!(
            "- {} pending: {} live watches; one store write's fan-out costs {:.1} µs (median), so \
             the {} writes of a decision spend about {:.2} ms in fan-out alone.\n",
            c.pending,
            f.watches,
            pub_us,
            c.store_writes_median,
            pub_us * c.store_writes_median as f64 / 1000.0,
        ));
    }
    out.push_str(STRUCTURE);
    out
}

/// Where the time of a decision goes in the product, as read from the code and confirmed by
/// the profile described here.
const STRUCTURE: &str = "
### Where the cost is

The growth at 10 000 pending is not SQLite and not the decision logic: it is the store's
watch fan-out, on the store's single thread.

- `hwa_store::watch::WatchHub::publish` (`impl/store/src/watch.rs`) offers every committed
  change to every live watch with a `starts_with` prefix test, so each write costs time
  linear in the number of watches, and it runs on the SQLite store's one connection thread
  (`impl/store/src/sqlite.rs`, `Worker::change`) before the next command may start.
- The auth service holds two watches per waiting login (`LoginWait::run` in
  `impl/auth/src/service.rs`: the request's record key and the user's
  `headless_watch/<user>/` prefix) and one per event stream (`impl/auth/src/events.rs`). At
  10 000 pending that is about 20 600 watches; the fan-out table above gives the cost of one
  event at that size, and a decision pays it once per store write it makes, in sequence.
- Every other write pays it too, and the decision's commands queue behind them: each open
  event stream rewrites its watcher record every 10 s (`WATCHER_TTL` / 3), so 625 watching
  users make about 60 writes a second, in bursts because the streams opened together. A
  decision that lands in a burst waits for it; that is the p90 and the maximum.
- `WatchHub::subscribe` first prunes dropped watches by scanning all of them
  (`prune_closed`), so adding a watch is linear too, and filling the server with n waiting
  logins (two watches each) is quadratic; with `synchronous=FULL` (an fsync per login's record
  and audit event) this is why the 10 000 row takes a minute or more to set up.
- A `perf record -g` of the benchmark process at 10 000 pending (25 s at 499 Hz during the
  samples, release build, this machine, 2026-12-03) put 80 % of the process's CPU samples on
  the `hwa-store-sqlite` thread: 40 % in `memcmp` and 11 % in `WatchHub::publish` itself (the
  prefix tests), 3 % in the `is_closed` checks of `prune_closed`, and only a few percent in
  SQLite (parser, VDBE) and the fsync I/O path.

What would remove it (for the store's owner; this benchmark does not change the product):
index the watches, exact keys in a `BTreeMap<key, watchers>` and prefixes in a
`BTreeMap<prefix, watchers>` probed with each `/`-ended prefix of the changed key (keys have
a handful of segments), so a publish costs a few lookups instead of a scan; prune closed
senders when a send fails rather than on every subscribe; and let the logins of one user
share one `headless_watch/<user>/` watch instead of one each.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pending_needs_no_background() {
        assert!(background_plan(1).is_empty());
    }

    #[test]
    fn ten_thousand_pending_fill_the_per_user_cap() {
        let plan = background_plan(10_000);
        let total: usize = plan.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 9_999);
        assert_eq!(plan.len(), 625);
        assert!(plan.iter().all(|(_, n)| *n <= PENDING_PER_USER_MAX));
        assert_eq!(plan.last().map(|(_, n)| *n), Some(15));
    }
}
