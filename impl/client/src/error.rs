//! [`ClientError`]: every way a client command fails, the exit code it maps to, and how an
//! error answer of the proxy reads for a person.
//!
//! The proxy sends an [`ApiError`] with a stable code and a message; the client keeps the
//! message (the server already says what to do) and adds what only the client knows, such as
//! which command to run again. Transport failures name the address that failed.

use hwa_core::api::{ApiError, ErrorCode};

/// Exit status of a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit status of a failed command.
pub const EXIT_ERROR: u8 = 1;
/// Exit status of a command line that could not be understood (the usual Unix convention).
pub const EXIT_USAGE: u8 = 2;

/// How much of a non-JSON error body is shown: enough to recognise a gateway's error page.
const BODY_EXCERPT_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The command line is wrong; exit status 2.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the proxy at {addr}: {source}; check --proxy and that the proxy runs")]
    Connect { addr: String, source: std::io::Error },
    #[error("TLS with the proxy at {addr} failed: {message}")]
    Tls { addr: String, message: String },
    #[error("the connection to the proxy at {addr} failed: {message}")]
    Transport { addr: String, message: String },
    /// The proxy answered with an error body.
    #[error("{message}")]
    Api { status: u16, code: ErrorCode, message: String },
    /// The proxy answered something that is not the documented shape.
    #[error("unexpected answer from the proxy: {0}")]
    Protocol(String),
    #[error(
        "headless login timed out: no decision within 3 minutes; run the command again and \
         approve it"
    )]
    Timeout,
    #[error("headless login was denied by the approver; nothing was done")]
    Denied,
    #[error(
        "not logged in to {proxy}; run `hwa login --proxy={proxy} --user=<user> \
         --authenticator-file=<key.json>` first (ls, ssh and scp also work with --headless)"
    )]
    NotLoggedIn { proxy: String },
    #[error("memory locking failed: {0}")]
    Mlock(String),
    #[error("the authenticator failed: {0}")]
    Authenticator(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{0} is not available yet in this build; use `hwa ls` for now")]
    NotAvailable(&'static str),
    /// A node refused or failed (`hwa ssh`, `hwa scp`).
    #[error("{0}")]
    Remote(String),
}

impl ClientError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => EXIT_USAGE,
            _ => EXIT_ERROR,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> ClientError {
        ClientError::Io { context: context.into(), source }
    }

    /// The error code of a proxy answer, if this is one.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Turns an error answer of the proxy into a [`ClientError`]. A body that is not an
/// [`ApiError`] (a gateway's page, for instance) is shown in part, with the status.
pub fn from_error_answer(status: u16, body: &[u8]) -> ClientError {
    if let Ok(api) = serde_json::from_slice::<ApiError>(body) {
        return ClientError::Api { status, code: api.error.code, message: api.error.message };
    }
    let text = String::from_utf8_lossy(body);
    let excerpt: String = text.trim().chars().take(BODY_EXCERPT_CHARS).collect();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unknown status");
    ClientError::Protocol(if excerpt.is_empty() {
        format!("status {status} {reason} without an error body")
    } else {
        format!("status {status} {reason}: {excerpt}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_error_body_keeps_its_code_and_message() {
        let body = serde_json::to_vec(&ApiError::new(ErrorCode::Forbidden, "not yours")).unwrap();
        let err = from_error_answer(403, &body);
        assert_eq!(err.api_code(), Some(ErrorCode::Forbidden));
        assert_eq!(err.to_string(), "not yours");
    }

    #[test]
    fn a_gateway_page_is_shown_in_part_with_its_status() {
        let err = from_error_answer(502, b"<html>bad gateway</html>");
        let expected = "unexpected answer from the proxy: status 502 Bad Gateway: \
                        <html>bad gateway</html>";
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn an_empty_error_body_still_names_the_status() {
        let err = from_error_answer(500, b"");
        assert!(err.to_string().contains("status 500 Internal Server Error"), "{err}");
    }

    #[test]
    fn usage_errors_exit_with_two_and_others_with_one() {
        assert_eq!(ClientError::Usage("x".into()).exit_code(), EXIT_USAGE);
        assert_eq!(ClientError::Timeout.exit_code(), EXIT_ERROR);
    }
}
