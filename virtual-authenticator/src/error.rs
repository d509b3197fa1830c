//! Errors of the software authenticator and its client.

use std::path::PathBuf;

/// Why the authenticator or the client refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaError {
    /// The credential file could not be read or written.
    #[error("credential file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The credential file may be read by other users.
    #[error(
        "credential file {path} is readable by group or others (mode {mode:o}); it holds private \
         keys: run `chmod 600 {path}`"
    )]
    InsecureFile { path: PathBuf, mode: u32 },
    /// The credential file is not what this crate writes.
    #[error("credential file {path} is not a valid credential store: {reason}")]
    CorruptFile { path: PathBuf, reason: String },
    /// The options from the relying party could not be parsed.
    #[error("invalid webauthn options: {0}")]
    Options(String),
    /// The origin may not use the relying party ID it asked for.
    #[error("origin {origin} may not use relying party id {rp_id}")]
    Origin { origin: String, rp_id: String },
    /// No stored credential matches the request.
    #[error("no credential of this authenticator is allowed for relying party {rp_id}")]
    NoCredential { rp_id: String },
    /// A credential in the exclude list already lives on this authenticator.
    #[error("this authenticator already holds a credential for relying party {rp_id}")]
    Excluded { rp_id: String },
    /// The authenticator never answered (the `absent` fault).
    #[error("the authenticator did not answer; is the security key plugged in?")]
    Absent,
    /// The authenticator refused the operation.
    #[error("the authenticator refused: {0}")]
    Authenticator(String),
}
