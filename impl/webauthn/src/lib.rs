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
//! # Using it
//!
//! 1. `start_registration` / `start_assertion` answer the options JSON for the page (or
//!    `hwa-virtual-authenticator`) and a [`CeremonyState`]; store the state under its
//!    `challenge` until `expires_at`.
//! 2. When the response JSON comes back, [`challenge_of_response`] names the challenge: take
//!    (read and delete atomically) the stored state, so that no answer is accepted twice.
//! 3. `finish_registration` answers the [`StoredCredential`] to save; `finish_assertion`
//!    answers a [`VerifiedAssertion`] whose `updated` credential replaces the stored one. A
//!    refusal returns nothing to store, so the stored credential only changes after every
//!    check passed.
//!
//! Challenges are 16 bytes drawn from the caller's `Entropy` (see [`rp`] for why not 32).
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
