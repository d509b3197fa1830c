//! Applies the fault switches to an honest response: rewrites the authenticator data and the
//! client data, then signs the assertion again with the credential's key, so that each fault
//! reaches exactly the relying-party check it is meant to trip (and not the signature check).
//!
//! Registration answers "none" attestation, which signs nothing, so its rewritten
//! authenticator data needs no new signature; `bogus_signature` and the counter faults only
//! affect assertions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::crypto;
use crate::error::VaError;
use crate::faults::{CounterFault, Faults};

/// Authenticator data layout (WebAuthn L3, section 6.1): RP ID hash, flags, counter.
const RP_ID_HASH_END: usize = 32;
const FLAGS_AT: usize = 32;
const COUNTER_AT: usize = 33;
const COUNTER_END: usize = 37;

/// Flag bits (WebAuthn L3, section 6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_ED: u8 = 0x80;

/// CBOR of the unsolicited extension output: `{"credProtect": 1}` (CTAP 2.1, section 12.1).
const UNSOLICITED_EXTENSION: &[u8] = b"\xa1\x6bcredProtect\x01";

/// What a bogus signature signs instead of the real data: anything else gives a well-formed
/// signature that does not verify.
const BOGUS_PREFIX: &[u8] = b"not what the relying party hashes";

/// Rewrites a `RegistrationResponseJSON` per `faults`.
pub(crate) fn registration(json: &mut Value, faults: &Faults) -> Result<(), VaError> {
    if let Some(origin) = &faults.wrong_origin {
        let client_data = field(json, "clientDataJSON")?;
        set_field(json, "clientDataJSON", &rewrite_origin(&client_data, origin)?)?;
    }
    let old = field(json, "authenticatorData")?;
    let new = authenticator_data(&old, faults, false)?;
    if new != old {
        let attestation = field(json, "attestationObject")?;
        let at = attestation
            .windows(old.len())
            .position(|w| w == old.as_slice())
            .ok_or_else(|| VaError::Authenticator("attestation lacks its own auth data".into()))?;
        let mut rewritten = attestation.clone();
        rewritten[at..at + old.len()].copy_from_slice(&new);
        set_field(json, "attestationObject", &rewritten)?;
        set_field(json, "authenticatorData", &new)?;
    }
    Ok(())
}

/// An ID no relying party registered: what `unregistered_credential` answers with.
const UNREGISTERED_CREDENTIAL_ID: &[u8] = b"a credential nobody registered";

/// A user handle that is not the user's: what `foreign_user_handle` puts in an assertion.
const FOREIGN_USER_HANDLE: &[u8] = b"somebody else";

/// Rewrites an `AuthenticationResponseJSON` per `faults`, signing again with scalar `d`.
pub(crate) fn assertion(json: &mut Value, faults: &Faults, d: &[u8]) -> Result<(), VaError> {
    let old_client_data = field(json, "clientDataJSON")?;
    let mut client_data = match &faults.wrong_origin {
        Some(origin) => rewrite_origin(&old_client_data, origin)?,
        None => old_client_data.clone(),
    };
    if let Some(kind) = &faults.client_data_type {
        client_data = rewrite_string(&client_data, "type", kind)?;
    }
    if faults.cross_origin {
        client_data = claim_cross_origin(&client_data)?;
    }
    if faults.client_data_not_utf8 {
        // A lone continuation byte near the end: whatever surrounds it, never UTF-8.
        let at = client_data.len().saturating_sub(2);
        client_data.insert(at, 0x80);
    }
    let old_auth_data = field(json, "authenticatorData")?;
    let auth_data = authenticator_data(&old_auth_data, faults, true)?;
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    if faults.bogus_signature {
        let mut other = BOGUS_PREFIX.to_vec();
        other.extend_from_slice(&signed);
        set_field(json, "signature", &crypto::sign_es256(d, &other)?)?;
    } else if client_data != old_client_data || auth_data != old_auth_data {
        set_field(json, "signature", &crypto::sign_es256(d, &signed)?)?;
    }
    set_field(json, "clientDataJSON", &client_data)?;
    set_field(json, "authenticatorData", &auth_data)?;
    // The credential's type, ID and the user handle are outside what is signed.
    let object = json
        .as_object_mut()
        .ok_or_else(|| VaError::Authenticator("credential is not an object".into()))?;
    if faults.wrong_credential_type {
        object.insert("type".into(), Value::String("password".into()));
    }
    if faults.unregistered_credential {
        let id = Value::String(URL_SAFE_NO_PAD.encode(UNREGISTERED_CREDENTIAL_ID));
        object.insert("id".into(), id.clone());
        object.insert("rawId".into(), id);
    }
    if faults.foreign_user_handle {
        set_field(json, "userHandle", FOREIGN_USER_HANDLE)?;
    }
    Ok(())
}

fn authenticator_data(data: &[u8], faults: &Faults, counter: bool) -> Result<Vec<u8>, VaError> {
    if data.len() < COUNTER_END {
        return Err(VaError::Authenticator("authenticator data too short".into()));
    }
    let mut out = data.to_vec();
    if let Some(rp_id) = &faults.wrong_rp_id {
        out[..RP_ID_HASH_END].copy_from_slice(&Sha256::digest(rp_id.as_bytes()));
    }
    if faults.no_user_presence {
        out[FLAGS_AT] &= !FLAG_UP;
    }
    if faults.no_user_verification {
        out[FLAGS_AT] &= !FLAG_UV;
    }
    if faults.inconsistent_backup_flags {
        out[FLAGS_AT] = (out[FLAGS_AT] & !FLAG_BE) | FLAG_BS;
    }
    if counter {
        let mut honest = [0u8; 4];
        honest.copy_from_slice(&out[COUNTER_AT..COUNTER_END]);
        let honest = u32::from_be_bytes(honest);
        let sent = match faults.counter {
            CounterFault::Honest => honest,
            CounterFault::Frozen => 0,
            // Below the value the previous assertion sent (honest - 1).
            CounterFault::RolledBack => honest.saturating_sub(2),
        };
        out[COUNTER_AT..COUNTER_END].copy_from_slice(&sent.to_be_bytes());
        // Extensions come last in assertion data; registration data would need its CBOR
        // length rewritten inside the attestation object, so only assertions get one.
        if faults.unsolicited_extension && out[FLAGS_AT] & FLAG_ED == 0 {
            out[FLAGS_AT] |= FLAG_ED;
            out.extend_from_slice(UNSOLICITED_EXTENSION);
        }
    }
    Ok(out)
}

/// Replaces the origin in client data JSON, keeping every other byte as the client wrote it.
fn rewrite_origin(client_data: &[u8], origin: &str) -> Result<Vec<u8>, VaError> {
    rewrite_string(client_data, "origin", origin)
}

/// Replaces the string member `name` of client data JSON, keeping every other byte.
fn rewrite_string(client_data: &[u8], name: &str, value: &str) -> Result<Vec<u8>, VaError> {
    let bad = || VaError::Authenticator(format!("client data has no {name} to rewrite"));
    let text = std::str::from_utf8(client_data).map_err(|_| bad())?;
    let parsed: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let old = parsed.get(name).and_then(Value::as_str).ok_or_else(bad)?;
    let encode = |s: &str| serde_json::to_string(s).map_err(|_| bad());
    let pattern = format!("\"{name}\":{}", encode(old)?);
    if !text.contains(&pattern) {
        return Err(bad());
    }
    Ok(text.replacen(&pattern, &format!("\"{name}\":{}", encode(value)?), 1).into_bytes())
}

/// Sets `crossOrigin` to true in client data JSON, adding it when the client left it out.
fn claim_cross_origin(client_data: &[u8]) -> Result<Vec<u8>, VaError> {
    let bad = || VaError::Authenticator("client data is not a JSON object".into());
    let text = std::str::from_utf8(client_data).map_err(|_| bad())?;
    if text.contains("\"crossOrigin\":false") {
        return Ok(text.replacen("\"crossOrigin\":false", "\"crossOrigin\":true", 1).into_bytes());
    }
    let end = text.rfind('}').ok_or_else(bad)?;
    Ok(format!("{},\"crossOrigin\":true{}", &text[..end], &text[end..]).into_bytes())
}

fn response_mut(json: &mut Value) -> Result<&mut serde_json::Map<String, Value>, VaError> {
    json.get_mut("response")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| VaError::Authenticator("credential has no response".into()))
}

fn field(json: &mut Value, name: &str) -> Result<Vec<u8>, VaError> {
    let text = response_mut(json)?
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| VaError::Authenticator(format!("response has no {name}")))?
        .to_owned();
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| VaError::Authenticator(format!("response {name} is not base64url")))
}

fn set_field(json: &mut Value, name: &str, bytes: &[u8]) -> Result<(), VaError> {
    response_mut(json)?.insert(name.to_owned(), Value::String(URL_SAFE_NO_PAD.encode(bytes)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_replaced_and_every_other_byte_kept() {
        let before =
            br#"{"type":"webauthn.get","challenge":"c","origin":"https://a","crossOrigin":false}"#;
        let after = rewrite_origin(before, "https://b").unwrap();
        assert_eq!(
            String::from_utf8(after).unwrap(),
            r#"{"type":"webauthn.get","challenge":"c","origin":"https://b","crossOrigin":false}"#
        );
    }

    #[test]
    fn cross_origin_is_claimed_whether_or_not_the_client_wrote_it() {
        let with = br#"{"type":"webauthn.get","crossOrigin":false}"#;
        let without = br#"{"type":"webauthn.get"}"#;
        for before in [&with[..], &without[..]] {
            let after: Value =
                serde_json::from_slice(&claim_cross_origin(before).unwrap()).unwrap();
            assert_eq!(after["crossOrigin"], true);
            assert_eq!(after["type"], "webauthn.get");
        }
    }

    #[test]
    fn counter_faults_send_zero_or_less_than_the_last_value() {
        let mut data = vec![0u8; 37];
        data[33..37].copy_from_slice(&5u32.to_be_bytes());
        let sent = |counter| {
            let faults = Faults { counter, ..Default::default() };
            let out = authenticator_data(&data, &faults, true).unwrap();
            u32::from_be_bytes(out[33..37].try_into().unwrap())
        };
        assert_eq!(sent(CounterFault::Honest), 5);
        assert_eq!(sent(CounterFault::Frozen), 0);
        assert_eq!(sent(CounterFault::RolledBack), 3);
    }
}
