//! The `hwactl` binary: real sockets and stdio, then [`hwa_admin::run()`].

use std::process::ExitCode;

use hwa_admin::{AdminEnv, run};
use hwa_core::net::TokioNetwork;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HWA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            #[allow(clippy::print_stderr)] // nothing else can report it before the runtime
            {
                eprintln!("error: cannot start the async runtime: {e}");
            }
            return ExitCode::from(1);
        }
    };
    let env = AdminEnv {
        net: TokioNetwork::shared(),
        stdin: Box::new(tokio::io::stdin()),
        stdout: Box::new(tokio::io::stdout()),
        stderr: Box::new(tokio::io::stderr()),
    };
    ExitCode::from(runtime.block_on(run(std::env::args().collect(), env)))
}
