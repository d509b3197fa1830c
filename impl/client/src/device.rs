//! The WebAuthn devices of the real binary: software authenticator files
//! (`--authenticator-file KEY.json`), through `hwa-virtual-authenticator`, which plays both the
//! authenticator and the browser; and USB security keys ([`crate::securitykey`]).

use std::sync::Arc;

use async_trait::async_trait;
use hwa_core::SharedEntropy;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use serde_json::Value;

use crate::env::{AuthenticatorFactory, DeviceChoice, Terminal, WebauthnDevice};
use crate::securitykey::{SecurityKeyDevice, UsbPort};

/// Opens authenticator files from disk and security keys from `/dev`.
#[derive(Debug, Clone)]
pub struct LocalDevices {
    /// For the PIN protocol's key agreement keys and IVs: the environment's entropy seam.
    entropy: SharedEntropy,
}

impl LocalDevices {
    pub fn new(entropy: SharedEntropy) -> Self {
        LocalDevices { entropy }
    }
}

impl AuthenticatorFactory for LocalDevices {
    fn open(&self, choice: &DeviceChoice) -> Result<Box<dyn WebauthnDevice>, String> {
        match choice {
            DeviceChoice::File(path) => {
                let authenticator = SoftAuthenticator::open_file(path).map_err(|e| {
                    format!("cannot open authenticator file {}: {e}", path.display())
                })?;
                Ok(Box::new(SoftDevice(WebauthnClient::new(authenticator))))
            }
            DeviceChoice::SecurityKey(path) => {
                let port = Arc::new(UsbPort { path: path.clone() });
                Ok(Box::new(SecurityKeyDevice::new(port, self.entropy.clone())))
            }
        }
    }
}

/// A software authenticator and its WebAuthn client. It needs no PIN: the person it simulates
/// is always verified.
#[derive(Debug)]
pub struct SoftDevice(pub WebauthnClient);

#[async_trait]
impl WebauthnDevice for SoftDevice {
    async fn register(
        &mut self,
        creation_options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        self.0.register(creation_options, origin).await.map_err(|e| e.to_string())
    }

    async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        self.0.authenticate(request_options, origin).await.map_err(|e| e.to_string())
    }
}
