//! The server loop: accepts connections from the [`hwa_core::Network`] seam (real sockets or
//! turmoil's), wraps them in TLS when configured, and serves HTTP/1.1 on each with hyper,
//! handing every request to the [`crate::router`] with the connection's [`PeerAddr`].
//!
//! Driving hyper per connection (rather than `axum::serve`) keeps three things in our hands:
//! the TLS handshake runs in the connection's own task under a timeout, so a slow client cannot
//! hold up accepting others; the number of connections is bounded; and shutdown is graceful,
//! with a bounded grace period for long polls and event streams.
//!
//! Plain HTTP is refused unless the listen address is loopback (or the network is the
//! simulator's, [`TlsMode::PlainSimulatedNetwork`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hwa_auth::AuthService;
use hwa_core::{BoxStream, Listener, SharedNetwork};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::extract::PeerAddr;
use crate::router::router;
use crate::routes::nodes::NodeGateway;
use crate::state::{AppState, WebSettings};
use crate::tls::{TlsError, TlsMode, TlsSetup, setup};

/// Connections served at once; past this, new connections are closed at once. Each holds a
/// task and buffers; long polls (3 minutes each) are the main reason connections stay open.
pub const CONNECTIONS_MAX: usize = 20_000;

/// Time a client has to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a client has to send a request's headers (guards against slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for in-flight requests before closing their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Pause after a failed accept (such as running out of file descriptors), so the loop does not
/// spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the proxy needs to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    /// `host:port` people reach the proxy at; logged at start (the auth service builds the
    /// URLs it hands out from its own configuration).
    pub public_addr: String,
    pub tls: TlsMode,
    pub cluster_name: String,
}

/// Why the proxy could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "refusing plain HTTP on {0}: it is not a loopback address; configure TLS (certificate \
         files or a self-signed certificate), or listen on 127.0.0.1 for development"
    )]
    PlainNotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}; is another program using the port?")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A listener that is bound and ready to serve.
#[derive(Debug)]
pub struct BoundProxy {
    listener: Box<dyn Listener>,
    local_addr: SocketAddr,
    tls: Option<TlsSetup>,
    cluster_name: String,
}

/// Binds the listener and prepares TLS, without serving yet, so the caller learns the bound
/// address (with port 0) before it starts the auth service and serves.
pub async fn bind(config: &ProxyConfig, net: &SharedNetwork) -> Result<BoundProxy, ProxyError> {
    if config.tls == TlsMode::PlainLoopbackOnly && !config.listen.ip().is_loopback() {
        return Err(ProxyError::PlainNotLoopback(config.listen));
    }
    let tls = setup(&config.tls)?;
    let listen_err = |source| ProxyError::Listen { addr: config.listen, source };
    let listener = net.listen(config.listen).await.map_err(listen_err)?;
    let local_addr = listener.local_addr().map_err(listen_err)?;
    tracing::info!(
        addr = %local_addr,
        public_addr = %config.public_addr,
        tls = tls.is_some(),
        "proxy listening"
    );
    Ok(BoundProxy { listener, local_addr, tls, cluster_name: config.cluster_name.clone() })
}

/// Binds and serves until `shutdown` completes.
pub async fn serve(
    config: ProxyConfig,
    auth: AuthService,
    net: SharedNetwork,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ProxyError> {
    bind(&config, &net).await?.serve(auth, shutdown).await;
    Ok(())
}

impl BoundProxy {
    /// The address actually bound (the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces the cluster name `GET /webapi/ping` shows, for callers that learn it only
    /// after binding (it may derive from the bound port).
    pub fn with_cluster_name(mut self, cluster_name: String) -> BoundProxy {
        self.cluster_name = cluster_name;
        self
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The PEM of a self-signed certificate, for clients to pin.
    pub fn self_signed_pem(&self) -> Option<&str> {
        self.tls.as_ref().and_then(|tls| tls.self_signed_pem.as_deref())
    }

    /// Serves the application for `auth` until `shutdown` completes, then lets in-flight
    /// requests finish for up to [`SHUTDOWN_GRACE`].
    pub async fn serve(self, auth: AuthService, shutdown: impl Future<Output = ()> + Send) {
        let web = WebSettings { cluster_name: self.cluster_name.clone(), tls: self.is_tls() };
        let app = router(AppState::new(auth, web));
        self.serve_router(app, shutdown).await;
    }

    /// Like [`BoundProxy::serve`], also serving SSH nodes through `gateway`.
    pub async fn serve_with_nodes(
        self,
        auth: AuthService,
        gateway: NodeGateway,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let web = WebSettings { cluster_name: self.cluster_name.clone(), tls: self.is_tls() };
        let app = router(AppState::new(auth, web).with_nodes(gateway));
        self.serve_router(app, shutdown).await;
    }

    /// Serves any router; [`BoundProxy::serve`] is the usual entry.
    pub async fn serve_router(self, app: Router, shutdown: impl Future<Output = ()> + Send) {
        let BoundProxy { mut listener, tls, local_addr, .. } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            tracing::warn!(%peer, max = CONNECTIONS_MAX, "too many connections");
                            continue;
                        };
                        let conn = Connection {
                            peer,
                            tls: tls.clone(),
                            app: app.clone(),
                            stop: stop_rx.clone(),
                            _permit: permit,
                        };
                        tasks.spawn(conn.run(stream));
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(addr = %local_addr, open = tasks.len(), "proxy shutting down");
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(open = tasks.len(), "closing connections still open after the grace");
            tasks.abort_all();
        }
    }
}

/// One accepted connection.
struct Connection {
    peer: SocketAddr,
    tls: Option<TlsSetup>,
    app: Router,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: BoxStream) {
        let peer = self.peer;
        let io: BoxStream = match &self.tls {
            None => stream,
            Some(tls) => {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await
                {
                    Ok(Ok(tls_stream)) => Box::pin(tls_stream),
                    Ok(Err(err)) => {
                        tracing::debug!(%peer, error = %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            app.clone().oneshot(request)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => log_end(peer, result),
            () = stopped(&mut self.stop) => {
                conn.as_mut().graceful_shutdown();
                log_end(peer, conn.await);
            }
        }
    }
}

/// Completes when shutdown begins (or the server loop is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}
