//! Logging of `hwad`: `tracing` events to standard error (standard output carries only the
//! next-steps text), filtered by the `HWA_LOG` environment variable in `EnvFilter` syntax,
//! `info` when it is unset.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter, such as `HWA_LOG=debug,hyper=info`.
pub const LOG_ENV: &str = "HWA_LOG";

/// Filter used when [`LOG_ENV`] is unset.
const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber. A malformed filter is reported and replaced by the default,
/// so a typo never silences the daemon.
pub fn init() {
    let (filter, bad) = match std::env::var(LOG_ENV) {
        Ok(text) => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(err) => (EnvFilter::new(DEFAULT_FILTER), Some(err.to_string())),
        },
        Err(_) => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if let Some(err) = bad {
        tracing::warn!(error = %err, "{LOG_ENV} is not a valid filter; using {DEFAULT_FILTER}");
    }
}
