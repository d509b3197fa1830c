//! The `live` target: for each case, a real `hwad start --dev` on loopback with the embedded
//! SQLite store in a temporary data directory, users added with the real `hwactl`, and every
//! machine a temporary home directory in which the real `hwa` binary runs as a subprocess. The
//! virtual authenticator plays the browser through `--authenticator-file`. A case's SSH nodes
//! are real `hwad start --roles=node` processes joined with `hwactl tokens add`, serving the OS
//! account this runner runs as.
//!
//! Programs of one case run concurrently on one task; the case has [`CASE_TIMEOUT`] overall.
//! The daemon is killed and waited for when the case ends, however it ends.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use async_trait::async_trait;
use hwa_client::http::{HttpClient, Trust};
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::net::TokioNetwork;
use hwa_sim::board::Board;
use hwa_virtual_authenticator::Faults;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::plan::{Case, NODE_LOGIN, NodeSpec, Plan, Role};
use crate::target::{CommandOutput, HwaRun, Machine};

/// Longest a live case may run, all machines together. A login waits at most its 3-minute
/// lifetime; no live case waits that out (those are sim-only), so two minutes is generous.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long `hwad` may take to write its admin identity.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The relying party ID of a `hwad start --dev` cluster.
pub const LIVE_RP_ID: &str = "localhost";

/// The password every user signs up with (the simulator's), handed to `hwa` through
/// `HWA_PASSWORD`.
pub const LIVE_PASSWORD: &str = hwa_sim::hosts::SIM_PASSWORD;

/// Where the product binaries are: `HWA_BIN_DIR`, else next to this executable (cargo puts
/// `hwad`, `hwa` and `hwactl` in the same `target/<profile>` directory).
pub fn binary_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("HWA_BIN_DIR") {
        return Ok(dir.into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe.parent().ok_or("this executable has no directory")?.to_path_buf();
    for bin in ["hwad", "hwa", "hwactl"] {
        if !dir.join(bin).exists() {
            return Err(format!(
                "{bin} not found in {}; build it first (cargo build -p hwa-daemon -p \
                 hwa-client -p hwa-admin) or set HWA_BIN_DIR",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// A running `hwad` and its data directory.
#[derive(Debug)]
struct Daemon {
    child: Child,
    data: PathBuf,
    proxy: String,
}

impl Daemon {
    async fn start(bins: &Path, root: &Path) -> Result<Daemon, String> {
        let data = root.join("data");
        let log = std::fs::File::create(root.join("hwad.log")).map_err(|e| e.to_string())?;
        let child = Command::new(bins.join("hwad"))
            .args(["start", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start hwad: {e}"))?;
        let mut daemon = Daemon { child, data, proxy: String::new() };
        let path = daemon.data.join("admin-identity.json");
        let started = tokio::time::Instant::now();
        let identity: hwa_core::admin::AdminIdentity = loop {
            if let Ok(bytes) = tokio::fs::read(&path).await
                && let Ok(identity) = serde_json::from_slice(&bytes)
            {
                break identity;
            }
            if started.elapsed() > START_TIMEOUT {
                let log = std::fs::read_to_string(root.join("hwad.log")).unwrap_or_default();
                return Err(format!("hwad wrote no admin identity; its log:\n{log}"));
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let log = std::fs::read_to_string(root.join("hwad.log")).unwrap_or_default();
                return Err(format!("hwad exited with {status}; its log:\n{log}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The development relying party is `localhost`, so machines name the proxy so too.
        let port = identity.proxy_addr.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
        daemon.proxy = format!("localhost:{port}");
        Ok(daemon)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

/// Runs `hwactl` against the daemon whose data directory is `data`.
async fn hwactl(
    bins: &Path,
    data: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<CommandOutput, String> {
    let mut child = Command::new(bins.join("hwactl"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run hwactl: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.unwrap_or_default().as_bytes()).await;
    }
    let out = child.wait_with_output().await.map_err(|e| format!("hwactl: {e}"))?;
    Ok(CommandOutput {
        exit_code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A live machine: a home directory in which the real `hwa` runs.
#[derive(Debug)]
pub struct LiveMachine {
    name: String,
    os_user: String,
    home: PathBuf,
    proxy: String,
    bins: PathBuf,
    data: PathBuf,
    board: Board,
    /// The login the case's nodes serve, when it has nodes.
    node_login: Option<String>,
}

/// Copies a child's output stream onto the board line by line, and answers all of it.
async fn pump(stream: impl AsyncRead + Unpin, board: Board, host: String, stderr: bool) -> String {
    let mut lines = BufReader::new(stream).lines();
    let mut all = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = format!("{line}\n");
        if stderr {
            board.write_stderr(&host, &line);
        } else {
            board.write_stdout(&host, &line);
        }
        all.push_str(&line);
    }
    all
}

#[async_trait(?Send)]
impl Machine for LiveMachine {
    fn name(&self) -> &str {
        &self.name
    }

    fn os_user(&self) -> &str {
        &self.os_user
    }

    fn home(&self) -> PathBuf {
        self.home.clone()
    }

    fn proxy(&self, _i: usize) -> String {
        self.proxy.clone()
    }

    fn key_arg(&self, key: &str) -> String {
        format!("--authenticator-file={}", self.home.join(format!("{key}.json")).display())
    }

    fn board(&self) -> &Board {
        &self.board
    }

    fn node_login(&self) -> Result<String, String> {
        self.node_login.clone().ok_or_else(|| "this case started no SSH nodes".to_owned())
    }

    fn spawn_hwa(&self, args: &[&str], vars: &[(&str, &str)], answers: &[&str]) -> HwaRun {
        let mut cmd = Command::new(self.bins.join("hwa"));
        for (key, _) in std::env::vars() {
            if key.starts_with("HWA_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(args)
            .env("HOME", &self.home)
            .env("USER", &self.os_user)
            .env("LOGNAME", &self.os_user)
            .env("HWA_PASSWORD", LIVE_PASSWORD)
            .env("HWA_LOG", "error")
            .current_dir(&self.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let spawned = cmd.spawn();
        let input: String = answers.iter().map(|a| format!("{a}\n")).collect();
        let (board, host) = (self.board.clone(), self.name.clone());
        HwaRun(Box::pin(async move {
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => {
                    return CommandOutput {
                        exit_code: -1,
                        stdout: String::new(),
                        stderr: format!("cannot run hwa: {e}"),
                    };
                }
            };
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(input.as_bytes()).await;
            }
            let out = child.stdout.take().map(|s| pump(s, board.clone(), host.clone(), false));
            let err = child.stderr.take().map(|s| pump(s, board.clone(), host.clone(), true));
            let (stdout, stderr) = futures::join!(
                async {
                    match out {
                        Some(f) => f.await,
                        None => String::new(),
                    }
                },
                async {
                    match err {
                        Some(f) => f.await,
                        None => String::new(),
                    }
                }
            );
            let exit_code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
            CommandOutput { exit_code, stdout, stderr }
        }))
    }

    async fn http(
        &self,
        _i: usize,
        method: &str,
        path: &str,
        body: Option<String>,
        bearer: Option<&str>,
    ) -> Result<(u16, String), String> {
        let proxy = ProxyUrl::parse(&self.proxy).map_err(|e| e.to_string())?;
        let client = HttpClient::new(TokioNetwork::shared(), proxy, &Trust::System)
            .map_err(|e| e.to_string())?;
        crate::sim::raw_call(&client, method, path, body, bearer).await
    }

    async fn admin(&self, args: &[&str], stdin: Option<&str>) -> Result<CommandOutput, String> {
        hwactl(&self.bins, &self.data, args, stdin).await
    }

    fn open_authenticator(&self, key: &str) -> Result<Box<dyn hwa_client::WebauthnDevice>, String> {
        let path = self.home.join(format!("{key}.json"));
        let authenticator = hwa_virtual_authenticator::SoftAuthenticator::open_file(&path)
            .map_err(|e| format!("cannot open the authenticator {}: {e}", path.display()))?;
        Ok(Box::new(hwa_client::device::SoftDevice(
            hwa_virtual_authenticator::WebauthnClient::new(authenticator),
        )))
    }

    async fn set_faults(&self, _key: &str, _faults: Faults) -> Result<(), String> {
        Err("the authenticator file carries no fault switches; WebAuthn faults run on sim".into())
    }
}

/// Runs `case` once against a fresh live cluster.
pub fn run_case(case: &Case) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a runtime: {e}"))?;
    runtime.block_on(async {
        let bins = binary_dir()?;
        let root = tempfile::Builder::new()
            .prefix(&format!("hwa-conformance-{}-", case.name))
            .tempdir()
            .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        let daemon = Daemon::start(&bins, root.path()).await?;
        let result = tokio::time::timeout(CASE_TIMEOUT, run_on(case, &bins, &daemon, root.path()))
            .await
            .unwrap_or_else(|_| {
                Err(format!("the case did not finish within {} seconds", CASE_TIMEOUT.as_secs()))
            });
        daemon.stop().await;
        result
    })
}

/// How long a node may take to join and listen.
const NODE_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Joins node `spec` with a fresh token from `hwactl tokens add` and starts it as
/// `hwad start --roles=node` on a free loopback port; killed when dropped.
async fn start_node(
    bins: &Path,
    daemon: &Daemon,
    root: &Path,
    spec: &NodeSpec,
) -> Result<Child, String> {
    let token = hwactl(bins, &daemon.data, &["tokens", "add", "--type=node"], None)
        .await?
        .ok("hwactl tokens add")?;
    let token = token.stdout.lines().next().unwrap_or_default().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port for node {}: {e}", spec.name))?
        .port();
    let log_path = root.join(format!("{}.log", spec.name));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(bins.join("hwad"))
        .args(["start", "--roles=node"])
        .arg(format!("--auth-server={}", daemon.proxy))
        .arg(format!("--token={token}"))
        .arg(format!("--name={}", spec.name))
        .arg(format!("--labels={}", spec.labels))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(root.join("nodes").join(&spec.name))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start node {}: {e}", spec.name))?;
    let started = tokio::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > NODE_START_TIMEOUT || matches!(child.try_wait(), Ok(Some(_))) {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("node {} did not start listening; its log:\n{log}", spec.name));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}

/// The OS account this process runs as: nodes started here serve it as their login.
fn os_account() -> Result<String, String> {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("cannot run id -un: {e}"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if name.is_empty() {
        return Err("id -un printed no account name".into());
    }
    Ok(name)
}

async fn run_on(case: &Case, bins: &Path, daemon: &Daemon, root: &Path) -> Result<(), String> {
    let mut plan = Plan::default();
    (case.build)(&mut plan);
    let board = Board::default();
    if let Some(yaml) = &plan.preference {
        let yaml = yaml.replace("{rp_id}", LIVE_RP_ID);
        let applied = hwactl(bins, &daemon.data, &["create", "-f", "-"], Some(&yaml)).await?;
        applied.ok("hwactl create -f (the case's preference)")?;
    }
    for yaml in &plan.roles {
        let created = hwactl(bins, &daemon.data, &["create", "-"], Some(yaml)).await?;
        created.ok("hwactl create (the case's role)")?;
    }
    let node_login = if plan.nodes.is_empty() { String::new() } else { os_account()? };
    for user in &plan.users {
        let logins: Vec<String> =
            user.logins.iter().map(|l| l.replace(NODE_LOGIN, &node_login)).collect();
        let logins = logins.join(",");
        let mut args = vec!["users", "add", user.name.as_str(), "--logins", logins.as_str()];
        let roles = user.roles.join(",");
        if !roles.is_empty() {
            args.extend(["--roles", roles.as_str()]);
        }
        let added = hwactl(bins, &daemon.data, &args, None).await?.ok("hwactl users add")?;
        board.set_invite(&user.name, added.stdout.trim());
    }
    let mut nodes = Vec::new();
    for spec in &plan.nodes {
        nodes.push(start_node(bins, daemon, root, spec).await?);
    }
    let mut programs = Vec::new();
    let mut remotes = Vec::new();
    for spec in plan.machines {
        let home = root.join("homes").join(&spec.name);
        std::fs::create_dir_all(&home).map_err(|e| format!("cannot make a home: {e}"))?;
        if spec.role == Role::Remote {
            remotes.push(home.clone());
        }
        let machine: Rc<dyn Machine> = Rc::new(LiveMachine {
            name: spec.name.clone(),
            os_user: spec.os_user,
            home,
            proxy: daemon.proxy.clone(),
            bins: bins.to_path_buf(),
            data: daemon.data.clone(),
            board: board.clone(),
            node_login: (!nodes.is_empty()).then(|| node_login.clone()),
        });
        let name = spec.name;
        let program = spec.program;
        programs.push(async move { program(machine).await.map_err(|e| format!("{name}: {e}")) });
    }
    let results = futures::future::join_all(programs).await;
    for mut node in nodes {
        let _ = node.kill().await;
        let _ = node.wait().await;
    }
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    for home in remotes {
        let left: Vec<String> = std::fs::read_dir(&home)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            return Err(format!("HL-05: the remote home {} holds {left:?}", home.display()));
        }
    }
    for (what, check) in &plan.checks {
        check(&board).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(())
}
