//! The proxy: the HTTP face of the auth service (ARCHITECTURE.md, "The proxy is the HTTP face
//! of the auth service"). An axum application serving the JSON API of `hwa_core::api`, the
//! admin API of `hwa_core::admin` and the browser pages, by calling [`hwa_auth::AuthService`].
//!
//! It owns HTTP only: parsing untrusted requests into the wire types, the status of each error
//! code, sessions as bearer tokens or cookies, the CSRF rule, per-address rate limits, security
//! headers, TLS and the connection loop over the [`hwa_core::Network`] seam (so the same code
//! runs on real sockets and under turmoil). Every decision about users, requests, challenges
//! and certificates is the auth service's.
//!
//! | module | what it owns |
//! |---|---|
//! | [`serve`] | [`ProxyConfig`], binding, the connection loop, graceful shutdown |
//! | [`tls`] | [`TlsMode`]: PEM files or a self-signed certificate, the rustls acceptor |
//! | [`router`] | the whole application as a [`axum::Router`], spans and security headers |
//! | [`routes`] | the handlers: JSON API, admin API, pages |
//! | [`extract`] | request parsing, sessions, the CSRF rule, the peer address |
//! | [`error`] | [`ApiFailure`]: error code to HTTP status, logging of failures |
//! | [`ratelimit`] | token buckets per client address for unauthenticated endpoints |
//! | [`state`] | [`AppState`], what handlers share |
//!
//! Tests drive [`router()`] with `tower::ServiceExt::oneshot`; see `tests/`.

pub mod error;
pub mod extract;
pub mod ratelimit;
pub mod router;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;

pub use error::{ApiFailure, status_for};
pub use extract::{CSRF_HEADER, PeerAddr, SESSION_COOKIE, SESSION_MODE_HEADER};
pub use router::router;
pub use routes::nodes::{NodeGateway, TUNNEL_PROTOCOL};
pub use serve::{BoundProxy, ProxyConfig, ProxyError, bind, serve};
pub use state::{AppState, WebSettings};
pub use tls::{TlsError, TlsMode};
