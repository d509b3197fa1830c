//! USB security keys end to end: the real `hwad` and `hwa` binaries, with the laptop's key a
//! virtual FIDO2 key on a device node (`hwa_virtual_authenticator::PluggedKey`), reached through
//! the same hidraw transport, CTAP-HID channel and PIN protocol as a key in a USB port.
//!
//! Signing up, logging in and approving a headless request each ask the key's PIN; wrong PINs
//! are asked again with the tries left and sign nothing; a key without a PIN, a blocked PIN, a
//! key nobody touches and a key that never registered are refused with what to do.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{Cluster, finish, text, with_input};
use hwa_core::entropy::SeededEntropy;
use hwa_virtual_authenticator::{
    Faults, PluggedKey, SoftAuthenticator, UserVerification, VirtualSecurityKey,
};

const PIN: &str = "4321";

/// A runtime for the virtual keys: they answer on its threads while the test waits on
/// processes.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn plug(
    rt: &tokio::runtime::Runtime,
    verification: UserVerification,
    faults: Faults,
    seed: u64,
) -> PluggedKey {
    let _inside = rt.enter();
    let entropy = SeededEntropy::shared(seed);
    let mut authenticator = SoftAuthenticator::in_memory(entropy.clone());
    authenticator.set_faults(faults);
    let key = VirtualSecurityKey::new(authenticator, verification, entropy);
    PluggedKey::plug_in(key).expect("a pseudo-terminal for the key")
}

fn usb(key: &PluggedKey) -> String {
    format!("--authenticator=usb:{}", key.path().display())
}

fn credentials(rt: &tokio::runtime::Runtime, key: &PluggedKey) -> usize {
    rt.block_on(async { key.key().lock().await.authenticator().credential_count() })
}

/// Adds `user` and signs up on the laptop with the key, typing `pins`.
fn sign_up(cluster: &Cluster, user: &str, key: &PluggedKey, pins: &str) -> Output {
    let added = cluster.hwactl(&["users", "add", user, "--logins", user]);
    assert!(added.status.success(), "users add: {}", text(&added.stderr));
    let invite = text(&added.stdout).trim().to_owned();
    with_input(cluster.hwa(&cluster.laptop).args(["signup", &invite, &usb(key)]), pins)
}

fn log_in(cluster: &Cluster, user: &str, key: &PluggedKey, pins: &str) -> Output {
    let proxy = format!("--proxy={}", cluster.proxy);
    let user = format!("--user={user}");
    with_input(cluster.hwa(&cluster.laptop).args(["login", &proxy, &user, &usb(key)]), pins)
}

/// Signs `user` up and logs in with the right PIN.
fn registered(cluster: &Cluster, user: &str, key: &PluggedKey) {
    let signup = sign_up(cluster, user, key, &format!("{PIN}\n"));
    assert!(signup.status.success(), "signup: {}", text(&signup.stderr));
    let login = log_in(cluster, user, key, &format!("{PIN}\n"));
    assert!(login.status.success(), "login: {}", text(&login.stderr));
}

#[test]
fn sign_up_log_in_and_approve_a_headless_ls_with_a_pin_protected_key() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 1);
    let mut cluster = Cluster::start();
    cluster.device = usb(&key);

    let signup = sign_up(&cluster, "alice", &key, &format!("{PIN}\n"));
    assert!(signup.status.success(), "signup: {}", text(&signup.stderr));
    let prompt = format!("PIN for the security key at {}", key.path().display());
    assert!(text(&signup.stderr).contains(&prompt), "{}", text(&signup.stderr));
    assert_eq!(credentials(&rt, &key), 1, "the credential lives on the key");
    let login = log_in(&cluster, "alice", &key, &format!("{PIN}\n"));
    assert!(login.status.success(), "login: {}", text(&login.stderr));

    let (child, id, stderr) = cluster.headless_ls("alice");
    let approved = cluster.approve(&id, &["--skip-confirm"], &format!("{PIN}\n"));
    assert!(approved.status.success(), "approve: {}", text(&approved.stderr));
    let (code, stdout, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "hwa ls failed:\n{stderr}");
    assert!(stdout.starts_with("Node"), "{stdout}");
}

#[test]
fn wrong_pins_are_asked_again_with_the_tries_left_and_sign_nothing() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 2);
    let mut cluster = Cluster::start();
    cluster.device = usb(&key);
    registered(&cluster, "alice", &key);

    let (child, id, stderr) = cluster.headless_ls("alice");
    let refused = cluster.approve(&id, &["--skip-confirm"], "0000\n1111\n2222\n");
    let said = text(&refused.stderr);
    assert!(!refused.status.success(), "three wrong PINs approved: {said}");
    assert!(said.contains("wrong PIN; 7 tries left"), "{said}");
    assert!(said.contains("wrong PIN; 6 tries left"), "{said}");
    assert!(said.contains("takes no more PINs until it is unplugged"), "{said}");
    assert!(!said.contains("approved request"), "{said}");

    // The key refuses even the right PIN until it is plugged in again.
    let still = cluster.approve(&id, &["--skip-confirm"], &format!("{PIN}\n"));
    assert!(!still.status.success(), "{}", text(&still.stderr));
    rt.block_on(async { key.key().lock().await.power_cycle() });
    let approved = cluster.approve(&id, &["--skip-confirm"], &format!("{PIN}\n"));
    assert!(approved.status.success(), "approve: {}", text(&approved.stderr));
    assert_eq!(rt.block_on(async { key.key().lock().await.pin_retries() }), 8);
    let (code, _, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "hwa ls failed:\n{stderr}");
}

#[test]
fn a_key_without_a_pin_is_refused_before_it_makes_a_credential() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::NoPin, Faults::default(), 3);
    let cluster = Cluster::start();
    let signup = sign_up(&cluster, "alice", &key, "");
    let said = text(&signup.stderr);
    assert!(!signup.status.success(), "{said}");
    assert!(said.contains("has no PIN") && said.contains("set a PIN"), "{said}");
    assert_eq!(credentials(&rt, &key), 0);
}

#[test]
fn a_blocked_pin_says_only_a_reset_helps() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 4);
    let mut cluster = Cluster::start();
    cluster.device = usb(&key);
    registered(&cluster, "alice", &key);
    rt.block_on(async { key.key().lock().await.set_pin_retries(1) });
    let login = log_in(&cluster, "alice", &key, "9999\n");
    let said = text(&login.stderr);
    assert!(!login.status.success(), "{said}");
    assert!(said.contains("is blocked after too many wrong tries"), "{said}");
    let again = log_in(&cluster, "alice", &key, &format!("{PIN}\n"));
    assert!(!again.status.success(), "a blocked PIN still works: {}", text(&again.stderr));
}

#[test]
fn a_key_with_built_in_verification_asks_no_pin() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::BuiltIn, Faults::default(), 5);
    let mut cluster = Cluster::start();
    cluster.device = usb(&key);
    let signup = sign_up(&cluster, "alice", &key, "");
    assert!(signup.status.success(), "signup: {}", text(&signup.stderr));
    assert!(!text(&signup.stderr).contains("PIN"), "{}", text(&signup.stderr));
    let login = log_in(&cluster, "alice", &key, "");
    assert!(login.status.success(), "login: {}", text(&login.stderr));
}

#[test]
fn another_key_cannot_approve_and_the_request_stays_open() {
    let rt = runtime();
    let key = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 6);
    let stranger = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 7);
    let mut cluster = Cluster::start();
    cluster.device = usb(&key);
    registered(&cluster, "alice", &key);

    let (child, id, stderr) = cluster.headless_ls("alice");
    cluster.device = usb(&stranger);
    let refused = cluster.approve(&id, &["--skip-confirm"], &format!("{PIN}\n"));
    let said = text(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("holds no credential registered for this user"), "{said}");
    cluster.device = usb(&key);
    let approved = cluster.approve(&id, &["--skip-confirm"], &format!("{PIN}\n"));
    assert!(approved.status.success(), "approve: {}", text(&approved.stderr));
    let (code, _, stderr) = finish(child, stderr);
    assert_eq!(code, 0, "hwa ls failed:\n{stderr}");
}

#[test]
fn a_key_nobody_touches_times_out_with_keep_alives_meanwhile() {
    let rt = runtime();
    let absent =
        Faults { absent: true, delay: Some(Duration::from_millis(2500)), ..Faults::default() };
    let key = plug(&rt, UserVerification::BuiltIn, absent, 8);
    let cluster = Cluster::start();
    // Longer than the transport's two seconds per report: only keep-alives bridge the wait.
    let signup = sign_up(&cluster, "alice", &key, "");
    let said = text(&signup.stderr);
    assert!(!signup.status.success(), "{said}");
    assert!(said.contains("nobody touched the security key"), "{said}");
}

#[test]
fn a_key_answering_garbage_or_an_unknown_error_is_refused_by_name() {
    let rt = runtime();
    let cluster = Cluster::start();
    for (i, (answer, says)) in [
        (vec![0x00, 0xA1, 0x01], "malformed CTAP2 message: not CBOR"),
        (vec![0x00, 0xA0], "malformed CTAP2 message: the attestation statement is not a map"),
        (vec![0x00, 0x01], "is not a CBOR map"),
        (vec![0x7F], "the key reported an error (CTAP status 0x7f)"),
        (vec![], "an empty response"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = plug(&rt, UserVerification::Pin(PIN.into()), Faults::default(), 9);
        rt.block_on(async { key.key().lock().await.break_ceremonies(answer.clone()) });
        let signup = sign_up(&cluster, &format!("user{i}"), &key, &format!("{PIN}\n"));
        let said = text(&signup.stderr);
        assert!(!signup.status.success(), "{answer:?}: {said}");
        assert!(said.contains(says), "{answer:?}: {said}");
        assert!(!cluster.laptop.join(".hwa").exists(), "{answer:?}: no session saved");
    }
}

#[test]
fn without_a_key_plugged_in_the_client_says_how_to_name_one() {
    let any_hidraw = std::fs::read_dir("/dev")
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("hidraw")))
        .unwrap_or(false);
    if any_hidraw {
        eprintln!("skipped: this machine has hidraw devices, so a key may be plugged in");
        return;
    }
    let cluster = Cluster::start();
    let added = cluster.hwactl(&["users", "add", "alice", "--logins", "alice"]);
    let invite = text(&added.stdout).trim().to_owned();
    let signup = with_input(cluster.hwa(&cluster.laptop).args(["signup", &invite]), "");
    let said = text(&signup.stderr);
    assert!(!signup.status.success(), "{said}");
    assert!(said.contains("no FIDO security key found"), "{said}");
    assert!(said.contains("--authenticator-file=KEY.json"), "{said}");
    assert!(!Path::new(&cluster.laptop).join(".hwa").exists(), "nothing saved");
}
