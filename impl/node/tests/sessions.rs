//! A node serving commands, shells and files to the `hwa-ssh` client, end to end over
//! loopback TCP.

mod support;

use std::time::Duration;

use hwa_node::AuditKind;
use hwa_ssh::{ExitStatus, PtyRequest, TermSize, copy_between};
use support::{Cluster, default_policy, login};

#[tokio::test]
async fn exec_returns_output_and_exit_status() {
    let cluster = Cluster::new(1);
    let mut node = cluster.start_node(default_policy()).await;
    let me = login();
    let conn = cluster.connect(&node, &me, &cluster.identity(&me)).await.unwrap();

    let out = conn.exec("echo hi").await.unwrap();
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(out.status, ExitStatus::Code(0));

    let out = conn.exec("echo oops >&2; exit 3").await.unwrap();
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.status, ExitStatus::Code(3));

    let out = conn.exec("echo \"$USER:$HOME\"").await.unwrap();
    let home = hwa_node::accounts::current().unwrap().home;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{me}:{}\n", home.display()));

    match node.next_audit().await.kind {
        AuditKind::SessionStart { login, credential_id, .. } => {
            assert_eq!(login, me);
            assert_eq!(credential_id.as_deref(), Some("credential-1"));
        }
        other => panic!("expected a session start, got {other:?}"),
    }
    conn.close().await.unwrap();
    let mut commands = Vec::new();
    loop {
        match node.next_audit().await.kind {
            AuditKind::ChannelStart { request, detail, .. } => commands.push((request, detail)),
            AuditKind::SessionEnd { login, .. } => {
                assert_eq!(login, me);
                break;
            }
            other => panic!("unexpected audit event {other:?}"),
        }
    }
    assert_eq!(commands.len(), 3);
    assert_eq!(commands[0], ("exec".to_string(), "echo hi".to_string()));
    node.stop().await;
}

#[tokio::test]
async fn exec_feeds_standard_input_to_the_command() {
    let cluster = Cluster::new(2);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let conn = cluster.connect(&node, &me, &cluster.identity(&me)).await.unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let input: &[u8] = b"one\ntwo\n";
    let status = conn.exec_streaming("wc -l", Some(input), &mut out, &mut err).await.unwrap();
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(String::from_utf8(out).unwrap().trim(), "2");
    node.stop().await;
}

#[tokio::test]
async fn a_shell_on_a_pty_sees_a_terminal_and_its_size_changes() {
    use tokio::io::AsyncReadExt;

    let cluster = Cluster::new(3);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let conn = cluster.connect(&node, &me, &cluster.identity(&me)).await.unwrap();
    let pty = PtyRequest { term: "xterm".into(), size: TermSize { cols: 80, rows: 24 } };
    let (resize_tx, resize_rx) = tokio::sync::mpsc::channel(4);
    let (mut keys, keys_rx) = tokio::io::duplex(1024);
    let (mut screen_tx, mut screen) = tokio::io::duplex(64 * 1024);
    let shell = async {
        let status = conn.shell_with_pty(&pty, keys_rx, &mut screen_tx, Some(resize_rx)).await;
        drop(screen_tx);
        status
    };
    let session = async {
        let mut seen = String::new();
        type_and_wait(
            &mut keys,
            &mut screen,
            &mut seen,
            b"stty size; tty -s && echo IS-A-''TTY\n",
            "IS-A-TTY",
        )
        .await;
        resize_tx.send(TermSize { cols: 100, rows: 40 }).await.unwrap();
        type_and_wait(
            &mut keys,
            &mut screen,
            &mut seen,
            b"sleep 0.2; stty size | sed s/^/SI''ZE:/\n",
            "SIZE:",
        )
        .await;
        type_and_wait(&mut keys, &mut screen, &mut seen, b"exit 5\n", "logout").await;
        let mut rest = Vec::new();
        screen.read_to_end(&mut rest).await.unwrap();
        seen.push_str(&String::from_utf8_lossy(&rest));
        seen
    };
    let (status, seen) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(shell, session) })
            .await
            .expect("the shell ends");
    assert_eq!(status.unwrap(), ExitStatus::Code(5), "screen: {seen}");
    assert!(seen.contains("24 80"), "screen: {seen}");
    assert!(seen.contains("SIZE:40 100"), "screen: {seen}");
    node.stop().await;
}

/// Types a line and reads the screen until `marker` shows, so that each step happens after the
/// shell has acted on the previous one.
async fn type_and_wait(
    keys: &mut tokio::io::DuplexStream,
    screen: &mut tokio::io::DuplexStream,
    seen: &mut String,
    line: &[u8],
    marker: &str,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    keys.write_all(line).await.expect("the shell takes input");
    let mut buf = [0u8; 4096];
    while !seen.contains(marker) {
        let n = screen.read(&mut buf).await.expect("the screen is readable");
        assert!(n > 0, "screen closed before {marker:?}; saw {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[tokio::test]
async fn sftp_uploads_downloads_and_copies_between_nodes() {
    let cluster = Cluster::new(4);
    let node_a = cluster.start_node(default_policy()).await;
    let node_b = cluster.start_node(default_policy()).await;
    let me = login();
    let identity = cluster.identity(&me);
    let a = cluster.connect(&node_a, &me, &identity).await.unwrap();
    let b = cluster.connect(&node_b, &me, &identity).await.unwrap();
    let (sftp_a, sftp_b) = (a.sftp().await.unwrap(), b.sftp().await.unwrap());

    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("top.txt"), b"top").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(tree.join("sub/big.bin"), &big).unwrap();

    let remote_dir = remote.path().to_str().unwrap();
    let up = sftp_a.upload(&tree, remote_dir, true).await.unwrap();
    assert_eq!(up, 3 + big.len() as u64);
    assert_eq!(std::fs::read(remote.path().join("tree/sub/big.bin")).unwrap(), big);

    let down = local.path().join("back");
    std::fs::create_dir(&down).unwrap();
    let remote_tree = format!("{remote_dir}/tree");
    sftp_a.download(&remote_tree, &down, true).await.unwrap();
    assert_eq!(std::fs::read(down.join("tree/top.txt")).unwrap(), b"top");

    let copy_dst = remote.path().join("copied");
    let copied = copy_between(
        &sftp_a,
        &format!("{remote_tree}/sub/big.bin"),
        &sftp_b,
        copy_dst.to_str().unwrap(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(copied, big.len() as u64);
    assert_eq!(std::fs::read(&copy_dst).unwrap(), big);

    let not_recursive = sftp_a.download(&remote_tree, &down, false).await;
    assert!(matches!(not_recursive, Err(hwa_ssh::SshError::IsDirectory { .. })));
    node_a.stop().await;
    node_b.stop().await;
}

/// A root node runs another account's commands as that account. `nobody` has no usable
/// shell, so its shell's refusal proves the command ran under the account's own settings.
#[tokio::test]
async fn a_root_node_runs_another_accounts_commands_as_that_account() {
    if hwa_node::accounts::current().unwrap().uid != 0 {
        eprintln!("not running as root: a node then serves only its own account");
        return;
    }
    let nobody = hwa_node::accounts::lookup("nobody").expect("the `nobody` account");
    let cluster = Cluster::new(5);
    let node = cluster.start_node(default_policy()).await;
    let conn = cluster.connect(&node, "nobody", &cluster.identity("nobody")).await.unwrap();
    let out = conn.exec("id -u").await.unwrap();
    let shell = nobody.shell.to_string_lossy().into_owned();
    if shell.ends_with("nologin") || shell.ends_with("false") {
        // nologin(8) explains itself and fails; root's `id -u` would have printed 0.
        assert_eq!(out.status, ExitStatus::Code(1), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("not available"), "{out:?}");
    } else {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), nobody.uid.to_string());
    }
    node.stop().await;
}

/// A root node serves another account's SFTP through the system's `sftp-server` running as
/// that account, so files it writes belong to the account and its permissions apply.
#[tokio::test]
async fn a_root_node_serves_another_accounts_sftp_with_that_accounts_rights() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if hwa_node::accounts::current().unwrap().uid != 0 {
        eprintln!("not running as root: a node then serves only its own account");
        return;
    }
    let nobody = hwa_node::accounts::lookup("nobody").expect("the `nobody` account");
    if !hwa_node::channel::sftp_available(&nobody) {
        eprintln!("no system sftp-server; apt-get install openssh-sftp-server");
        return;
    }
    let cluster = Cluster::new(6);
    let node = cluster.start_node(default_policy()).await;
    let conn = cluster.connect(&node, "nobody", &cluster.identity("nobody")).await.unwrap();
    let sftp = conn.sftp().await.unwrap();

    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("note.txt");
    std::fs::write(&source, b"from nobody").unwrap();
    let target = shared.path().join("note.txt");
    sftp.upload(&source, target.to_str().unwrap(), false).await.unwrap();
    assert_eq!(std::fs::metadata(&target).unwrap().uid(), nobody.uid);

    // A root-only file stays out of reach.
    let secret = shared.path().join("secret");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let denied = sftp.download(secret.to_str().unwrap(), &local.path().join("stolen"), false).await;
    assert!(denied.is_err(), "{denied:?}");
    node.stop().await;
}

/// Like sshd, the node allocates a terminal only for certificates carrying `permit-pty`.
#[tokio::test]
async fn a_certificate_without_permit_pty_gets_no_terminal() {
    let cluster = Cluster::new(7);
    let node = cluster.start_node(default_policy()).await;
    let me = login();
    let key = cluster.key();
    let now = cluster.now_secs();
    let public = key.public_key().key_data().clone();
    let mut b = ssh_key::certificate::Builder::new([9u8; 16], public, now - 1, now + 60).unwrap();
    b.cert_type(ssh_key::certificate::CertType::User).unwrap();
    b.valid_principal(&me).unwrap();
    b.extension("hwa-mfa-verified@headless-webauthn", "credential-1").unwrap();
    let cert = b.sign(&cluster.user_ca).unwrap();
    let identity = hwa_ssh::Identity { key: std::sync::Arc::new(key), cert };
    let conn = cluster.connect(&node, &me, &identity).await.unwrap();
    let pty = PtyRequest { term: "xterm".into(), size: TermSize { cols: 80, rows: 24 } };
    let mut screen = Vec::new();
    let refused = conn.shell_with_pty(&pty, tokio::io::empty(), &mut screen, None).await;
    assert!(matches!(refused, Err(hwa_ssh::SshError::RequestRefused { .. })), "{refused:?}");
    // Commands without a terminal still run.
    assert_eq!(conn.exec("true").await.unwrap().status, ExitStatus::Code(0));
    node.stop().await;
}
