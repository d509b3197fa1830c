//! The WebAuthn relying party of headless-webauthn: registration and assertion ceremonies that
//! the auth service runs, verified with the `webauthn_rp` crate.
//!
//! This crate owns the translation between the auth service's storable records
//! ([`StoredCredential`], [`CeremonyState`]) and `webauthn_rp`'s types, and the mapping of every
//! failed check of SPEC section 3 to one [`WebauthnError`] variant with a stable
//! [`WebauthnError::check`] name. It leaves storage, single use of challenges (the caller takes
//! the [`CeremonyState`] out of the store by [`challenge_of_response`] before verifying) and
//! the scope of a challenge (login, headless approval, registration) to the auth service.
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | [`WebauthnError`] and its stable check names |
//! | [`rp`] | [`RelyingParty`], its configuration and the four ceremony steps |
//! | [`records`] | the records the caller stores and passes back ([`StoredCredential`], ...) |
//! | [`client_data`] | checks on the response JSON made before `webauthn_rp` sees it |

pub mod client_data;
pub mod error;
pub mod records;
pub mod rp;

pub use error::WebauthnError;
pub use records::{CeremonyState, StoredCredential, VerifiedAssertion, WebauthnUser};
pub use rp::{RelyingParty, RpConfig, challenge_of_response};
