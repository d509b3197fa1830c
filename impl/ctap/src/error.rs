use crate::status::Status;

/// What can go wrong between a WebAuthn client and a security key.
#[derive(Debug, thiserror::Error)]
pub enum CtapError {
    /// The key answered with a status other than success.
    #[error("the security key said: {0}")]
    Status(Status),
    /// The key (or, on the key's side, the client) sent bytes that are not the CTAP2 message
    /// they should be.
    #[error("malformed CTAP2 message: {0}")]
    Malformed(String),
    /// The key lacks something the relying party requires.
    #[error("{0}")]
    Unsupported(String),
    /// The path to the key failed: unplugged, no permission, a broken HID exchange.
    #[error("{0}")]
    Transport(String),
}

impl CtapError {
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        CtapError::Malformed(what.into())
    }

    /// The status the key answered with, if that is what went wrong.
    pub fn status(&self) -> Option<Status> {
        match self {
            CtapError::Status(s) => Some(*s),
            _ => None,
        }
    }
}
