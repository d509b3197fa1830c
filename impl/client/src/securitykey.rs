//! USB security keys as WebAuthn devices: this module plays the browser's part between the
//! relying party's JSON and a FIDO2 key reached through Linux `hidraw`.
//!
//! A ceremony opens the key through its [`KeyPort`]: on a real machine [`UsbPort`], the one
//! plugged in or the node given with `--authenticator=usb:/dev/hidrawN`, over a CTAP-HID channel
//! allocated through passkey-transports; under simulation a port that hands over a virtual key's
//! CTAP2 transport directly. It asks the key what it supports, checks the page's origin against
//! the RP ID itself, writes the client data, verifies the user the way the key can (its PIN,
//! typed here and traded for a PIN token with `hwa-ctap`, or its built-in sensor), and sends
//! `authenticatorMakeCredential` or `authenticatorGetAssertion`. The answer is encoded as
//! `credential.toJSON()` gives a page, with `cross-platform` attachment and the `usb` transport.
//!
//! Wrong PINs are asked again while the key allows it, with the tries left; a key that can
//! verify nobody, a key without a PIN, and a blocked PIN end the ceremony with what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwa_core::SharedEntropy;
use hwa_ctap::messages::{self, GetAssertion, MakeCredential, PinUvAuth, permission};
use hwa_ctap::pin::Protocol;
use hwa_ctap::{CtapError, Session, Status, Transport, Verification};
use passkey_transports::hid::{Command, Message};
use passkey_transports::hidraw::{HidDevice, enumerate_fido_devices};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::env::{Terminal, WebauthnDevice};

/// How many PINs a person may type in one ceremony before the client stops asking (a key
/// itself blocks after three wrong ones until it is plugged in again).
const PIN_PROMPTS_MAX: u32 = 3;

/// Where a ceremony finds its key: a USB port for the real binary, the simulator's keyring
/// under simulation.
#[async_trait]
pub trait KeyPort: Send + Sync + std::fmt::Debug {
    /// Reaches the key; answers the transport and how to name the key to a person (its node).
    async fn open(&self) -> Result<(Box<dyn Transport>, String), String>;
}

/// A key on USB: the one at `path`, or the one plugged in when `None`.
#[derive(Debug, Clone)]
pub struct UsbPort {
    pub path: Option<PathBuf>,
}

#[async_trait]
impl KeyPort for UsbPort {
    async fn open(&self) -> Result<(Box<dyn Transport>, String), String> {
        let path = match &self.path {
            Some(p) => p.clone(),
            None => only_key()?,
        };
        let transport = HidTransport::open(&path).await?;
        Ok((Box::new(transport), path.display().to_string()))
    }
}

/// A FIDO2 security key, opened afresh for each ceremony.
#[derive(Debug)]
pub struct SecurityKeyDevice {
    port: Arc<dyn KeyPort>,
    entropy: SharedEntropy,
}

/// A key in conversation, and how messages name it.
struct OpenKey {
    session: Session<Box<dyn Transport>>,
    at: String,
}

impl SecurityKeyDevice {
    /// The key `port` reaches. Key agreement keys and IVs of the PIN protocol come from
    /// `entropy`.
    pub fn new(port: Arc<dyn KeyPort>, entropy: SharedEntropy) -> Self {
        SecurityKeyDevice { port, entropy }
    }

    async fn open(&self) -> Result<OpenKey, String> {
        let (transport, at) = self.port.open().await?;
        let session = Session::open(transport).await.map_err(|e| in_words(&e, &at))?;
        Ok(OpenKey { session, at })
    }

    /// Proves the user to the key, per `user_verification` of the options: a PIN token, the
    /// built-in sensor (`uv`), or nothing when the relying party discourages it.
    async fn verify_user(
        &self,
        key: &mut OpenKey,
        wanted: &str,
        permissions: u8,
        rp_id: &str,
        client_data_hash: &[u8; 32],
        person: &mut dyn Terminal,
    ) -> Result<(bool, Option<PinUvAuth>), String> {
        if wanted == "discouraged" {
            return Ok((false, None));
        }
        let at = &key.at;
        match key.session.verification() {
            Verification::BuiltIn => Ok((true, None)),
            Verification::Pin(protocol) => {
                let token = self.pin_token(key, protocol, permissions, rp_id, person).await?;
                Ok((false, Some(token.authenticate(client_data_hash))))
            }
            Verification::PinNotSet if wanted == "required" => Err(format!(
                "the security key at {at} has no PIN, and this cluster requires user \
                 verification; set a PIN on the key with its maker's tool, then try again"
            )),
            Verification::Unavailable if wanted == "required" => Err(format!(
                "the security key at {at} can verify neither a PIN nor a fingerprint, and this \
                 cluster requires user verification; use a FIDO2 key with a PIN"
            )),
            Verification::PinNotSet | Verification::Unavailable => Ok((false, None)),
        }
    }

    async fn pin_token(
        &self,
        key: &mut OpenKey,
        protocol: Protocol,
        permissions: u8,
        rp_id: &str,
        person: &mut dyn Terminal,
    ) -> Result<hwa_ctap::PinToken, String> {
        let OpenKey { session: key, at } = key;
        let mut prompt = format!("PIN for the security key at {at}: ");
        for _ in 0..PIN_PROMPTS_MAX {
            let pin = person
                .read_secret(&prompt)
                .await
                .map_err(|e| format!("cannot read the security key's PIN: {e}"))?;
            if pin.is_empty() {
                return Err("no PIN given; the security key needs its PIN".into());
            }
            match key.pin_token(protocol, &pin, permissions, rp_id, self.entropy.as_ref()).await {
                Ok(token) => return Ok(token),
                Err(CtapError::Status(Status::PIN_INVALID)) => {
                    let left = key.pin_retries(protocol).await.map_err(|e| in_words(&e, at))?;
                    prompt = format!(
                        "wrong PIN; {left} tries left before the key blocks it. PIN for the \
                         security key at {at}: "
                    );
                }
                Err(e) => return Err(in_words(&e, at)),
            }
        }
        Err(format!("the PIN was wrong {PIN_PROMPTS_MAX} times; nothing was signed"))
    }
}

#[async_trait]
impl WebauthnDevice for SecurityKeyDevice {
    async fn register(
        &mut self,
        creation_options: &Value,
        origin: &str,
        person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        let o = Options::of(creation_options, "creation");
        let rp = o.object("rp")?;
        let rp_id = checked_rp_id(rp.get("id"), origin)?;
        let user = o.object("user")?;
        let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
        let algorithms: Vec<i64> = o
            .array("pubKeyCredParams")?
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("public-key"))
            .filter_map(|p| p.get("alg").and_then(Value::as_i64))
            .collect();
        if !algorithms.contains(&messages::ES256) {
            return Err("the relying party does not accept ES256, the algorithm of FIDO2 \
                        security keys"
                .into());
        }
        let selection = o.0.get("authenticatorSelection").cloned().unwrap_or(Value::Null);
        let wanted = text(&selection, "userVerification").unwrap_or_else(|| "preferred".into());
        let resident = matches!(text(&selection, "residentKey").as_deref(), Some("required"))
            || selection.get("requireResidentKey") == Some(&Value::Bool(true));
        let (client_data, hash) = client_data("webauthn.create", &o.challenge()?, origin);

        let mut key = self.open().await?;
        let (uv, pin_uv_auth) = self
            .verify_user(&mut key, &wanted, permission::MAKE_CREDENTIAL, &rp_id, &hash, person)
            .await?;
        let OpenKey { session: mut key, at } = key;
        let request = MakeCredential {
            client_data_hash: hash,
            rp_id: rp_id.clone(),
            rp_name: text(&rp, "name").unwrap_or_else(|| rp_id.clone()),
            user_id: decode(&user, "id")?,
            user_name: text(&user, "name").unwrap_or_default(),
            user_display_name: text(&user, "displayName").unwrap_or_default(),
            algorithms: vec![messages::ES256],
            exclude: o.credential_ids("excludeCredentials")?,
            resident_key: resident,
            uv,
            pin_uv_auth,
        };
        let made = key.make_credential(&request).await.map_err(|e| in_words(&e, &at))?;
        let id = made.credential_id().map_err(|e| in_words(&e, &at))?;
        Ok(json!({
            "id": URL_SAFE_NO_PAD.encode(&id),
            "rawId": URL_SAFE_NO_PAD.encode(&id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
                "attestationObject": URL_SAFE_NO_PAD.encode(made.attestation_object()),
                "transports": ["usb"],
            },
        }))
    }

    async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
        person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        let o = Options::of(request_options, "request");
        let rp_id = checked_rp_id(o.0.get("rpId"), origin)?;
        let wanted = o.0.get("userVerification").and_then(Value::as_str).unwrap_or("preferred");
        let (client_data, hash) = client_data("webauthn.get", &o.challenge()?, origin);
        let allow = o.credential_ids("allowCredentials")?;

        let mut key = self.open().await?;
        let (uv, pin_uv_auth) = self
            .verify_user(&mut key, wanted, permission::GET_ASSERTION, &rp_id, &hash, person)
            .await?;
        let OpenKey { session: mut key, at } = key;
        let request = GetAssertion { rp_id, client_data_hash: hash, allow, uv, pin_uv_auth };
        let signed = key.get_assertion(&request).await.map_err(|e| in_words(&e, &at))?;
        let id = used_credential(signed.credential_id, &request.allow).ok_or_else(|| {
            format!(
                "the security key at {at} signed without naming the credential it used; \
                 nothing was sent"
            )
        })?;
        let mut response = json!({
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
            "authenticatorData": URL_SAFE_NO_PAD.encode(&signed.auth_data),
            "signature": URL_SAFE_NO_PAD.encode(&signed.signature),
        });
        if let Some(handle) = signed.user_handle {
            response["userHandle"] = Value::String(URL_SAFE_NO_PAD.encode(handle));
        }
        Ok(json!({
            "id": URL_SAFE_NO_PAD.encode(&id),
            "rawId": URL_SAFE_NO_PAD.encode(&id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": response,
        }))
    }
}

/// The credential an assertion was made with: the one the key names, else the only one the
/// relying party allowed (a key may leave it out then, CTAP2 section 6.2.2).
fn used_credential(named: Option<Vec<u8>>, allowed: &[Vec<u8>]) -> Option<Vec<u8>> {
    match (named, allowed) {
        (Some(id), _) => Some(id),
        (None, [only]) => Some(only.clone()),
        (None, _) => None,
    }
}

/// The one FIDO key plugged in; none or several is a question for the person.
fn only_key() -> Result<PathBuf, String> {
    let found = enumerate_fido_devices()
        .map_err(|e| format!("cannot list USB security keys through udev: {e}"))?;
    match found.as_slice() {
        [one] => Ok(one.path.clone()),
        [] => Err("no FIDO security key found that this user may open; plug one in (a key's \
                   hidraw node must be readable and writable by you, which the udev rules of \
                   most distributions grant to the logged-in user), name one with \
                   --authenticator=usb:/dev/hidrawN, or use a software authenticator with \
                   --authenticator-file=KEY.json"
            .into()),
        several => {
            let paths: Vec<String> = several
                .iter()
                .map(|d| match &d.id_info.name {
                    Some(name) => format!("{} ({name})", d.path.display()),
                    None => d.path.display().to_string(),
                })
                .collect();
            Err(format!(
                "several security keys are plugged in: {}; choose one with \
                 --authenticator=usb:PATH",
                paths.join(", ")
            ))
        }
    }
}

/// CTAP2 over CTAP-HID on a hidraw node, one channel for the ceremony.
pub struct HidTransport {
    path: PathBuf,
    device: HidDevice,
    channel: u32,
}

impl std::fmt::Debug for HidTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidTransport").field("path", &self.path).finish_non_exhaustive()
    }
}

impl HidTransport {
    pub async fn open(path: &Path) -> Result<Self, String> {
        let device = HidDevice::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                format!(
                    "cannot open the security key at {}: permission denied; the node must be \
                     readable and writable by you (udev rules for FIDO keys grant that)",
                    path.display()
                )
            } else {
                format!("cannot open the security key at {}: {e}", path.display())
            }
        })?;
        let init = device.init().await.map_err(|e| {
            format!("the device at {} does not answer as a FIDO key: {e}", path.display())
        })?;
        if !init.capabilities.supports_cbor() {
            return Err(format!(
                "the key at {} speaks only U2F, not FIDO2; WebAuthn login needs a FIDO2 key",
                path.display()
            ));
        }
        Ok(HidTransport { path: path.to_owned(), device, channel: init.channel })
    }
}

#[async_trait]
impl Transport for HidTransport {
    async fn call(&mut self, command: u8, body: &[u8]) -> Result<Vec<u8>, CtapError> {
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(command);
        payload.extend_from_slice(body);
        let message = Message::new(self.channel, Command::Cbor, &payload)
            .map_err(|_| CtapError::Transport("a request too large for CTAP-HID".into()))?;
        let lost = |e: passkey_transports::hidraw::HidrawError| {
            CtapError::Transport(format!(
                "lost the security key at {}: {e}; is it still plugged in?",
                self.path.display()
            ))
        };
        self.device.send(&message).await.map_err(lost)?;
        let reply = self.device.recv(self.channel).await.map_err(lost)?;
        match reply.command {
            Command::Cbor => Ok(reply.payload),
            Command::Err => Err(CtapError::Transport(format!(
                "the security key at {} refused the message (CTAP-HID error {:#04x})",
                self.path.display(),
                reply.payload.first().copied().unwrap_or(0)
            ))),
            other => Err(CtapError::Malformed(format!("a CTAP-HID {other:?} answer to CBOR"))),
        }
    }
}

/// What a ceremony tells the person when the key says no.
fn in_words(e: &CtapError, at: &str) -> String {
    match e.status() {
        Some(Status::PIN_BLOCKED) => format!(
            "the PIN of the security key at {at} is blocked after too many wrong tries; only \
             resetting the key (which deletes its credentials) unblocks it"
        ),
        Some(Status::PIN_AUTH_BLOCKED) => format!(
            "the security key at {at} takes no more PINs until it is unplugged and plugged in \
             again"
        ),
        Some(Status::NO_CREDENTIALS) => format!(
            "the security key at {at} holds no credential registered for this user; use the \
             key you signed up with"
        ),
        Some(Status::CREDENTIAL_EXCLUDED) => {
            format!("the security key at {at} is already registered for this user")
        }
        Some(Status::USER_ACTION_TIMEOUT) => {
            format!("nobody touched the security key at {at} in time; nothing was signed")
        }
        Some(Status::OPERATION_DENIED) | Some(Status::KEEPALIVE_CANCEL) => {
            format!("the security key at {at} was not approved; nothing was signed")
        }
        _ => format!("security key at {at}: {e}"),
    }
}

/// The options object, bare or wrapped in `{"publicKey": ...}`.
struct Options<'a>(&'a Value, &'static str);

impl<'a> Options<'a> {
    fn of(value: &'a Value, kind: &'static str) -> Self {
        Options(value.get("publicKey").unwrap_or(value), kind)
    }

    fn missing(&self, name: &str) -> String {
        format!("the relying party's {} options lack a valid `{name}`", self.1)
    }

    fn object(&self, name: &str) -> Result<Value, String> {
        self.0.get(name).filter(|v| v.is_object()).cloned().ok_or_else(|| self.missing(name))
    }

    fn array(&self, name: &str) -> Result<Vec<Value>, String> {
        self.0.get(name).and_then(Value::as_array).cloned().ok_or_else(|| self.missing(name))
    }

    /// The challenge, checked to be base64url before it goes into the client data.
    fn challenge(&self) -> Result<String, String> {
        let raw = decode(self.0, "challenge").map_err(|_| self.missing("challenge"))?;
        if raw.len() < 16 {
            return Err(self.missing("challenge"));
        }
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    fn credential_ids(&self, name: &str) -> Result<Vec<Vec<u8>>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|d| decode(d, "id")).collect(),
            Some(_) => Err(self.missing(name)),
        }
    }
}

fn decode(object: &Value, name: &str) -> Result<Vec<u8>, String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .ok_or_else(|| format!("`{name}` is not base64url"))
}

/// The client data JSON, members in the order WebAuthn's limited verification expects, and
/// its SHA-256.
fn client_data(kind: &str, challenge: &str, origin: &str) -> (String, [u8; 32]) {
    let quoted = |s: &str| Value::String(s.to_owned()).to_string();
    let text = format!(
        "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":false}}",
        quoted(kind),
        quoted(challenge),
        quoted(origin)
    );
    let hash = Sha256::digest(text.as_bytes()).into();
    (text, hash)
}

/// The RP ID the options name (else the origin's host), once the origin may use it.
fn checked_rp_id(given: Option<&Value>, origin: &str) -> Result<String, String> {
    let rp_id = match given.and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => url::Url::parse(origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .ok_or_else(|| format!("`{origin}` is not an origin"))?,
    };
    hwa_virtual_authenticator::origin::check(origin, &rp_id).map_err(|e| e.to_string())?;
    Ok(rp_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_without_its_credential_is_the_only_one_allowed_or_refused() {
        let (a, b) = (vec![1u8], vec![2u8]);
        let only_a = [a.clone()];
        assert_eq!(used_credential(Some(b.clone()), &only_a), Some(b.clone()));
        assert_eq!(used_credential(None, &only_a), Some(a.clone()));
        assert_eq!(used_credential(None, &[a, b]), None);
        assert_eq!(used_credential(None, &[]), None);
    }
}
