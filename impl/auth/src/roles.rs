//! Roles: which SSH logins and which nodes a user may use, and whether SSH sessions need a
//! fresh MFA. A user's permissions are the union of their roles.
//!
//! ```yaml
//! kind: role
//! version: v1
//! metadata:
//!   name: access
//! spec:
//!   logins: ["{{internal.logins}}"]   # the user's own `logins` trait
//!   node_labels: {"*": ["*"]}         # label -> allowed values; `*` matches any
//!   require_session_mfa: false
//!   max_cert_ttl: 12h                 # optional
//! ```
//!
//! Stored as JSON under `roles/<name>`. The built-in role `access` exists from the first
//! start. Checking an SSH login against a node is the node's job; this module answers which
//! logins and nodes a role allows.

use std::collections::{BTreeMap, BTreeSet};

use hwa_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::kv;
use crate::resources::{KIND_ROLE, Metadata, check_header, invalid};
use crate::users::{UserRecord, validate_login};

pub const ROLE_VERSION: &str = "v1";
pub const ACCESS_ROLE: &str = "access";
/// The placeholder replaced by the user's `logins` trait, spelled as in the reference.
pub const INTERNAL_LOGINS: &str = "{{internal.logins}}";
/// Matches every label name or value in `node_labels`.
pub const WILDCARD: &str = "*";
/// Roles listed at most.
pub const ROLES_MAX: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub kind: String,
    pub version: String,
    pub metadata: Metadata,
    pub spec: RoleSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    #[serde(default)]
    pub logins: Vec<String>,
    #[serde(default)]
    pub node_labels: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub require_session_mfa: bool,
    /// Longest certificate a normal login may get, such as `30m` or `12h`. Headless
    /// certificates are always one minute (SPEC HL-17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cert_ttl: Option<String>,
}

pub fn role_key(name: &str) -> String {
    format!("roles/{name}")
}

impl Role {
    /// `access`: the user's own logins on every node.
    pub fn builtin_access() -> Role {
        Role {
            kind: KIND_ROLE.to_string(),
            version: ROLE_VERSION.to_string(),
            metadata: Metadata { name: ACCESS_ROLE.to_string() },
            spec: RoleSpec {
                logins: vec![INTERNAL_LOGINS.to_string()],
                node_labels: BTreeMap::from([(WILDCARD.to_string(), vec![WILDCARD.to_string()])]),
                require_session_mfa: false,
                max_cert_ttl: None,
            },
        }
    }

    pub fn parse(yaml: &str) -> Result<Role, AuthError> {
        let role: Role = crate::resources::parse(KIND_ROLE, yaml)?;
        role.validate()?;
        Ok(role)
    }

    pub fn validate(&self) -> Result<(), AuthError> {
        let bad = |message: String| Err(invalid(KIND_ROLE, message));
        if self.kind != KIND_ROLE {
            return bad(format!("field `kind` is `{}`, expected `{KIND_ROLE}`", self.kind));
        }
        check_header(KIND_ROLE, &self.version, ROLE_VERSION)?;
        if crate::users::validate_user_name(&self.metadata.name).is_err() {
            return bad(format!(
                "field `metadata.name` is `{}`; use lowercase letters, digits, `.`, `_`, `-`",
                crate::users::shorten(&self.metadata.name)
            ));
        }
        for login in &self.spec.logins {
            if login != INTERNAL_LOGINS && validate_login(login).is_err() {
                return bad(format!(
                    "field `spec.logins` has `{}`; use login names or `{INTERNAL_LOGINS}`",
                    crate::users::shorten(login)
                ));
            }
        }
        if let Some(ttl) = &self.spec.max_cert_ttl
            && parse_duration_secs(ttl).is_none()
        {
            return bad(format!(
                "field `spec.max_cert_ttl` is `{}`; write a duration such as `30m` or `12h`",
                crate::users::shorten(ttl)
            ));
        }
        Ok(())
    }
}

/// What a user may do: the union of their roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub logins: BTreeSet<String>,
    pub node_labels: Vec<BTreeMap<String, Vec<String>>>,
    pub require_session_mfa: bool,
}

impl Permissions {
    /// Whether any role's `node_labels` matches a node with `labels`: every label the role
    /// names must have one of the listed values; `*: [*]` matches every node.
    pub fn allows_node(&self, labels: &BTreeMap<String, String>) -> bool {
        self.node_labels.iter().any(|selector| {
            !selector.is_empty()
                && selector.iter().all(|(name, values)| {
                    if name == WILDCARD {
                        return values.iter().any(|v| v == WILDCARD);
                    }
                    labels
                        .get(name)
                        .is_some_and(|have| values.iter().any(|v| v == WILDCARD || v == have))
                })
        })
    }
}

/// The permissions of `user`, reading each of their roles. A role that no longer exists
/// grants nothing.
pub async fn permissions(store: &dyn Store, user: &UserRecord) -> Result<Permissions, AuthError> {
    let mut out = Permissions::default();
    for name in &user.roles {
        let Some(role) = kv::get::<Role>(store, &role_key(name)).await? else {
            tracing::warn!(user = %user.name, role = %name, "user holds a missing role");
            continue;
        };
        for login in &role.value.spec.logins {
            if login == INTERNAL_LOGINS {
                out.logins.extend(user.logins.iter().cloned());
            } else {
                out.logins.insert(login.clone());
            }
        }
        out.node_labels.push(role.value.spec.node_labels.clone());
        out.require_session_mfa |= role.value.spec.require_session_mfa;
    }
    Ok(out)
}

/// Seconds in a duration written as digits and one unit of `s`, `m` or `h`.
pub fn parse_duration_secs(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let number: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        _ => return None,
    };
    number.checked_mul(scale).filter(|secs| *secs > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_access_role_allows_every_node() {
        let perms = Permissions {
            node_labels: vec![Role::builtin_access().spec.node_labels],
            ..Permissions::default()
        };
        assert!(perms.allows_node(&labels(&[])));
        assert!(perms.allows_node(&labels(&[("env", "prod")])));
    }

    #[test]
    fn a_label_selector_allows_only_matching_nodes() {
        let selector = BTreeMap::from([("env".to_string(), vec!["dev".to_string()])]);
        let perms = Permissions { node_labels: vec![selector], ..Permissions::default() };
        assert!(perms.allows_node(&labels(&[("env", "dev")])));
        assert!(!perms.allows_node(&labels(&[("env", "prod")])));
        assert!(!perms.allows_node(&labels(&[])));
    }

    #[test]
    fn a_role_with_an_unknown_field_is_refused_by_name() {
        let yaml = "kind: role\nversion: v1\nmetadata:\n  name: dev\nspec:\n  loginz: [root]\n";
        let err = Role::parse(yaml).unwrap_err().to_string();
        assert!(err.contains("loginz"), "{err}");
    }

    #[test]
    fn durations_are_read_in_seconds() {
        assert_eq!(parse_duration_secs("12h"), Some(43_200));
        assert_eq!(parse_duration_secs("30m"), Some(1_800));
        assert_eq!(parse_duration_secs("0s"), None);
        assert_eq!(parse_duration_secs("12"), None);
    }
}
