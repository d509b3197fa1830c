//! The SSH node service of headless-webauthn: the machine a user reaches with `hwa ssh` and
//! `hwa scp` after a headless approval.
//!
//! It owns the SSH server (russh over connections from the [`hwa_core::Network`] seam, so it
//! also runs under turmoil), the admission of user certificates, the session work (commands,
//! shells on a PTY, SFTP and classic `scp`) and the audit events it emits. It leaves issuing
//! certificates to the auth service, and forwarding audit events to `hwad`.
//!
//! | module | what it owns |
//! |---|---|
//! | [`config`] | [`NodeConfig`] and the [`AccessPolicy`] a node enforces |
//! | [`admission`] | the certificate checks (SPEC HL-17, HL-19, HL-20, HL-21) |
//! | [`source_address`] | the `source-address` critical option: CIDR lists |
//! | [`accounts`] | OS accounts: which logins this process can serve, and as whom |
//! | [`server`] | listening, the russh callbacks, constant-time rejections |
//! | [`channel`] | one SSH session channel: exec, shell on a PTY, env, subsystems |
//! | [`sftp`] | the SFTP subsystem backed by the real file system |
//! | [`audit`] | the [`AuditSink`] seam and the events sent through it |
//! | [`error`] | the node's error type |

pub mod accounts;
pub mod admission;
pub mod audit;
pub mod channel;
pub mod config;
pub mod error;
pub mod server;
pub mod sftp;
pub mod source_address;

pub use audit::{AuditEvent, AuditKind, AuditSink, SharedAuditSink, TracingAuditSink};
pub use config::{AccessPolicy, NodeConfig};
pub use error::NodeError;
pub use server::{AUTH_REJECTION_MIN, BoundNode, bind, serve};
