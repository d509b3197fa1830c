//! The stock OpenSSH client (`ssh`, `scp`) against the node: what users without `hwa` run.
//!
//! The client gets the certificate and key as files (OpenSSH reads nothing else) and trusts
//! the node through an `@cert-authority` line, so the node's host certificate is exercised
//! too. Needs Debian's `openssh-client` (`apt-get install openssh-client`).

#![allow(clippy::unwrap_used)] // fixture helpers below fail the test loudly when setup fails

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use ssh_key::LineEnding;
use support::{Cluster, NODE_NAME, RunningNode, default_policy, login};

/// Files the stock client is pointed at.
struct ClientFiles {
    _dir: tempfile::TempDir,
    key: PathBuf,
    cert: PathBuf,
    known_hosts: PathBuf,
}

fn client_files(cluster: &Cluster, login: &str) -> ClientFiles {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let identity = cluster.identity(login);
    let key = dir.path().join("id_ed25519");
    std::fs::write(&key, identity.key.to_openssh(LineEnding::LF).unwrap().as_bytes()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cert = dir.path().join("id_ed25519-cert.pub");
    std::fs::write(&cert, identity.cert.to_openssh().unwrap()).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    let ca = cluster.host_ca.public_key().to_openssh().unwrap();
    std::fs::write(&known_hosts, format!("@cert-authority {NODE_NAME} {ca}\n")).unwrap();
    ClientFiles { _dir: dir, key, cert, known_hosts }
}

/// Options that make `ssh` and `scp` use only the given files and never prompt.
fn options(files: &ClientFiles) -> Vec<String> {
    [
        "-F".to_string(),
        "/dev/null".to_string(),
        "-i".into(),
        path(&files.key),
        "-o".into(),
        format!("CertificateFile={}", path(&files.cert)),
        "-o".into(),
        format!("UserKnownHostsFile={}", path(&files.known_hosts)),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        format!("HostKeyAlias={NODE_NAME}"),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "IdentityAgent=none".into(),
    ]
    .to_vec()
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

async fn run(program: &str, args: &[String]) -> Output {
    tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}); apt-get install openssh-client"))
}

fn ssh_args(node: &RunningNode, files: &ClientFiles, login: &str, command: &str) -> Vec<String> {
    let mut args = options(files);
    args.extend(["-p".into(), node.port.to_string(), format!("{login}@127.0.0.1"), command.into()]);
    args
}

#[tokio::test]
async fn stock_ssh_runs_a_command_with_a_certificate() {
    let cluster = Cluster::new(20);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let files = client_files(&cluster, &me);

    let out = run("ssh", &ssh_args(&node, &files, &me, "echo hi")).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "{out:?}");
    assert_eq!(out.status.code(), Some(0));

    let out = run("ssh", &ssh_args(&node, &files, &me, "exit 3")).await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    node.stop().await;
}

#[tokio::test]
async fn stock_ssh_is_refused_a_login_the_certificate_does_not_name() {
    let cluster = Cluster::new(21);
    let node = cluster.start_node(default_policy()).await;
    let files = client_files(&cluster, &login());
    let out = run("ssh", &ssh_args(&node, &files, "somebody-else", "echo hi")).await;
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
    node.stop().await;
}

/// `scp` in OpenSSH 9 speaks SFTP by default; `-O` selects the classic protocol, which runs
/// `scp -t` / `scp -f` on the node. Both directions of both are checked.
#[tokio::test]
async fn stock_scp_copies_both_ways_over_sftp_and_the_classic_protocol() {
    let cluster = Cluster::new(22);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let files = client_files(&cluster, &me);
    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let source = local.path().join("payload.bin");
    std::fs::write(&source, &payload).unwrap();

    for (mode, extra) in [("sftp", None), ("classic", Some("-O"))] {
        let uploaded = remote.path().join(format!("up-{mode}.bin"));
        let downloaded = local.path().join(format!("down-{mode}.bin"));
        let mut args = options(&files);
        args.extend(extra.map(String::from));
        args.extend(["-P".into(), node.port.to_string()]);

        let mut up = args.clone();
        up.extend([path(&source), format!("{me}@127.0.0.1:{}", path(&uploaded))]);
        let out = run("scp", &up).await;
        assert!(out.status.success(), "{mode} upload: {out:?}");
        assert_eq!(std::fs::read(&uploaded).unwrap(), payload, "{mode} upload");

        let mut down = args.clone();
        down.extend([format!("{me}@127.0.0.1:{}", path(&uploaded)), path(&downloaded)]);
        let out = run("scp", &down).await;
        assert!(out.status.success(), "{mode} download: {out:?}");
        assert_eq!(std::fs::read(&downloaded).unwrap(), payload, "{mode} download");
    }
    node.stop().await;
}

#[tokio::test]
async fn stock_ssh_gets_a_terminal_when_it_asks_for_one() {
    let cluster = Cluster::new(23);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let files = client_files(&cluster, &me);
    let mut args = vec!["-tt".to_string()];
    args.extend(ssh_args(&node, &files, &me, "tty; echo \"TERM=$TERM\""));
    let out = tokio::process::Command::new("ssh")
        .args(&args)
        .env("TERM", "vt100")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{out:?}");
    assert!(text.contains("TERM=vt100"), "{out:?}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    node.stop().await;
}
