//! Typed calls of the administration API (the table at the top of `hwa_core::admin`), each
//! authorized with the admin token.

use bytes::Bytes;
use http::Method;
use hwa_client::http::{Call, HttpClient};
use hwa_core::admin::{
    AuditEvent, LockAdd, LockView, ResourceApplied, UserAdd, UserAdded, UserSummary,
};
use hwa_core::api::ErrorCode;

use crate::run::AdminError;

/// Content type of resource bodies, as the proxy accepts them.
const YAML_TYPE: &str = "application/yaml";

/// The administration API of one cluster.
#[derive(Debug)]
pub struct AdminClient {
    http: HttpClient,
    token: String,
}

impl AdminClient {
    pub fn new(http: HttpClient, token: String) -> AdminClient {
        AdminClient { http, token }
    }

    pub(crate) fn call(&self, method: Method, path: impl Into<String>) -> Call {
        Call::new(method, path).bearer(&self.token)
    }

    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<T, AdminError> {
        self.http.json(&call).await.map_err(api_error)
    }

    pub(crate) async fn text(&self, mut call: Call) -> Result<String, AdminError> {
        call.accept = YAML_TYPE;
        let body = self.http.expect_ok(&call).await.map_err(api_error)?;
        String::from_utf8(body.to_vec())
            .map_err(|_| AdminError::Protocol("the proxy answered YAML that is not UTF-8".into()))
    }

    pub(crate) async fn no_content(&self, call: Call) -> Result<(), AdminError> {
        self.http.expect_ok(&call).await.map(|_| ()).map_err(api_error)
    }

    pub async fn add_user(&self, body: &UserAdd) -> Result<UserAdded, AdminError> {
        self.json(self.call(Method::POST, "/v1/admin/users").json(body)?).await
    }

    pub async fn users(&self) -> Result<Vec<UserSummary>, AdminError> {
        self.json(self.call(Method::GET, "/v1/admin/users")).await
    }

    pub async fn remove_user(&self, name: &str) -> Result<(), AdminError> {
        self.no_content(self.call(Method::DELETE, format!("/v1/admin/users/{}", segment(name)?)))
            .await
    }

    /// A resource, or every resource of `kind`, as YAML.
    pub async fn resource(&self, kind: &str, name: Option<&str>) -> Result<String, AdminError> {
        let path = match name {
            Some(name) => format!("/v1/admin/resources/{}/{}", segment(kind)?, segment(name)?),
            None => format!("/v1/admin/resources/{}", segment(kind)?),
        };
        self.text(self.call(Method::GET, path)).await
    }

    /// Applies a YAML resource; `force` overwrites an existing one.
    pub async fn apply(&self, yaml: String, force: bool) -> Result<ResourceApplied, AdminError> {
        let path = if force { "/v1/admin/resources?force=true" } else { "/v1/admin/resources" };
        let mut call = self.call(Method::PUT, path);
        call.body = Some((Bytes::from(yaml), YAML_TYPE));
        self.json(call).await
    }

    pub async fn roles(&self) -> Result<String, AdminError> {
        self.text(self.call(Method::GET, "/v1/admin/roles")).await
    }

    pub async fn locks(&self) -> Result<Vec<LockView>, AdminError> {
        self.json(self.call(Method::GET, "/v1/admin/locks")).await
    }

    pub async fn add_lock(&self, body: &LockAdd) -> Result<LockView, AdminError> {
        self.json(self.call(Method::POST, "/v1/admin/locks").json(body)?).await
    }

    pub async fn remove_lock(&self, id: &str) -> Result<(), AdminError> {
        self.no_content(self.call(Method::DELETE, format!("/v1/admin/locks/{}", segment(id)?)))
            .await
    }

    pub async fn audit(&self, limit: Option<usize>) -> Result<Vec<AuditEvent>, AdminError> {
        let path = match limit {
            Some(n) => format!("/v1/admin/audit?limit={n}"),
            None => "/v1/admin/audit".to_owned(),
        };
        self.json(self.call(Method::GET, path)).await
    }
}

/// A name used as one path segment: refused when it would change the path.
fn segment(name: &str) -> Result<&str, AdminError> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && name != "."
        && name != "..";
    if ok {
        Ok(name)
    } else {
        Err(AdminError::Usage(format!(
            "`{name}` is not a valid name; use letters, digits, `-`, `_`, `.` and `@`"
        )))
    }
}

fn api_error(e: hwa_client::ClientError) -> AdminError {
    match e.api_code() {
        Some(ErrorCode::Unauthenticated) => AdminError::Api(format!(
            "{e}; the admin token was refused: hwad rotates it at every start, so run hwactl \
             with the --data-dir of the running hwad"
        )),
        _ => AdminError::Api(e.to_string()),
    }
}

impl From<hwa_client::ClientError> for AdminError {
    fn from(e: hwa_client::ClientError) -> AdminError {
        api_error(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_change_the_path_are_refused() {
        assert!(segment("alice").is_ok());
        assert!(segment("cluster_auth_preference").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
