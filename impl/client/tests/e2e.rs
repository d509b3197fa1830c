//! End-to-end: the real `hwad`, `hwactl` and `hwa` binaries on loopback.
//!
//! One cluster per test: `hwad start --dev` on a free port in a temporary data directory, a
//! user added with `hwactl`, signed up and logged in with `hwa` and a software authenticator in
//! a "laptop" home directory, then a headless command run from an empty "dev box" home
//! directory and decided with `hwa headless approve`. Checks the SPEC's observable promises:
//! the listing arrives (HL-04), the approval URL is on standard error only (HL-04), and the
//! headless home directory stays empty (HL-05).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use common::{Cluster, PROMPT_TIMEOUT, entries, finish, text};

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

    let cap = cluster.root().join("cap.yaml");
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
        .args(["headless", "watch", &format!("--proxy={}", cluster.proxy), &cluster.device])
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
