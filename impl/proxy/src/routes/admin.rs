//! Handlers of the administration API, `/v1/admin/...` (the table at the top of
//! `hwa_core::admin`), which `hwactl` calls with the admin token.
//!
//! Every handler first extracts [`AdminCaller`], so no body is parsed for a caller without the
//! token; the auth service validates every resource and names the offending field.

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use hwa_core::admin::{
    AuditEvent, LockAdd, LockTarget, LockView, ResourceApplied, UserAdd, UserAdded, UserSummary,
};

use crate::error::ApiFailure;
use crate::extract::{AdminCaller, ApiJson, NamePath, QueryParams, YamlBody};
use crate::state::AppState;

/// Audit events returned when `limit` is not given.
pub const AUDIT_LIMIT_DEFAULT: usize = 100;

/// Most audit events one call returns, so one call cannot make the server read the whole log.
pub const AUDIT_LIMIT_MAX: usize = 10_000;

/// The `/v1/admin` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(list_users).post(add_user))
        .route("/v1/admin/users/{name}", delete(delete_user))
        .route("/v1/admin/resources", put(apply_resource))
        .route("/v1/admin/resources/{kind}", get(resource_kind))
        .route("/v1/admin/resources/{kind}/{name}", get(resource_named))
        .route("/v1/admin/roles", get(roles))
        .route("/v1/admin/locks", get(list_locks).post(add_lock))
        .route("/v1/admin/locks/{id}", delete(delete_lock))
        .route("/v1/admin/audit", get(audit))
}

async fn add_user(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<UserAdd>,
) -> Result<Json<UserAdded>, ApiFailure> {
    Ok(Json(state.auth.add_user(body).await?))
}

async fn list_users(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<UserSummary>>, ApiFailure> {
    Ok(Json(state.auth.list_users().await?))
}

async fn delete_user(
    State(state): State<AppState>,
    _admin: AdminCaller,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiFailure> {
    state.auth.delete_user(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resource_kind(
    State(state): State<AppState>,
    _admin: AdminCaller,
    NamePath(kind): NamePath,
) -> Result<Response, ApiFailure> {
    Ok(yaml(state.auth.resource_yaml(&kind, None).await?))
}

async fn resource_named(
    State(state): State<AppState>,
    _admin: AdminCaller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiFailure> {
    let Ok(Path((kind, name))) = path else {
        return Err(ApiFailure::bad_request("a path parameter is not valid UTF-8"));
    };
    Ok(yaml(state.auth.resource_yaml(&kind, Some(&name)).await?))
}

async fn apply_resource(
    State(state): State<AppState>,
    _admin: AdminCaller,
    QueryParams(query): QueryParams,
    YamlBody(body): YamlBody,
) -> Result<Json<ResourceApplied>, ApiFailure> {
    let force = match query.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") | Some("") => true,
        Some(other) => {
            let shown: String = other.chars().take(20).collect();
            return Err(ApiFailure::bad_request(format!(
                "query parameter force=`{shown}` is not a boolean; use force=true or force=false"
            )));
        }
    };
    Ok(Json(state.auth.apply_resource(&body, force).await?))
}

async fn roles(State(state): State<AppState>, _admin: AdminCaller) -> Result<Response, ApiFailure> {
    Ok(yaml(state.auth.roles_yaml().await?))
}

async fn list_locks(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<LockView>>, ApiFailure> {
    Ok(Json(state.auth.list_locks().await?))
}

async fn add_lock(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<LockAddWire>,
) -> Result<Json<LockView>, ApiFailure> {
    Ok(Json(state.auth.add_lock(body.into_lock_add()?).await?))
}

/// The body of `POST /v1/admin/locks`, parsed field by field.
///
/// [`LockAdd`] combines `#[serde(flatten)]` with `deny_unknown_fields`, which serde cannot
/// deserialize (every field, even `target`, is then reported unknown). Serializing it works,
/// so `hwactl` sends `LockAdd` and the server reads the same JSON with this flat mirror, still
/// refusing unknown fields.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LockAddWire {
    target: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    credential_id: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    ttl_secs: Option<u64>,
}

impl LockAddWire {
    fn into_lock_add(self) -> Result<LockAdd, ApiFailure> {
        let target = match (self.target.as_str(), self.user, self.credential_id) {
            ("user", Some(user), None) => LockTarget::User { user },
            ("credential", None, Some(credential_id)) => LockTarget::Credential { credential_id },
            ("user", _, _) => {
                return Err(ApiFailure::bad_request(
                    "a lock with target `user` needs the field `user` and no `credential_id`",
                ));
            }
            ("credential", _, _) => {
                return Err(ApiFailure::bad_request(
                    "a lock with target `credential` needs the field `credential_id` and no `user`",
                ));
            }
            (other, _, _) => {
                let shown: String = other.chars().take(40).collect();
                return Err(ApiFailure::bad_request(format!(
                    "unknown lock target `{shown}`; use `user` or `credential`"
                )));
            }
        };
        Ok(LockAdd { target, message: self.message, ttl_secs: self.ttl_secs })
    }
}

async fn delete_lock(
    State(state): State<AppState>,
    _admin: AdminCaller,
    NamePath(id): NamePath,
) -> Result<StatusCode, ApiFailure> {
    state.auth.delete_lock(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(
    State(state): State<AppState>,
    _admin: AdminCaller,
    QueryParams(query): QueryParams,
) -> Result<Json<Vec<AuditEvent>>, ApiFailure> {
    let limit = match query.get("limit") {
        None => AUDIT_LIMIT_DEFAULT,
        Some(raw) => parse_limit(raw)?,
    };
    Ok(Json(state.auth.audit(limit).await?))
}

/// Parses `limit=N`, 1 to [`AUDIT_LIMIT_MAX`].
fn parse_limit(raw: &str) -> Result<usize, ApiFailure> {
    match raw.parse::<usize>() {
        Ok(n) if (1..=AUDIT_LIMIT_MAX).contains(&n) => Ok(n),
        _ => {
            let shown: String = raw.chars().take(20).collect();
            Err(ApiFailure::bad_request(format!(
                "query parameter limit=`{shown}` is not a number from 1 to {AUDIT_LIMIT_MAX}"
            )))
        }
    }
}

fn yaml(text: String) -> Response {
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serialized_lock_add_parses_back_through_the_flat_mirror() {
        let sent = LockAdd {
            target: LockTarget::Credential { credential_id: "abc".into() },
            message: "lost key".into(),
            ttl_secs: Some(60),
        };
        let json = serde_json::to_string(&sent).expect("serializes");
        let wire: LockAddWire = serde_json::from_str(&json).expect("parses");
        assert_eq!(wire.into_lock_add().expect("valid"), sent);
        let half: LockAddWire = serde_json::from_str(r#"{"target":"user"}"#).expect("parses");
        assert!(half.into_lock_add().is_err());
    }

    #[test]
    fn an_audit_limit_outside_the_range_is_refused() {
        assert_eq!(parse_limit("5").expect("valid"), 5);
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("-1").is_err());
        assert!(parse_limit("100001").is_err());
        assert!(parse_limit("ten").is_err());
    }
}
