//! WebAuthn devices backed by software authenticator files (`--authenticator-file KEY.json`),
//! through `hwa-virtual-authenticator`, which plays both the authenticator and the browser.
//!
//! # Limitations
//! There is no USB security key support: no crate on crates.io offers a pure-Rust CTAP-HID
//! transport for Linux that builds here without system libraries (`libudev`, `hidapi`).

use std::path::Path;

use async_trait::async_trait;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use serde_json::Value;

use crate::env::{AuthenticatorFactory, WebauthnDevice};

/// Opens authenticator files from disk.
#[derive(Debug, Default, Clone, Copy)]
pub struct SoftAuthenticatorFiles;

impl AuthenticatorFactory for SoftAuthenticatorFiles {
    fn open_file(&self, path: &Path) -> Result<Box<dyn WebauthnDevice>, String> {
        let authenticator = SoftAuthenticator::open_file(path).map_err(|e| e.to_string())?;
        Ok(Box::new(SoftDevice(WebauthnClient::new(authenticator))))
    }
}

/// A software authenticator and its WebAuthn client.
#[derive(Debug)]
pub struct SoftDevice(pub WebauthnClient);

#[async_trait]
impl WebauthnDevice for SoftDevice {
    async fn register(&mut self, creation_options: &Value, origin: &str) -> Result<Value, String> {
        self.0.register(creation_options, origin).await.map_err(|e| e.to_string())
    }

    async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
    ) -> Result<Value, String> {
        self.0.authenticate(request_options, origin).await.map_err(|e| e.to_string())
    }
}
