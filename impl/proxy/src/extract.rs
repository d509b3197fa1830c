//! Extractors that turn an untrusted HTTP request into typed values, refusing anything else
//! with an [`ApiFailure`] (never axum's plain-text rejections).
//!
//! - [`ApiJson`]: an `application/json` body of at most [`BODY_MAX_BYTES`], parsed into a wire
//!   type (the wire types deny unknown fields where the contract says so).
//! - [`YamlBody`]: a YAML document for the admin API, same limit.
//! - [`PeerAddr`]: the address of the TCP peer, inserted by the server for each connection.
//!   `X-Forwarded-For` and friends are never read: any client can write them.
//! - [`RequestIdPath`], [`NamePath`], [`QueryParams`]: path and query parameters.
//! - [`WebSession`]: a logged-in user, from `Authorization: Bearer` (the CLI) or the
//!   [`SESSION_COOKIE`] (the browser), with the CSRF rule below.
//! - [`AdminCaller`]: the holder of the admin token.
//!
//! # CSRF defence
//!
//! A request authenticated by the session cookie that may change state (any method but `GET`,
//! `HEAD` and `OPTIONS`) must carry the header [`CSRF_HEADER`]`: 1`. A cross-site page can make
//! a browser send the cookie with a form post, but it cannot add a custom header without a CORS
//! preflight, which this server never grants. The cookie is also `SameSite=Strict`. Bearer
//! tokens are never sent by a browser on its own, so they need no such header.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hwa_auth::Session;
use hwa_core::api::ErrorCode;
use hwa_core::id::RequestId;
use hwa_core::limits::BODY_MAX_BYTES;
use serde::de::DeserializeOwned;

use crate::error::ApiFailure;
use crate::state::AppState;

/// Name of the browser's session cookie.
pub const SESSION_COOKIE: &str = "hwa_session";

/// Header a cookie-authenticated, state-changing request must carry with the value `1`.
pub const CSRF_HEADER: &str = "x-hwa-csrf";

/// Header with which the browser asks for its new session as a cookie: with the value `cookie`
/// on login or signup, the answer sets [`SESSION_COOKIE`] and leaves `token` empty in the body,
/// so page scripts never hold the token.
pub const SESSION_MODE_HEADER: &str = "x-hwa-session-mode";

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiFailure> {
        require_content_type(req.headers(), &["application/json"])?;
        let bytes = read_body(req.into_body()).await?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| {
            ApiFailure::bad_request(format!(
                "the request body is not valid JSON for this endpoint: {err}; see the API \
                 reference for the expected fields"
            ))
        })
    }
}

/// A YAML request body (the admin API's resources), as UTF-8 text.
#[derive(Debug)]
pub struct YamlBody(pub String);

/// Media types accepted for YAML bodies.
const YAML_TYPES: &[&str] = &["application/yaml", "application/x-yaml", "text/yaml"];

impl<S: Send + Sync> FromRequest<S> for YamlBody {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiFailure> {
        require_content_type(req.headers(), YAML_TYPES)?;
        let bytes = read_body(req.into_body()).await?;
        String::from_utf8(bytes.to_vec())
            .map(YamlBody)
            .map_err(|_| ApiFailure::bad_request("the YAML body is not valid UTF-8"))
    }
}

/// Checks the `Content-Type` against the accepted media types (parameters such as `charset`
/// are allowed); a wrong or missing type answers 415.
fn require_content_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), ApiFailure> {
    let given = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if accepted.iter().any(|media| *media == essence) {
        return Ok(());
    }
    let shown: String = given.chars().take(60).collect();
    Err(ApiFailure::bad_request(format!(
        "unsupported content type `{shown}`; send the body as `{}`",
        accepted[0]
    ))
    .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
}

/// Reads a whole body, refusing more than [`BODY_MAX_BYTES`].
async fn read_body(body: Body) -> Result<bytes::Bytes, ApiFailure> {
    match Limited::new(body, BODY_MAX_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(ApiFailure::bad_request("could not read the request body; send it again")),
    }
}

/// The answer to a body over [`BODY_MAX_BYTES`].
pub fn too_large() -> ApiFailure {
    ApiFailure::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than the limit of {BODY_MAX_BYTES} bytes"),
    )
}

/// The TCP peer of the connection a request came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiFailure> {
        parts.extensions.get::<PeerAddr>().copied().ok_or_else(|| {
            ApiFailure::internal("request without a peer address; the server inserts PeerAddr")
        })
    }
}

/// A headless request ID from the path.
#[derive(Debug)]
pub struct RequestIdPath(pub RequestId);

impl<S: Send + Sync> FromRequestParts<S> for RequestIdPath {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiFailure> {
        let NamePath(raw) = NamePath::from_request_parts(parts, state).await?;
        raw.parse().map(RequestIdPath).map_err(|err| ApiFailure::bad_request(err.to_string()))
    }
}

/// One string parameter from the path (a user name, a lock ID, an invite token).
#[derive(Debug)]
pub struct NamePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for NamePath {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiFailure> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(NamePath(value)),
            Err(_) => Err(ApiFailure::bad_request("a path parameter is not valid UTF-8")),
        }
    }
}

/// The query string as a map; a repeated key keeps its last value.
#[derive(Debug, Default)]
pub struct QueryParams(pub BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiFailure> {
        let mut params = BTreeMap::new();
        for pair in parts.uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(key.to_owned(), value.to_owned());
        }
        Ok(QueryParams(params))
    }
}

/// How a session token reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie,
}

/// A logged-in user.
#[derive(Debug)]
pub struct WebSession {
    pub session: Session,
    pub token: String,
    pub source: TokenSource,
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let (token, source) = session_token(parts)?;
        let session = state.auth.authenticate_session(&token).await?;
        Ok(WebSession { session, token, source })
    }
}

/// Finds the session token and applies the CSRF rule of the module docs.
pub fn session_token(parts: &Parts) -> Result<(String, TokenSource), ApiFailure> {
    if let Some(token) = bearer(&parts.headers)? {
        return Ok((token, TokenSource::Bearer));
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Err(ApiFailure::unauthenticated(
            "log in first: send `Authorization: Bearer <session token>` or log in with the web \
             page at /web/login",
        ));
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let marked = parts.headers.get(CSRF_HEADER).is_some_and(|v| v.as_bytes() == b"1");
    if !safe && !marked {
        return Err(ApiFailure::forbidden(format!(
            "a request authenticated by the session cookie must carry the header `{CSRF_HEADER}: 1`"
        )));
    }
    Ok((token, TokenSource::Cookie))
}

/// The token of an `Authorization: Bearer` header, `None` without the header; another scheme
/// is refused.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiFailure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(ApiFailure::unauthenticated(
            "unsupported `Authorization` header; send `Authorization: Bearer <token>`",
        )),
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The caller of the admin API, proven by the admin token.
#[derive(Debug)]
pub struct AdminCaller;

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiFailure> {
        let Some(token) = bearer(&parts.headers)? else {
            return Err(ApiFailure::unauthenticated(
                "the admin API needs `Authorization: Bearer <admin token>`; hwactl reads it from \
                 admin-identity.json in the data directory",
            ));
        };
        state.auth.authenticate_admin(&token).await?;
        Ok(AdminCaller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder().method(method).uri("/webapi/x");
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_str(value).expect("header"));
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let p = parts(Method::GET, &[("cookie", "a=1; hwa_session=abc; b=2")]);
        assert_eq!(cookie(&p.headers, SESSION_COOKIE).as_deref(), Some("abc"));
    }

    #[test]
    fn a_cookie_post_without_the_csrf_header_is_refused() {
        let p = parts(Method::PUT, &[("cookie", "hwa_session=abc")]);
        let err = session_token(&p).expect_err("refused");
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let p = parts(Method::PUT, &[("cookie", "hwa_session=abc"), (CSRF_HEADER, "1")]);
        assert_eq!(session_token(&p).expect("accepted").1, TokenSource::Cookie);
    }

    #[test]
    fn a_bearer_token_needs_no_csrf_header_and_wins_over_the_cookie() {
        let p =
            parts(Method::PUT, &[("authorization", "Bearer tok"), ("cookie", "hwa_session=abc")]);
        assert_eq!(session_token(&p).expect("accepted"), ("tok".into(), TokenSource::Bearer));
    }

    #[test]
    fn another_authorization_scheme_is_refused() {
        let p = parts(Method::GET, &[("authorization", "Basic Zm9vOmJhcg==")]);
        assert_eq!(session_token(&p).expect_err("refused").code(), ErrorCode::Unauthenticated);
    }

    #[test]
    fn json_with_parameters_is_accepted_and_text_is_not() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(require_content_type(&headers, &["application/json"]).is_ok());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let err = require_content_type(&headers, &["application/json"]).expect_err("refused");
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
