//! `hwactl`, the administration command, as a library: it reads the admin identity `hwad`
//! wrote into its data directory and calls the administration API of `hwa_core::admin`.
//!
//! | module | what it owns |
//! |---|---|
//! | [`cli`] | the command line |
//! | [`identity`] | reading `<data-dir>/admin-identity.json` and the proxy it names |
//! | [`cluster`] | join tokens, CA keys, host certificates and agentless nodes |
//! | [`client`] | the typed calls of the administration API |
//! | [`output`] | tables, times and durations as people read them |
//! | [`mod@run`] | command dispatch and exit codes |
//!
//! HTTP, TLS (the proxy's self-signed certificate is pinned from the identity) and the error
//! shape are shared with the `hwa` client (`hwa_client::http`). This crate decides nothing
//! about users, roles or locks: the auth service validates every change.

pub mod cli;
pub mod client;
pub mod cluster;
pub mod identity;
pub mod output;
pub mod run;

pub use run::{AdminEnv, run};
