//! The ways the software authenticator can be told to misbehave, so that tests and the
//! simulator can exercise every refusal of the relying party.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the signature counter misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterFault {
    /// The counter increases by one with every assertion.
    #[default]
    Honest,
    /// The counter is always 0, as on counter-less (synced passkey) authenticators.
    Frozen,
    /// The counter goes back below the last value sent: a cloned-authenticator signal.
    RolledBack,
}

/// Fault switches; the default is an honest authenticator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Answer without the user-verified flag.
    pub no_user_verification: bool,
    /// Answer without the user-present flag.
    pub no_user_presence: bool,
    /// Sign for this relying party ID instead of the one asked for.
    pub wrong_rp_id: Option<String>,
    /// Put this origin in the client data instead of the page's.
    pub wrong_origin: Option<String>,
    /// How the signature counter behaves.
    pub counter: CounterFault,
    /// Send a signature that does not verify.
    pub bogus_signature: bool,
    /// Wait this long before answering: a slow user.
    pub delay: Option<Duration>,
    /// Never answer: fail after `delay` (or at once).
    pub absent: bool,
    /// Report a backup (BS=1) without backup eligibility (BE=0), which WebAuthn forbids.
    pub inconsistent_backup_flags: bool,
    /// Add an authenticator extension output nobody asked for (`credProtect`) to assertions.
    pub unsolicited_extension: bool,
    /// Give the credential a `type` other than `public-key`.
    pub wrong_credential_type: bool,
    /// Answer with a credential ID the relying party never registered.
    pub unregistered_credential: bool,
    /// Put another user's handle in the assertion's `userHandle`.
    pub foreign_user_handle: bool,
    /// Send client data that is not UTF-8.
    pub client_data_not_utf8: bool,
    /// Put this `type` in the client data (`webauthn.create` for an assertion).
    pub client_data_type: Option<String>,
    /// Claim in the client data that the page was embedded cross-origin.
    pub cross_origin: bool,
}
