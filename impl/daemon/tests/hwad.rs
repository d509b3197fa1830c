//! The real `hwad` binary: started with a temporary data directory and port 0, it writes the
//! admin identity with the bound address, answers `/webapi/ping`, prints the next steps, and
//! stops cleanly on SIGTERM. Bad flags and config files fail with messages naming the field.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hwa_core::admin::{ADMIN_IDENTITY_FILE, AdminIdentity};

/// How long the daemon may take to start (argon2 and the CA keys are made on first start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Interval between looks for the admin identity file.
const POLL: Duration = Duration::from_millis(50);

fn hwad() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hwad"));
    command.env("HWA_LOG", "warn");
    command
}

fn wait_for_identity(child: &mut Child, dir: &Path) -> AdminIdentity {
    let path = dir.join(ADMIN_IDENTITY_FILE);
    let attempts = START_TIMEOUT.as_millis() / POLL.as_millis();
    for _ in 0..attempts {
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(identity) = serde_json::from_slice(&bytes)
        {
            return identity;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("hwad exited early with {status}");
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    panic!("no admin identity after {START_TIMEOUT:?}");
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to hwad");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[cfg(unix)]
#[test]
fn hwad_dev_starts_on_a_free_port_answers_ping_and_stops_on_sigterm() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut child = hwad()
        .args(["start", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("hwad starts");
    let identity = wait_for_identity(&mut child, &data);
    assert!(identity.insecure_http);
    assert!(!identity.proxy_addr.ends_with(":0"), "{}", identity.proxy_addr);
    assert!(!identity.token.is_empty());
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join(ADMIN_IDENTITY_FILE)), 0o600);
    assert!(data.join("hwa.db").exists());

    let answer = get(&identity.proxy_addr, "/webapi/ping");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"webauthn_rp_id\":\"localhost\""), "{answer}");

    let status =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().expect("hwad exits");
    assert!(output.status.success(), "{:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("hwactl --data-dir"), "{stdout}");
    let port = identity.proxy_addr.rsplit(':').next().expect("port");
    assert!(stdout.contains(&format!("http://localhost:{port}/web/login")), "{stdout}");
}

#[test]
fn the_node_role_beside_others_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = hwad()
        .args(["start", "--dev", "--roles", "auth,proxy,node", "--data-dir"])
        .arg(tmp.path())
        .output()
        .expect("hwad runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("role `node` runs alone"), "{stderr}");
}

#[test]
fn a_config_file_with_an_unknown_field_is_refused_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("hwad.toml");
    std::fs::write(&config, "cluster_name = \"x\"\nlisten_port = 3080\n").expect("write");
    let output = hwad()
        .args(["start", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .output()
        .expect("hwad runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listen_port"), "{stderr}");
}

#[test]
fn plain_http_on_a_public_address_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let output = hwad()
        .args(["start", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path())
        .output()
        .expect("hwad runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing plain HTTP"), "{stderr}");
}
