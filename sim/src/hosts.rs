//! What a simulated machine gives the real client code: a [`ClientEnv`] whose network is
//! turmoil's, whose clock, entropy and memory locking are the simulation's, whose terminal is
//! the blackboard, and whose authenticators are software ones kept for the whole run.
//!
//! The auth servers are built in [`crate::harness`]; this module is the client side only.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hwa_client::securitykey::{KeyPort, SecurityKeyDevice};
use hwa_client::{AuthenticatorFactory, ClientEnv, DeviceChoice, Terminal, WebauthnDevice};
use hwa_core::SharedClock;
use hwa_core::entropy::SeededEntropy;
use hwa_core::memlock::{SimLockBehaviour, SimLocker};
use hwa_core::net::TurmoilNetwork;
use hwa_ctap::{CtapError, Transport};
use hwa_virtual_authenticator::{
    Faults, SoftAuthenticator, UserVerification, VirtualSecurityKey, WebauthnClient,
};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::board::Board;

/// The password every simulated user signs up with; the simulator attacks WebAuthn and the
/// headless protocol, not password guessing.
pub const SIM_PASSWORD: &str = "correct horse battery staple";

/// The PIN of every simulated security key.
pub const SIM_PIN: &str = "4321";

/// The text of the client's PIN prompts, which the board terminal answers from its script.
const PIN_PROMPT: &str = "PIN for the security key";

/// A terminal that writes to the blackboard and answers prompts from a script.
#[derive(Debug)]
pub struct BoardTerminal {
    host: String,
    board: Board,
    answers: Vec<String>,
}

impl BoardTerminal {
    pub fn new(host: &str, board: &Board, answers: &[&str]) -> BoardTerminal {
        BoardTerminal {
            host: host.to_owned(),
            board: board.clone(),
            answers: answers.iter().rev().map(|s| s.to_string()).collect(),
        }
    }
}

#[async_trait]
impl Terminal for BoardTerminal {
    async fn out(&mut self, text: &str) -> io::Result<()> {
        self.board.write_stdout(&self.host, text);
        Ok(())
    }

    async fn err(&mut self, text: &str) -> io::Result<()> {
        self.board.write_stderr(&self.host, text);
        Ok(())
    }

    async fn read_line(&mut self) -> io::Result<Option<String>> {
        Ok(self.answers.pop())
    }

    /// A password prompt gets [`SIM_PASSWORD`]; a security key's PIN prompt gets the next
    /// scripted answer (a person mistyping), else [`SIM_PIN`].
    async fn read_secret(&mut self, prompt: &str) -> io::Result<Zeroizing<String>> {
        self.board.write_stderr(&self.host, prompt);
        if prompt.contains(PIN_PROMPT) {
            return Ok(Zeroizing::new(self.answers.pop().unwrap_or_else(|| SIM_PIN.to_owned())));
        }
        Ok(Zeroizing::new(SIM_PASSWORD.to_owned()))
    }
}

/// Software authenticators by name, alive for the whole run, so a credential registered at
/// signup is there for every later approval (as a key on a keyring would be).
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Arc<Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<WebauthnClient>>>>>,
    security_keys: Arc<Mutex<BTreeMap<String, SharedSecurityKey>>>,
}

/// A security key on the keyring, shared by every ceremony that plugs it in.
#[derive(Clone, Debug)]
pub struct SharedSecurityKey(Arc<tokio::sync::Mutex<VirtualSecurityKey>>);

impl SharedSecurityKey {
    pub async fn pin_retries(&self) -> u8 {
        self.0.lock().await.pin_retries()
    }
}

impl Keyring {
    /// The authenticator named `name`, made from `seed` the first time it is asked for.
    pub fn key(&self, name: &str, seed: u64) -> Arc<tokio::sync::Mutex<WebauthnClient>> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.entry(name.to_owned())
            .or_insert_with(|| {
                let authenticator = SoftAuthenticator::in_memory(SeededEntropy::shared(seed));
                Arc::new(tokio::sync::Mutex::new(WebauthnClient::new(authenticator)))
            })
            .clone()
    }

    /// The security key named `name` (PIN [`SIM_PIN`]), made the first time from the run's
    /// `seed` and the name, so every host of a run reaches the same key.
    pub fn security_key(&self, name: &str, seed: u64) -> SharedSecurityKey {
        let mut keys = self.security_keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.entry(name.to_owned())
            .or_insert_with(|| {
                let entropy = SeededEntropy::shared(seed ^ fnv(name));
                let authenticator = SoftAuthenticator::in_memory(entropy.clone());
                let pin = UserVerification::Pin(SIM_PIN.to_owned());
                let key = VirtualSecurityKey::new(authenticator, pin, entropy);
                SharedSecurityKey(Arc::new(tokio::sync::Mutex::new(key)))
            })
            .clone()
    }

    /// Switches faults on an authenticator (a cloned key, a user who does not verify, ...).
    pub async fn set_faults(&self, name: &str, seed: u64, faults: Faults) {
        self.key(name, seed).lock().await.authenticator_mut().set_faults(faults);
    }
}

/// Hands the client the keyring's authenticator whose name is the file name asked for.
#[derive(Debug)]
struct KeyringFactory {
    keyring: Keyring,
    seed: u64,
    board: Board,
}

/// An authenticator in use; every assertion it makes is also captured on the board, standing
/// for an eavesdropper on the approver's connection.
struct KeyringDevice(Arc<tokio::sync::Mutex<WebauthnClient>>, Board);

#[async_trait]
impl WebauthnDevice for KeyringDevice {
    async fn register(
        &mut self,
        creation_options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        self.0.lock().await.register(creation_options, origin).await.map_err(|e| e.to_string())
    }

    async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        let assertion = self.0.lock().await.authenticate(request_options, origin).await;
        let assertion = assertion.map_err(|e| e.to_string())?;
        self.1.capture("assertion", assertion.to_string());
        Ok(assertion)
    }
}

impl AuthenticatorFactory for KeyringFactory {
    /// Authenticator files and security key nodes name keys of the keyring. The security key
    /// is reached without HID (the simulator has no USB bus) but through the client's CTAP2
    /// ceremonies and PIN protocol.
    fn open(&self, choice: &DeviceChoice) -> Result<Box<dyn WebauthnDevice>, String> {
        let path = match choice {
            DeviceChoice::File(path) => path,
            DeviceChoice::SecurityKey(Some(node)) => {
                let name = node.to_string_lossy().into_owned();
                let key = self.keyring.security_key(&name, self.seed);
                // Each ceremony's PIN exchange draws its own keys, replayably.
                let ceremony = format!("ceremony:{name}");
                let entropy =
                    SeededEntropy::shared(self.seed ^ fnv(&ceremony) ^ self.board.count(&ceremony));
                self.board.bump(&ceremony);
                let port = Arc::new(KeyringPort { key, name });
                return Ok(Box::new(SecurityKeyDevice::new(port, entropy)));
            }
            DeviceChoice::SecurityKey(None) => {
                return Err("no USB bus in the simulator; name a keyring key".into());
            }
        };
        let name = path.to_string_lossy();
        let key = self.keyring.key(&name, self.seed ^ fnv(&name));
        Ok(Box::new(KeyringDevice(key, self.board.clone())))
    }
}

/// Plugs a keyring security key into a ceremony.
#[derive(Debug)]
struct KeyringPort {
    key: SharedSecurityKey,
    name: String,
}

#[async_trait]
impl KeyPort for KeyringPort {
    async fn open(&self) -> Result<(Box<dyn Transport>, String), String> {
        Ok((Box::new(self.key.clone()), self.name.clone()))
    }
}

#[async_trait]
impl Transport for SharedSecurityKey {
    async fn call(&mut self, command: u8, body: &[u8]) -> Result<Vec<u8>, CtapError> {
        self.0.lock().await.call(command, body).await
    }
}

/// A stable 64-bit hash of a name, to derive per-host seeds from the run's seed.
pub fn fnv(name: &str) -> u64 {
    name.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// What a client host is: its name, its user, its clock, its memory-lock behaviour.
#[derive(Clone, Debug)]
pub struct ClientHost {
    pub name: String,
    pub os_user: String,
    pub clock: SharedClock,
    pub memlock: SimLockBehaviour,
    /// A directory standing for the host's home; the harness checks that a remote host's
    /// stays empty (SPEC HL-05).
    pub home: PathBuf,
}

impl ClientHost {
    /// The environment for one command on this host. `boot` tells restarts apart so that a
    /// restarted host draws fresh randomness, deterministically.
    pub fn env(&self, board: &Board, keyring: &Keyring, seed: u64, answers: &[&str]) -> ClientEnv {
        let entropy_seed = seed ^ fnv(&self.name) ^ board.count(&format!("boot:{}", self.name));
        board.bump(&format!("boot:{}", self.name));
        ClientEnv {
            net: TurmoilNetwork::shared(),
            clock: self.clock.clone(),
            entropy: SeededEntropy::shared(entropy_seed),
            locker: Arc::new(SimLocker(self.memlock.clone())),
            home: Some(self.home.clone()),
            os_user: self.os_user.clone(),
            vars: BTreeMap::new(),
            term: Box::new(BoardTerminal::new(&self.name, board, answers)),
            authenticators: Arc::new(KeyringFactory {
                keyring: keyring.clone(),
                seed,
                board: board.clone(),
            }),
        }
    }
}
