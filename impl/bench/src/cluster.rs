//! One auth service on a fresh SQLite store in a temporary data directory, behind the real
//! proxy on `127.0.0.1` with a free port, over real sockets (plain HTTP, loopback only), with
//! the node routes (joining, the SSH tunnel) served as `hwad` serves them.
//!
//! This is the product as `hwad` assembles it, with two stated differences that keep setup out
//! of the way of what is measured: password hashing is [`PasswordHashing::Fast`] (hashing
//! happens at signup only, never between a decision and its certificate), and the
//! per-address limit on unauthenticated requests is raised, because every benchmark client
//! comes from 127.0.0.1 and the default (`UNAUTH_RATE_BURST` per minute) would refuse the
//! thousands of logins a benchmark starts. The decision endpoint is not rate limited either way.
//!
//! What this leaves to others: users and sessions ([`crate::people`]), waiting logins
//! ([`crate::waiting`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hwa_auth::join::Membership;
use hwa_auth::{AuthConfig, AuthService, PasswordHashing, Seams};
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::clock::SystemClock;
use hwa_core::entropy::OsEntropy;
use hwa_core::net::TokioNetwork;
use hwa_core::{SharedClock, SharedNetwork};
use hwa_proxy::ratelimit::{RateLimiter, TRACKED_ADDRS_MAX};
use hwa_proxy::{AppState, NodeGateway, ProxyConfig, TlsMode, WebSettings};
use hwa_store::SharedStore;
use hwa_store::sqlite::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Unauthenticated requests per address per window in the benchmark cluster: more than any
/// run starts (10 000 logins plus signups), so the limiter never refuses one.
pub const BENCH_RATE_BURST: u32 = 1_000_000;

/// The relying party ID: browsers (and the virtual authenticator) accept `http://localhost`
/// as a secure origin, and an IP address cannot be an RP ID.
pub const RP_ID: &str = "localhost";

/// A running cluster of one auth server.
#[derive(Debug)]
pub struct Cluster {
    /// Where clients connect: `http://127.0.0.1:<port>`.
    pub proxy: ProxyUrl,
    /// The origin the approver's browser (the virtual authenticator) sees.
    pub origin: String,
    pub auth: AuthService,
    /// The certificate authorities and node joining, as `hwad` serves them.
    pub membership: Membership,
    pub store: SharedStore,
    /// The same store, for its revision counter.
    pub sqlite: Arc<SqliteStore>,
    pub net: SharedNetwork,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a cluster on a new data directory under the system temporary directory.
    pub async fn start() -> anyhow::Result<Cluster> {
        let data_dir = tempfile::Builder::new()
            .prefix("hwa-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let clock: SharedClock = SystemClock::shared();
        let sqlite = SqliteStore::open(&data_dir.path().join("hwa.db"), clock.clone())
            .context("cannot open the sqlite store")?;
        let store: SharedStore = sqlite.clone();
        let net = TokioNetwork::shared();
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let config = ProxyConfig {
            listen,
            public_addr: listen.to_string(),
            tls: TlsMode::PlainLoopbackOnly,
            cluster_name: "bench".into(),
        };
        let bound = hwa_proxy::bind(&config, &net).await.context("cannot bind the proxy")?;
        let port = bound.local_addr().port();
        let origin = format!("http://{RP_ID}:{port}");
        let auth_config = AuthConfig {
            cluster_name: "bench".into(),
            rp_id: RP_ID.into(),
            public_origins: vec![origin.clone()],
            public_addr: format!("{RP_ID}:{port}"),
            url_scheme: "http".into(),
            password_hashing: PasswordHashing::Fast,
        };
        let seams = Seams { store: store.clone(), clock, entropy: OsEntropy::shared() };
        let (auth, _admin_token) =
            AuthService::open(auth_config, seams).await.context("cannot open the auth service")?;
        let membership =
            Membership::open(store.clone(), SystemClock::shared(), OsEntropy::shared(), "bench")
                .await
                .context("cannot open the cluster's certificate authorities")?;
        let gateway = NodeGateway { membership: membership.clone(), net: net.clone() };
        let limiter =
            RateLimiter::new(BENCH_RATE_BURST, Duration::from_secs(60), TRACKED_ADDRS_MAX);
        let web = WebSettings { cluster_name: "bench".into(), tls: false };
        let state = AppState::with_limiter(auth.clone(), web, limiter).with_nodes(gateway);
        let app = hwa_proxy::router(state);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(bound.serve_router(app, async {
            let _ = stopped.await;
        }));
        let proxy = ProxyUrl::parse(&format!("http://127.0.0.1:{port}"))
            .context("the bound address is not a proxy URL")?;
        tracing::info!(%proxy, data_dir = %data_dir.path().display(), "benchmark cluster up");
        Ok(Cluster {
            proxy,
            origin,
            auth,
            membership,
            store,
            sqlite,
            net,
            stop: Some(stop),
            server: Some(server),
            _data_dir: data_dir,
        })
    }

    /// Stops the proxy (letting open requests end within its grace period).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}
