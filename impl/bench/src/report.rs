//! Writes benchmark reports: a Markdown page a person reads and a JSON file a script compares,
//! both under the output directory (`reports/bench/` by default).
//!
//! The Markdown says what was run (the exact command), when, on what machine, and what the
//! numbers mean; the interpretation that depends on the product's structure is kept next to
//! the numbers that support it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::decision;
use crate::machine::MachineFacts;
use crate::stats::ms;
use crate::throughput;

/// Writes `<name>.md` and `<name>.json` into `dir`, creating it.
pub fn write(dir: &Path, name: &str, markdown: &str, json: &impl Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let md_path = dir.join(format!("{name}.md"));
    std::fs::write(&md_path, markdown)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    let json_path = dir.join(format!("{name}.json"));
    let mut text = serde_json::to_string_pretty(json)?;
    text.push('\n');
    std::fs::write(&json_path, text)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    Ok(())
}

/// The machine facts every report ends with.
pub(crate) fn machine_section(out: &mut String, m: &MachineFacts) {
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| date (UTC) | {} |", m.date);
    let _ = writeln!(out, "| CPUs (`nproc`) | {} |", m.nproc);
    let _ = writeln!(out, "| CPU model | {} |", m.cpu_model);
    let _ = writeln!(out, "| memory | {} |", m.mem_total);
    let _ = writeln!(out, "| rustc | {} |", m.rustc);
    let _ = writeln!(out, "| load average at start | {} |", m.load_at_start);
    let _ = writeln!(
        out,
        "\nThe machine is shared with other engineers' builds; the load average says how busy \
         it was.\n"
    );
}

/// A memory size in KiB as MiB with one decimal, or `unknown`.
pub(crate) fn kib(v: Option<u64>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// The Markdown page of `decision-latency`; `findings` is the interpretation.
pub fn decision_markdown(r: &decision::Report, findings: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Decision latency: approver's decision to certificate\n");
    let _ = writeln!(out, "Command (release build):\n\n```sh\n{}\n```\n", r.command);
    let _ = writeln!(
        out,
        "Time from the approver sending `PUT /webapi/headless/<id>` (approve, with a WebAuthn \
         assertion to a challenge scoped to the request, made before the clock starts) to the \
         waiting client (`POST /webapi/headless/login` long poll) holding its parsed \
         certificate. One auth service on SQLite (`synchronous=FULL`) behind the real proxy, \
         plain HTTP on 127.0.0.1, {} samples per row after one warm-up. *Pending* counts every \
         waiting login at the decision, the measured one included; background logins are \
         spread over users at the per-user cap of 16, each user holding an event stream open \
         (standing interest), so every pending login has its record in the store. \
         10 000 is the server-wide cap, so that row is 9 999 background + 1 measured.\n",
        r.samples_per_case
    );
    let _ = writeln!(out, "## Results (milliseconds)\n");
    let _ = writeln!(
        out,
        "| pending | min | median | p90 | max | PUT answered, median | PUT answered, p90 |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    for c in &r.cases {
        let d = &c.decision_to_certificate;
        let a = &c.decision_answered;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.pending,
            ms(d.min_us),
            ms(d.median_us),
            ms(d.p90_us),
            ms(d.max_us),
            ms(a.median_us),
            ms(a.p90_us)
        );
    }
    let _ = writeln!(out, "\n## Where the time goes: the store's watch fan-out\n");
    let _ = writeln!(
        out,
        "Store writes committed between the decision and the certificate (revision counter), \
         and the cost of one change event in the store's watch hub with the watches the auth \
         service holds at that pending count (two per waiting login, one per event stream), \
         timed directly on `hwa_store::watch::WatchHub` ({} events and {} new watches each):\n",
        crate::fanout::ROUNDS,
        crate::fanout::ROUNDS
    );
    let _ = writeln!(
        out,
        "| pending | store writes per decision, median / max | live watches | publish one \
         event, median / p90 (µs) | add one watch, median / p90 (µs) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    for (c, f) in r.cases.iter().zip(&r.fan_out) {
        let _ = writeln!(
            out,
            "| {} | {} / {} | {} | {:.1} / {:.1} | {:.1} / {:.1} |",
            c.pending,
            c.store_writes_median,
            c.store_writes_max,
            f.watches,
            f.publish_median_ns as f64 / 1000.0,
            f.publish_p90_ns as f64 / 1000.0,
            f.subscribe_median_ns as f64 / 1000.0,
            f.subscribe_p90_ns as f64 / 1000.0
        );
    }
    let _ = writeln!(out, "\n## Setup and memory\n");
    let _ = writeln!(
        out,
        "| pending | background users | pending records before / after | setup | of which \
         filling | of which settling | background age at end | peak RSS, benchmark process \
         | peak RSS, helper |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &r.cases {
        let _ = writeln!(
            out,
            "| {} | {} | {} / {} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {} | {} |",
            c.pending,
            c.background_users,
            c.pending_records_before,
            c.pending_records_after,
            c.setup_ms as f64 / 1000.0,
            c.fill_ms as f64 / 1000.0,
            c.settle_ms as f64 / 1000.0,
            c.background_age_ms as f64 / 1000.0,
            kib(c.process_peak_rss_kib),
            kib(c.helper_peak_rss_kib)
        );
    }
    let _ = writeln!(
        out,
        "\n*Setup* is the fresh cluster, the signups (password hashing `{}`), the event streams \
         and the background logins until all were pending, then until the store's queue drained (a \
         no-op store command answering within 20 ms three times running). *Background age at \
         end* must stay \
         under the 180 s request lifetime, or background logins start timing out and \
         restarting. The benchmark process holds the auth service, proxy, store, approver, \
         measured client and the client ends of the event streams; its peak RSS (`VmHWM`) is \
         cumulative over the rows above it. The helper process holds the client ends of the \
         background logins (kept out of the benchmark process because 10 000 logins with both \
         ends in one process would pass the open-files hard limit).\n",
        r.password_hashing
    );
    match (&r.open_files, &r.open_files_error) {
        (Some(f), _) => {
            let _ = writeln!(
                out,
                "Open-files limit: soft {} raised to {} (hard {}).\n",
                f.soft_before, f.soft, f.hard
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "Open-files limit could not be raised: {e}.\n");
        }
        (None, None) => {}
    }
    machine_section(&mut out, &r.machine);
    let _ = writeln!(out, "Load average at the end: {}\n", r.load_at_end);
    let _ = writeln!(out, "## What the numbers show\n\n{}", findings.trim());
    out
}

/// The Markdown page of `sim-throughput`.
pub fn throughput_markdown(r: &throughput::Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Simulator throughput: scenario runs per second\n");
    let _ = writeln!(out, "Command (release build, one core):\n\n```sh\n{}\n```\n", r.command);
    let _ = writeln!(
        out,
        "Each scenario of `hwa_sim::scenarios::ALL` run once per seed in `{}` with no fault \
         schedule, one after another on one thread (CPUs allowed: `{}`). A run is the whole \
         simulated cluster (real auth service, proxy and client as turmoil hosts) from setup \
         to verdict. *Runs/s* is runs divided by the scenario's wall time; the per-run columns \
         are the wall time of single runs.\n",
        r.seeds, r.cpus_allowed
    );
    let _ = writeln!(
        out,
        "| scenario | runs | passed | runs/s | run min (ms) | run median (ms) | run p90 (ms) | \
         run max (ms) | simulated ms / run | steps / run |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in &r.scenarios {
        let t = &s.run_time;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            s.scenario,
            s.runs,
            s.passed,
            s.runs_per_sec,
            ms(t.min_us),
            ms(t.median_us),
            ms(t.p90_us),
            ms(t.max_us),
            s.sim_ms_mean,
            s.steps_mean
        );
    }
    let failures: Vec<&String> = r.scenarios.iter().flat_map(|s| &s.failures).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nRuns that did not pass (their time is included above):\n");
        for (s, f) in r.scenarios.iter().flat_map(|s| s.failures.iter().map(move |f| (s, f))) {
            let _ = writeln!(out, "- {}: {f}", s.scenario);
        }
    }
    let _ = writeln!(out);
    machine_section(&mut out, &r.machine);
    out
}
