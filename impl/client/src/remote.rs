//! `hwa ssh` and `hwa scp`: one headless approval whose scope names the login(s) and node(s)
//! the command needs (SPEC HL-19, HL-21), then SSH through the proxy's one address.
//!
//! Every node is reached through the proxy's tunnel (`GET /webapi/nodes/<name>/ssh/<login>`
//! upgraded to raw bytes, authorized by the certificate): [`ProxyTunnels`] is a
//! [`hwa_core::Network`] whose `dial("node1")` opens such a tunnel, so `hwa_ssh::connect` runs
//! the SSH session end to end over it. The node is verified by a host certificate from the
//! cluster's host CA naming the node; there is no trust on first use.
//!
//! Without `--headless` the certificate comes from the session profile of `hwa login`, with a
//! WebAuthn ceremony for each session when a role requires per-session MFA
//! ([`crate::sessioncert`]); when neither `--headless` nor `--auth` is given, the proxy's
//! default connector decides, as for `hwa ls` (SPEC HL-23).
//!
//! # Limitations
//! - `hwa scp` copies over SFTP; each `[login@]host:path` must use one login per node.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use http::Method;
use hwa_core::api::RequestScope;
use hwa_core::memlock::MlockMode;
use hwa_core::net::{BoxStream, Listener};
use hwa_core::{Network, SharedClock, SharedNetwork};
use hwa_ssh::{HostTrust, Identity, PtyRequest, SshConnection, Target};
use ssh_key::PublicKey;

use crate::env::{Attached, ClientEnv, DeviceChoice};
use crate::error::ClientError;
use crate::headless::{HeadlessIdentity, HeadlessParams, headless_login};
use crate::http::{Call, HttpClient, Trust};
use crate::nodes::{LoginChoice, headless_by_default};
use crate::proxy_url::ProxyUrl;
use crate::sessioncert::{SessionCertParams, session_identity};

/// The `Upgrade` protocol of the proxy's node tunnel.
pub const TUNNEL_PROTOCOL: &str = "hwa-ssh";

/// Where the cluster is and who logs in: shared by `ssh` and `scp`.
#[derive(Clone, Debug)]
pub struct RemoteCluster {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    pub user: String,
    pub mlock: MlockMode,
    /// The login when a path or target names none.
    pub default_login: String,
    /// Headless, the session profile, or the proxy's default.
    pub login: LoginChoice,
    /// The authenticator for per-session MFA, when not headless.
    pub device: Option<DeviceChoice>,
}

/// `hwa ssh [login@]host command...`.
#[derive(Clone, Debug)]
pub struct SshParams {
    pub cluster: RemoteCluster,
    pub login: String,
    pub host: String,
    pub command: Vec<String>,
}

/// `hwa scp [-r] SRC... DST`.
#[derive(Clone, Debug)]
pub struct ScpParams {
    pub cluster: RemoteCluster,
    pub recursive: bool,
    pub paths: Vec<String>,
}

/// One side of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Local(PathBuf),
    Remote { login: String, host: String, path: String },
}

/// Parses `[login@]host:path` (remote) or a local path. A path with `/` before the first `:`
/// is local, as in OpenSSH's scp.
pub fn parse_endpoint(text: &str, default_login: &str) -> Result<Endpoint, ClientError> {
    let remote = text.split_once(':').filter(|(head, _)| !head.contains('/') && !head.is_empty());
    let Some((head, path)) = remote else {
        return Ok(Endpoint::Local(PathBuf::from(text)));
    };
    let (login, host) = match head.split_once('@') {
        Some((login, host)) => (login.to_owned(), host.to_owned()),
        None => (default_login.to_owned(), head.to_owned()),
    };
    if login.is_empty() || host.is_empty() {
        return Err(ClientError::Usage(format!("`{text}` is not [login@]host:path")));
    }
    let path = if path.is_empty() { ".".to_owned() } else { path.to_owned() };
    Ok(Endpoint::Remote { login, host, path })
}

/// Runs the command on the node, or without one the login's shell, with this process's
/// standard input, output and error; returns the remote exit code.
///
/// The shell gets a PTY when this process runs on a terminal (which is then in raw mode until
/// the shell exits, and whose size changes follow it); with input from a pipe or a file the
/// shell reads its commands from there instead, as with OpenSSH's `ssh host < script`.
pub async fn ssh(env: &mut ClientEnv, params: &SshParams) -> Result<u8, ClientError> {
    let command = params.command.join(" ");
    let target = format!("{}@{}", params.login, params.host);
    let scope = RequestScope {
        command: if command.is_empty() {
            format!("ssh {target} (interactive shell)")
        } else {
            format!("ssh {target} {command}")
        },
        logins: vec![params.login.clone()],
        nodes: vec![params.host.clone()],
    };
    // Standard input is the session's: a security key's PIN must not eat its first line.
    env.term.keep_input_for_session();
    let identity = Arc::new(login(env, &params.cluster, scope).await?);
    let seams = Seams { net: env.net.clone(), clock: env.clock.clone() };
    let conn = open(&seams, &params.cluster, &identity, &params.host, &params.login).await?;
    let status = {
        let io = env
            .term
            .attach(command.is_empty())
            .map_err(|e| ClientError::io("preparing the terminal", e))?;
        run_session(&conn, &command, io).await
    };
    let _ = conn.close().await;
    Ok(u8::try_from(status?.code()).unwrap_or(u8::MAX))
}

/// Runs `command` (or the shell when it is empty) over `conn` with the lent streams; the
/// terminal, if any, is restored when `io` is dropped here, before anything else is printed.
async fn run_session(
    conn: &SshConnection,
    command: &str,
    io: Attached<'_>,
) -> Result<hwa_ssh::ExitStatus, ClientError> {
    let Attached { stdin, mut stdout, mut stderr, tty } = io;
    let status = match (command.is_empty(), tty) {
        (false, _) => conn.exec_streaming(command, Some(stdin), &mut stdout, &mut stderr).await,
        (true, None) => conn.shell(stdin, &mut stdout, &mut stderr).await,
        (true, Some(mut tty)) => {
            let pty = PtyRequest { term: tty.term.clone(), size: tty.size };
            let resizes = tty.resizes.take();
            conn.shell_with_pty(&pty, stdin, &mut stdout, resizes).await
        }
    };
    status.map_err(ssh_error)
}

/// Copies between local paths and nodes, or between two nodes, with one approval.
pub async fn scp(env: &mut ClientEnv, params: &ScpParams) -> Result<u64, ClientError> {
    let default_login = &params.cluster.default_login;
    let Some((dst_text, src_texts)) = params.paths.split_last() else {
        return Err(ClientError::Usage("give sources and a destination".into()));
    };
    let dst = parse_endpoint(dst_text, default_login)?;
    let srcs = src_texts
        .iter()
        .map(|t| parse_endpoint(t, default_login))
        .collect::<Result<Vec<_>, _>>()?;
    let mut logins = Vec::new();
    let mut nodes = Vec::new();
    for end in srcs.iter().chain(std::iter::once(&dst)) {
        if let Endpoint::Remote { login, host, .. } = end {
            if !logins.contains(login) {
                logins.push(login.clone());
            }
            if !nodes.contains(host) {
                nodes.push(host.clone());
            }
        }
    }
    if nodes.is_empty() {
        return Err(ClientError::Usage("no path names a node; use host:path".into()));
    }
    let scope = RequestScope { command: format!("scp {}", params.paths.join(" ")), logins, nodes };
    let identity = Arc::new(login(env, &params.cluster, scope).await?);
    let seams = Seams { net: env.net.clone(), clock: env.clock.clone() };
    let mut copied = 0u64;
    for src in &srcs {
        copied += copy_one(&seams, &params.cluster, &identity, src, &dst, params.recursive).await?;
    }
    Ok(copied)
}

async fn copy_one(
    seams: &Seams,
    cluster: &RemoteCluster,
    identity: &Arc<HeadlessIdentity>,
    src: &Endpoint,
    dst: &Endpoint,
    recursive: bool,
) -> Result<u64, ClientError> {
    match (src, dst) {
        (Endpoint::Local(_), Endpoint::Local(_)) => {
            Err(ClientError::Usage("both paths are local; use cp".into()))
        }
        (Endpoint::Local(local), Endpoint::Remote { login, host, path }) => {
            let conn = open(seams, cluster, identity, host, login).await?;
            let sftp = conn.sftp().await.map_err(ssh_error)?;
            sftp.upload(local, path, recursive).await.map_err(ssh_error)
        }
        (Endpoint::Remote { login, host, path }, Endpoint::Local(local)) => {
            let conn = open(seams, cluster, identity, host, login).await?;
            let sftp = conn.sftp().await.map_err(ssh_error)?;
            sftp.download(path, local, recursive).await.map_err(ssh_error)
        }
        (
            Endpoint::Remote { login: src_login, host: src_host, path: src_path },
            Endpoint::Remote { login: dst_login, host: dst_host, path: dst_path },
        ) => {
            let from = open(seams, cluster, identity, src_host, src_login).await?;
            let to = open(seams, cluster, identity, dst_host, dst_login).await?;
            let from_sftp = from.sftp().await.map_err(ssh_error)?;
            let to_sftp = to.sftp().await.map_err(ssh_error)?;
            hwa_ssh::copy_between(&from_sftp, src_path, &to_sftp, dst_path, recursive)
                .await
                .map_err(ssh_error)
        }
    }
}

/// A certificate for `scope`: from a headless approval, or from the session profile.
async fn login(
    env: &mut ClientEnv,
    cluster: &RemoteCluster,
    scope: RequestScope,
) -> Result<HeadlessIdentity, ClientError> {
    let headless = match cluster.login {
        LoginChoice::Headless => true,
        LoginChoice::Session => false,
        LoginChoice::ProxyDefault => {
            let client = HttpClient::new(env.net.clone(), cluster.proxy.clone(), &cluster.trust)?;
            headless_by_default(&client).await?
        }
    };
    if !headless {
        let params = SessionCertParams {
            proxy: cluster.proxy.clone(),
            trust: cluster.trust.clone(),
            mlock: cluster.mlock.resolve(false),
            scope,
            device: cluster.device.clone(),
        };
        return session_identity(env, &params).await;
    }
    let params = HeadlessParams {
        proxy: cluster.proxy.clone(),
        trust: cluster.trust.clone(),
        user: cluster.user.clone(),
        mlock: cluster.mlock.resolve(true),
        scope,
    };
    headless_login(env, &params).await
}

/// An SSH connection to node `host` as `login`, through the proxy's tunnel, with the host
/// verified by the cluster's host CA. `hwa ssh` and `hwa scp` open theirs with it; it is
/// public for tools that hold an identity already (the connection benchmark).
pub async fn connect_node(
    net: &SharedNetwork,
    clock: &SharedClock,
    cluster: &RemoteCluster,
    identity: &Arc<HeadlessIdentity>,
    host: &str,
    login: &str,
) -> Result<SshConnection, ClientError> {
    open(&Seams { net: net.clone(), clock: clock.clone() }, cluster, identity, host, login).await
}

/// An SSH connection to `host` as `login`, through the proxy.
async fn open(
    seams: &Seams,
    cluster: &RemoteCluster,
    identity: &Arc<HeadlessIdentity>,
    host: &str,
    login: &str,
) -> Result<SshConnection, ClientError> {
    let host_ca = identity.host_ca.as_deref().ok_or_else(|| {
        ClientError::Protocol("the proxy did not send the host CA; nodes cannot be verified".into())
    })?;
    let ca = PublicKey::from_openssh(host_ca)
        .map_err(|e| ClientError::Protocol(format!("the host CA is not an OpenSSH key: {e}")))?;
    let http = HttpClient::new(seams.net.clone(), cluster.proxy.clone(), &cluster.trust)?;
    let tunnels = Arc::new(ProxyTunnels {
        http,
        clock: seams.clock.clone(),
        identity: identity.clone(),
        login: login.to_owned(),
        refusal: Mutex::new(None),
    });
    let net: SharedNetwork = tunnels.clone();
    let target = Target {
        addr: host.to_owned(),
        trust: HostTrust::CertificateAuthority { ca, host_name: host.to_owned() },
        login: login.to_owned(),
    };
    let ssh_identity =
        Identity { key: Arc::new(identity.private_key()), cert: identity.certificate.clone() };
    match hwa_ssh::connect(&net, &seams.clock, &target, &ssh_identity).await {
        Ok(conn) => Ok(conn),
        Err(e) => {
            // The proxy's refusal (access denied, unknown node) says more than "cannot reach".
            let refusal = tunnels.refusal.lock().ok().and_then(|mut slot| slot.take());
            Err(refusal.map_or_else(|| ssh_error(e), ClientError::Remote))
        }
    }
}

fn ssh_error(e: hwa_ssh::SshError) -> ClientError {
    ClientError::Remote(e.to_string())
}

/// The seams a connection needs, apart from the terminal (which is not `Sync`, so it must not
/// be borrowed across the connection's awaits).
struct Seams {
    net: SharedNetwork,
    clock: SharedClock,
}

/// Dials nodes by name through the proxy's tunnel endpoint.
struct ProxyTunnels {
    http: HttpClient,
    clock: SharedClock,
    identity: Arc<HeadlessIdentity>,
    login: String,
    refusal: Mutex<Option<String>>,
}

impl std::fmt::Debug for ProxyTunnels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTunnels").field("login", &self.login).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Network for ProxyTunnels {
    async fn listen(&self, _addr: std::net::SocketAddr) -> std::io::Result<Box<dyn Listener>> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "tunnels only dial"))
    }

    async fn dial(&self, node: &str) -> std::io::Result<BoxStream> {
        let path = format!("/webapi/nodes/{node}/ssh/{}", self.login);
        let auth = self
            .identity
            .authorization("GET", &path, self.clock.now())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut call = Call::new(Method::GET, path).auth(Some(auth));
        call.upgrade = Some(TUNNEL_PROTOCOL);
        match self.http.upgrade(&call).await {
            Ok(stream) => Ok(stream),
            Err(e) => {
                let text = e.to_string();
                if let Ok(mut slot) = self.refusal.lock() {
                    *slot = Some(text.clone());
                }
                Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_and_local_paths_are_told_apart_as_scp_does() {
        let remote = parse_endpoint("bob@node1:/tmp/a", "alice").expect("remote");
        assert_eq!(
            remote,
            Endpoint::Remote { login: "bob".into(), host: "node1".into(), path: "/tmp/a".into() }
        );
        let default = parse_endpoint("node2:", "alice").expect("remote");
        assert_eq!(
            default,
            Endpoint::Remote { login: "alice".into(), host: "node2".into(), path: ".".into() }
        );
        assert_eq!(
            parse_endpoint("./a:b", "alice").expect("local"),
            Endpoint::Local(PathBuf::from("./a:b"))
        );
        assert_eq!(parse_endpoint("file", "alice").expect("local"), Endpoint::Local("file".into()));
        assert!(parse_endpoint("@node1:x", "alice").is_err());
    }
}
