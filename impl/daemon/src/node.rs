//! `hwad start --roles=node`: an SSH node that joins the cluster with a single-use token and
//! then serves `hwa_node` with the certificate authorities and host certificate it received.
//!
//! ```text
//! hwad start --roles=node --auth-server=localhost:3080 --token=TOKEN --name=node1 \
//!     --labels=env=dev --listen=127.0.0.1:3022 --data-dir NODEDIR
//! ```
//!
//! - The host key is generated on the first start and kept in `NODEDIR/host_key` (0600).
//! - What joining returned (host certificate, CA keys, node token) is kept in
//!   `NODEDIR/node-identity.json` (0600), so a restart does not need a new token.
//! - Every [`HEARTBEAT_INTERVAL`] the node re-registers its address and labels, authenticated
//!   by its node token.
//!
//! - Audit events of the node (sessions, channels, refused logins) are written to this
//!   process's log (`hwa_node::audit` target) and sent in batches to the cluster's audit log
//!   (`POST /v1/nodes/audit`, with the node token), where `hwactl audit` shows them.
//!
//! # Limitations
//! The address registered is the `--listen` address, so the proxy must be able to reach it as
//! given (no NAT traversal, no reverse tunnel as the reference offers). While the auth service
//! cannot be reached, up to [`AUDIT_QUEUE`] events wait for it; more are dropped from the
//! report (with a warning), never from this process's log.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use hwa_auth::join::{NodeHeartbeat, NodeJoin, NodeJoined};
use hwa_client::http::{Call, HttpClient, Trust};
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::clock::SystemClock;
use hwa_core::entropy::OsEntropy;
use hwa_core::net::TokioNetwork;
use hwa_core::node_audit::{NODE_AUDIT_BATCH_MAX, NodeAuditBatch};
use hwa_node::{AccessPolicy, AuditEvent, AuditSink, NodeConfig, TracingAuditSink};
use serde::{Deserialize, Serialize};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{Certificate, LineEnding, PrivateKey, PublicKey};
use tokio::sync::mpsc;

/// File of the node's host private key inside its data directory.
pub const HOST_KEY_FILE: &str = "host_key";
/// File of what joining returned.
pub const NODE_IDENTITY_FILE: &str = "node-identity.json";
/// How often a node re-registers: a minute, so an inventory is at most that stale.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
/// How long a join, heartbeat or audit call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Audit events waiting to be sent to the cluster's audit log.
pub const AUDIT_QUEUE: usize = 4096;
/// Pause before an audit report that failed is sent again.
const AUDIT_RETRY: Duration = Duration::from_secs(5);
/// How long a stopping node waits for its last audit report.
const AUDIT_FLUSH: Duration = Duration::from_secs(5);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeStartError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("cannot use {path}: {source}; check its owner and permissions")]
    File { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}; remove it to join again with a new token")]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot join the cluster at {server}: {source}")]
    Join { server: String, source: hwa_client::ClientError },
    #[error("the auth server answered an unusable {what}: {message}")]
    Answer { what: &'static str, message: String },
    #[error("the node failed: {0}")]
    Node(#[from] hwa_node::NodeError),
}

/// The flags of `hwad start --roles=node`.
#[derive(Clone, Debug)]
pub struct NodeFlags {
    pub auth_server: String,
    pub token: Option<String>,
    pub name: String,
    pub labels: String,
    pub listen: String,
    pub data_dir: PathBuf,
}

/// What the node keeps from joining.
#[derive(Clone, Serialize, Deserialize)]
struct NodeIdentity {
    joined: NodeJoined,
}

/// Joins (or reuses a previous join), then serves SSH until `shutdown` completes.
pub async fn run_node(
    flags: &NodeFlags,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NodeStartError> {
    let listen: SocketAddr = flags.listen.parse().map_err(|_| NodeStartError::Flag {
        flag: "--listen",
        message: format!("`{}` is not ip:port", flags.listen),
    })?;
    if listen.port() == 0 {
        return Err(NodeStartError::Flag {
            flag: "--listen",
            message: "give a port: the address is registered for the proxy to dial".into(),
        });
    }
    let labels = parse_labels(&flags.labels)?;
    prepare_dir(&flags.data_dir)?;
    let host_key = load_or_create_host_key(&flags.data_dir.join(HOST_KEY_FILE), &flags.name)?;
    let proxy = ProxyUrl::parse(&flags.auth_server)
        .map_err(|e| NodeStartError::Flag { flag: "--auth-server", message: e.to_string() })?;
    let net = TokioNetwork::shared();
    let http = HttpClient::new(net.clone(), proxy, &Trust::System)
        .map_err(|source| NodeStartError::Join { server: flags.auth_server.clone(), source })?;
    let identity_path = flags.data_dir.join(NODE_IDENTITY_FILE);
    let joined = match read_identity(&identity_path)? {
        Some(identity) => identity.joined,
        None => {
            let token = flags.token.clone().ok_or_else(|| NodeStartError::Flag {
                flag: "--token",
                message: "this node has not joined yet; pass the token of \
                          `hwactl tokens add --type=node`"
                    .into(),
            })?;
            let host_public_key = host_key
                .public_key()
                .to_openssh()
                .map_err(|e| NodeStartError::Answer { what: "host key", message: e.to_string() })?;
            let body = NodeJoin {
                token,
                name: flags.name.clone(),
                addr: listen.to_string(),
                labels: labels.clone(),
                host_public_key,
            };
            let call = Call::new(Method::POST, "/v1/nodes/join").json(&body).map_err(|source| {
                NodeStartError::Join { server: flags.auth_server.clone(), source }
            })?;
            let mut call = call;
            call.timeout = Some(CALL_TIMEOUT);
            let joined: NodeJoined = http.json(&call).await.map_err(|source| {
                NodeStartError::Join { server: flags.auth_server.clone(), source }
            })?;
            let kept =
                serde_json::to_vec_pretty(&NodeIdentity { joined: joined.clone() }).map_err(
                    |e| NodeStartError::Answer { what: "join answer", message: e.to_string() },
                )?;
            write_private(&identity_path, &kept)?;
            tracing::info!(node = %flags.name, "joined the cluster");
            joined
        }
    };
    let config = node_config(flags, listen, labels.clone(), host_key, &joined)?;
    let heartbeat = heartbeats(http.clone(), joined.node_token.clone(), listen.to_string(), labels);
    let heartbeat = tokio::spawn(heartbeat);
    let (queue, queued) = mpsc::channel(AUDIT_QUEUE);
    let forwarder = tokio::spawn(forward_audit(http, joined.node_token.clone(), queued));
    let sink = Arc::new(ForwardingSink(queue));
    let result = hwa_node::serve(config, net, SystemClock::shared(), sink, shutdown).await;
    heartbeat.abort();
    // The server dropped its sink: the forwarder sends what is queued, then ends.
    if tokio::time::timeout(AUDIT_FLUSH, forwarder).await.is_err() {
        tracing::warn!("audit events still unsent at shutdown are only in this log");
    }
    Ok(result?)
}

/// Logs every event, as [`TracingAuditSink`] does, and queues it for the cluster's audit log.
#[derive(Debug)]
struct ForwardingSink(mpsc::Sender<AuditEvent>);

impl AuditSink for ForwardingSink {
    fn record(&self, event: AuditEvent) {
        TracingAuditSink.record(event.clone());
        self.0.record(event);
    }
}

/// Sends queued audit events in batches of up to [`NODE_AUDIT_BATCH_MAX`] until the queue
/// closes. A batch that fails is sent again after [`AUDIT_RETRY`], so events keep their order
/// and none is sent twice unless an answer was lost.
async fn forward_audit(
    http: HttpClient,
    node_token: String,
    mut queued: mpsc::Receiver<AuditEvent>,
) {
    let mut batch: Vec<AuditEvent> = Vec::new();
    loop {
        if batch.is_empty() {
            match queued.recv().await {
                Some(event) => batch.push(event),
                None => return,
            }
        }
        while batch.len() < NODE_AUDIT_BATCH_MAX {
            match queued.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        let report = NodeAuditBatch { events: batch };
        let sent = match Call::new(Method::POST, "/v1/nodes/audit").json(&report) {
            Ok(call) => {
                let mut call = call.bearer(&node_token);
                call.timeout = Some(CALL_TIMEOUT);
                http.expect_ok(&call).await.map(drop)
            }
            Err(e) => Err(e),
        };
        batch = report.events;
        match sent {
            Ok(()) => batch.clear(),
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "audit report failed; retrying");
                tokio::time::sleep(AUDIT_RETRY).await;
            }
        }
    }
}

fn node_config(
    flags: &NodeFlags,
    listen: SocketAddr,
    labels: BTreeMap<String, String>,
    host_key: PrivateKey,
    joined: &NodeJoined,
) -> Result<NodeConfig, NodeStartError> {
    let answer = |what, e: ssh_key::Error| NodeStartError::Answer { what, message: e.to_string() };
    let user_ca = PublicKey::from_openssh(&joined.user_ca).map_err(|e| answer("user CA", e))?;
    let host_cert = Certificate::from_openssh(&joined.host_certificate)
        .map_err(|e| answer("host certificate", e))?;
    Ok(NodeConfig {
        name: flags.name.clone(),
        listen,
        labels,
        user_ca_keys: vec![user_ca],
        host_key,
        host_cert: Some(host_cert),
        policy: AccessPolicy {
            require_session_mfa: joined.require_session_mfa,
            allowed_logins: None,
        },
    })
}

/// Re-registers the node every [`HEARTBEAT_INTERVAL`]; failures are logged and retried.
async fn heartbeats(
    http: HttpClient,
    node_token: String,
    addr: String,
    labels: BTreeMap<String, String>,
) {
    let beat = NodeHeartbeat { addr, labels };
    loop {
        tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        let call = match Call::new(Method::POST, "/v1/nodes/heartbeat").json(&beat) {
            Ok(call) => {
                let mut call = call.bearer(&node_token);
                call.timeout = Some(CALL_TIMEOUT);
                call
            }
            Err(e) => {
                tracing::error!(error = %e, "encoding a heartbeat failed");
                return;
            }
        };
        if let Err(e) = http.expect_ok(&call).await {
            tracing::warn!(error = %e, "heartbeat failed; retrying");
        }
    }
}

/// `env=dev,team=a` into labels.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, NodeStartError> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(NodeStartError::Flag {
                flag: "--labels",
                message: format!("`{pair}` is not name=value"),
            });
        };
        labels.insert(name.trim().to_owned(), value.trim().to_owned());
    }
    Ok(labels)
}

fn prepare_dir(path: &Path) -> Result<(), NodeStartError> {
    let err = |source| NodeStartError::File { path: path.to_owned(), source };
    std::fs::create_dir_all(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

fn load_or_create_host_key(path: &Path, name: &str) -> Result<PrivateKey, NodeStartError> {
    match std::fs::read_to_string(path) {
        Ok(text) => PrivateKey::from_openssh(&text)
            .map_err(|e| NodeStartError::Corrupt { path: path.to_owned(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = zeroize::Zeroizing::new(hwa_core::entropy::array::<32>(&OsEntropy));
            let key = PrivateKey::new(KeypairData::from(Ed25519Keypair::from_seed(&seed)), name)
                .map_err(|e| NodeStartError::Answer { what: "host key", message: e.to_string() })?;
            let pem = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| NodeStartError::Answer { what: "host key", message: e.to_string() })?;
            write_private(path, pem.as_bytes())?;
            Ok(key)
        }
        Err(source) => Err(NodeStartError::File { path: path.to_owned(), source }),
    }
}

fn read_identity(path: &Path) -> Result<Option<NodeIdentity>, NodeStartError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NodeStartError::Corrupt { path: path.to_owned(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(NodeStartError::File { path: path.to_owned(), source }),
    }
}

/// Writes `bytes` to `path` with mode 0600, through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NodeStartError> {
    use std::io::Write;
    let err = |source| NodeStartError::File { path: path.to_owned(), source };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_read_as_comma_separated_pairs() {
        let labels = parse_labels("env=dev, team=a").expect("labels");
        assert_eq!(labels.get("env").map(String::as_str), Some("dev"));
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert!(parse_labels("env").is_err());
        assert!(parse_labels("").expect("empty").is_empty());
    }

    #[test]
    fn the_host_key_is_created_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(HOST_KEY_FILE);
        let first = load_or_create_host_key(&path, "node1").expect("create");
        let again = load_or_create_host_key(&path, "node1").expect("load");
        assert_eq!(first.public_key(), again.public_key());
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
