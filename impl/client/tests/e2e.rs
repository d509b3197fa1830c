//! End-to-end: the real `hwad`, `hwactl` and `hwa` binaries on loopback.
//!
//! One cluster per test: `hwad start --dev` on a free port in a temporary data directory, a
//! user added with `hwactl`, signed up and logged in with `hwa` and a software authenticator in
//! a "laptop" home directory, then a headless command run from an empty "dev box" home
//! directory and decided with `hwa headless approve`. Checks the SPEC's observable promises:
//! the listing arrives (HL-04), the approval URL is on standard error only (HL-04), and the
//! headless home directory stays empty (HL-05).
//!
//! `hwad` is built by the test itself (`cargo build -p hwa-daemon --bin hwad`), because cargo
//! builds only this package's binaries for its integration tests.

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
const PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

const PASSWORD: &str = "correct horse battery staple";

/// A running `hwad` and the directories of one scenario. The daemon is killed on drop.
struct Cluster {
    daemon: Child,
    _root: tempfile::TempDir,
    data: PathBuf,
    laptop: PathBuf,
    devbox: PathBuf,
    proxy: String,
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
    fn start() -> Cluster {
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
        Cluster { daemon, _root: root, data, laptop, devbox, proxy: format!("localhost:{port}") }
    }

    fn hwactl(&self, args: &[&str]) -> Output {
        Command::new(Path::new(env!("CARGO_BIN_EXE_hwa")).with_file_name("hwactl"))
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("hwactl runs")
    }

    fn hwa(&self, home: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwa"));
        for (key, _) in std::env::vars() {
            if key.starts_with("HWA_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("HOME", home).env("HWA_PASSWORD", PASSWORD).env("HWA_LOG", "error");
        cmd
    }

    fn key_file(&self) -> String {
        format!("--authenticator-file={}", self.laptop.join("key.json").display())
    }

    /// Adds `user`, signs up and logs in on the laptop.
    fn user_on_laptop(&self, user: &str) {
        let added = self.hwactl(&["users", "add", user, "--logins", user]);
        assert!(added.status.success(), "users add: {}", text(&added.stderr));
        let invite = text(&added.stdout).trim().to_owned();
        assert!(invite.contains("/web/invite/"), "{invite}");
        let signup = self.hwa(&self.laptop).args(["signup", &invite, &self.key_file()]).output();
        let signup = signup.expect("hwa signup runs");
        assert!(signup.status.success(), "signup: {}", text(&signup.stderr));
        let proxy = format!("--proxy={}", self.proxy);
        let login = self
            .hwa(&self.laptop)
            .args(["login", &proxy, &format!("--user={user}"), &self.key_file()])
            .output()
            .expect("hwa login runs");
        assert!(login.status.success(), "login: {}", text(&login.stderr));
    }

    /// Starts `hwa ls --headless` in the dev box; answers the child and the request ID.
    fn headless_ls(&self, user: &str) -> (Child, String, mpsc::Receiver<String>) {
        self.ls_waiting_for_approval(user, &["--headless"])
    }

    /// Starts `hwa ls` with `flags` in the dev box and waits for its approval command.
    fn ls_waiting_for_approval(
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

    fn approve(&self, id: &str, extra: &[&str], stdin: &str) -> Output {
        let mut child = self
            .hwa(&self.laptop)
            .args(["headless", "approve", &format!("--proxy={}", self.proxy), &self.key_file()])
            .args(extra)
            .arg(id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hwa headless approve starts");
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin piped");
        input.write_all(stdin.as_bytes()).expect("answer written");
        drop(input);
        child.wait_with_output().expect("approve finishes")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits for the headless client and collects its output.
fn finish(mut child: Child, stderr: mpsc::Receiver<String>) -> (i32, String, String) {
    let mut stdout = String::new();
    child.stdout.take().expect("stdout piped").read_to_string(&mut stdout).expect("stdout read");
    let status = child.wait().expect("hwa ls exits");
    let err: Vec<String> = stderr.iter().collect();
    (status.code().unwrap_or(-1), stdout, err.join("\n"))
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("home readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn an_approved_headless_ls_lists_nodes_and_leaves_the_dev_box_home_empty() {
    let cluster = Cluster::start();
    cluster.user_on_laptop("alice");

    let (child, id, stderr) = cluster.headless_ls("alice");
    let approved = cluster.approve(&id, &["--skip-confirm"], "");
    assert!(approved.status.success(), "approve: {}", text(&approved.stderr));
    assert!(text(&approved.stderr).contains(&format!("approved request {id}")));

    let (code, stdout, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "hwa ls failed:\n{stderr}");
    assert!(stdout.starts_with("Node"), "the table is on stdout:\n{stdout}");
    assert!(!stdout.contains("http"), "no URL on stdout (HL-04):\n{stdout}");
    assert!(stderr.contains(&format!("/web/headless/{id}")), "URL on stderr:\n{stderr}");
    assert!(stderr.contains("approved;"), "{stderr}");
    assert_eq!(entries(&cluster.devbox), Vec::<String>::new(), "HL-05: nothing written");
}

#[test]
fn answering_no_denies_the_request_and_the_waiting_command_fails_clearly() {
    let cluster = Cluster::start();
    cluster.user_on_laptop("alice");

    let (child, id, stderr) = cluster.headless_ls("alice");
    let denied = cluster.approve(&id, &[], "n\n");
    assert!(denied.status.success(), "deny: {}", text(&denied.stderr));
    let approver_err = text(&denied.stderr);
    assert!(approver_err.contains("Approve? [y/N]"), "{approver_err}");
    assert!(approver_err.contains(&format!("denied request {id}")), "{approver_err}");

    let (code, stdout, stderr) = finish(child, stderr);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("error: headless login was denied"), "{stderr}");
    assert_eq!(entries(&cluster.devbox), Vec::<String>::new());
}

#[test]
fn another_users_request_is_refused_with_a_message_naming_both_users() {
    let cluster = Cluster::start();
    cluster.user_on_laptop("bob");
    cluster.hwactl(&["users", "add", "alice", "--logins", "alice"]);

    let (mut child, id, _stderr) = cluster.headless_ls("alice");
    let refused = cluster.approve(&id, &["--skip-confirm"], "");
    assert_eq!(refused.status.code(), Some(1));
    let message = text(&refused.stderr);
    assert!(message.contains("you are logged in as bob"), "{message}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_headless_default_connector_applied_with_hwactl_makes_plain_ls_headless() {
    let cluster = Cluster::start();
    let got = cluster.hwactl(&["get", "cluster_auth_preference"]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    let yaml = text(&got.stdout);
    assert!(yaml.contains("kind: cluster_auth_preference"), "{yaml}");

    let cap = cluster._root.path().join("cap.yaml");
    std::fs::write(&cap, yaml.replace("  webauthn:", "  connector_name: headless\n  webauthn:"))
        .expect("cap written");
    let applied = cluster.hwactl(&["create", "-f", &cap.display().to_string()]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let again = text(&cluster.hwactl(&["get", "cluster_auth_preference"]).stdout);
    assert!(again.contains("connector_name: headless"), "{again}");

    // HL-23: with `connector_name: headless`, a plain `hwa ls` logs in headlessly.
    cluster.user_on_laptop("alice");
    let (child, id, stderr) = cluster.ls_waiting_for_approval("alice", &[]);
    let approved = cluster.approve(&id, &["--skip-confirm"], "");
    assert!(approved.status.success(), "approve: {}", text(&approved.stderr));
    let (code, stdout, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Node"), "{stdout}");
}

#[test]
fn the_watcher_shows_a_new_request_and_approves_it_on_yes() {
    use std::io::Write;

    let cluster = Cluster::start();
    cluster.user_on_laptop("alice");
    let mut watcher = cluster
        .hwa(&cluster.laptop)
        .args(["headless", "watch", &format!("--proxy={}", cluster.proxy), &cluster.key_file()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hwa headless watch starts");
    let mut answers = watcher.stdin.take().expect("stdin piped");
    let (tx, rx) = mpsc::channel();
    let watcher_err = watcher.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for line in BufReader::new(watcher_err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        let line = rx.recv_timeout(PROMPT_TIMEOUT).unwrap_or_else(|_| panic!("no `{needle}`"));
        if line.contains(needle) {
            break line;
        }
    };
    wait_for("watching for headless requests of alice");

    let (child, id, stderr) = cluster.headless_ls("alice");
    wait_for(&format!("Headless login request {id}"));
    answers.write_all(b"y\n").expect("answer written");
    wait_for(&format!("approved request {id}"));

    let (code, stdout, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Node"), "{stdout}");
    let _ = watcher.kill();
    let _ = watcher.wait();
}
