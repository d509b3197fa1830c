//! `hwad`, the cluster daemon, as a library: the binary only parses flags and calls in here.
//!
//! It wires the roles `auth` and `proxy` into one process with the real seams (system clock,
//! operating system randomness, tokio sockets, a SQLite store in the data directory). The role
//! `node` is refused for now with a message saying so.
//!
//! | module | what it owns |
//! |---|---|
//! | [`config`] | flags over the TOML file over defaults, errors naming the field |
//! | [`daemon`] | [`Daemon`]: data directory, store, auth service, proxy, admin identity |
//! | [`signals`] | the shutdown future: SIGINT or SIGTERM |
//! | [`logging`] | tracing to standard error, filtered by `HWA_LOG` |

pub mod config;
pub mod daemon;
pub mod logging;
pub mod node;
pub mod signals;

pub use config::{ConfigError, FileConfig, StartConfig, StartFlags};
pub use daemon::{Daemon, StartError};
