//! Running many seeds: exploration with faults drawn per seed, the approval races, and the
//! determinism check (every seed twice, traces compared byte for byte).
//!
//! Every failure is reported with the one command that replays it.

use std::fmt;
use std::ops::Range;

use crate::harness::{self, RunConfig, RunResult, Scenario};
use crate::outcome::Outcome;
use crate::schedule::{FaultSchedule, FaultSettings};

/// The command that replays one run exactly.
pub fn replay_command(scenario: &str, seed: u64, faults: bool) -> String {
    let faults = if faults { " --faults" } else { "" };
    format!("hwa-sim run --scenario {scenario} --seed {seed}{faults}")
}

/// The schedule a seed draws for a scenario (empty without faults).
pub fn schedule_for(
    scenario: &Scenario,
    seed: u64,
    faults: bool,
    settings: &FaultSettings,
) -> FaultSchedule {
    if !faults {
        return FaultSchedule::default();
    }
    let mut setup_names = harness::host_names(scenario, seed);
    setup_names.0.sort();
    setup_names.1.sort();
    settings.draw(seed, &setup_names.1, &setup_names.0)
}

/// One failed seed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub scenario: &'static str,
    pub seed: u64,
    pub outcome: Outcome,
    pub replay: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} seed {}: {}\n  replay: {}",
            self.scenario, self.seed, self.outcome, self.replay
        )
    }
}

/// Totals of a sweep.
#[derive(Debug, Default, Clone)]
pub struct Sweep {
    pub runs: usize,
    pub failures: Vec<Failure>,
    pub sim_ms: u64,
}

/// Runs `scenario` for every seed in `seeds`, faults drawn per seed when `faults` is set.
pub fn explore(
    scenario: &'static Scenario,
    seeds: Range<u64>,
    faults: bool,
    settings: &FaultSettings,
    mut progress: impl FnMut(&Failure),
) -> Sweep {
    let mut sweep = Sweep::default();
    for seed in seeds {
        let schedule = schedule_for(scenario, seed, faults, settings);
        let result = harness::run(scenario, &RunConfig { seed, schedule, echo_trace: None });
        sweep.runs += 1;
        sweep.sim_ms += result.sim_ms;
        if !result.outcome.is_pass() {
            let failure = Failure {
                scenario: scenario.name,
                seed,
                outcome: result.outcome,
                replay: replay_command(scenario.name, seed, faults),
            };
            progress(&failure);
            sweep.failures.push(failure);
        }
    }
    sweep
}

/// Runs every seed twice and compares the traces; answers the seeds whose traces differ.
pub fn determinism(
    scenario: &'static Scenario,
    seeds: Range<u64>,
    faults: bool,
    settings: &FaultSettings,
) -> Vec<Failure> {
    let mut differing = Vec::new();
    for seed in seeds {
        let run = |_| -> RunResult {
            let schedule = schedule_for(scenario, seed, faults, settings);
            harness::run(scenario, &RunConfig { seed, schedule, echo_trace: None })
        };
        let (a, b) = (run(0), run(1));
        if a.trace.digest() != b.trace.digest() {
            let (first, second) = (a.trace.lines(), b.trace.lines());
            let at = first
                .iter()
                .zip(second.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(first.len().min(second.len()));
            let line = |lines: &[String]| lines.get(at).cloned().unwrap_or_else(|| "(end)".into());
            differing.push(Failure {
                scenario: scenario.name,
                seed,
                outcome: Outcome::Crash(format!(
                    "two runs of the same seed gave different traces; line {}:\n    first:  {}\n    \
                     second: {}",
                    at + 1,
                    line(&first),
                    line(&second)
                )),
                replay: format!("{} --trace", replay_command(scenario.name, seed, faults)),
            });
        }
    }
    differing
}
