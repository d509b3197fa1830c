//! The auth service of headless-webauthn, as a library: users and their security keys,
//! sessions, roles, the cluster's authentication preference, headless requests and their
//! decisions, and the certificate authorities that sign what an approval grants.
//!
//! It serves no HTTP: `hwa-proxy` maps its calls and errors to the HTTP surface of
//! `hwa_core::api` and `hwa_core::admin`. WebAuthn verification is `hwa-webauthn`'s; storage is
//! a `hwa_store::Store`, which several auth servers may share.
//!
//! | module | what it owns |
//! |---|---|
//! | [`service`] | [`AuthService`], the facade: the order of checks of every operation |
//! | [`error`] | [`AuthError`] and its mapping to `ErrorCode` |

pub mod error;
pub mod service;

pub use error::AuthError;
pub use service::{
    AuthConfig, AuthService, Caller, HeadlessEventStream, PasswordHashing, Seams, Session,
};
