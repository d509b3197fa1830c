//! The live cluster the end-to-end tests share: the real `hwad`, `hwactl` and `hwa` binaries on
//! loopback, with a "laptop" home that holds the user's session and WebAuthn device and an
//! empty "dev box" home for headless commands.
//!
//! `hwad` is built by the harness itself (`cargo build -p hwa-daemon --bin hwad`), because cargo
//! builds only this package's binaries for its integration tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

/// How long the daemon may take to write its admin identity after starting.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between looks for the admin identity file.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a headless client may take to print its approval command.
pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

const PASSWORD: &str = "correct horse battery staple";

/// A running `hwad` and the directories of one scenario. The daemon is killed on drop.
pub struct Cluster {
    daemon: Child,
    _root: tempfile::TempDir,
    pub data: PathBuf,
    pub laptop: PathBuf,
    pub devbox: PathBuf,
    pub proxy: String,
    /// How the laptop names its WebAuthn device: a software authenticator file unless a test
    /// plugs in a security key.
    pub device: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Builds `hwad` and `hwactl` once per test run and answers the directory holding the
/// binaries.
fn binaries() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let built = Command::new(cargo)
            .args(["build", "--quiet", "-p", "hwa-daemon", "--bin", "hwad"])
            .args(["-p", "hwa-admin", "--bin", "hwactl"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(built.status.success(), "building hwad failed:\n{}", text(&built.stderr));
        // The test executable lives in target/<profile>/deps; the binaries one level up.
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().and_then(Path::parent).expect("target directory");
        assert!(dir.join("hwad").exists(), "hwad not found in {}", dir.display());
        dir.to_path_buf()
    })
    .clone()
}

impl Cluster {
    pub fn start() -> Cluster {
        let root = tempfile::tempdir().expect("temp dir");
        let data = root.path().join("data");
        let laptop = root.path().join("laptop");
        let devbox = root.path().join("devbox");
        std::fs::create_dir_all(&laptop).expect("laptop home");
        std::fs::create_dir_all(&devbox).expect("devbox home");
        let daemon = Command::new(binaries().join("hwad"))
            .args(["start", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hwad starts");
        let identity_path = data.join("admin-identity.json");
        let mut waited = Duration::ZERO;
        let identity: hwa_core::admin::AdminIdentity = loop {
            if let Ok(bytes) = std::fs::read(&identity_path)
                && let Ok(identity) = serde_json::from_slice(&bytes)
            {
                break identity;
            }
            assert!(waited < START_TIMEOUT, "hwad wrote no admin identity");
            std::thread::sleep(POLL_INTERVAL);
            waited += POLL_INTERVAL;
        };
        // The development relying party is `localhost`, so the client names the proxy so too.
        let port = identity.proxy_addr.rsplit_once(':').expect("host:port").1.to_owned();
        let device = format!("--authenticator-file={}", laptop.join("key.json").display());
        Cluster {
            daemon,
            _root: root,
            data,
            laptop,
            devbox,
            proxy: format!("localhost:{port}"),
            device,
        }
    }

    /// The scenario's temporary directory.
    pub fn root(&self) -> &Path {
        self._root.path()
    }

    pub fn hwactl(&self, args: &[&str]) -> Output {
        Command::new(Path::new(env!("CARGO_BIN_EXE_hwa")).with_file_name("hwactl"))
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("hwactl runs")
    }

    pub fn hwa(&self, home: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwa"));
        for (key, _) in std::env::vars() {
            if key.starts_with("HWA_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("HOME", home).env("HWA_PASSWORD", PASSWORD).env("HWA_LOG", "error");
        cmd
    }

    /// Adds `user`, signs up and logs in on the laptop.
    pub fn user_on_laptop(&self, user: &str) {
        let added = self.hwactl(&["users", "add", user, "--logins", user]);
        assert!(added.status.success(), "users add: {}", text(&added.stderr));
        let invite = text(&added.stdout).trim().to_owned();
        assert!(invite.contains("/web/invite/"), "{invite}");
        let signup = self.hwa(&self.laptop).args(["signup", &invite, &self.device]).output();
        let signup = signup.expect("hwa signup runs");
        assert!(signup.status.success(), "signup: {}", text(&signup.stderr));
        let proxy = format!("--proxy={}", self.proxy);
        let login = self
            .hwa(&self.laptop)
            .args(["login", &proxy, &format!("--user={user}"), &self.device])
            .output()
            .expect("hwa login runs");
        assert!(login.status.success(), "login: {}", text(&login.stderr));
    }

    /// Starts `hwa ls --headless` in the dev box; answers the child and the request ID.
    pub fn headless_ls(&self, user: &str) -> (Child, String, mpsc::Receiver<String>) {
        self.ls_waiting_for_approval(user, &["--headless"])
    }

    /// Starts `hwa ls` with `flags` in the dev box and waits for its approval command.
    pub fn ls_waiting_for_approval(
        &self,
        user: &str,
        flags: &[&str],
    ) -> (Child, String, mpsc::Receiver<String>) {
        let mut child = self
            .hwa(&self.devbox)
            .args(["ls", &format!("--proxy={}", self.proxy), &format!("--user={user}")])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hwa ls starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let id = loop {
            let line = rx.recv_timeout(PROMPT_TIMEOUT).unwrap_or_else(|_| {
                panic!("no approval command printed; stderr so far:\n{}", seen.join("\n"))
            });
            seen.push(line.clone());
            if line.contains("hwa headless approve") {
                break line.split_whitespace().last().expect("an ID").to_owned();
            }
        };
        let (rest_tx, rest_rx) = mpsc::channel();
        rest_tx.send(seen.join("\n")).expect("channel open");
        std::thread::spawn(move || {
            let rest: Vec<String> = rx.iter().collect();
            let _ = rest_tx.send(rest.join("\n"));
        });
        (child, id, rest_rx)
    }

    pub fn approve(&self, id: &str, extra: &[&str], stdin: &str) -> Output {
        let proxy = format!("--proxy={}", self.proxy);
        let mut command = self.hwa(&self.laptop);
        command.args(["headless", "approve", &proxy, &self.device]).args(extra).arg(id);
        with_input(&mut command, stdin)
    }
}

/// Runs `command` with `input` on standard input and collects what it prints.
pub fn with_input(command: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hwa starts");
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(input.as_bytes()).expect("input written");
    drop(stdin);
    child.wait_with_output().expect("hwa finishes")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits for the headless client and collects its output.
pub fn finish(mut child: Child, stderr: mpsc::Receiver<String>) -> (i32, String, String) {
    let mut stdout = String::new();
    child.stdout.take().expect("stdout piped").read_to_string(&mut stdout).expect("stdout read");
    let status = child.wait().expect("hwa ls exits");
    let err: Vec<String> = stderr.iter().collect();
    (status.code().unwrap_or(-1), stdout, err.join("\n"))
}

pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("home readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}
