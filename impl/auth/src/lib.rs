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
//! | [`headless`] | the headless request record and its compare-and-swap transitions |
//! | [`waiters`] | the bounded in-memory registry of waiting logins |
//! | [`events`] | the stream of a user's headless requests (`hwa headless watch`) |
//! | [`challenges`] | WebAuthn challenges, their purpose, and taking them once |
//! | [`users`] | user records, password hashes, credentials |
//! | [`roles`] | roles and the permissions they grant |
//! | [`preference`] | `cluster_auth_preference` |
//! | [`resources`] | YAML resources: kind dispatch and field-naming errors |
//! | [`invites`], [`sessions`], [`admin`], [`tokens`] | bearer tokens, stored hashed |
//! | [`ca`] | the user and host certificate authorities |
//! | [`certs`] | the one-minute headless certificate |
//! | [`cert_auth`] | the `HwaCert` authorization scheme |
//! | [`locks`] | administrator locks on users and credentials |
//! | [`audit`] | the audit log |
//! | [`nodes`] | the node inventory |
//! | [`join`] | join tokens, node joining, host certificates, tunnel authorization |
//! | [`kv`] | typed JSON records over the store |

//!
//! # Storage keys
//!
//! | key | value | expiry |
//! |---|---|---|
//! | `users/<name>` | user record (argon2id PHC string, WebAuthn handle, logins, roles) | none |
//! | `credentials/<user>/<credential id>` | `hwa_webauthn::StoredCredential` | none |
//! | `invites/<sha256 of token>` | user and expiry | one hour |
//! | `sessions/<sha256 of token>` | user and expiry | `SESSION_TTL` |
//! | `admin/token` | SHA-256 of the admin token | none |
//! | `challenges/<user>/<challenge>` | purpose and ceremony state | with the ceremony |
//! | `headless/<user>/<request id>` | the request record | request expiry + 30 s |
//! | `headless_watch/<user>/<random>` | a watcher's standing interest | 30 s, refreshed |
//! | `ca/user`, `ca/host` | Ed25519 seeds | none |
//! | `config/cluster_auth_preference` | the preference | none |
//! | `roles/<name>` | a role | none |
//! | `locks/<id>` | a lock | the lock's TTL |
//! | `nodes/<name>` | address and labels | none |
//! | `join_tokens/<sha256 of token>` | type and expiry | the token's TTL |
//! | `node_tokens/<sha256 of token>` | the node's name | none |
//! | `audit/<ms, 20 digits>/<seq>-<random>` | an audit event | 90 days |

pub mod admin;
pub mod audit;
pub mod ca;
pub mod cert_auth;
pub mod certs;
pub mod challenges;
pub mod error;
pub mod events;
pub mod headless;
pub mod invites;
pub mod join;
pub mod kv;
pub mod locks;
pub mod nodes;
pub mod preference;
pub mod resources;
pub mod roles;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod waiters;

pub use error::AuthError;
pub use service::{
    AuthConfig, AuthService, Caller, HeadlessEventStream, PasswordHashing, Seams, Session,
};
