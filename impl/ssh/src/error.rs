//! The error type of the SSH client.
//!
//! Messages are lowercase and say what the user can do. A node never says why it refused a
//! certificate, so [`SshError::AccessDenied`] cannot say which check failed either.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot reach {addr}: {source}; check the address and that the node is running")]
    Dial { addr: String, source: io::Error },

    #[error("ssh connection to {addr} failed: {source}")]
    Protocol { addr: String, source: russh::Error },

    #[error("refusing to talk to {addr}: {reason}; the node may be misconfigured or impersonated")]
    HostNotTrusted { addr: String, reason: String },

    #[error(
        "access denied: {addr} refused login `{login}` with this certificate; check that \
         `{login}` is one of your logins on this node and that the certificate is still valid"
    )]
    AccessDenied { addr: String, login: String },

    #[error("ssh channel error: {0}")]
    Channel(#[source] russh::Error),

    #[error("the node refused the `{request}` request")]
    RequestRefused { request: String },

    #[error("the command ended without an exit status; the connection may have dropped")]
    NoExitStatus,

    #[error("command output exceeded {limit} bytes; stream it instead of collecting it")]
    OutputTooLarge { limit: usize },

    #[error("sftp error on `{path}`: {source}")]
    Sftp { path: String, source: russh_sftp::client::error::Error },

    #[error("sftp session could not start: {0}")]
    SftpStart(#[source] russh_sftp::client::error::Error),

    #[error("file transfer of `{path}` failed: {source}")]
    Transfer { path: String, source: io::Error },

    #[error("local file `{path}`: {source}")]
    Local { path: PathBuf, source: io::Error },

    #[error("`{path}` is a directory; pass recursive to copy directories")]
    IsDirectory { path: String },

    #[error("refusing the remote file name `{name}`: it is not a plain name inside the directory")]
    UnsafeRemoteName { name: String },

    #[error("writing to the local terminal failed: {0}")]
    Terminal(#[source] io::Error),
}
