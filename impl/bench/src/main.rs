//! `hwa-bench`: runs a benchmark of headless-webauthn and writes its report under
//! `reports/bench/`. Argument parsing, logging and wiring only; the benchmarks live in the
//! library (`hwa_bench`).
//!
//! ```sh
//! cargo run --release -p hwa-bench -- decision-latency
//! taskset -c 0 cargo run --release -p hwa-bench -- sim-throughput --seeds 1..21
//! cargo run --release -p hwa-bench -- ssh-setup
//! ```

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hwa_bench::{decision, report, ssh_setup, throughput};

#[derive(Debug, Parser)]
#[command(name = "hwa-bench", about = "Benchmarks of headless-webauthn")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time from the approver's decision to the certificate at the waiting client.
    DecisionLatency {
        /// Pending logins at the decision (the measured one included), comma separated.
        #[arg(long, value_delimiter = ',', default_values_t = decision::DEFAULT_PENDING.to_vec())]
        pending: Vec<usize>,
        /// Measured decisions per pending count.
        #[arg(long, default_value_t = decision::DEFAULT_SAMPLES)]
        samples: usize,
        /// Directory the report is written to.
        #[arg(long, default_value = "reports/bench")]
        out: PathBuf,
    },
    /// Simulated scenario runs per second, for every scenario.
    SimThroughput {
        /// Seeds to run, `A..B` with B excluded.
        #[arg(long, value_parser = throughput::parse_seeds, default_value = "1..21")]
        seeds: std::ops::Range<u64>,
        /// Directory the report is written to.
        #[arg(long, default_value = "reports/bench")]
        out: PathBuf,
    },
    /// SSH session set-up through the proxy and direct, beside a stock OpenSSH client and
    /// sshd (needs Debian's openssh-server and openssh-client).
    SshSetup {
        /// Measured sessions per variant.
        #[arg(long, default_value_t = ssh_setup::DEFAULT_SAMPLES)]
        samples: usize,
        /// Directory the report is written to.
        #[arg(long, default_value = "reports/bench")]
        out: PathBuf,
    },
    /// Internal: keeps background logins waiting for `decision-latency` (plan on stdin).
    #[command(hide = true)]
    HoldLogins {
        #[arg(long)]
        proxy: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,hwa_auth=warn,hwa_proxy=warn,hwa_store=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let command_line = command_line();
    match cli.command {
        Command::DecisionLatency { pending, samples, out } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start tokio")?;
            let params = decision::Params { pending, samples };
            let result = runtime.block_on(decision::run(&params, command_line))?;
            let markdown = report::decision_markdown(&result, &decision::findings(&result));
            report::write(&out, "decision-latency", &markdown, &result)?;
            say(&markdown)?;
        }
        Command::SimThroughput { seeds, out } => {
            let result = throughput::run_all(seeds, command_line);
            let markdown = report::throughput_markdown(&result);
            report::write(&out, "sim-throughput", &markdown, &result)?;
            say(&markdown)?;
        }
        Command::SshSetup { samples, out } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start tokio")?;
            let params = ssh_setup::Params { samples };
            let result = runtime.block_on(ssh_setup::run(&params, command_line))?;
            let markdown = ssh_setup::markdown(&result);
            report::write(&out, "ssh-setup", &markdown, &result)?;
            say(&markdown)?;
        }
        Command::HoldLogins { proxy } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start tokio")?;
            runtime.block_on(hwa_bench::waiting::hold_logins(&proxy))?;
        }
    }
    Ok(())
}

/// The command as a reader would type it from the repository root.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pinned = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_owned()))
        })
        .filter(|cpus| !cpus.contains(',') && !cpus.contains('-'));
    let prefix = pinned.map(|cpu| format!("taskset -c {cpu} ")).unwrap_or_default();
    format!("{prefix}cargo run --release -p hwa-bench -- {}", args.join(" "))
}

fn say(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).context("cannot write to standard output")?;
    Ok(())
}
