//! Resources an administrator reads and writes as YAML (`hwactl get`, `hwactl create -f`):
//! the dispatch on `kind`, the shared `metadata` block, and the error wording that names the
//! offending field (SPEC HL-24). The kinds themselves live in [`crate::preference`] and
//! [`crate::roles`].

use serde::{Deserialize, Serialize};

use crate::error::AuthError;

pub const KIND_CAP: &str = "cluster_auth_preference";
pub const KIND_ROLE: &str = "role";

/// Largest YAML document accepted: a role or preference is a few hundred bytes.
pub const RESOURCE_MAX_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
}

/// The `kind` of a YAML document, read before the document is parsed as that kind.
pub fn kind_of(yaml: &str) -> Result<String, AuthError> {
    if yaml.len() > RESOURCE_MAX_BYTES {
        return Err(invalid(
            "resource",
            format!("the document is larger than {RESOURCE_MAX_BYTES} bytes; apply one resource"),
        ));
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(yaml).map_err(|e| invalid("resource", format!("not YAML: {e}")))?;
    match value.get("kind") {
        Some(serde_yaml::Value::String(kind)) => Ok(kind.clone()),
        Some(_) => Err(invalid("resource", "field `kind` must be a string".into())),
        None => Err(invalid("resource", "field `kind` is missing".into())),
    }
}

/// Parses a document of a known kind; serde's message names the field and line.
pub fn parse<T: serde::de::DeserializeOwned>(kind: &str, yaml: &str) -> Result<T, AuthError> {
    serde_yaml::from_str(yaml).map_err(|e| invalid(kind, format!("{e}; fix it and apply again")))
}

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, AuthError> {
    serde_yaml::to_string(value).map_err(|e| AuthError::Internal(format!("yaml encoding: {e}")))
}

pub fn invalid(kind: &str, message: String) -> AuthError {
    AuthError::InvalidResource { kind: kind.to_string(), message }
}

/// Checks the fixed header fields every kind shares.
pub fn check_header(kind: &str, version: &str, want_version: &str) -> Result<(), AuthError> {
    if version != want_version {
        return Err(invalid(
            kind,
            format!("field `version` is `{version}`; this server reads version {want_version}"),
        ));
    }
    Ok(())
}
