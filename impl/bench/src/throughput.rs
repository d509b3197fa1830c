//! `hwa-bench sim-throughput`: how many simulated runs of each scenario the simulator
//! completes per second of wall time, for a range of seeds, without faults.
//!
//! Each scenario runs the real auth service, proxy and client as turmoil hosts
//! (`hwa_sim::harness::run`), so this is the speed at which seed exploration and CI can cover
//! the scenarios. Run it pinned to one core (`taskset -c 0`) so the figure does not depend on
//! how busy the other cores are; the report records the command line.

use std::ops::Range;

use hwa_sim::harness::{RunConfig, run};
use hwa_sim::scenarios::ALL;
use serde::Serialize;
use tokio::time::Instant;

use crate::machine::MachineFacts;
use crate::stats::{Summary, micros};

/// Seeds run per scenario unless told otherwise.
pub const DEFAULT_SEEDS: Range<u64> = 1..21;

/// One scenario's result.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioThroughput {
    pub scenario: &'static str,
    pub runs: u64,
    pub passed: u64,
    /// Seeds whose run did not pass, with the outcome, so a slow failure is not mistaken for
    /// a fast pass.
    pub failures: Vec<String>,
    pub wall_ms: u64,
    pub runs_per_sec: f64,
    /// Wall time of one run.
    pub run_time: Summary,
    /// Mean simulated milliseconds and turmoil steps per run.
    pub sim_ms_mean: u64,
    pub steps_mean: u64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub benchmark: &'static str,
    pub command: String,
    pub machine: MachineFacts,
    /// CPUs this process may run on (1 under `taskset -c 0`).
    pub cpus_allowed: String,
    pub seeds: String,
    pub scenarios: Vec<ScenarioThroughput>,
}

/// Runs every scenario for every seed in `seeds`.
pub fn run_all(seeds: Range<u64>, command: String) -> Report {
    let machine = MachineFacts::read();
    let mut scenarios = Vec::new();
    for scenario in ALL {
        let start = Instant::now();
        let mut times = Vec::new();
        let (mut passed, mut sim_ms, mut steps) = (0u64, 0u64, 0u64);
        let mut failures = Vec::new();
        for seed in seeds.clone() {
            let config = RunConfig { seed, schedule: Default::default(), echo_trace: None };
            let one = Instant::now();
            let result = run(scenario, &config);
            times.push(one.elapsed());
            sim_ms += result.sim_ms;
            steps += result.steps;
            if result.outcome.is_pass() {
                passed += 1;
            } else {
                failures.push(format!("seed {seed}: {}", result.outcome));
            }
        }
        let wall = start.elapsed();
        let runs = seeds.end.saturating_sub(seeds.start);
        let Some(run_time) = Summary::of(&times) else { continue };
        tracing::info!(scenario = scenario.name, runs, wall_ms = wall.as_millis() as u64, "done");
        scenarios.push(ScenarioThroughput {
            scenario: scenario.name,
            runs,
            passed,
            failures,
            wall_ms: micros(wall) / 1000,
            runs_per_sec: runs as f64 / wall.as_secs_f64().max(1e-9),
            run_time,
            sim_ms_mean: sim_ms / runs.max(1),
            steps_mean: steps / runs.max(1),
        });
    }
    Report {
        benchmark: "sim-throughput",
        command,
        machine,
        cpus_allowed: cpus_allowed(),
        seeds: format!("{}..{}", seeds.start, seeds.end),
        scenarios,
    }
}

/// `Cpus_allowed_list` of this process.
fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Parses `A..B` (B excluded), as the command line gives it.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("seeds `{text}` are not a range like 1..21"))?;
    let a: u64 = a.trim().parse().map_err(|_| format!("`{a}` in `{text}` is not a number"))?;
    let b: u64 = b.trim().parse().map_err(|_| format!("`{b}` in `{text}` is not a number"))?;
    if b <= a {
        return Err(format!("seeds `{text}` are empty; the end is excluded, as in 1..21"));
    }
    Ok(a..b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_a_half_open_range() {
        assert_eq!(parse_seeds("1..21"), Ok(1..21));
        assert!(parse_seeds("5..5").is_err());
        assert!(parse_seeds("1-20").is_err());
        assert!(parse_seeds("x..3").is_err());
    }
}
