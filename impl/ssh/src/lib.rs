//! The SSH client side of headless-webauthn: what `hwa ssh` and `hwa scp` use to reach a node
//! with a short-lived user certificate.
//!
//! It owns the connection (dialled through the [`hwa_core::Network`] seam, so it runs under
//! turmoil too), host verification, command execution, interactive shells and file transfer
//! over SFTP. It leaves obtaining the certificate (the headless login) to `hwa-client` and the
//! server side to `hwa-node`.
//!
//! | module | what it owns |
//! |---|---|
//! | [`mod@connect`] | dialling, host verification ([`HostTrust`]), certificate authentication |
//! | [`exec`] | running one command, with its output collected or streamed |
//! | [`shell`] | the login's shell, on a pseudo-terminal or reading piped input |
//! | [`transfer`] | SFTP uploads, downloads and node-to-node copies |
//! | [`error`] | the one error type of this crate |
//!
//! Keys and certificates are held in memory only; nothing here writes them to disk.

pub mod connect;
pub mod error;
pub mod exec;
pub mod shell;
pub mod transfer;

pub use connect::{HostTrust, Identity, SshConnection, Target, connect};
pub use error::SshError;
pub use exec::{ExecOutput, ExitStatus};
pub use shell::{PtyRequest, TermSize};
pub use transfer::{Sftp, copy_between};
