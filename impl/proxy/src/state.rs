//! What every handler shares: the auth service, the rate limiter and the few settings of the
//! web surface itself.
//!
//! The state holds no per-user data: sessions, requests and challenges live in the auth
//! service's store, so that several proxies can serve one cluster.

use std::fmt;
use std::sync::Arc;

use hwa_auth::AuthService;

use crate::ratelimit::RateLimiter;
use crate::routes::nodes::NodeGateway;

/// Settings of the web surface that the auth service does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSettings {
    /// Shown by `GET /webapi/ping`.
    pub cluster_name: String,
    /// Whether the proxy speaks TLS: session cookies get `Secure` and answers carry
    /// `Strict-Transport-Security`.
    pub tls: bool,
}

/// The router's state.
#[derive(Clone)]
pub struct AppState {
    pub(crate) auth: AuthService,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) web: Arc<WebSettings>,
    /// Node joining and the SSH tunnel; `None` serves no node routes.
    pub(crate) nodes: Option<Arc<NodeGateway>>,
}

impl AppState {
    /// State with the default rate limit (`limits::UNAUTH_RATE_BURST` per
    /// `limits::UNAUTH_RATE_WINDOW`).
    pub fn new(auth: AuthService, web: WebSettings) -> AppState {
        AppState::with_limiter(auth, web, RateLimiter::default())
    }

    /// State with a given limiter, for tests of the limit itself.
    pub fn with_limiter(auth: AuthService, web: WebSettings, limiter: RateLimiter) -> AppState {
        AppState { auth, limiter: Arc::new(limiter), web: Arc::new(web), nodes: None }
    }

    /// The same state, also serving nodes through `gateway`.
    pub fn with_nodes(mut self, gateway: NodeGateway) -> AppState {
        self.nodes = Some(Arc::new(gateway));
        self
    }

    pub fn auth(&self) -> &AuthService {
        &self.auth
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState").field("web", &self.web).finish_non_exhaustive()
    }
}
