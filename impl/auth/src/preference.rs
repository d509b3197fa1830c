//! `cluster_auth_preference`: the cluster's authentication settings, in the guide's YAML
//! format, with the validation of SPEC HL-22 to HL-24.
//!
//! ```yaml
//! kind: cluster_auth_preference
//! version: v2
//! metadata:
//!   name: cluster-auth-preference
//! spec:
//!   type: local
//!   second_factors: ["webauthn"]
//!   webauthn:
//!     rp_id: example.com
//!   headless: false          # optional; unset means on when webauthn is configured
//!   connector_name: headless # optional; makes headless the default for ls, ssh and scp
//! ```
//!
//! Stored as JSON under `config/cluster_auth_preference`. Whether headless is allowed is
//! decided here; enforcing it is the service's job.

use hwa_core::api::AuthSettings;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::resources::{KIND_CAP, Metadata, check_header, invalid};

pub const CAP_KEY: &str = "config/cluster_auth_preference";
pub const CAP_NAME: &str = "cluster-auth-preference";
pub const CAP_VERSION: &str = "v2";

/// The only authentication type: local users (no SSO connectors).
pub const TYPE_LOCAL: &str = "local";
pub const SECOND_FACTOR_WEBAUTHN: &str = "webauthn";
/// The connector name that makes headless the default login (SPEC HL-23).
pub const CONNECTOR_HEADLESS: &str = "headless";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthPreference {
    pub kind: String,
    pub version: String,
    pub metadata: Metadata,
    pub spec: PreferenceSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceSpec {
    #[serde(rename = "type")]
    pub auth_type: String,
    #[serde(default)]
    pub second_factors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<WebauthnSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headless: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSpec {
    pub rp_id: String,
}

impl AuthPreference {
    /// The preference a new cluster starts with: WebAuthn with the server's RP ID, headless
    /// unset (so allowed).
    pub fn default_for(rp_id: &str) -> AuthPreference {
        AuthPreference {
            kind: KIND_CAP.to_string(),
            version: CAP_VERSION.to_string(),
            metadata: Metadata { name: CAP_NAME.to_string() },
            spec: PreferenceSpec {
                auth_type: TYPE_LOCAL.to_string(),
                second_factors: vec![SECOND_FACTOR_WEBAUTHN.to_string()],
                webauthn: Some(WebauthnSpec { rp_id: rp_id.to_string() }),
                headless: None,
                connector_name: None,
            },
        }
    }

    /// Parses and validates a document; `server_rp_id` is the relying party this server
    /// verifies assertions for, which the document may not contradict.
    pub fn parse(yaml: &str, server_rp_id: &str) -> Result<AuthPreference, AuthError> {
        let cap: AuthPreference = crate::resources::parse(KIND_CAP, yaml)?;
        cap.validate(server_rp_id)?;
        Ok(cap)
    }

    pub fn validate(&self, server_rp_id: &str) -> Result<(), AuthError> {
        let bad = |message: String| Err(invalid(KIND_CAP, message));
        if self.kind != KIND_CAP {
            return bad(format!("field `kind` is `{}`, expected `{KIND_CAP}`", self.kind));
        }
        check_header(KIND_CAP, &self.version, CAP_VERSION)?;
        if self.metadata.name != CAP_NAME {
            return bad(format!(
                "field `metadata.name` is `{}`; the only preference is named `{CAP_NAME}`",
                self.metadata.name
            ));
        }
        let spec = &self.spec;
        if spec.auth_type != TYPE_LOCAL {
            return bad(format!(
                "field `spec.type` is `{}`; only `{TYPE_LOCAL}` is supported",
                spec.auth_type
            ));
        }
        for factor in &spec.second_factors {
            if factor != SECOND_FACTOR_WEBAUTHN {
                return bad(format!(
                    "field `spec.second_factors` names `{factor}`; only `webauthn` is supported"
                ));
            }
        }
        let lists_webauthn = spec.second_factors.iter().any(|f| f == SECOND_FACTOR_WEBAUTHN);
        match (&spec.webauthn, lists_webauthn) {
            (None, true) => {
                return bad(
                    "field `spec.webauthn` is missing although `spec.second_factors` lists \
                     webauthn; add `webauthn: {rp_id: <your domain>}`"
                        .into(),
                );
            }
            (Some(_), false) => {
                return bad(
                    "field `spec.webauthn` is set but `spec.second_factors` does not list \
                     webauthn; add it to `second_factors`"
                        .into(),
                );
            }
            (Some(webauthn), true) if webauthn.rp_id != server_rp_id => {
                return bad(format!(
                    "field `spec.webauthn.rp_id` is `{}` but this server's relying party id is \
                     `{server_rp_id}`; use `{server_rp_id}` or restart hwad with the new id",
                    webauthn.rp_id
                ));
            }
            _ => {}
        }
        if spec.headless == Some(true) && !self.webauthn_configured() {
            return bad(
                "field `spec.headless` is true but webauthn is not configured; headless login \
                 needs `second_factors: [\"webauthn\"]` and `webauthn.rp_id`"
                    .into(),
            );
        }
        if let Some(connector) = &spec.connector_name {
            if connector != CONNECTOR_HEADLESS {
                return bad(format!(
                    "field `spec.connector_name` is `{connector}`; the only connector is \
                     `{CONNECTOR_HEADLESS}`"
                ));
            }
            if !self.headless_allowed() {
                return bad(
                    "field `spec.connector_name` is `headless` but headless login is disabled \
                     (`headless: false` or no webauthn); enable headless or remove the connector"
                        .into(),
                );
            }
        }
        Ok(())
    }

    fn webauthn_configured(&self) -> bool {
        self.spec.webauthn.is_some()
            && self.spec.second_factors.iter().any(|f| f == SECOND_FACTOR_WEBAUTHN)
    }

    /// On when WebAuthn is configured, unless `headless: false` (SPEC HL-22).
    pub fn headless_allowed(&self) -> bool {
        self.webauthn_configured() && self.spec.headless != Some(false)
    }

    pub fn settings(&self) -> AuthSettings {
        AuthSettings {
            second_factors: self.spec.second_factors.clone(),
            webauthn_rp_id: self.spec.webauthn.as_ref().map(|w| w.rp_id.clone()),
            headless_allowed: self.headless_allowed(),
            connector_name: self.spec.connector_name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE_DISABLE: &str = "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  \
        name: cluster-auth-preference\nspec:\n  type: local\n  second_factors: [ \"webauthn\" ]\n  \
        webauthn:\n    rp_id: example.com\n  headless: false\n";

    #[test]
    fn the_guides_disable_example_parses_and_disables_headless() {
        let cap = AuthPreference::parse(GUIDE_DISABLE, "example.com").unwrap();
        assert!(!cap.headless_allowed());
        assert!(!cap.settings().headless_allowed);
    }

    #[test]
    fn serialization_reads_back_to_the_same_resource() {
        let cap = AuthPreference::parse(GUIDE_DISABLE, "example.com").unwrap();
        let yaml = crate::resources::to_yaml(&cap).unwrap();
        assert_eq!(AuthPreference::parse(&yaml, "example.com").unwrap(), cap);
        assert!(yaml.contains("headless: false"));
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        let yaml = GUIDE_DISABLE.replace("headless: false", "headles: false");
        let err = AuthPreference::parse(&yaml, "example.com").unwrap_err().to_string();
        assert!(err.contains("headles"), "{err}");
    }

    #[test]
    fn headless_true_without_webauthn_names_the_field() {
        let yaml = "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  name: \
            cluster-auth-preference\nspec:\n  type: local\n  headless: true\n";
        let err = AuthPreference::parse(yaml, "example.com").unwrap_err().to_string();
        assert!(err.contains("spec.headless"), "{err}");
    }

    #[test]
    fn the_headless_connector_with_headless_disabled_names_the_field() {
        let yaml = format!("{GUIDE_DISABLE}  connector_name: headless\n");
        let err = AuthPreference::parse(&yaml, "example.com").unwrap_err().to_string();
        assert!(err.contains("spec.connector_name"), "{err}");
    }
}
