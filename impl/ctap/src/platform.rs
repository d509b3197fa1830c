//! The client's side of CTAP2 over any transport: ask the key what it can do, get a PIN token,
//! make credentials and assertions.

use async_trait::async_trait;
use hwa_core::Entropy;
use zeroize::Zeroizing;

use crate::error::CtapError;
use crate::messages::{
    self, Assertion, Attestation, ClientPin, ClientPinResponse, GetAssertion, Info, MakeCredential,
    PinUvAuth, subcommand,
};
use crate::pin::{self, KeyPair, Protocol};
use crate::status::Status;

/// A way to reach a key: USB HID for real keys, a direct call for tests.
#[async_trait]
pub trait Transport: Send {
    /// Sends one command (its byte, then its CBOR body) and answers the key's whole response:
    /// the status byte, then the CBOR body.
    async fn call(&mut self, command: u8, body: &[u8]) -> Result<Vec<u8>, CtapError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn call(&mut self, command: u8, body: &[u8]) -> Result<Vec<u8>, CtapError> {
        (**self).call(command, body).await
    }
}

/// How a key can prove that its user is who registered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Built in, a fingerprint reader say: the request just asks for it.
    BuiltIn,
    /// A PIN, typed on this machine and proven to the key with this protocol.
    Pin(Protocol),
    /// The key can take a PIN but none is set.
    PinNotSet,
    /// Neither.
    Unavailable,
}

/// A token the key issued after a correct PIN.
pub struct PinToken {
    protocol: Protocol,
    token: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinToken").field("protocol", &self.protocol).finish_non_exhaustive()
    }
}

impl PinToken {
    /// The proof a request over `client_data_hash` carries.
    pub fn authenticate(&self, client_data_hash: &[u8; 32]) -> PinUvAuth {
        PinUvAuth {
            protocol: self.protocol,
            param: pin::authenticate(self.protocol, &self.token, client_data_hash),
        }
    }
}

/// One conversation with a key.
#[derive(Debug)]
pub struct Session<T> {
    transport: T,
    info: Info,
}

impl<T: Transport> Session<T> {
    /// Opens the conversation by asking the key what it supports.
    pub async fn open(mut transport: T) -> Result<Self, CtapError> {
        let raw = transport.call(messages::GET_INFO, &[]).await?;
        let info = Info::decode(body(&raw)?)?;
        if !info.versions.iter().any(|v| v.starts_with("FIDO_2")) {
            return Err(CtapError::Unsupported(
                "the security key speaks only U2F, not FIDO2; WebAuthn login needs a FIDO2 key"
                    .into(),
            ));
        }
        Ok(Session { transport, info })
    }

    /// Ends the conversation, giving the transport back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// The way to the key, to name it in messages.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    pub fn verification(&self) -> Verification {
        if self.info.option("uv") == Some(true) {
            return Verification::BuiltIn;
        }
        match (self.info.option("clientPin"), self.info.pin_protocol()) {
            (Some(true), Some(protocol)) => Verification::Pin(protocol),
            (Some(false), Some(_)) => Verification::PinNotSet,
            _ => Verification::Unavailable,
        }
    }

    /// How many wrong PINs the key still accepts before it blocks.
    pub async fn pin_retries(&mut self, protocol: Protocol) -> Result<u64, CtapError> {
        let request = ClientPin {
            protocol: Some(protocol.number()),
            subcommand: subcommand::GET_PIN_RETRIES,
            ..ClientPin::default()
        };
        let response = self.client_pin(&request).await?;
        response.retries.ok_or_else(|| CtapError::Malformed("no PIN retry count".into()))
    }

    /// Trades the PIN for a token allowed `permissions` for `rp_id` (or, on a CTAP 2.0 key,
    /// for everything until the key is unplugged).
    pub async fn pin_token(
        &mut self,
        protocol: Protocol,
        pin: &str,
        permissions: u8,
        rp_id: &str,
        entropy: &dyn Entropy,
    ) -> Result<PinToken, CtapError> {
        pin::check_pin(pin)?;
        let request = ClientPin {
            protocol: Some(protocol.number()),
            subcommand: subcommand::GET_KEY_AGREEMENT,
            ..ClientPin::default()
        };
        let key_agreement = self
            .client_pin(&request)
            .await?
            .key_agreement
            .ok_or_else(|| CtapError::Malformed("no key agreement key".into()))?;
        let ours = KeyPair::generate(entropy);
        let shared = ours.agree(protocol, &key_agreement)?;
        let pin_hash_enc = shared.encrypt(&pin::pin_hash(pin), entropy)?;
        let with_permissions = self.info.option("pinUvAuthToken") == Some(true);
        let request = ClientPin {
            protocol: Some(protocol.number()),
            subcommand: if with_permissions {
                subcommand::GET_TOKEN_WITH_PERMISSIONS
            } else {
                subcommand::GET_PIN_TOKEN
            },
            key_agreement: Some(ours.public()),
            pin_hash_enc: Some(pin_hash_enc),
            permissions: with_permissions.then_some(permissions),
            rp_id: with_permissions.then(|| rp_id.to_owned()),
        };
        let sealed = self
            .client_pin(&request)
            .await?
            .pin_token_enc
            .ok_or_else(|| CtapError::Malformed("no PIN token".into()))?;
        let token = shared.decrypt(&sealed)?;
        if token.len() != 16 && token.len() != 32 {
            return Err(CtapError::Malformed("a PIN token of an odd length".into()));
        }
        Ok(PinToken { protocol, token })
    }

    pub async fn make_credential(
        &mut self,
        request: &MakeCredential,
    ) -> Result<Attestation, CtapError> {
        let raw = self.transport.call(messages::MAKE_CREDENTIAL, &request.encode()).await?;
        Attestation::decode(body(&raw)?)
    }

    pub async fn get_assertion(&mut self, request: &GetAssertion) -> Result<Assertion, CtapError> {
        let raw = self.transport.call(messages::GET_ASSERTION, &request.encode()).await?;
        let mut assertion = Assertion::decode(body(&raw)?)?;
        if assertion.credential_id.is_none() {
            // A key may leave the ID out when only one credential was allowed.
            match request.allow.as_slice() {
                [only] => assertion.credential_id = Some(only.clone()),
                _ => return Err(CtapError::Malformed("the assertion names no credential".into())),
            }
        } else if !request.allow.is_empty()
            && !request.allow.iter().any(|id| Some(id) == assertion.credential_id.as_ref())
        {
            return Err(CtapError::Malformed(
                "the key used a credential that was not allowed".into(),
            ));
        }
        Ok(assertion)
    }

    async fn client_pin(&mut self, request: &ClientPin) -> Result<ClientPinResponse, CtapError> {
        let raw = self.transport.call(messages::CLIENT_PIN, &request.encode()).await?;
        ClientPinResponse::decode(body(&raw)?)
    }
}

/// The CBOR body of a successful response; a failure status becomes an error.
fn body(raw: &[u8]) -> Result<&[u8], CtapError> {
    match raw.split_first() {
        None => Err(CtapError::Malformed("an empty response".into())),
        Some((&status, rest)) if status == Status::OK.0 => Ok(rest),
        Some((&status, _)) => Err(CtapError::Status(Status(status))),
    }
}
