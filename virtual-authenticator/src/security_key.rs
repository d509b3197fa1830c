//! The soft authenticator as a FIDO2 security key: it answers CTAP2 commands, keeps a PIN, and
//! issues PIN tokens the way a USB key does, so that the client's CTAP2 code (`hwa-ctap`) and
//! its HID transport can be tested end to end without hardware ([`crate::hid`] puts it on a
//! device node).
//!
//! The key speaks PIN/UV auth protocols two and one, allows eight wrong PINs in all and three
//! in a row before it must be unplugged, and makes a new key agreement key after every wrong
//! PIN (CTAP 2.1, section 6.5.5.5). Requests for a credential need a PIN token when a PIN is
//! set; an assertion without one is made without user verification, which the relying party
//! then refuses.

use std::time::Duration;

use hwa_core::SharedEntropy;
use hwa_ctap::messages::{
    self, Assertion, Attestation, ClientPin, ClientPinResponse, Info, permission, subcommand,
};
use hwa_ctap::pin::{self, KeyPair, Protocol};
use hwa_ctap::{CtapError, Status};
use passkey_types::ctap2::{get_assertion, make_credential};
use zeroize::Zeroizing;

use crate::authenticator::SoftAuthenticator;

/// Wrong PINs a key accepts in all before it blocks for good (CTAP 2.1's maximum).
pub const PIN_RETRIES: u8 = 8;
/// Wrong PINs in a row before the key must be unplugged (power-cycled).
pub const PIN_TRIES_PER_BOOT: u8 = 3;

/// How the key verifies its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserVerification {
    /// A PIN is set.
    Pin(String),
    /// The key could take a PIN, but none is set.
    NoPin,
    /// A built-in sensor (a fingerprint reader, say) that always recognises the user.
    BuiltIn,
}

/// A PIN token the key handed out, and what it may be used for.
struct Token {
    value: Zeroizing<[u8; 32]>,
    permissions: u8,
    rp_id: Option<String>,
}

/// A security key built on the soft authenticator.
pub struct VirtualSecurityKey {
    authenticator: SoftAuthenticator,
    entropy: SharedEntropy,
    verification: UserVerification,
    retries: u8,
    failures_this_boot: u8,
    key_agreement: KeyPair,
    token: Option<Token>,
    /// How long the simulated person takes to touch the key.
    touch_delay: Duration,
    /// Nobody touches the key: requests fail with a user action timeout after the delay.
    absent: bool,
    /// A broken key: these bytes answer every makeCredential and getAssertion.
    ceremony_answer: Option<Vec<u8>>,
}

impl std::fmt::Debug for VirtualSecurityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualSecurityKey")
            .field("authenticator", &self.authenticator)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl VirtualSecurityKey {
    pub fn new(
        authenticator: SoftAuthenticator,
        verification: UserVerification,
        entropy: SharedEntropy,
    ) -> Self {
        let faults = authenticator.faults();
        let key_agreement = KeyPair::generate(entropy.as_ref());
        VirtualSecurityKey {
            authenticator,
            entropy,
            verification,
            retries: PIN_RETRIES,
            failures_this_boot: 0,
            key_agreement,
            token: None,
            touch_delay: faults.delay.unwrap_or(Duration::ZERO),
            absent: faults.absent,
            ceremony_answer: None,
        }
    }

    /// Makes the key broken: `answer` (a status byte and whatever follows) comes back for every
    /// makeCredential and getAssertion, after the PIN exchange went as usual.
    pub fn break_ceremonies(&mut self, answer: Vec<u8>) {
        self.ceremony_answer = Some(answer);
    }

    /// Sets how many wrong PINs the key still allows (a key that was mistreated before).
    pub fn set_pin_retries(&mut self, retries: u8) {
        self.retries = retries.min(PIN_RETRIES);
    }

    /// Unplugs and plugs the key in again: a new key agreement key, no token, and the three
    /// wrong PINs allowed per power-up counted afresh.
    pub fn power_cycle(&mut self) {
        self.key_agreement = KeyPair::generate(self.entropy.as_ref());
        self.token = None;
        self.failures_this_boot = 0;
    }

    pub fn pin_retries(&self) -> u8 {
        self.retries
    }

    pub fn authenticator(&self) -> &SoftAuthenticator {
        &self.authenticator
    }

    /// Whether a request waits for a touch, and how long: the HID layer sends keep-alives
    /// meanwhile.
    pub fn needs_touch(command: u8) -> bool {
        command == messages::MAKE_CREDENTIAL || command == messages::GET_ASSERTION
    }

    /// Answers one request (command byte, then CBOR) with a status byte and CBOR.
    pub async fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        let Some((&command, body)) = request.split_first() else {
            return vec![Status::INVALID_LENGTH.0];
        };
        if let Some(broken) = &self.ceremony_answer
            && Self::needs_touch(command)
        {
            return broken.clone();
        }
        let answer = match command {
            messages::GET_INFO => Ok(self.info().encode()),
            messages::CLIENT_PIN => self.client_pin(body),
            messages::MAKE_CREDENTIAL => self.make_credential(body).await,
            messages::GET_ASSERTION => self.get_assertion(body).await,
            _ => Err(Status::INVALID_COMMAND),
        };
        match answer {
            Ok(mut cbor) => {
                cbor.insert(0, Status::OK.0);
                cbor
            }
            Err(status) => vec![status.0],
        }
    }

    fn info(&self) -> Info {
        let mut options = vec![("rk".to_owned(), true), ("up".to_owned(), true)];
        match &self.verification {
            UserVerification::BuiltIn => options.push(("uv".to_owned(), true)),
            v => options.push(("clientPin".to_owned(), matches!(v, UserVerification::Pin(_)))),
        }
        options.push(("pinUvAuthToken".to_owned(), true));
        Info {
            versions: vec!["FIDO_2_0".into(), "FIDO_2_1".into()],
            aaguid: vec![0; 16],
            options,
            pin_protocols: vec![2, 1],
        }
    }

    fn client_pin(&mut self, body: &[u8]) -> Result<Vec<u8>, Status> {
        let request = ClientPin::decode(body).map_err(|_| Status::INVALID_CBOR)?;
        let protocol = request
            .protocol
            .map(|p| Protocol::from_number(u64::from(p)).ok_or(Status::INVALID_PARAMETER))
            .transpose()?;
        let response = match request.subcommand {
            subcommand::GET_PIN_RETRIES => {
                ClientPinResponse { retries: Some(u64::from(self.retries)), ..Default::default() }
            }
            subcommand::GET_KEY_AGREEMENT => {
                protocol.ok_or(Status::MISSING_PARAMETER)?;
                ClientPinResponse {
                    key_agreement: Some(self.key_agreement.public()),
                    ..Default::default()
                }
            }
            subcommand::GET_PIN_TOKEN | subcommand::GET_TOKEN_WITH_PERMISSIONS => {
                let protocol = protocol.ok_or(Status::MISSING_PARAMETER)?;
                self.issue_token(protocol, &request)?
            }
            _ => return Err(Status::INVALID_PARAMETER),
        };
        Ok(response.encode())
    }

    /// CTAP 2.1 section 6.5.5.7: check the PIN hash, count failures, answer a sealed token.
    fn issue_token(
        &mut self,
        protocol: Protocol,
        request: &ClientPin,
    ) -> Result<ClientPinResponse, Status> {
        let (Some(platform_key), Some(pin_hash_enc)) =
            (&request.key_agreement, &request.pin_hash_enc)
        else {
            return Err(Status::MISSING_PARAMETER);
        };
        let (permissions, rp_id) = if request.subcommand == subcommand::GET_PIN_TOKEN {
            (permission::MAKE_CREDENTIAL | permission::GET_ASSERTION, None)
        } else {
            let permissions = request.permissions.filter(|p| *p != 0);
            let permissions = permissions.ok_or(Status::MISSING_PARAMETER)?;
            if request.rp_id.is_none() {
                return Err(Status::MISSING_PARAMETER);
            }
            (permissions, request.rp_id.clone())
        };
        let UserVerification::Pin(pin) = &self.verification else {
            return Err(Status::PIN_NOT_SET);
        };
        if self.retries == 0 {
            return Err(Status::PIN_BLOCKED);
        }
        if self.failures_this_boot >= PIN_TRIES_PER_BOOT {
            return Err(Status::PIN_AUTH_BLOCKED);
        }
        let shared = self
            .key_agreement
            .agree(protocol, platform_key)
            .map_err(|_| Status::INVALID_PARAMETER)?;
        self.retries -= 1;
        let sent = shared.decrypt(pin_hash_enc).map_err(|_| Status::PIN_AUTH_INVALID)?;
        let want = pin::pin_hash(pin);
        if !constant_time_eq(&sent, &want) {
            self.key_agreement = KeyPair::generate(self.entropy.as_ref());
            self.failures_this_boot += 1;
            return Err(if self.retries == 0 {
                Status::PIN_BLOCKED
            } else if self.failures_this_boot >= PIN_TRIES_PER_BOOT {
                Status::PIN_AUTH_BLOCKED
            } else {
                Status::PIN_INVALID
            });
        }
        self.retries = PIN_RETRIES;
        self.failures_this_boot = 0;
        let value = Zeroizing::new(hwa_core::entropy::array::<32>(self.entropy.as_ref()));
        let sealed =
            shared.encrypt(value.as_slice(), self.entropy.as_ref()).map_err(|_| Status::OTHER)?;
        self.token = Some(Token { value, permissions, rp_id });
        Ok(ClientPinResponse { pin_token_enc: Some(sealed), ..Default::default() })
    }

    /// Checks a request's PIN proof; `Ok(true)` when the user was verified by it.
    fn verify_pin_proof(
        &mut self,
        param: Option<&[u8]>,
        protocol: Option<u8>,
        client_data_hash: &[u8],
        needed: u8,
        rp_id: &str,
    ) -> Result<bool, Status> {
        let Some(param) = param else {
            return Ok(false);
        };
        let protocol = protocol
            .and_then(|p| Protocol::from_number(u64::from(p)))
            .ok_or(Status::MISSING_PARAMETER)?;
        let token = self.token.as_ref().ok_or(Status::PIN_AUTH_INVALID)?;
        if !pin::verify(protocol, token.value.as_slice(), client_data_hash, param) {
            return Err(Status::PIN_AUTH_INVALID);
        }
        if token.permissions & needed == 0 || token.rp_id.as_deref().is_some_and(|r| r != rp_id) {
            return Err(Status::UNAUTHORIZED_PERMISSION);
        }
        // A token bound to no RP is bound to the first it is used for (CTAP 2.1 6.5.5.7).
        if let Some(token) = self.token.as_mut() {
            token.rp_id.get_or_insert_with(|| rp_id.to_owned());
        }
        Ok(true)
    }

    async fn wait_for_touch(&self) -> Result<(), Status> {
        tokio::time::sleep(self.touch_delay).await;
        if self.absent { Err(Status::USER_ACTION_TIMEOUT) } else { Ok(()) }
    }

    async fn make_credential(&mut self, body: &[u8]) -> Result<Vec<u8>, Status> {
        let mut request: make_credential::Request =
            ciborium::de::from_reader(body).map_err(|_| Status::INVALID_CBOR)?;
        let verified = self.verify_pin_proof(
            request.pin_auth.as_ref().map(|b| b.as_slice()),
            request.pin_protocol,
            &request.client_data_hash,
            permission::MAKE_CREDENTIAL,
            &request.rp.id,
        )?;
        let built_in = self.verification == UserVerification::BuiltIn;
        if request.options.uv && !built_in {
            return Err(Status::UNSUPPORTED_OPTION);
        }
        if !verified && !built_in && matches!(self.verification, UserVerification::Pin(_)) {
            return Err(Status::PUAT_REQUIRED);
        }
        let excluded = request.exclude_list.iter().flatten().any(|d| {
            self.authenticator.credential(&d.id).is_some_and(|p| p.rp_id == request.rp.id)
        });
        self.wait_for_touch().await?;
        if excluded {
            return Err(Status::CREDENTIAL_EXCLUDED);
        }
        request.options.uv = verified || (built_in && request.options.uv);
        request.pin_auth = None;
        request.pin_protocol = None;
        let made = self.authenticator.client.authenticator_mut().make_credential(request).await;
        let made = made.map_err(|code| Status(u8::from(code)))?;
        let attestation = Attestation {
            fmt: made.fmt,
            auth_data: made.auth_data.to_vec(),
            att_stmt: made.att_stmt,
        };
        Ok(attestation.encode())
    }

    async fn get_assertion(&mut self, body: &[u8]) -> Result<Vec<u8>, Status> {
        let mut request: get_assertion::Request =
            ciborium::de::from_reader(body).map_err(|_| Status::INVALID_CBOR)?;
        let verified = self.verify_pin_proof(
            request.pin_auth.as_ref().map(|b| b.as_slice()),
            request.pin_protocol,
            &request.client_data_hash,
            permission::GET_ASSERTION,
            &request.rp_id,
        )?;
        let built_in = self.verification == UserVerification::BuiltIn;
        if request.options.uv && !built_in {
            return Err(Status::UNSUPPORTED_OPTION);
        }
        self.wait_for_touch().await?;
        request.options.uv = verified || (built_in && request.options.uv);
        request.pin_auth = None;
        request.pin_protocol = None;
        let signed = self.authenticator.client.authenticator_mut().get_assertion(request).await;
        let signed = signed.map_err(|code| Status(u8::from(code)))?;
        let assertion = Assertion {
            credential_id: signed.credential.map(|c| c.id.to_vec()),
            auth_data: signed.auth_data.to_vec(),
            signature: signed.signature.to_vec(),
            user_handle: signed.user.map(|u| u.id.to_vec()),
        };
        Ok(assertion.encode())
    }
}

/// Compares secrets without an early exit that would time the first wrong byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lets the key answer over a [`hwa_ctap::Transport`] directly, without HID: for tests of
/// the CTAP2 layer alone.
#[async_trait::async_trait]
impl hwa_ctap::Transport for VirtualSecurityKey {
    async fn call(&mut self, command: u8, body: &[u8]) -> Result<Vec<u8>, CtapError> {
        let mut request = vec![command];
        request.extend_from_slice(body);
        Ok(self.handle(&request).await)
    }
}
