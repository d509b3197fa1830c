//! A live cluster of real processes: `hwad --dev`, two `hwad --roles=node` joined with
//! `hwactl tokens add`, and a user whose role requires per-session MFA. `hwa ssh --headless`
//! and `hwa scp --headless` (node1 → node2) each work with one approval given by
//! `hwa headless approve --skip-confirm` from another process (SPEC HL-19), and a login the
//! role does not permit is refused after approval (SPEC HL-20). Without a command, `hwa ssh`
//! opens the login's shell: on a PTY when run on a terminal (driven here through a real
//! pseudo-terminal), reading piped input otherwise. A stock OpenSSH sshd registered with
//! `hwactl nodes add` serves the same commands as an agentless node.
//!
//! A security key's PIN for per-session MFA is asked on the terminal, never read from the
//! input `hwa ssh` hands the session.
//!
//! The `hwa`, `hwactl` and `hwa-virtual-key` binaries are taken from the directory cargo put
//! `hwad` in; build them first: `cargo build --workspace --bins`. The nodes serve the OS user
//! running the test as the login.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use hwa_core::admin::{ADMIN_IDENTITY_FILE, AdminIdentity};

/// How long a process may take to start or print its request.
const WAIT: Duration = Duration::from_secs(60);
/// Interval between looks.
const POLL: Duration = Duration::from_millis(100);
/// The password `hwa signup` reads from `HWA_PASSWORD`.
const PASSWORD: &str = "correct-horse-battery-staple";

/// Children killed when the test ends, whatever its outcome.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Cluster {
    tmp: tempfile::TempDir,
    proxy: String,
    login: String,
    _procs: Procs,
}

fn bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_hwad")).parent().expect("bin dir").to_path_buf();
    let path = dir.join(name);
    assert!(path.exists(), "{} missing; run `cargo build --workspace --bins`", path.display());
    path
}

/// Looks at something every [`POLL`] for [`WAIT`] at most.
fn attempts() -> u128 {
    WAIT.as_millis() / POLL.as_millis()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.env("HWA_LOG", "warn").output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn hwactl(data: &Path, args: &[&str]) -> String {
    let out = run(Command::new(bin("hwactl")).arg("--data-dir").arg(data).args(args));
    String::from_utf8(out.stdout).expect("utf8")
}

fn wait_for_identity(child: &mut Child, dir: &Path) -> AdminIdentity {
    for _ in 0..attempts() {
        if let Ok(bytes) = std::fs::read(dir.join(ADMIN_IDENTITY_FILE))
            && let Ok(identity) = serde_json::from_slice(&bytes)
        {
            return identity;
        }
        assert!(child.try_wait().expect("wait").is_none(), "hwad exited early");
        std::thread::sleep(POLL);
    }
    panic!("no admin identity after {WAIT:?}");
}

fn wait_for_port(port: u16) {
    for _ in 0..attempts() {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(POLL);
    }
    panic!("nothing listens on {port}");
}

fn start_cluster() -> Cluster {
    let tmp = tempfile::tempdir().expect("tempdir");
    let auth_dir = tmp.path().join("auth");
    let mut auth = Command::new(env!("CARGO_BIN_EXE_hwad"))
        .args(["start", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&auth_dir)
        .env("HWA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hwad");
    let identity = wait_for_identity(&mut auth, &auth_dir);
    let port = identity.proxy_addr.rsplit_once(':').expect("port").1.to_owned();
    let proxy = format!("localhost:{port}");
    let mut procs = Procs(vec![auth]);

    let role = tmp.path().join("role.yaml");
    std::fs::write(
        &role,
        "kind: role\nversion: v1\nmetadata:\n  name: mfa-dev\nspec:\n  logins: \
         ['{{internal.logins}}']\n  node_labels:\n    env: [dev]\n  require_session_mfa: true\n",
    )
    .expect("role file");
    hwactl(&auth_dir, &["create", role.to_str().expect("path")]);

    for name in ["node1", "node2"] {
        let token = hwactl(&auth_dir, &["tokens", "add", "--type=node"]);
        let token = token.lines().next().expect("token line").to_owned();
        let port = free_port();
        let node = Command::new(env!("CARGO_BIN_EXE_hwad"))
            .args(["start", "--roles=node"])
            .arg(format!("--auth-server={proxy}"))
            .arg(format!("--token={token}"))
            .arg(format!("--name={name}"))
            .arg("--labels=env=dev")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(tmp.path().join(name))
            .env("HWA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hwad node");
        procs.0.push(node);
        wait_for_port(port);
    }

    let login = whoami();
    let added =
        hwactl(&auth_dir, &["users", "add", "alice", "--logins", &login, "--roles", "mfa-dev"]);
    let invite =
        added.split_whitespace().find(|w| w.starts_with("http://")).expect("invite URL").to_owned();
    let cluster = Cluster { tmp, proxy, login, _procs: procs };
    run(cluster.hwa().args(["signup", &invite, &cluster.key_arg()]));
    cluster
}

fn whoami() -> String {
    let out = run(Command::new("id").arg("-un"));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

impl Cluster {
    fn hwa(&self) -> Command {
        let home = self.tmp.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut cmd = Command::new(bin("hwa"));
        cmd.env("HOME", &home).env("HWA_PASSWORD", PASSWORD).env("HWA_LOG", "warn");
        cmd
    }

    fn key_arg(&self) -> String {
        format!("--authenticator-file={}", self.tmp.path().join("alice-key.json").display())
    }

    /// Approves request `id` from another process, as alice on her own machine would.
    fn approve(&self, id: &str) {
        let proxy = format!("--proxy={}", self.proxy);
        run(self.hwa().args([
            "headless",
            "approve",
            &proxy,
            &self.key_arg(),
            "--skip-confirm",
            id,
        ]));
    }

    /// Runs `hwa args...` with empty input, approves the request it prints, and returns its
    /// output and the number of distinct requests it printed (one approval each).
    fn approved(&self, args: &[&str]) -> (Output, usize) {
        self.approved_with_input(args, b"")
    }

    /// Like [`Cluster::approved`], with `input` on a pipe as standard input.
    fn approved_with_input(&self, args: &[&str], input: &[u8]) -> (Output, usize) {
        let err_path = self.tmp.path().join("hwa.err");
        let err_file = std::fs::File::create(&err_path).expect("stderr file");
        let mut child = self
            .hwa()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .expect("hwa");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("input written");
        drop(stdin);
        let mut left = attempts();
        let id = loop {
            let text = std::fs::read_to_string(&err_path).unwrap_or_default();
            if let Some(id) = request_id(&text) {
                break id;
            }
            left = left.checked_sub(1).unwrap_or_else(|| panic!("no request printed: {text}"));
            std::thread::sleep(POLL);
        };
        self.approve(&id);
        let mut output = child.wait_with_output().expect("hwa ends");
        std::fs::File::open(&err_path)
            .expect("stderr")
            .read_to_end(&mut output.stderr)
            .expect("read stderr");
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut ids: Vec<&str> = text
            .split("/web/headless/")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        (output, ids.len())
    }
}

/// Sends `POST path` with a bearer token and a JSON body to the proxy over plain HTTP, as a
/// forger would without the real client; returns the status code.
fn post_with_token(proxy: &str, path: &str, token: &str, body: &str) -> u16 {
    let port = proxy.rsplit_once(':').expect("port").1;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port.parse().expect("port")))
        .expect("proxy reachable");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {proxy}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    let status = answer.split_whitespace().nth(1).expect("a status line");
    status.parse().expect("a status code")
}

/// The ID of the first request URL in `text`.
fn request_id(text: &str) -> Option<String> {
    let at = text.find("/web/headless/")?;
    let rest = &text[at + "/web/headless/".len()..];
    let id: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (!id.is_empty()).then_some(id)
}

#[cfg(unix)]
#[test]
fn ssh_and_scp_through_the_proxy_need_one_approval_each_and_keep_access_rules() {
    let cluster = start_cluster();
    let proxy = format!("--proxy={}", cluster.proxy);
    let target = format!("{}@node1", cluster.login);

    let (out, approvals) = cluster.approved(&["ls", "--headless", &proxy, "--user=alice"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("node1") && table.contains("node2"), "both nodes listed:\n{table}");
    assert_eq!(approvals, 1);

    let (out, approvals) =
        cluster.approved(&["ssh", "--headless", &proxy, "--user=alice", &target, "uname", "-a"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Linux"), "{stdout}");
    assert_eq!(approvals, 1, "one request, one approval");

    // The node reports the session to the cluster's audit log.
    let auth_dir = cluster.tmp.path().join("auth");
    let mut audit = String::new();
    for _ in 0..attempts() {
        audit = hwactl(&auth_dir, &["audit"]);
        let reported = |kind: &str| {
            audit
                .lines()
                .any(|l| l.contains(kind) && l.contains("alice") && l.contains("node=node1"))
        };
        if reported("session_start") && reported("session_channel") && reported("session_end") {
            break;
        }
        std::thread::sleep(POLL);
    }
    let channel = audit.lines().find(|l| l.contains("session_channel")).unwrap_or_default();
    assert!(channel.contains("detail=uname -a"), "the node's report is in the log:\n{audit}");
    assert!(audit.contains("session_end"), "{audit}");
    assert_eq!(
        post_with_token(&cluster.proxy, "/v1/nodes/audit", "forged-node-token", "{\"events\":[]}"),
        401,
        "only a node's own token may report"
    );

    let (out, _) =
        cluster.approved(&["ssh", "--headless", &proxy, "--user=alice", &target, "exit", "7"]);
    assert_eq!(out.status.code(), Some(7), "the remote exit status is passed through");

    let src_dir = cluster.tmp.path().join("src");
    let dst_dir = cluster.tmp.path().join("dst");
    std::fs::create_dir_all(&src_dir).expect("src");
    std::fs::create_dir_all(&dst_dir).expect("dst");
    std::fs::write(src_dir.join("data.txt"), b"from node1\n").expect("data");
    let from = format!("{}@node1:{}", cluster.login, src_dir.join("data.txt").display());
    let to = format!("{}@node2:{}/", cluster.login, dst_dir.display());
    let (out, approvals) =
        cluster.approved(&["scp", "--headless", &proxy, "--user=alice", &from, &to]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(approvals, 1, "one approval covers both nodes");
    assert_eq!(std::fs::read(dst_dir.join("data.txt")).expect("copied"), b"from node1\n");

    let (out, _) =
        cluster.approved(&["ssh", "--headless", &proxy, "--user=alice", "nobody@node1", "id"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("may not use login(s) nobody"), "{stderr}");
}

/// Where Debian and Fedora install the OpenSSH server.
const SSHD: &str = "/usr/sbin/sshd";
/// Debian's SFTP server, which sshd runs for the `sftp` subsystem `hwa scp` uses.
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

#[cfg(unix)]
#[test]
fn a_stock_openssh_sshd_registered_with_hwactl_serves_hwa_ssh_scp_and_a_shell() {
    if !Path::new(SSHD).exists() {
        eprintln!("skipped: {SSHD} is not installed");
        return;
    }
    let cluster = start_cluster();
    let dir = cluster.tmp.path();
    let auth_dir = dir.join("auth");
    let user_ca = hwactl(&auth_dir, &["get", "cert_authority", "--type=user"]);
    assert!(user_ca.starts_with("ssh-ed25519 "), "{user_ca}");
    std::fs::write(dir.join("user_ca.pub"), &user_ca).expect("ca file");
    let prefix = dir.join("node3");
    hwactl(&auth_dir, &["auth", "sign", "--host=node3", &format!("--out={}", prefix.display())]);
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nHostCertificate {key}-cert.pub\n\
         TrustedUserCAKeys {ca}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\nUsePAM no\nPidFile {dir}/sshd.pid\n\
         Subsystem sftp {SFTP_SERVER}\n",
        key = prefix.display(),
        ca = dir.join("user_ca.pub").display(),
        dir = dir.display(),
    );
    std::fs::write(dir.join("sshd_config"), config).expect("sshd config");
    std::fs::create_dir_all("/run/sshd").ok();
    let sshd = Command::new(SSHD)
        .arg("-D")
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .spawn()
        .expect("sshd");
    let _sshd = Procs(vec![sshd]);
    wait_for_port(port);
    hwactl(
        &auth_dir,
        &["nodes", "add", "--name=node3", &format!("--addr=127.0.0.1:{port}"), "--labels=env=dev"],
    );

    let proxy = format!("--proxy={}", cluster.proxy);
    let target = format!("{}@node3", cluster.login);
    let (out, approvals) = cluster.approved(&[
        "ssh",
        "--headless",
        &proxy,
        "--user=alice",
        &target,
        "echo",
        "hello-from-sshd",
    ]);
    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
    assert!(out.status.success(), "{}\n{log}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello-from-sshd");
    assert_eq!(approvals, 1);
    assert!(log.contains("ID user=alice headless_request="), "{log}");

    // A copy from the hwa node to the agentless one, one approval for both.
    let src = dir.join("to-sshd.txt");
    std::fs::write(&src, b"node1 to sshd\n").expect("source file");
    let landed = dir.join("landed");
    std::fs::create_dir_all(&landed).expect("destination");
    let from = format!("{}@node1:{}", cluster.login, src.display());
    let to = format!("{}@node3:{}/", cluster.login, landed.display());
    let (out, approvals) =
        cluster.approved(&["scp", "--headless", &proxy, "--user=alice", &from, &to]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(approvals, 1);
    assert_eq!(std::fs::read(landed.join("to-sshd.txt")).expect("copied"), b"node1 to sshd\n");

    interactive_session(&cluster, "node3");
}

#[cfg(unix)]
#[test]
fn ssh_without_a_command_and_without_a_terminal_runs_the_shell_on_piped_input() {
    let cluster = start_cluster();
    let proxy = format!("--proxy={}", cluster.proxy);
    let target = format!("{}@node1", cluster.login);
    let script = b"tty || echo no-terminal\necho piped-$((2 + 3))\nexit 4\n";
    let (out, approvals) = cluster
        .approved_with_input(&["ssh", "--headless", &proxy, "--user=alice", &target], script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("piped-5"), "the shell read its commands from the pipe: {stdout}");
    assert!(stdout.contains("no-terminal"), "no PTY without a local terminal: {stdout}");
    assert_eq!(approvals, 1);

    let (out, _) = cluster.approved_with_input(
        &["ssh", "--headless", &proxy, "--user=alice", &target, "tr", "a-z", "A-Z"],
        b"shout\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\n", "a command reads standard input");
}

/// What a process on a PTY has written so far, read by a thread until the PTY closes.
struct Screen(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Screen {
    fn watch(pty: std::sync::Arc<pty_process::blocking::Pty>) -> Screen {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // A read fails (EIO) once the last process on the terminal is gone.
            while let Ok(n @ 1..) = (&*pty).read(&mut buf) {
                sink.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        });
        Screen(seen)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("screen")).into_owned()
    }

    /// Waits until `found` finds something on the screen, and returns it.
    fn wait_for<T>(&self, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        for _ in 0..attempts() {
            if let Some(hit) = found(&self.text()) {
                return hit;
            }
            std::thread::sleep(POLL);
        }
        panic!("never saw {what} on the terminal:\n{}", self.text());
    }
}

#[cfg(unix)]
#[test]
fn an_interactive_shell_gets_a_pty_that_follows_the_local_window_and_restores_the_terminal() {
    let cluster = start_cluster();
    interactive_session(&cluster, "node1");
}

/// Runs `hwa ssh --headless login@node` without a command on a real pseudo-terminal, approves
/// it, types into the shell, resizes the window and exits, checking what a person would see.
#[cfg(unix)]
fn interactive_session(cluster: &Cluster, node: &str) {
    use pty_process::Size;
    use rustix::termios::{LocalModes, tcgetattr};

    let (pty, pts) = pty_process::blocking::open().expect("a pseudo-terminal");
    pty.resize(Size::new(33, 101)).expect("window size");
    let cooked = tcgetattr(&pty).expect("terminal mode");
    assert!(cooked.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO));
    let home = cluster.tmp.path().join("home");
    let mut child = pty_process::blocking::Command::new(bin("hwa"))
        .args(["ssh", "--headless", &format!("--proxy={}", cluster.proxy), "--user=alice"])
        .arg(format!("{}@{node}", cluster.login))
        .env("HOME", &home)
        .env("TERM", "xterm-256color")
        .env("HWA_LOG", "warn")
        .spawn(pts)
        .expect("hwa on the terminal");
    let pty = std::sync::Arc::new(pty);
    let screen = Screen::watch(pty.clone());
    let id = screen.wait_for("the request URL", request_id);
    cluster.approve(&id);

    let typed = "tty; echo \"term=$TERM size=$(stty size)\"; echo answer-$((6 * 7))\n";
    (&*pty).write_all(typed.as_bytes()).expect("typing");
    let shown = screen.wait_for("the answer", |t| t.contains("answer-42").then(|| t.to_owned()));
    assert!(shown.contains("/dev/pts/"), "the shell runs on a PTY: {shown}");
    assert!(shown.contains("term=xterm-256color size=33 101"), "type and size sent: {shown}");
    assert_eq!(
        tcgetattr(&*pty).expect("terminal mode").local_modes
            & (LocalModes::ICANON | LocalModes::ECHO),
        LocalModes::empty(),
        "the local terminal is raw while the remote shell has it"
    );

    // Resizing the window signals hwa (SIGWINCH), which tells the node.
    pty.resize(Size::new(40, 120)).expect("new window size");
    let mut followed = false;
    for _ in 0..20 {
        (&*pty).write_all(b"echo \"now=$(stty size)\"\n").expect("typing");
        std::thread::sleep(Duration::from_millis(300));
        if screen.text().contains("now=40 120") {
            followed = true;
            break;
        }
    }
    assert!(followed, "the remote PTY never took the new size:\n{}", screen.text());

    (&*pty).write_all(b"exit 3\n").expect("typing");
    let status = child.wait().expect("hwa ends");
    assert_eq!(status.code(), Some(3), "the shell's exit status is passed through");
    let after = tcgetattr(&*pty).expect("terminal mode");
    assert!(
        after.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO),
        "the local terminal is back in its own mode after the shell exits"
    );
}

#[cfg(unix)]
#[test]
fn a_logged_in_user_completes_a_webauthn_ceremony_for_each_session() {
    let cluster = start_cluster();
    let proxy = format!("--proxy={}", cluster.proxy);
    run(cluster.hwa().args(["login", &proxy, "--user=alice", &cluster.key_arg()]));
    let target = format!("{}@node1", cluster.login);

    // The role requires per-session MFA: without an authenticator named, the client looks for
    // a USB security key, finds none on this machine, and says what to do.
    let out = cluster
        .hwa()
        .args(["ssh", &proxy, &target, "echo", "no-key"])
        .stdin(Stdio::null())
        .output()
        .expect("hwa runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("requires per-session MFA"), "{stderr}");
    assert!(stderr.contains("no FIDO security key found"), "{stderr}");
    assert!(stderr.contains("--authenticator-file"), "says what to do: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no-key"), "nothing ran");

    // With the key, each session gets its own ceremony and its own certificate.
    for n in 1..=2 {
        let out = run(cluster.hwa().stdin(Stdio::null()).args([
            "ssh",
            &proxy,
            &cluster.key_arg(),
            &target,
            "echo",
            &format!("session-{n}"),
        ]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("session-{n}"));
        assert_eq!(stderr.matches("per-session MFA: touch your authenticator").count(), 1);
        assert!(!stderr.contains("/web/headless/"), "no headless approval: {stderr}");
    }

    // A copy between the two nodes: one ceremony covers both, as one approval would.
    let src = cluster.tmp.path().join("session-copy.txt");
    std::fs::write(&src, b"copied with a session\n").expect("source file");
    let landed = cluster.tmp.path().join("session-landed");
    std::fs::create_dir_all(&landed).expect("destination");
    let from = format!("{}@node1:{}", cluster.login, src.display());
    let to = format!("{}@node2:{}/", cluster.login, landed.display());
    let out = run(cluster.hwa().stdin(Stdio::null()).args([
        "scp",
        &proxy,
        &cluster.key_arg(),
        &from,
        &to,
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("per-session MFA: touch your authenticator").count(), 1);
    let copied = std::fs::read(landed.join("session-copy.txt")).expect("copied");
    assert_eq!(copied, b"copied with a session\n");
}

/// The PIN of the virtual security key [`plug_in_key`] plugs in.
const KEY_PIN: &str = "4321";

/// A virtual FIDO2 key with PIN [`KEY_PIN`] (`hwa-virtual-key`), unplugged when dropped.
struct VirtualKey {
    /// `--authenticator=usb:PATH` for `hwa`.
    arg: String,
    _process: Procs,
}

fn plug_in_key() -> VirtualKey {
    use std::io::BufRead;
    let mut child = Command::new(bin("hwa-virtual-key"))
        .args(["--pin", KEY_PIN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hwa-virtual-key");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the key's node");
    let path = line
        .strip_prefix("virtual security key at ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no device node in {line:?}"))
        .to_owned();
    VirtualKey { arg: format!("--authenticator=usb:{path}"), _process: Procs(vec![child]) }
}

/// Runs `cmd` with `input` on a pipe as standard input.
fn output_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(input).expect("input written");
    child.wait_with_output().expect("ends")
}

#[cfg(unix)]
#[test]
fn a_pin_for_session_mfa_is_asked_on_the_terminal_and_never_taken_from_the_session_input() {
    let cluster = start_cluster();
    let key = plug_in_key();
    let proxy = format!("--proxy={}", cluster.proxy);
    let added = hwactl(
        &cluster.tmp.path().join("auth"),
        &["users", "add", "bob", "--logins", &cluster.login, "--roles", "mfa-dev"],
    );
    let invite =
        added.split_whitespace().find(|w| w.starts_with("http://")).expect("invite URL").to_owned();
    let home = cluster.tmp.path().join("bob");
    std::fs::create_dir_all(&home).expect("bob's home");
    let pin_line = format!("{KEY_PIN}\n");
    for args in [vec!["signup", &invite, &key.arg], vec!["login", &proxy, "--user=bob", &key.arg]] {
        let out =
            output_with_input(cluster.hwa().env("HOME", &home).args(args), pin_line.as_bytes());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let target = format!("{}@node1", cluster.login);
    let ssh = [proxy.as_str(), &key.arg, &target, "cat"];

    // Without a terminal, a PIN typed ahead into the input is not taken: it belongs to `cat`.
    // `sh` leads a new session without a terminal, so `hwa` (its child) cannot open one.
    let out = output_with_input(
        Command::new("setsid")
            .args(["--wait", "sh", "-c", "\"$0\" \"$@\"; exit $?"])
            .arg(bin("hwa"))
            .arg("ssh")
            .args(ssh)
            .env("HOME", &home)
            .env("HWA_LOG", "warn"),
        format!("{pin_line}meant for cat\n").as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("there is no terminal to ask on"), "says why: {stderr}");
    assert!(out.stdout.is_empty(), "nothing ran: {}", String::from_utf8_lossy(&out.stdout));

    // On a terminal, the PIN is typed there without echo, and every input line reaches `cat`.
    let (pty, pts) = pty_process::blocking::open().expect("a pseudo-terminal");
    let mut child = pty_process::blocking::Command::new(bin("hwa"))
        .arg("ssh")
        .args(ssh)
        .env("HOME", &home)
        .env("HWA_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn(pts)
        .expect("hwa on the terminal");
    let input = "4321 is not a PIN here\nsecond line\n";
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("input written");
    let pty = std::sync::Arc::new(pty);
    let screen = Screen::watch(pty.clone());
    screen.wait_for("the PIN prompt", |t| t.contains("PIN for the security key").then_some(()));
    (&*pty).write_all(pin_line.as_bytes()).expect("typing the PIN");
    let out = child.wait_with_output().expect("hwa ends");
    let shown = screen.text();
    assert!(out.status.success(), "{shown}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), input, "the session got all its input");
    assert!(!shown.contains(KEY_PIN), "the PIN was echoed: {shown}");
    assert_eq!(shown.matches("per-session MFA: touch your authenticator").count(), 1, "{shown}");
}
