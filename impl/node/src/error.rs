//! The node's error type: failures to start or keep serving, not per-connection refusals
//! (those are [`crate::admission::Refusal`] values, logged and audited, never returned).

use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot listen on {addr}: {source}; pick a free port or check permissions")]
    Listen { addr: SocketAddr, source: io::Error },

    #[error("accepting connections failed: {0}")]
    Accept(#[source] io::Error),

    #[error("node configuration is invalid: {0}")]
    Config(String),
}
