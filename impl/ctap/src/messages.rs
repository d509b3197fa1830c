//! The CTAP2 commands a WebAuthn client needs, each with its request and response as both
//! sides encode and decode them: `authenticatorGetInfo`, `authenticatorMakeCredential`,
//! `authenticatorGetAssertion` and `authenticatorClientPIN`.

use ciborium::Value;

use crate::cbor::{self, Fields};
use crate::error::CtapError;
use crate::pin::{CoseKey, Protocol};

/// Command bytes: the first byte of a request.
pub const MAKE_CREDENTIAL: u8 = 0x01;
pub const GET_ASSERTION: u8 = 0x02;
pub const GET_INFO: u8 = 0x04;
pub const CLIENT_PIN: u8 = 0x06;

/// COSE algorithm ES256, the one algorithm every FIDO2 key has.
pub const ES256: i64 = -7;

/// What a key says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    pub versions: Vec<String>,
    pub aaguid: Vec<u8>,
    pub options: Vec<(String, bool)>,
    pub pin_protocols: Vec<u8>,
}

impl Info {
    /// An option's value; `None` when the key does not mention it.
    pub fn option(&self, name: &str) -> Option<bool> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The best PIN/UV auth protocol both sides speak. Keys that list none speak protocol one
    /// (CTAP 2.0 had only that one).
    pub fn pin_protocol(&self) -> Option<Protocol> {
        if self.pin_protocols.is_empty() {
            return Some(Protocol::One);
        }
        [Protocol::Two, Protocol::One]
            .into_iter()
            .find(|p| self.pin_protocols.contains(&p.number()))
    }

    pub fn decode(bytes: &[u8]) -> Result<Info, CtapError> {
        let f = Fields::decode("getInfo response", bytes)?;
        let texts = |items: Option<Vec<Value>>| -> Vec<String> {
            items.unwrap_or_default().into_iter().filter_map(|v| v.into_text().ok()).collect()
        };
        let pin_protocols = f
            .opt_array(6)?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_integer().and_then(|i| u8::try_from(i).ok()))
            .collect();
        Ok(Info {
            versions: texts(f.opt_array(1)?),
            aaguid: f.opt_bytes(3)?.unwrap_or_default(),
            options: f.opt_map(4)?.map(|o| o.flags()).unwrap_or_default(),
            pin_protocols,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let options = Value::Map(
            self.options.iter().map(|(k, v)| (cbor::text(k), Value::Bool(*v))).collect(),
        );
        cbor::encode(&cbor::int_map(vec![
            (1, Some(Value::Array(self.versions.iter().map(|v| cbor::text(v)).collect()))),
            (3, Some(cbor::bytes(&self.aaguid))),
            (
                4,
                Some(cbor::canonical_map(match options {
                    Value::Map(entries) => entries,
                    _ => Vec::new(),
                })),
            ),
            (
                6,
                Some(Value::Array(
                    self.pin_protocols.iter().map(|p| cbor::int(i64::from(*p))).collect(),
                )),
            ),
        ]))
    }
}

/// Proof that the person typed the key's PIN: the token's tag over the client data hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinUvAuth {
    pub protocol: Protocol,
    pub param: Vec<u8>,
}

/// `authenticatorMakeCredential`, as the client sends it.
#[derive(Debug, Clone)]
pub struct MakeCredential {
    pub client_data_hash: [u8; 32],
    pub rp_id: String,
    pub rp_name: String,
    pub user_id: Vec<u8>,
    pub user_name: String,
    pub user_display_name: String,
    pub algorithms: Vec<i64>,
    pub exclude: Vec<Vec<u8>>,
    pub resident_key: bool,
    /// Built-in user verification (fingerprint); PIN verification goes in `pin_uv_auth`.
    pub uv: bool,
    pub pin_uv_auth: Option<PinUvAuth>,
}

fn descriptors(ids: &[Vec<u8>]) -> Option<Value> {
    (!ids.is_empty()).then(|| {
        Value::Array(
            ids.iter()
                .map(|id| {
                    cbor::canonical_map(vec![
                        (cbor::text("id"), cbor::bytes(id)),
                        (cbor::text("type"), cbor::text("public-key")),
                    ])
                })
                .collect(),
        )
    })
}

fn options(entries: &[(&str, bool)]) -> Option<Value> {
    let set: Vec<_> = entries
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, on)| (cbor::text(name), Value::Bool(*on)))
        .collect();
    (!set.is_empty()).then(|| cbor::canonical_map(set))
}

impl MakeCredential {
    pub fn encode(&self) -> Vec<u8> {
        let rp = cbor::canonical_map(vec![
            (cbor::text("id"), cbor::text(&self.rp_id)),
            (cbor::text("name"), cbor::text(&self.rp_name)),
        ]);
        let user = cbor::canonical_map(vec![
            (cbor::text("id"), cbor::bytes(&self.user_id)),
            (cbor::text("name"), cbor::text(&self.user_name)),
            (cbor::text("displayName"), cbor::text(&self.user_display_name)),
        ]);
        let params = Value::Array(
            self.algorithms
                .iter()
                .map(|alg| {
                    cbor::canonical_map(vec![
                        (cbor::text("alg"), cbor::int(*alg)),
                        (cbor::text("type"), cbor::text("public-key")),
                    ])
                })
                .collect(),
        );
        cbor::encode(&cbor::int_map(vec![
            (1, Some(cbor::bytes(&self.client_data_hash))),
            (2, Some(rp)),
            (3, Some(user)),
            (4, Some(params)),
            (5, descriptors(&self.exclude)),
            (7, options(&[("rk", self.resident_key), ("uv", self.uv)])),
            (8, self.pin_uv_auth.as_ref().map(|p| cbor::bytes(&p.param))),
            (9, self.pin_uv_auth.as_ref().map(|p| cbor::int(i64::from(p.protocol.number())))),
        ]))
    }
}

/// A new credential: the key's answer to `authenticatorMakeCredential`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    pub fmt: String,
    pub auth_data: Vec<u8>,
    pub att_stmt: Value,
}

impl Attestation {
    pub fn decode(bytes: &[u8]) -> Result<Attestation, CtapError> {
        let f = Fields::decode("makeCredential response", bytes)?;
        let att_stmt = match f.get(3) {
            Some(v @ Value::Map(_)) => v.clone(),
            _ => return Err(CtapError::malformed("the attestation statement is not a map")),
        };
        Ok(Attestation { fmt: f.text(1)?, auth_data: f.bytes(2)?, att_stmt })
    }

    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&cbor::int_map(vec![
            (1, Some(cbor::text(&self.fmt))),
            (2, Some(cbor::bytes(&self.auth_data))),
            (3, Some(self.att_stmt.clone())),
        ]))
    }

    /// The WebAuthn attestation object: the same three members under their text names.
    pub fn attestation_object(&self) -> Vec<u8> {
        cbor::encode(&cbor::canonical_map(vec![
            (cbor::text("fmt"), cbor::text(&self.fmt)),
            (cbor::text("attStmt"), self.att_stmt.clone()),
            (cbor::text("authData"), cbor::bytes(&self.auth_data)),
        ]))
    }

    /// The credential ID inside the authenticator data (WebAuthn section 6.5.1): after the
    /// RP ID hash (32), flags (1), counter (4), AAGUID (16) and the ID's length (2).
    pub fn credential_id(&self) -> Result<Vec<u8>, CtapError> {
        const AT: u8 = 0x40;
        let d = &self.auth_data;
        if d.len() < 55 || d[32] & AT == 0 {
            return Err(CtapError::malformed("the new credential's data is missing"));
        }
        let len = usize::from(u16::from_be_bytes([d[53], d[54]]));
        d.get(55..55 + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| CtapError::malformed("the credential ID runs past the data"))
    }
}

/// `authenticatorGetAssertion`, as the client sends it.
#[derive(Debug, Clone)]
pub struct GetAssertion {
    pub rp_id: String,
    pub client_data_hash: [u8; 32],
    pub allow: Vec<Vec<u8>>,
    pub uv: bool,
    pub pin_uv_auth: Option<PinUvAuth>,
}

impl GetAssertion {
    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&cbor::int_map(vec![
            (1, Some(cbor::text(&self.rp_id))),
            (2, Some(cbor::bytes(&self.client_data_hash))),
            (3, descriptors(&self.allow)),
            (5, options(&[("uv", self.uv)])),
            (6, self.pin_uv_auth.as_ref().map(|p| cbor::bytes(&p.param))),
            (7, self.pin_uv_auth.as_ref().map(|p| cbor::int(i64::from(p.protocol.number())))),
        ]))
    }
}

/// A signature: the key's answer to `authenticatorGetAssertion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// May be left out by the key when the request allowed exactly one credential.
    pub credential_id: Option<Vec<u8>>,
    pub auth_data: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

impl Assertion {
    pub fn decode(bytes: &[u8]) -> Result<Assertion, CtapError> {
        let f = Fields::decode("getAssertion response", bytes)?;
        let credential_id = f
            .opt_map(1)?
            .map(|c| match c.get_text_key("id") {
                Some(Value::Bytes(id)) => Ok(id.clone()),
                _ => Err(CtapError::malformed("the credential has no byte string ID")),
            })
            .transpose()?;
        let user_handle = f
            .opt_map(4)?
            .map(|u| match u.get_text_key("id") {
                Some(Value::Bytes(id)) => Ok(id.clone()),
                _ => Err(CtapError::malformed("the user has no byte string ID")),
            })
            .transpose()?;
        Ok(Assertion { credential_id, auth_data: f.bytes(2)?, signature: f.bytes(3)?, user_handle })
    }

    pub fn encode(&self) -> Vec<u8> {
        let id_map = |id: &Vec<u8>, kind: Option<&str>| {
            let mut entries = vec![(cbor::text("id"), cbor::bytes(id))];
            if let Some(kind) = kind {
                entries.push((cbor::text("type"), cbor::text(kind)));
            }
            cbor::canonical_map(entries)
        };
        cbor::encode(&cbor::int_map(vec![
            (1, self.credential_id.as_ref().map(|id| id_map(id, Some("public-key")))),
            (2, Some(cbor::bytes(&self.auth_data))),
            (3, Some(cbor::bytes(&self.signature))),
            (4, self.user_handle.as_ref().map(|id| id_map(id, None))),
        ]))
    }
}

/// `authenticatorClientPIN` subcommands.
pub mod subcommand {
    pub const GET_PIN_RETRIES: u8 = 0x01;
    pub const GET_KEY_AGREEMENT: u8 = 0x02;
    pub const GET_PIN_TOKEN: u8 = 0x05;
    pub const GET_TOKEN_WITH_PERMISSIONS: u8 = 0x09;
}

/// What a PIN token may be used for (CTAP 2.1 section 6.5.5.7).
pub mod permission {
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    pub const GET_ASSERTION: u8 = 0x02;
}

/// An `authenticatorClientPIN` request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPin {
    pub protocol: Option<u8>,
    pub subcommand: u8,
    pub key_agreement: Option<CoseKey>,
    pub pin_hash_enc: Option<Vec<u8>>,
    pub permissions: Option<u8>,
    pub rp_id: Option<String>,
}

impl ClientPin {
    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&cbor::int_map(vec![
            (1, self.protocol.map(|p| cbor::int(i64::from(p)))),
            (2, Some(cbor::int(i64::from(self.subcommand)))),
            (3, self.key_agreement.as_ref().map(CoseKey::to_value)),
            (6, self.pin_hash_enc.as_deref().map(cbor::bytes)),
            (9, self.permissions.map(|p| cbor::int(i64::from(p)))),
            (10, self.rp_id.as_deref().map(cbor::text)),
        ]))
    }

    pub fn decode(bytes: &[u8]) -> Result<ClientPin, CtapError> {
        let f = Fields::decode("clientPIN request", bytes)?;
        let small = |key| -> Result<Option<u8>, CtapError> {
            f.opt_uint(key)?
                .map(|n| u8::try_from(n).map_err(|_| CtapError::malformed("a value out of range")))
                .transpose()
        };
        Ok(ClientPin {
            protocol: small(1)?,
            subcommand: small(2)?.ok_or_else(|| CtapError::malformed("no subcommand"))?,
            key_agreement: f.opt_map(3)?.map(|k| CoseKey::from_fields(&k)).transpose()?,
            pin_hash_enc: f.opt_bytes(6)?,
            permissions: small(9)?,
            rp_id: f.opt_text(10)?,
        })
    }
}

/// An `authenticatorClientPIN` response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPinResponse {
    pub key_agreement: Option<CoseKey>,
    pub pin_token_enc: Option<Vec<u8>>,
    pub retries: Option<u64>,
}

impl ClientPinResponse {
    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&cbor::int_map(vec![
            (1, self.key_agreement.as_ref().map(CoseKey::to_value)),
            (2, self.pin_token_enc.as_deref().map(cbor::bytes)),
            (3, self.retries.map(|r| cbor::int(i64::try_from(r).unwrap_or(i64::MAX)))),
        ]))
    }

    pub fn decode(bytes: &[u8]) -> Result<ClientPinResponse, CtapError> {
        if bytes.is_empty() {
            return Ok(ClientPinResponse::default());
        }
        let f = Fields::decode("clientPIN response", bytes)?;
        Ok(ClientPinResponse {
            key_agreement: f.opt_map(1)?.map(|k| CoseKey::from_fields(&k)).transpose()?,
            pin_token_enc: f.opt_bytes(2)?,
            retries: f.opt_uint(3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips_and_picks_the_best_shared_protocol() {
        let info = Info {
            versions: vec!["FIDO_2_0".into(), "FIDO_2_1".into()],
            aaguid: vec![1; 16],
            options: vec![("clientPin".into(), true), ("rk".into(), true)],
            pin_protocols: vec![2, 1],
        };
        let back = Info::decode(&info.encode()).unwrap();
        assert_eq!(back.option("clientPin"), Some(true));
        assert_eq!(back.option("uv"), None);
        assert_eq!(back.pin_protocol(), Some(Protocol::Two));
        assert_eq!(
            Info { pin_protocols: vec![1], ..back.clone() }.pin_protocol(),
            Some(Protocol::One)
        );
        assert_eq!(Info { pin_protocols: vec![9], ..back }.pin_protocol(), None);
    }

    #[test]
    fn an_assertion_round_trips_with_and_without_its_optional_members() {
        let full = Assertion {
            credential_id: Some(vec![1, 2]),
            auth_data: vec![3; 37],
            signature: vec![4; 70],
            user_handle: Some(vec![5]),
        };
        assert_eq!(Assertion::decode(&full.encode()).unwrap(), full);
        let bare = Assertion { credential_id: None, user_handle: None, ..full };
        assert_eq!(Assertion::decode(&bare.encode()).unwrap(), bare);
    }

    #[test]
    fn the_credential_id_is_read_from_bounded_authenticator_data() {
        let mut data = vec![0u8; 55];
        data[32] = 0x45;
        data[54] = 3;
        data.extend_from_slice(&[9, 8, 7]);
        let a = Attestation {
            fmt: "none".into(),
            auth_data: data.clone(),
            att_stmt: Value::Map(vec![]),
        };
        assert_eq!(a.credential_id().unwrap(), vec![9, 8, 7]);
        data[54] = 200;
        let lying = Attestation { auth_data: data, ..a.clone() };
        assert!(lying.credential_id().is_err());
        assert_eq!(Attestation::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn client_pin_requests_round_trip() {
        let request = ClientPin {
            protocol: Some(2),
            subcommand: subcommand::GET_TOKEN_WITH_PERMISSIONS,
            key_agreement: None,
            pin_hash_enc: Some(vec![1; 32]),
            permissions: Some(permission::GET_ASSERTION),
            rp_id: Some("example.com".into()),
        };
        assert_eq!(ClientPin::decode(&request.encode()).unwrap(), request);
        let response = ClientPinResponse { retries: Some(7), ..Default::default() };
        assert_eq!(ClientPinResponse::decode(&response.encode()).unwrap(), response);
    }
}
