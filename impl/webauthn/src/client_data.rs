//! Checks on the response JSON that come before `webauthn_rp` sees it: the credential type,
//! the credential ID and user handle, and the client data (UTF-8 JSON, type, challenge,
//! origin, cross-origin).
//!
//! `webauthn_rp` makes the same checks again; doing them here first gives each failure the
//! precise SPEC section 3 name (its relaxed client data parser folds several of them into one
//! JSON error) and lets the caller read the challenge before any verification.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::WebauthnError;

/// The `type` of every WebAuthn public key credential (WebAuthn L3, section 5.1).
pub const PUBLIC_KEY_TYPE: &str = "public-key";

/// Client data `type` of a registration (WebAuthn L3, section 5.8.1).
pub const TYPE_CREATE: &str = "webauthn.create";

/// Client data `type` of an assertion (WebAuthn L3, section 5.8.1).
pub const TYPE_GET: &str = "webauthn.get";

/// The parts of `clientDataJSON` a relying party checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    pub kind: String,
    pub challenge: String,
    pub origin: String,
    pub cross_origin: bool,
}

/// Decodes a base64url field (padding tolerated, as some clients add it).
pub fn b64_field(value: &Value, name: &str) -> Result<Vec<u8>, WebauthnError> {
    let text = value
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| WebauthnError::Malformed(format!("missing string field `{name}`")))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| WebauthnError::Malformed(format!("field `{name}` is not base64url")))
}

/// The `response` object of a credential.
pub fn response_object(credential: &Value) -> Result<&Value, WebauthnError> {
    credential
        .get("response")
        .filter(|r| r.is_object())
        .ok_or_else(|| WebauthnError::Malformed("missing object field `response`".into()))
}

/// Checks `type == "public-key"`.
pub fn check_credential_type(credential: &Value) -> Result<(), WebauthnError> {
    match credential.get("type").and_then(Value::as_str) {
        Some(PUBLIC_KEY_TYPE) => Ok(()),
        _ => Err(WebauthnError::ResponseType),
    }
}

/// The raw credential ID: `rawId`, which must agree with `id` when both are present.
pub fn credential_id(credential: &Value) -> Result<Vec<u8>, WebauthnError> {
    let raw = b64_field(credential, "rawId")?;
    if credential.get("id").is_some() && b64_field(credential, "id")? != raw {
        return Err(WebauthnError::Malformed("`id` and `rawId` differ".into()));
    }
    Ok(raw)
}

/// Parses the client data of a credential response.
pub fn parse(credential: &Value) -> Result<ClientData, WebauthnError> {
    let bytes = b64_field(response_object(credential)?, "clientDataJSON")?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| WebauthnError::ClientDataJson("not UTF-8".into()))?;
    let json: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| WebauthnError::ClientDataJson(format!("not JSON ({e})")))?;
    let field = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| WebauthnError::ClientDataJson(format!("missing string `{name}`")))
    };
    let cross_origin = match json.get("crossOrigin") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(WebauthnError::ClientDataJson("`crossOrigin` not a bool".into())),
    };
    Ok(ClientData {
        kind: field("type")?,
        challenge: field("challenge")?,
        origin: field("origin")?,
        cross_origin,
    })
}

/// Checks the client data against the ceremony: type, challenge, origin, cross-origin.
pub fn check(
    data: &ClientData,
    kind: &str,
    challenge: &str,
    allowed_origins: &[String],
) -> Result<(), WebauthnError> {
    if data.kind != kind {
        return Err(WebauthnError::ClientDataType);
    }
    if data.challenge.trim_end_matches('=') != challenge {
        return Err(WebauthnError::Challenge);
    }
    if !allowed_origins.contains(&data.origin) {
        return Err(WebauthnError::Origin);
    }
    if data.cross_origin {
        return Err(WebauthnError::CrossOrigin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(client_data: &str) -> Value {
        serde_json::json!({
            "type": "public-key",
            "response": { "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data) }
        })
    }

    #[test]
    fn client_data_fields_are_read() {
        let c =
            credential(r#"{"type":"webauthn.get","challenge":"abc","origin":"https://a.example"}"#);
        let data = parse(&c).unwrap();
        assert_eq!(data.kind, TYPE_GET);
        assert!(!data.cross_origin);
        let allowed = vec!["https://a.example".to_owned()];
        assert_eq!(check(&data, TYPE_GET, "abc", &allowed), Ok(()));
        assert_eq!(check(&data, TYPE_CREATE, "abc", &allowed), Err(WebauthnError::ClientDataType));
    }

    #[test]
    fn invalid_utf8_client_data_is_refused_as_client_data_json() {
        let c = serde_json::json!({
            "type": "public-key",
            "response": { "clientDataJSON": URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x7b]) }
        });
        assert_eq!(parse(&c).unwrap_err().check(), "client_data_json");
    }
}
