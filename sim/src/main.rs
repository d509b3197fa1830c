//! `hwa-sim`: runs simulated scenarios from seeds.
//!
//! ```text
//! hwa-sim list
//! hwa-sim run --scenario happy_path --seed 7 [--faults] [--schedule FILE] [--trace]
//! hwa-sim explore --scenario all --seeds 0..1000 [--no-faults]
//! hwa-sim race [--seeds 0..100]
//! hwa-sim determinism --scenario all --seeds 0..100
//! ```
//!
//! Exit codes: 0 pass, 2 usage, 10 safety, 11 liveness, 12 crash (for a sweep: the worst).

use std::ops::Range;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hwa_sim::explore::{self, Failure};
use hwa_sim::harness::{self, RunConfig};
use hwa_sim::outcome::Outcome;
use hwa_sim::scenarios;
use hwa_sim::schedule::{FaultSchedule, FaultSettings};
use hwa_sim::trace::Echo;

#[derive(Parser, Debug)]
#[command(name = "hwa-sim", about = "Deterministic simulation of headless-webauthn clusters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lists the scenarios.
    List,
    /// Runs one scenario with one seed.
    Run {
        #[arg(long)]
        scenario: String,
        #[arg(long)]
        seed: u64,
        /// Draw faults from the seed, as `explore` does.
        #[arg(long)]
        faults: bool,
        /// Replay a saved fault schedule (JSON) instead of drawing one.
        #[arg(long, conflicts_with = "faults")]
        schedule: Option<std::path::PathBuf>,
        /// Save the schedule used to this file.
        #[arg(long)]
        save_schedule: Option<std::path::PathBuf>,
        /// Print the event trace to standard error.
        #[arg(long)]
        trace: bool,
    },
    /// Runs scenarios over a range of seeds, faults drawn per seed.
    Explore {
        /// A scenario name, or `all`.
        #[arg(long, default_value = "all")]
        scenario: String,
        #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
        seeds: Range<u64>,
        #[arg(long)]
        no_faults: bool,
    },
    /// Runs the approval races: approve/approve, approve/deny, decision/expiry, decision/crash.
    Race {
        #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
        seeds: Range<u64>,
    },
    /// Runs every seed twice and checks the traces are byte-identical.
    Determinism {
        #[arg(long, default_value = "all")]
        scenario: String,
        #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
        seeds: Range<u64>,
    },
}

fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let (a, b) =
        text.split_once("..").ok_or(format!("`{text}` is not a seed range; write A..B"))?;
    let a: u64 = a.trim().parse().map_err(|_| format!("`{a}` is not a seed"))?;
    let b: u64 = b.trim().parse().map_err(|_| format!("`{b}` is not a seed"))?;
    if a >= b {
        return Err(format!("seed range {text} is empty; write A..B with A < B"));
    }
    Ok(a..b)
}

#[allow(clippy::print_stdout, clippy::print_stderr)] // the binary's output is its interface
fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = FaultSettings::default();
    match cli.command {
        Command::List => {
            for s in scenarios::ALL {
                println!("{:<24} {} [{}]", s.name, s.about, s.requirements.join(", "));
            }
            ExitCode::SUCCESS
        }
        Command::Run { scenario, seed, faults, schedule, save_schedule, trace } => {
            let Some(found) = scenarios::find(&scenario) else {
                return usage(&format!("no scenario `{scenario}`; `hwa-sim list` shows them"));
            };
            let schedule = match schedule {
                Some(path) => match std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| FaultSchedule::from_json(&t))
                {
                    Ok(s) => s,
                    Err(e) => {
                        return usage(&format!("cannot read schedule {}: {e}", path.display()));
                    }
                },
                None => explore::schedule_for(found, seed, faults, &settings),
            };
            println!("seed {seed} scenario {scenario}");
            println!(
                "fault settings: {}",
                if faults { settings.to_string() } else { "none".into() }
            );
            println!("schedule: {schedule}");
            if let Some(path) = save_schedule
                && let Err(e) = std::fs::write(&path, schedule.to_json())
            {
                return usage(&format!("cannot save schedule to {}: {e}", path.display()));
            }
            let echo = trace.then(|| Echo(std::sync::Arc::new(|line: &str| eprintln!("{line}"))));
            let result = harness::run(found, &RunConfig { seed, schedule, echo_trace: echo });
            println!(
                "{}: {} steps, {:.3} s simulated, trace digest {}",
                result.outcome.kind(),
                result.steps,
                result.sim_ms as f64 / 1000.0,
                result.trace.digest()
            );
            if !result.outcome.is_pass() {
                eprintln!("{}", result.outcome);
                eprintln!("replay: {}", explore::replay_command(&scenario, seed, faults));
            }
            ExitCode::from(result.outcome.exit_code())
        }
        Command::Explore { scenario, seeds, no_faults } => {
            let list = match pick(&scenario) {
                Ok(list) => list,
                Err(e) => return usage(&e),
            };
            println!(
                "seeds {}..{} faults {}",
                seeds.start,
                seeds.end,
                if no_faults { "none".into() } else { settings.to_string() }
            );
            let mut failures = Vec::new();
            for s in list {
                let sweep =
                    explore::explore(s, seeds.clone(), !no_faults, &settings, |f| eprintln!("{f}"));
                println!("{:<24} {} runs, {} failed", s.name, sweep.runs, sweep.failures.len());
                failures.extend(sweep.failures);
            }
            finish(&failures)
        }
        Command::Race { seeds } => {
            println!("seeds {}..{} races: {}", seeds.start, seeds.end, scenarios::RACES.join(", "));
            let mut failures = Vec::new();
            for name in scenarios::RACES {
                let Some(s) = scenarios::find(name) else { continue };
                let sweep =
                    explore::explore(s, seeds.clone(), false, &settings, |f| eprintln!("{f}"));
                println!("{:<24} {} runs, {} failed", s.name, sweep.runs, sweep.failures.len());
                failures.extend(sweep.failures);
            }
            finish(&failures)
        }
        Command::Determinism { scenario, seeds } => {
            let list = match pick(&scenario) {
                Ok(list) => list,
                Err(e) => return usage(&e),
            };
            println!(
                "seeds {}..{}: every seed twice, with faults drawn per seed",
                seeds.start, seeds.end
            );
            let mut failures = Vec::new();
            for s in list {
                let differing = explore::determinism(s, seeds.clone(), true, &settings);
                println!(
                    "{:<24} {} seeds, {} differ",
                    s.name,
                    seeds.end - seeds.start,
                    differing.len()
                );
                failures.extend(differing);
            }
            for f in &failures {
                eprintln!("{f}");
            }
            finish(&failures)
        }
    }
}

fn pick(name: &str) -> Result<Vec<&'static harness::Scenario>, String> {
    if name == "all" {
        return Ok(scenarios::ALL.iter().collect());
    }
    scenarios::find(name)
        .map(|s| vec![s])
        .ok_or(format!("no scenario `{name}`; `hwa-sim list` shows them"))
}

#[allow(clippy::print_stdout)]
fn finish(failures: &[Failure]) -> ExitCode {
    let worst = failures.iter().map(|f| f.outcome.exit_code()).max().unwrap_or(0);
    println!("{} failed", failures.len());
    for f in failures {
        println!("  {} ({})", f.replay, f.outcome.kind());
    }
    let _ = Outcome::Pass;
    ExitCode::from(worst)
}

#[allow(clippy::print_stderr)]
fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
