//! Listening for SSH connections and the russh callbacks of each one.
//!
//! Connections come from the [`hwa_core::Network`] seam and are handed to
//! [`russh::server::run_stream`], so the same server runs on real sockets and under turmoil.
//! Authentication is by OpenSSH user certificate only: plain keys, passwords and
//! keyboard-interactive are refused. Each certificate goes through [`crate::admission`] and
//! the login through [`crate::accounts`].
//!
//! Every refusal takes at least [`AUTH_REJECTION_MIN`] from the moment the request reached the
//! handler, and the client only ever learns "refused": which check failed goes to the node's
//! log and audit trail.
//!
//! # Limitations
//! - russh checks a certificate's validity window against the system clock before this code
//!   sees it, so under a simulated clock that is far from real time every certificate is
//!   refused by russh first. Simulations must mint certificates valid at real time as well.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hwa_core::{Listener, SharedClock, SharedNetwork};
use russh::server::{Auth, Handler, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use ssh_key::Certificate;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::accounts;
use crate::admission::{self, Admitted, Refusal};
use crate::audit::{AuditEvent, AuditKind, SharedAuditSink};
use crate::channel::{self, SessionContext};
use crate::config::NodeConfig;
use crate::error::NodeError;

/// Least time a refused authentication takes. Far above the slowest check (an Ed25519
/// verification and an account lookup, well under a millisecond), so timing does not tell an
/// attacker which check failed; short enough that a person retrying does not notice.
pub const AUTH_REJECTION_MIN: Duration = Duration::from_millis(300);

/// Authentication attempts per connection: OpenSSH's `MaxAuthTries` default.
pub const AUTH_ATTEMPTS_MAX: usize = 6;

/// Concurrent connections one node serves; further connections are closed at once.
pub const CONNECTIONS_MAX: usize = 1024;

/// Session channels per connection: OpenSSH's `MaxSessions` default.
pub const CHANNELS_PER_CONNECTION_MAX: usize = 10;

/// Time a connection has to log in before it is closed: OpenSSH's `LoginGraceTime` default.
/// Without it, idle unauthenticated connections could hold every connection slot.
pub const LOGIN_GRACE: Duration = Duration::from_secs(120);

/// A connection with no traffic for this long is closed (russh's default, kept explicit).
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(600);

/// A node listening but not yet serving, so that callers can learn the bound address.
#[derive(Debug)]
pub struct BoundNode {
    listener: Box<dyn Listener>,
    config: Arc<NodeConfig>,
}

/// Opens the node's listener on `config.listen`.
pub async fn bind(config: NodeConfig, net: &SharedNetwork) -> Result<BoundNode, NodeError> {
    if config.user_ca_keys.is_empty() {
        return Err(NodeError::Config(
            "no user CA keys; give the node the cluster's user CA public key".into(),
        ));
    }
    let listener = net
        .listen(config.listen)
        .await
        .map_err(|source| NodeError::Listen { addr: config.listen, source })?;
    Ok(BoundNode { listener, config: Arc::new(config) })
}

/// Binds and serves until `shutdown` completes.
pub async fn serve(
    config: NodeConfig,
    net: SharedNetwork,
    clock: SharedClock,
    audit: SharedAuditSink,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NodeError> {
    bind(config, &net).await?.run(clock, audit, shutdown).await
}

impl BoundNode {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` completes, then closes every open connection
    /// (their processes are killed with them).
    pub async fn run(
        mut self,
        clock: SharedClock,
        audit: SharedAuditSink,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), NodeError> {
        let ssh_config = Arc::new(russh_config(&self.config));
        let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
        let mut connections = JoinSet::new();
        info!(target: "hwa_node", node = %self.config.name,
            addr = ?self.listener.local_addr().ok(), "node listening");
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        warn!(target: "hwa_node", error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                warn!(target: "hwa_node", %peer, "connection limit reached; closing");
                continue;
            };
            let handler = NodeHandler::new(&self.config, &clock, &audit, peer);
            let ssh_config = ssh_config.clone();
            connections.spawn(async move {
                serve_connection(ssh_config, stream, handler).await;
                drop(slot);
            });
        }
        info!(target: "hwa_node", node = %self.config.name, "node shutting down");
        connections.shutdown().await;
        Ok(())
    }
}

fn russh_config(config: &NodeConfig) -> russh::server::Config {
    let mut methods = MethodSet::empty();
    methods.push(MethodKind::PublicKey);
    russh::server::Config {
        methods,
        auth_rejection_time: AUTH_REJECTION_MIN,
        // The first "none" probe of OpenSSH clients only asks which methods exist.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![config.host_key.clone()],
        certificates: config.host_cert.iter().cloned().collect(),
        max_auth_attempts: AUTH_ATTEMPTS_MAX,
        inactivity_timeout: Some(INACTIVITY_TIMEOUT),
        ..russh::server::Config::default()
    }
}

async fn serve_connection(
    config: Arc<russh::server::Config>,
    stream: hwa_core::BoxStream,
    handler: NodeHandler,
) {
    let peer = handler.peer;
    let state = handler.state.clone();
    let grace = tokio::time::sleep(LOGIN_GRACE);
    tokio::pin!(grace);
    let session = tokio::select! {
        started = russh::server::run_stream(config, stream, handler) => started,
        () = &mut grace => {
            debug!(target: "hwa_node", %peer, "no ssh handshake within the login grace time");
            return;
        }
    };
    let ended = match session {
        Ok(session) => {
            tokio::pin!(session);
            let mut graced = false;
            loop {
                tokio::select! {
                    ended = &mut session => break ended,
                    () = &mut grace, if !graced => {
                        graced = true;
                        if state.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
                            debug!(target: "hwa_node", %peer, "login grace time over");
                            return;
                        }
                    }
                }
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = ended {
        debug!(target: "hwa_node", %peer, error = %e, "connection ended with an error");
    }
    let admitted = state.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some((ctx, started)) = admitted {
        let duration = tokio::time::Instant::now().saturating_duration_since(started);
        ctx.audit.record(AuditEvent {
            time: ctx.clock.now(),
            node: ctx.node.clone(),
            peer,
            kind: AuditKind::SessionEnd {
                login: ctx.admitted.login.clone(),
                key_id: ctx.admitted.key_id.clone(),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            },
        });
        info!(target: "hwa_node", %peer, login = %ctx.admitted.login, "ssh session ended");
    }
}

/// The SSH session of one admitted connection, shared with the connection's end.
type SessionState = Arc<Mutex<Option<(Arc<SessionContext>, tokio::time::Instant)>>>;

/// The russh callbacks of one connection.
struct NodeHandler {
    config: Arc<NodeConfig>,
    clock: SharedClock,
    audit: SharedAuditSink,
    peer: SocketAddr,
    state: SessionState,
    channels: Arc<Semaphore>,
}

impl NodeHandler {
    fn new(
        config: &Arc<NodeConfig>,
        clock: &SharedClock,
        audit: &SharedAuditSink,
        peer: SocketAddr,
    ) -> Self {
        NodeHandler {
            config: config.clone(),
            clock: clock.clone(),
            audit: audit.clone(),
            peer,
            state: Arc::new(Mutex::new(None)),
            channels: Arc::new(Semaphore::new(CHANNELS_PER_CONNECTION_MAX)),
        }
    }

    fn session(&self) -> Option<Arc<SessionContext>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(c, _)| c.clone())
    }

    fn authorize(&self, login: &str, cert: &Certificate) -> Result<SessionContext, Refusal> {
        let now = self.clock.now();
        let admitted = admission::admit(cert, login, self.peer.ip(), now, &self.config)?;
        let account = accounts::lookup(login)?;
        Ok(SessionContext {
            account,
            admitted,
            node: self.config.name.clone(),
            peer: self.peer,
            clock: self.clock.clone(),
            audit: self.audit.clone(),
        })
    }

    /// Logs and audits a refusal, then waits out the rest of [`AUTH_REJECTION_MIN`].
    async fn refuse(
        &self,
        started: tokio::time::Instant,
        login: &str,
        key_id: Option<&str>,
        refusal: Refusal,
    ) -> Auth {
        warn!(target: "hwa_node", peer = %self.peer, login, key_id, reason = %refusal,
            "login refused");
        self.audit.record(AuditEvent {
            time: self.clock.now(),
            node: self.config.name.clone(),
            peer: self.peer,
            kind: AuditKind::Rejected {
                login: login.to_string(),
                key_id: key_id.map(str::to_string),
                reason: refusal.code().to_string(),
            },
        });
        tokio::time::sleep_until(started + AUTH_REJECTION_MIN).await;
        Auth::reject()
    }

    fn admitted(&self, ctx: SessionContext) {
        let Admitted { login, key_id, serial, credential_id, .. } = ctx.admitted.clone();
        info!(target: "hwa_node", peer = %self.peer, %login, %key_id, serial,
            "ssh session started");
        self.audit.record(AuditEvent {
            time: self.clock.now(),
            node: self.config.name.clone(),
            peer: self.peer,
            kind: AuditKind::SessionStart { login, key_id, serial, credential_id },
        });
        let started = tokio::time::Instant::now();
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some((Arc::new(ctx), started));
    }
}

impl Handler for NodeHandler {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        _key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let started = tokio::time::Instant::now();
        Ok(self.refuse(started, user, None, Refusal::NotACertificate).await)
    }

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        certificate: &Certificate,
    ) -> Result<Auth, Self::Error> {
        let started = tokio::time::Instant::now();
        match self.authorize(user, certificate) {
            Ok(ctx) => {
                self.admitted(ctx);
                Ok(Auth::Accept)
            }
            Err(refusal) => {
                let key_id = certificate.key_id().to_string();
                Ok(self.refuse(started, user, Some(&key_id), refusal).await)
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ctx) = self.session() else {
            reply.reject(russh::ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        };
        let Ok(slot) = self.channels.clone().try_acquire_owned() else {
            debug!(target: "hwa_node", peer = %self.peer, "channel limit reached");
            reply.reject(russh::ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            channel::run(channel, ctx).await;
            drop(slot);
        });
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if channel::env_acceptable(name, value) {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    #[allow(clippy::too_many_arguments)] // the signature is russh's
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.session().is_some_and(|ctx| ctx.admitted.permit_pty) {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let available = name == channel::SFTP_SUBSYSTEM
            && self.session().is_some_and(|ctx| channel::sftp_available(&ctx.account));
        if available { session.channel_success(channel) } else { session.channel_failure(channel) }
    }
}
