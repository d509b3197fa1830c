//! Who calls an endpoint that accepts either a web session or a headless certificate
//! (`GET /webapi/nodes`): the `HwaCert` authorization scheme of `hwa_core::api` is verified by
//! the auth service over this request's method and path; anything else must be a session.
//!
//! The path signed is the request's path without its query string, exactly as the server
//! received it (`/webapi/nodes`).

use axum::http::header;
use axum::http::request::Parts;
use hwa_auth::Caller;
use hwa_core::api::CERT_AUTH_SCHEME;

use crate::error::ApiFailure;
use crate::extract::session_token;
use crate::state::AppState;

/// The verified caller of this request.
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Caller, ApiFailure> {
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(value) = authorization.filter(|v| is_cert_scheme(v)) {
        let method = parts.method.as_str();
        let path = parts.uri.path();
        return Ok(state.auth.verify_cert_caller(value, method, path).await?);
    }
    let (token, _) = session_token(parts)?;
    let session = state.auth.authenticate_session(&token).await?;
    Ok(Caller::Session(session))
}

/// Whether an `Authorization` value uses the [`CERT_AUTH_SCHEME`] (compared without case, as
/// HTTP schemes are).
fn is_cert_scheme(value: &str) -> bool {
    value.split_once(' ').is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(CERT_AUTH_SCHEME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_scheme_is_recognised_in_any_case() {
        assert!(is_cert_scheme("HwaCert abc.1.def"));
        assert!(is_cert_scheme("hwacert abc.1.def"));
        assert!(!is_cert_scheme("Bearer abc"));
        assert!(!is_cert_scheme("HwaCert"));
    }
}
