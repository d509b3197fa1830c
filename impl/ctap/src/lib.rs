//! CTAP2, the protocol between a WebAuthn client and a security key, from both sides: `hwa`
//! speaks it to USB keys, and the virtual security key of `hwa-virtual-authenticator` answers
//! it in tests.
//!
//! Messages are encoded here by hand ([`cbor`]) rather than through passkey-types' serde
//! structs: this workspace enables that crate's `serialize_bytes_as_base64_string` for the
//! WebAuthn JSON, and its CTAP2 structs would then put base64 text where a key expects a byte
//! string.
//!
//! | module | what it owns |
//! |---|---|
//! | [`status`] | [`Status`], the key's answer codes, in words |
//! | [`cbor`] | canonical maps, and reading the other side's maps by key |
//! | [`messages`] | getInfo, makeCredential, getAssertion and clientPIN, both directions |
//! | [`pin`] | PIN/UV auth protocols one and two: key agreement, encryption, tags |
//! | [`platform`] | [`Session`]: the client's side over any [`Transport`] |

pub mod cbor;
mod error;
pub mod messages;
pub mod pin;
pub mod platform;
pub mod status;

pub use error::CtapError;
pub use platform::{PinToken, Session, Transport, Verification};
pub use status::Status;
