//! A software authenticator and a WebAuthn client that plays the browser, for tests, the
//! simulator and development without a security key.
//!
//! The authenticator is 1Password's `passkey-authenticator` with our own credential store
//! (a JSON file, or memory) and our own crypto backend, so that keys and credential IDs come
//! from an [`hwa_core::Entropy`] and a seed replays them. The client speaks the WebAuthn Level 3
//! JSON encodings a browser page uses, so one relying party serves Chromium and this client.
//! It leaves verification to the relying party (`hwa-webauthn`); it can be told to misbehave
//! ([`Faults`]) so that every refusal of the relying party can be exercised.
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | [`VaError`] |
//! | [`faults`] | [`Faults`] and [`CounterFault`]: the ways the authenticator can misbehave |
//! | [`authenticator`] | [`SoftAuthenticator`]: credentials, keys, the simulated person |
//! | [`store`] | the credential store, in memory or in a 0600 JSON file |
//! | [`crypto`] | the crypto backend: keys and credential IDs from an `Entropy` |
//! | [`client`] | [`WebauthnClient`]: origin checks, client data, the JSON encodings |
//! | [`origin`] | which origin may use which RP ID |
//! | `tamper` | applies the fault switches to honest responses |
//! | [`security_key`] | [`VirtualSecurityKey`]: the authenticator as a CTAP2 key with a PIN |
//! | [`hid`] | [`PluggedKey`]: that key on a device node, speaking CTAP-HID |

pub mod authenticator;
pub mod client;
pub mod crypto;
pub mod error;
pub mod faults;
pub mod hid;
pub mod origin;
pub mod security_key;
pub mod store;
mod tamper;

pub use authenticator::SoftAuthenticator;
pub use client::WebauthnClient;
pub use error::VaError;
pub use faults::{CounterFault, Faults};
pub use hid::PluggedKey;
pub use security_key::{UserVerification, VirtualSecurityKey};
