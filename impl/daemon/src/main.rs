//! `hwad`: the cluster daemon. Parses flags, sets up logging and calls `hwa_daemon`.
//!
//! ```text
//! hwad start --dev --data-dir ./hwa-data
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hwa_daemon::node::{NodeFlags, run_node};
use hwa_daemon::{Daemon, FileConfig, StartConfig, StartFlags, logging, signals};

#[derive(Debug, Parser)]
#[command(name = "hwad", version, about = "The headless-webauthn cluster daemon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the auth service and its web proxy.
    Start(StartArgs),
}

#[derive(Debug, clap::Args)]
struct StartArgs {
    /// Development cluster on this machine: plain HTTP on 127.0.0.1:3080, relying party
    /// `localhost`.
    #[arg(long)]
    dev: bool,
    /// Directory for the database and the admin identity (created with mode 0700).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on, ip:port; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Roles to run, comma-separated: `auth,proxy` (the default), or `node` alone.
    #[arg(long, value_name = "ROLES")]
    roles: Option<String>,
    /// With `--roles=node`: the proxy to join through, host:port.
    #[arg(long, value_name = "ADDR")]
    auth_server: Option<String>,
    /// With `--roles=node`: the join token of `hwactl tokens add --type=node`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// With `--roles=node`: the node's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// With `--roles=node`: labels, `name=value,...`.
    #[arg(long, value_name = "LABELS", default_value = "")]
    labels: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init();
    let result = match cli.command {
        Command::Start(args) => start(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            #[allow(clippy::print_stderr)] // the binary's error report
            {
                eprintln!("hwad: {err:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start(args: StartArgs) -> anyhow::Result<()> {
    if args.roles.as_deref().map(str::trim) == Some("node") {
        return start_node(args).await;
    }
    let file = match &args.config {
        Some(path) => Some(FileConfig::load(path)?),
        None => None,
    };
    let config = StartConfig::resolve(StartFlags {
        dev: args.dev,
        data_dir: args.data_dir,
        listen: args.listen,
        roles: args.roles,
        file,
    })?;
    let daemon = Daemon::start(&config).await.context("cannot start")?;
    #[allow(clippy::print_stdout)] // the binary's one job on stdout: tell the person what next
    {
        println!("{}", daemon.next_steps());
    }
    daemon.run(signals::shutdown()).await;
    Ok(())
}

/// `hwad start --roles=node ...`: joins and serves SSH.
async fn start_node(args: StartArgs) -> anyhow::Result<()> {
    let flags = NodeFlags {
        auth_server: args.auth_server.context("--auth-server: a node needs the proxy address")?,
        token: args.token,
        name: args.name.context("--name: a node needs a name")?,
        labels: args.labels,
        listen: args.listen.context("--listen: a node needs ip:port to serve SSH on")?,
        data_dir: args.data_dir.context("--data-dir: a node needs a data directory")?,
    };
    run_node(&flags, signals::shutdown()).await.context("the node stopped")?;
    tracing::info!("hwad node stopped");
    Ok(())
}
