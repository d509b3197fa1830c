//! `hwa-conformance`: runs the conformance suite and writes its reports.
//!
//! ```text
//! hwa-conformance run --target sim|live|all --report-dir DIR [--case NAME]
//! hwa-conformance list
//! ```
//! Prints each result as it finishes, then the report paths and, alone on the last line,
//! `N passed, N failed, N skipped`. Exits 1 on any failure, 2 on a catalog, skip-list or
//! usage error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hwa_conformance::catalog::{Catalog, SKIPS_TOML, SkipList};
use hwa_conformance::report::Outcome;
use hwa_conformance::runner::{self, TARGETS};

#[derive(Parser, Debug)]
#[command(name = "hwa-conformance", about = "Runs the headless-webauthn conformance suite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the cases on a target and writes JUnit, Markdown and JSON reports.
    Run {
        /// sim, live or all.
        #[arg(long, default_value = "all")]
        target: String,
        #[arg(long, default_value = "reports/conformance")]
        report_dir: PathBuf,
        /// Run only this case (repeatable).
        #[arg(long)]
        case: Vec<String>,
        /// Read the skip list from this file instead of the shipped one.
        #[arg(long)]
        skips: Option<PathBuf>,
    },
    /// Lists the cases, their targets and requirements.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let catalog = Catalog::shipped().map_err(|e| e.to_string())?;
    let cases = runner::all_cases();
    runner::validate(&catalog, &cases).map_err(|e| e.to_string())?;
    match cli.command {
        Command::List => {
            for case in &cases {
                let targets: Vec<&str> =
                    TARGETS.iter().copied().filter(|t| case.applies_to(t)).collect();
                println!(
                    "{:<36} [{}] {}\n    {}",
                    case.name(),
                    targets.join(","),
                    case.requirements().join(" "),
                    case.about()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { target, report_dir, case, skips } => {
            let skip_text = match skips {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                None => SKIPS_TOML.to_owned(),
            };
            let skips =
                SkipList::load(&skip_text, &runner::names(&cases)).map_err(|e| e.to_string())?;
            let targets: Vec<&str> = match target.as_str() {
                "all" => TARGETS.to_vec(),
                t if TARGETS.contains(&t) => vec![t],
                other => return Err(format!("unknown target `{other}`; use sim, live or all")),
            };
            let selected: Vec<_> = if case.is_empty() {
                cases
            } else {
                let known = runner::names(&cases);
                if let Some(unknown) = case.iter().find(|c| !known.contains(*c)) {
                    return Err(format!("no case named `{unknown}`; see hwa-conformance list"));
                }
                cases.into_iter().filter(|c| case.contains(&c.name())).collect()
            };
            let report = runner::run(&selected, &targets, &skips, |r| {
                let (word, detail) = match &r.outcome {
                    Outcome::Pass => ("pass", String::new()),
                    Outcome::Fail { message } => {
                        ("FAIL", format!("\n    {}", message.replace('\n', "\n    ")))
                    }
                    Outcome::Skip { reason } => ("skip", format!(" ({reason})")),
                };
                println!(
                    "{word:<4} {:<5} {:<36} {:>7.1}s [{}]{detail}",
                    r.target,
                    r.case,
                    r.duration_ms as f64 / 1000.0,
                    r.requirements.join(" ")
                );
            });
            report.write_all(&catalog, &report_dir).map_err(|e| {
                format!("cannot write the reports to {}: {e}", report_dir.display())
            })?;
            for file in ["junit.xml", "report.md", "report.json"] {
                println!("report: {}", report_dir.join(file).display());
            }
            println!("{}", report.summary_line());
            Ok(if report.failed() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
