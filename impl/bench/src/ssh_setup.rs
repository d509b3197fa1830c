//! `ssh-setup`: how long opening an SSH session and running one command takes once a headless
//! certificate is in hand, through the proxy and directly, side by side with a stock OpenSSH
//! client talking to a stock `sshd`.
//!
//! The cluster is the one of [`crate::cluster`] (auth and proxy in this process, SQLite), with
//! two nodes: an hwa node joined with a token (the code of `hwad --roles=node`, run in this
//! process) and a stock OpenSSH `sshd` started as a process, trusting the cluster's user CA and
//! presenting a host certificate from its host CA (an agentless node, registered as
//! `hwactl nodes add` does). One headless login, approved by a software authenticator through
//! the real approval API, gives the certificate every variant uses; another login replaces it
//! before it expires.
//!
//! A sample is a whole session: dial (a TCP connection, or the proxy's tunnel: a TCP
//! connection, the `HwaCert` check and an HTTP upgrade), the SSH handshake with certificate
//! authentication and host-certificate verification, `true` executed, the connection closed.
//! Variants are measured round-robin (sample *i* of every variant, then *i + 1*), so a change
//! of load on the machine touches all of them alike.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use hwa_auth::ca::CaKind;
use hwa_auth::join::JoinTokenAdd;
use hwa_client::http::Trust;
use hwa_client::nodes::LoginChoice;
use hwa_client::remote::{RemoteCluster, connect_node};
use hwa_client::{
    AuthenticatorFactory, ClientEnv, DeviceChoice, HeadlessIdentity, HeadlessParams, Terminal,
    WebauthnDevice, headless_login,
};
use hwa_core::SharedClock;
use hwa_core::api::{NodeView, RequestScope};
use hwa_core::clock::SystemClock;
use hwa_core::entropy::OsEntropy;
use hwa_core::id::RequestId;
use hwa_core::memlock::{MlockMode, SystemLocker};
use hwa_daemon::node::{NodeFlags, run_node};
use hwa_ssh::{HostTrust, SshConnection, Target};
use serde::Serialize;
use ssh_key::{LineEnding, PublicKey};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::machine::{self, MachineFacts};
use crate::people::Approver;
use crate::stats::{Summary, micros, ms};

/// Samples per variant unless told otherwise.
pub const DEFAULT_SAMPLES: usize = 100;

/// Sessions per variant before measuring, so every path has its code paged in and its
/// connections' first-use costs paid.
const WARM_UP: usize = 3;

/// A certificate with less than this left is replaced before the next round of samples: a
/// round takes well under a second, and a session must not start on a certificate that
/// expires during its handshake.
const RENEW_MARGIN: Duration = Duration::from_secs(15);

/// Where Debian installs the OpenSSH server and client.
const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";

/// How long a node may take to start listening.
const START_WAIT: Duration = Duration::from_secs(30);

/// The names the two nodes are registered under.
const HWA_NODE: &str = "node1";
const SSHD_NODE: &str = "sshd";

/// One way of reaching a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The stock `ssh` client process, straight to `sshd`: the baseline.
    OpensshDirect,
    /// The `hwa-ssh` client library, straight to `sshd`.
    HwaDirectSshd,
    /// The `hwa-ssh` client library through the proxy's tunnel to `sshd`.
    HwaProxySshd,
    /// The `hwa-ssh` client library, straight to the hwa node.
    HwaDirectNode,
    /// The `hwa-ssh` client library through the proxy's tunnel to the hwa node: `hwa ssh`.
    HwaProxyNode,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Variant::OpensshDirect,
        Variant::HwaDirectSshd,
        Variant::HwaProxySshd,
        Variant::HwaDirectNode,
        Variant::HwaProxyNode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::OpensshDirect => "openssh-direct",
            Variant::HwaDirectSshd => "hwa-direct-sshd",
            Variant::HwaProxySshd => "hwa-proxy-sshd",
            Variant::HwaDirectNode => "hwa-direct-node",
            Variant::HwaProxyNode => "hwa-proxy-node",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Variant::OpensshDirect => "`ssh` process → sshd",
            Variant::HwaDirectSshd => "hwa-ssh → sshd",
            Variant::HwaProxySshd => "hwa-ssh → proxy tunnel → sshd",
            Variant::HwaDirectNode => "hwa-ssh → hwa node",
            Variant::HwaProxyNode => "hwa-ssh → proxy tunnel → hwa node (`hwa ssh`)",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Params {
    pub samples: usize,
}

/// One variant's samples.
#[derive(Clone, Debug, Serialize)]
pub struct VariantResult {
    pub variant: Variant,
    pub path: &'static str,
    pub session: Summary,
}

/// The whole run, as written to `ssh-setup.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub machine: MachineFacts,
    pub login: String,
    pub openssh_version: String,
    /// Headless logins the run needed (one per certificate lifetime).
    pub approvals: usize,
    pub variants: Vec<VariantResult>,
}

/// Runs the benchmark: sets the cluster and both nodes up, measures, tears down.
pub async fn run(params: &Params, command: String) -> anyhow::Result<Report> {
    if params.samples == 0 {
        bail!("no samples to take; use --samples 1 or more");
    }
    for program in [SSHD, SSH] {
        if !Path::new(program).exists() {
            bail!("{program} is missing; install Debian's openssh-server and openssh-client");
        }
    }
    let machine = MachineFacts::read();
    let login = os_user()?;
    let mut bench = Bench::start(&login).await?;
    let result = bench.measure(params.samples).await;
    let approvals = bench.approvals;
    bench.stop().await;
    let mut samples = result?;
    let variants = Variant::ALL
        .iter()
        .map(|&variant| {
            let taken = samples.remove(variant.name()).unwrap_or_default();
            let session = Summary::of(&taken).ok_or_else(|| anyhow!("no samples taken"))?;
            Ok(VariantResult { variant, path: variant.path(), session })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Report {
        command,
        machine,
        login,
        openssh_version: openssh_version().await,
        approvals,
        variants,
    })
}

/// The running cluster, its two nodes, and the identity sessions use.
struct Bench {
    cluster: Cluster,
    approver: Approver,
    login: String,
    remote: RemoteCluster,
    clock: SharedClock,
    identity: Arc<HeadlessIdentity>,
    approvals: usize,
    host_ca: PublicKey,
    hwa_node_addr: String,
    sshd_addr: String,
    sshd: tokio::process::Child,
    stop_node: Option<oneshot::Sender<()>>,
    node: tokio::task::JoinHandle<()>,
    /// The `ssh` client's key, certificate and known-hosts files.
    openssh: OpensshFiles,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(login: &str) -> anyhow::Result<Bench> {
        let dir = tempfile::Builder::new()
            .prefix("hwa-bench-ssh-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let cluster = Cluster::start().await?;
        let approver = Approver::sign_up_as(
            &cluster.auth,
            &cluster.net,
            &cluster.proxy,
            &cluster.origin,
            "bencher",
            &[login.to_owned()],
        )
        .await?;

        let (hwa_node_addr, stop_node, node) = start_hwa_node(&cluster, dir.path()).await?;
        let (sshd_addr, sshd) = start_sshd(&cluster, dir.path()).await?;
        cluster
            .auth
            .upsert_node(NodeView {
                name: SSHD_NODE.into(),
                addr: sshd_addr.clone(),
                labels: [("env".to_owned(), "bench".to_owned())].into(),
            })
            .await
            .context("cannot register sshd as a node")?;

        let host_ca = PublicKey::from_openssh(&cluster.membership.ca_public(CaKind::Host))
            .context("the host CA is not an OpenSSH key")?;
        let remote = RemoteCluster {
            proxy: cluster.proxy.clone(),
            trust: Trust::System,
            user: approver.user.clone(),
            mlock: MlockMode::Off,
            default_login: login.to_owned(),
            login: LoginChoice::Headless,
            device: None,
        };
        let clock = SystemClock::shared();
        let mut approver = approver;
        let identity = Arc::new(approved_login(&remote, &mut approver, login).await?);
        let openssh = OpensshFiles::write(dir.path(), &host_ca, &identity)?;
        Ok(Bench {
            cluster,
            approver,
            login: login.to_owned(),
            remote,
            clock,
            identity,
            approvals: 1,
            host_ca,
            hwa_node_addr,
            sshd_addr,
            sshd,
            stop_node: Some(stop_node),
            node,
            openssh,
            _dir: dir,
        })
    }

    /// Takes `samples` sessions of every variant, round-robin, after a warm-up.
    async fn measure(
        &mut self,
        samples: usize,
    ) -> anyhow::Result<std::collections::BTreeMap<&'static str, Vec<Duration>>> {
        let mut taken: std::collections::BTreeMap<&'static str, Vec<Duration>> =
            Variant::ALL.iter().map(|v| (v.name(), Vec::with_capacity(samples))).collect();
        for round in 0..WARM_UP + samples {
            self.renew_if_needed().await?;
            for variant in Variant::ALL {
                let took = self
                    .session(variant)
                    .await
                    .with_context(|| format!("a {} session failed", variant.name()))?;
                if round >= WARM_UP
                    && let Some(list) = taken.get_mut(variant.name())
                {
                    list.push(took);
                }
            }
            if round % 20 == 0 {
                tracing::info!(round, of = WARM_UP + samples, "sessions");
            }
        }
        Ok(taken)
    }

    /// Logs in again when the certificate is close to its end.
    async fn renew_if_needed(&mut self) -> anyhow::Result<()> {
        let left = self.identity.valid_before.0.saturating_sub(self.clock.now().0);
        if left > micros(RENEW_MARGIN) / 1000 {
            return Ok(());
        }
        let identity = approved_login(&self.remote, &mut self.approver, &self.login).await?;
        self.identity = Arc::new(identity);
        self.openssh = OpensshFiles::write(self._dir.path(), &self.host_ca, &self.identity)?;
        self.approvals += 1;
        Ok(())
    }

    /// One whole session of `variant`; returns how long it took.
    async fn session(&self, variant: Variant) -> anyhow::Result<Duration> {
        let start = Instant::now();
        match variant {
            Variant::OpensshDirect => self.openssh_session().await?,
            Variant::HwaDirectSshd => {
                run_true(self.direct(&self.sshd_addr, SSHD_NODE).await?).await?;
            }
            Variant::HwaProxySshd => run_true(self.through_proxy(SSHD_NODE).await?).await?,
            Variant::HwaDirectNode => {
                run_true(self.direct(&self.hwa_node_addr, HWA_NODE).await?).await?;
            }
            Variant::HwaProxyNode => run_true(self.through_proxy(HWA_NODE).await?).await?,
        }
        Ok(start.elapsed())
    }

    async fn direct(&self, addr: &str, host_name: &str) -> anyhow::Result<SshConnection> {
        let target = Target {
            addr: addr.to_owned(),
            trust: HostTrust::CertificateAuthority {
                ca: self.host_ca.clone(),
                host_name: host_name.to_owned(),
            },
            login: self.login.clone(),
        };
        let identity = hwa_ssh::Identity {
            key: Arc::new(self.identity.private_key()),
            cert: self.identity.certificate.clone(),
        };
        Ok(hwa_ssh::connect(&self.cluster.net, &self.clock, &target, &identity).await?)
    }

    async fn through_proxy(&self, node: &str) -> anyhow::Result<SshConnection> {
        let net = &self.cluster.net;
        Ok(connect_node(net, &self.clock, &self.remote, &self.identity, node, &self.login).await?)
    }

    async fn openssh_session(&self) -> anyhow::Result<()> {
        let port = self.sshd_addr.rsplit_once(':').map_or("22", |(_, p)| p);
        let files = &self.openssh;
        let output = tokio::process::Command::new(SSH)
            .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .arg("-i")
            .arg(&files.key)
            .arg("-o")
            .arg(format!("CertificateFile={}", files.cert.display()))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", files.known_hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"])
            .args(["-o", &format!("HostKeyAlias={SSHD_NODE}"), "-p", port])
            .arg(format!("{}@127.0.0.1", self.login))
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run ssh")?;
        if !output.status.success() {
            bail!("ssh ended with {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop_node.take() {
            let _ = stop.send(());
        }
        let _ = self.node.await;
        let _ = self.sshd.kill().await;
        self.cluster.stop().await;
    }
}

/// Runs `true` on `conn` and closes it.
async fn run_true(conn: SshConnection) -> anyhow::Result<()> {
    let output = conn.exec("true").await?;
    if output.status.code() != 0 {
        bail!("`true` ended with {:?}", output.status);
    }
    conn.close().await?;
    Ok(())
}

/// Joins an hwa node with a fresh token and serves it in this process; returns its address,
/// what stops it, and its task.
async fn start_hwa_node(
    cluster: &Cluster,
    dir: &Path,
) -> anyhow::Result<(String, oneshot::Sender<()>, tokio::task::JoinHandle<()>)> {
    let token = cluster
        .membership
        .add_join_token(&JoinTokenAdd { kind: "node".into(), ttl_secs: None })
        .await
        .context("cannot make a join token")?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let flags = NodeFlags {
        auth_server: cluster.proxy.origin(),
        token: Some(token.token),
        name: HWA_NODE.into(),
        labels: "env=bench".into(),
        listen: addr.clone(),
        data_dir: dir.join(HWA_NODE),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let node = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = run_node(&flags, shutdown).await {
            tracing::error!(error = %e, "the hwa node stopped");
        }
    });
    wait_for_listener(&addr).await?;
    Ok((addr, stop, node))
}

/// Starts a stock `sshd` on loopback as an agentless node of the cluster.
async fn start_sshd(
    cluster: &Cluster,
    dir: &Path,
) -> anyhow::Result<(String, tokio::process::Child)> {
    let signed = cluster
        .membership
        .make_host_identity(SSHD_NODE)
        .context("cannot sign a host certificate for sshd")?;
    let key = dir.join("sshd_host_key");
    write_private(&key, signed.private_key.as_bytes())?;
    std::fs::write(dir.join("sshd_host_key-cert.pub"), &signed.certificate)
        .context("cannot write the sshd host certificate")?;
    let user_ca = dir.join("user_ca.pub");
    std::fs::write(&user_ca, cluster.membership.ca_public(CaKind::User))
        .context("cannot write the user CA")?;
    let port = free_port()?;
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nHostCertificate {key}-cert.pub\n\
         TrustedUserCAKeys {ca}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nUsePAM no\nPidFile {dir}/sshd.pid\n\
         MaxStartups 100\n",
        key = key.display(),
        ca = user_ca.display(),
        dir = dir.display(),
    );
    let config_path = dir.join("sshd_config");
    std::fs::write(&config_path, config).context("cannot write sshd_config")?;
    // sshd refuses to start without its privilege-separation directory.
    std::fs::create_dir_all("/run/sshd").context("cannot create /run/sshd")?;
    let child = tokio::process::Command::new(SSHD)
        .arg("-D")
        .arg("-f")
        .arg(&config_path)
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .kill_on_drop(true)
        .spawn()
        .context("cannot start sshd")?;
    let addr = format!("127.0.0.1:{port}");
    wait_for_listener(&addr).await?;
    Ok((addr, child))
}

/// A headless login for `login` on both nodes, approved by `approver` as soon as it is
/// printed: what `hwa ssh --headless` and the approver's `hwa headless approve` do.
async fn approved_login(
    remote: &RemoteCluster,
    approver: &mut Approver,
    login: &str,
) -> anyhow::Result<HeadlessIdentity> {
    let (said, mut heard) = mpsc::unbounded_channel();
    let mut env = ClientEnv {
        net: hwa_core::net::TokioNetwork::shared(),
        clock: SystemClock::shared(),
        entropy: OsEntropy::shared(),
        locker: Arc::new(SystemLocker),
        home: None,
        os_user: login.to_owned(),
        vars: Default::default(),
        term: Box::new(Instructions(said)),
        authenticators: Arc::new(NoAuthenticators),
    };
    let params = HeadlessParams {
        proxy: remote.proxy.clone(),
        trust: remote.trust.clone(),
        user: remote.user.clone(),
        mlock: MlockMode::Off,
        scope: RequestScope {
            command: "hwa-bench ssh-setup".into(),
            logins: vec![login.to_owned()],
            nodes: vec![HWA_NODE.into(), SSHD_NODE.into()],
        },
    };
    let approve = async {
        let mut text = String::new();
        let id = loop {
            let more = heard.recv().await.ok_or_else(|| anyhow!("the login printed no URL"))?;
            text.push_str(&more);
            if let Some(id) = request_id(&text) {
                break id;
            }
        };
        approver.view(&id).await?;
        let decision = approver.prepare_approval(&id).await?;
        approver.send(&decision).await
    };
    let (identity, approved) = tokio::join!(headless_login(&mut env, &params), approve);
    approved.context("approving the benchmark's login failed")?;
    Ok(identity?)
}

/// The request ID in the first approval URL of `text`.
fn request_id(text: &str) -> Option<RequestId> {
    let (_, rest) = text.split_once("/web/headless/")?;
    let end = rest.find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))?;
    rest[..end].parse().ok()
}

/// The terminal of the benchmark's headless login: what it says on standard error is passed
/// on (the approval URL is read from it); it reads nothing.
struct Instructions(mpsc::UnboundedSender<String>);

#[async_trait]
impl Terminal for Instructions {
    async fn out(&mut self, _text: &str) -> std::io::Result<()> {
        Ok(())
    }

    async fn err(&mut self, text: &str) -> std::io::Result<()> {
        let _ = self.0.send(text.to_owned());
        Ok(())
    }

    async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        Ok(None)
    }

    async fn read_secret(&mut self, _prompt: &str) -> std::io::Result<zeroize::Zeroizing<String>> {
        Ok(zeroize::Zeroizing::new(String::new()))
    }
}

/// A headless login opens no authenticator; the approver holds its own.
#[derive(Debug)]
struct NoAuthenticators;

impl AuthenticatorFactory for NoAuthenticators {
    fn open(&self, choice: &DeviceChoice) -> Result<Box<dyn WebauthnDevice>, String> {
        Err(format!("the benchmark's login opens no authenticator ({choice})"))
    }
}

/// The files the `ssh` client reads: the key, its certificate, and a known-hosts file that
/// trusts the cluster's host CA.
#[derive(Debug)]
struct OpensshFiles {
    key: PathBuf,
    cert: PathBuf,
    known_hosts: PathBuf,
}

impl OpensshFiles {
    fn write(
        dir: &Path,
        host_ca: &PublicKey,
        identity: &HeadlessIdentity,
    ) -> anyhow::Result<OpensshFiles> {
        let key = dir.join("id_ed25519");
        let pem = identity.private_key().to_openssh(LineEnding::LF)?;
        write_private(&key, pem.as_bytes())?;
        let cert = dir.join("id_ed25519-cert.pub");
        std::fs::write(&cert, format!("{}\n", identity.certificate_line.trim()))
            .context("cannot write the certificate")?;
        let known_hosts = dir.join("known_hosts");
        let ca_line = host_ca.to_openssh()?;
        std::fs::write(&known_hosts, format!("@cert-authority * {ca_line}\n"))
            .context("cannot write known_hosts")?;
        Ok(OpensshFiles { key, cert, known_hosts })
    }
}

/// Writes a private key readable by its owner only (sshd and ssh refuse anything looser).
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts connections on `addr`.
async fn wait_for_listener(addr: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < START_WAIT {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on {addr} after {START_WAIT:?}")
}

/// The OS user this process runs as: the login every session uses (the nodes serve it).
fn os_user() -> anyhow::Result<String> {
    let output = std::process::Command::new("id").arg("-un").output().context("cannot run id")?;
    let name = String::from_utf8(output.stdout).context("the user name is not UTF-8")?;
    let name = name.trim();
    if name.is_empty() {
        bail!("`id -un` printed no user name");
    }
    Ok(name.to_owned())
}

/// `ssh -V`, which prints on standard error.
async fn openssh_version() -> String {
    match tokio::process::Command::new(SSH).arg("-V").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// The Markdown page of `ssh-setup`.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# SSH session set-up: through the proxy and direct, beside OpenSSH\n");
    let _ = writeln!(out, "Command (release build):\n\n```sh\n{}\n```\n", r.command);
    let _ = writeln!(
        out,
        "Each sample is one whole session with a headless certificate already in hand: dial \
         (through the proxy: a TCP connection to the proxy, the `HwaCert` check and the HTTP \
         upgrade of `GET /webapi/nodes/<node>/ssh/<login>`, then the proxy's own connection to \
         the node), the SSH handshake with certificate authentication and host-certificate \
         verification, `true` executed as `{}`, the connection closed. Everything runs on \
         loopback on one machine. Variants are measured round-robin; {} headless login(s) \
         supplied the certificates. OpenSSH: {}.\n",
        r.login, r.approvals, r.openssh_version
    );
    let _ = writeln!(
        out,
        "| variant | path | samples | min (ms) | median (ms) | p90 (ms) | max (ms) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for v in &r.variants {
        let s = &v.session;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            v.variant.name(),
            v.path,
            s.samples,
            ms(s.min_us),
            ms(s.median_us),
            ms(s.p90_us),
            ms(s.max_us)
        );
    }
    let median = |variant: Variant| {
        r.variants.iter().find(|v| v.variant == variant).map(|v| v.session.median_us)
    };
    let _ = writeln!(out, "\n## Reading the numbers\n");
    for (server, direct, proxied) in [
        ("sshd", Variant::HwaDirectSshd, Variant::HwaProxySshd),
        ("the hwa node", Variant::HwaDirectNode, Variant::HwaProxyNode),
    ] {
        if let (Some(direct), Some(proxied)) = (median(direct), median(proxied)) {
            let _ = writeln!(
                out,
                "- The proxy's cost, to {server}: {} ms at the median ({} direct, {} through \
                 the proxy).",
                signed_ms(proxied, direct),
                ms(direct),
                ms(proxied)
            );
        }
    }
    if let (Some(sshd), Some(node)) =
        (median(Variant::HwaDirectSshd), median(Variant::HwaDirectNode))
    {
        let _ = writeln!(
            out,
            "- The two servers with the same client (hwa-ssh, direct): sshd {} ms, the hwa node \
             {} ms at the median. sshd starts new processes for every connection (it forks \
             and re-executes itself, then separates privileges), while the hwa node serves \
             each connection as a task of its running process; how sshd's time divides \
             between those steps is not measured here.",
            ms(sshd),
            ms(node)
        );
    }
    if let (Some(openssh), Some(hwa)) =
        (median(Variant::OpensshDirect), median(Variant::HwaProxyNode))
    {
        let _ = writeln!(
            out,
            "- `hwa ssh`'s path (hwa-ssh through the proxy to the hwa node) against a stock \
             `ssh` straight to sshd: {} against {} ms at the median.",
            ms(hwa),
            ms(openssh)
        );
    }
    let _ = writeln!(
        out,
        "- The `ssh` variant is a process per session, so it includes starting `ssh` and \
         reading its key files, which the in-process variants do not pay; `hwa ssh` pays its \
         own process start once per command too, and a headless approval before it, which \
         dwarfs both. Comparing hwa-direct-sshd with openssh-direct compares the two client \
         implementations against the same server; comparing the direct and proxied variants \
         of one node isolates the proxy.\n"
    );
    let peak = crate::report::kib(machine::peak_rss_kib());
    let _ = writeln!(out, "Peak memory of the benchmark process: {peak}.\n");
    crate::report::machine_section(&mut out, &r.machine);
    out
}

/// `a - b` in milliseconds with a sign.
fn signed_ms(a: u64, b: u64) -> String {
    if a >= b { format!("+{}", ms(a - b)) } else { format!("-{}", ms(b - a)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_id_is_read_from_the_printed_url() {
        let text = concat!(
            "Complete at http://localhost:1/web/headless/",
            "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f\nor run ..."
        );
        let id = request_id(text).expect("an ID");
        assert_eq!(id.to_string(), "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f");
        assert!(request_id("Complete at http://localhost:1/web/headless/bb2d2f28").is_none());
        assert!(request_id("no URL here\n").is_none());
    }

    #[test]
    fn differences_carry_their_sign() {
        assert_eq!(signed_ms(3_500, 1_000), "+2.500");
        assert_eq!(signed_ms(1_000, 3_500), "-2.500");
    }
}
