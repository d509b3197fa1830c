//! Every failure of an HTTP call becomes one [`ApiFailure`]: an HTTP status chosen from the
//! [`ErrorCode`] and an [`ApiError`] JSON body.
//!
//! This file owns the status table and the logging rule of the boundary: client errors are
//! answered and logged at DEBUG only; internal errors are answered with a generic message and
//! logged once at ERROR, inside the request span (the handler's future runs in it). What the
//! messages say is left to whoever raises the error, mostly the auth service.
//!
//! # Status choices
//!
//! | code | status | why |
//! |---|---|---|
//! | `bad_request` | 400 | (415 and 405 for a wrong content type or method, same code) |
//! | `unauthenticated` | 401 | with `WWW-Authenticate: Bearer` as HTTP requires |
//! | `forbidden`, `denied`, `locked`, `mfa_failed` | 403 | the caller is known but refused |
//! | `headless_disabled` | 403 | a policy, not an outage: 503 would invite retries |
//! | `not_found` | 404 | |
//! | `already_decided`, `conflict` | 409 | a compare-and-swap lost or the state is final |
//! | `expired` | 410 | the request or invite existed and is gone for good |
//! | `timeout` | 504 | the server waited for a third party (the approver) in vain; 408 would |
//! |  |  | blame the client for sending its request too slowly, which it did not |
//! | `rate_limited`, `too_many_pending` | 429 | with `Retry-After` when known |
//! | `payload_too_large` | 413 | |
//! | `internal` | 500 | generic body, details only in the log |

use std::fmt;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hwa_core::api::{ApiError, ErrorCode};

/// What an internal error tells the caller: nothing about the cause, which may involve
/// storage paths or other users.
pub const INTERNAL_MESSAGE: &str =
    "internal server error; the server logged the details, try again or tell an administrator";

/// An error answer of the HTTP surface.
#[derive(Debug)]
pub struct ApiFailure {
    code: ErrorCode,
    message: String,
    status: StatusCode,
    retry_after: Option<Duration>,
    /// For internal errors: the real cause, logged and never sent.
    detail: Option<String>,
}

impl ApiFailure {
    /// A client error with the status that `code` maps to.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            code,
            message: message.into(),
            status: status_for(code),
            retry_after: None,
            detail: None,
        }
    }

    /// An internal fault; `detail` is logged, the caller sees [`INTERNAL_MESSAGE`].
    pub fn internal(detail: impl fmt::Display) -> ApiFailure {
        ApiFailure {
            code: ErrorCode::Internal,
            message: INTERNAL_MESSAGE.to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None,
            detail: Some(detail.to_string()),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::NotFound, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::Forbidden, message)
    }

    /// Keeps the code but answers another status (415, 405).
    pub fn with_status(mut self, status: StatusCode) -> ApiFailure {
        self.status = status;
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> ApiFailure {
        self.retry_after = Some(after);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The HTTP status of each error code; see the module docs for the reasons.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden
        | ErrorCode::Denied
        | ErrorCode::Locked
        | ErrorCode::MfaFailed
        | ErrorCode::MfaRequired
        | ErrorCode::HeadlessDisabled => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyDecided | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Expired => StatusCode::GONE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::RateLimited | ErrorCode::TooManyPending => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<hwa_auth::AuthError> for ApiFailure {
    fn from(err: hwa_auth::AuthError) -> ApiFailure {
        let code = err.code();
        if code == ErrorCode::Internal {
            ApiFailure::internal(err)
        } else {
            ApiFailure::new(code, err.to_string())
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        match &self.detail {
            Some(detail) => tracing::error!(error = %detail, "request failed"),
            // The message is not logged: parse errors may quote what the client sent.
            None => {
                tracing::debug!(status = self.status.as_u16(), code = ?self.code, "request refused")
            }
        }
        let body = ApiError::new(self.code, self.message);
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"hwa\""));
        }
        if let Some(after) = self.retry_after {
            // Rounded up: a client that waits the advertised time finds a token.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_an_error_status() {
        let codes = [
            ErrorCode::BadRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::AlreadyDecided,
            ErrorCode::Conflict,
            ErrorCode::Expired,
            ErrorCode::Timeout,
            ErrorCode::Denied,
            ErrorCode::HeadlessDisabled,
            ErrorCode::Locked,
            ErrorCode::MfaFailed,
            ErrorCode::MfaRequired,
            ErrorCode::RateLimited,
            ErrorCode::TooManyPending,
            ErrorCode::PayloadTooLarge,
            ErrorCode::Internal,
        ];
        for code in codes {
            let status = status_for(code);
            assert!(status.is_client_error() || status.is_server_error(), "{code:?}");
        }
    }

    #[test]
    fn an_internal_error_hides_its_cause_from_the_caller() {
        let failure = ApiFailure::internal("disk /var/lib/hwa is full");
        assert_eq!(failure.message(), INTERNAL_MESSAGE);
        assert_eq!(failure.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_rate_limit_answer_says_when_to_retry() {
        let response = ApiFailure::new(ErrorCode::RateLimited, "slow down")
            .with_retry_after(Duration::from_millis(2500))
            .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
