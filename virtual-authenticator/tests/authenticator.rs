//! The software authenticator and its client against the relying party of `hwa-webauthn`:
//! round trips, the credential file, seeded key generation, origin checks and every fault
//! switch.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failed unwrap is a failed test

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwa_core::UnixMillis;
use hwa_core::entropy::SeededEntropy;
use hwa_virtual_authenticator::{CounterFault, Faults, SoftAuthenticator, VaError, WebauthnClient};
use hwa_webauthn::{RelyingParty, RpConfig, StoredCredential, WebauthnUser};
use serde_json::Value;

const ORIGIN: &str = "https://example.com";
const NOW: UnixMillis = UnixMillis(1_767_225_600_000);

fn rp() -> RelyingParty {
    RelyingParty::new(RpConfig {
        rp_id: "example.com".into(),
        rp_name: "Example".into(),
        allowed_origins: vec![ORIGIN.into()],
    })
    .unwrap()
}

fn alice() -> WebauthnUser {
    WebauthnUser { handle: vec![7; 32], name: "alice".into(), display_name: "Alice".into() }
}

fn seeded(seed: u64) -> WebauthnClient {
    WebauthnClient::new(SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(seed))))
}

async fn register(client: &mut WebauthnClient) -> StoredCredential {
    let rp = rp();
    let entropy = SeededEntropy::new(100);
    let (options, state) = rp.start_registration(&alice(), &[], &entropy, NOW).unwrap();
    let response = client.register(&options, ORIGIN).await.unwrap();
    rp.finish_registration(&state, &response, NOW).unwrap()
}

/// One assertion; answers the raw response and the relying party's verdict.
async fn assert_once(
    client: &mut WebauthnClient,
    credential: &StoredCredential,
) -> (Value, Result<u32, &'static str>) {
    let rp = rp();
    let creds = std::slice::from_ref(credential);
    let (options, state) =
        rp.start_assertion(&alice(), creds, &SeededEntropy::new(101), NOW).unwrap();
    let response = client.authenticate(&options, ORIGIN).await.unwrap();
    let verdict = rp
        .finish_assertion(&state, &response, &alice(), creds, NOW)
        .map(|v| v.sign_count)
        .map_err(|e| e.check());
    (response, verdict)
}

fn response_bytes(response: &Value, field: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(response["response"][field].as_str().unwrap()).unwrap()
}

fn flags(response: &Value) -> u8 {
    response_bytes(response, "authenticatorData")[32]
}

fn counter(response: &Value) -> u32 {
    let data = response_bytes(response, "authenticatorData");
    u32::from_be_bytes(data[33..37].try_into().unwrap())
}

fn client_origin(response: &Value) -> String {
    let data: Value = serde_json::from_slice(&response_bytes(response, "clientDataJSON")).unwrap();
    data["origin"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn register_and_authenticate_round_trip_through_the_relying_party() {
    let mut client = seeded(1);
    let credential = register(&mut client).await;
    assert_eq!(client.authenticator().credential_count(), 1);
    let (response, verdict) = assert_once(&mut client, &credential).await;
    assert_eq!(verdict, Ok(1));
    assert_eq!(response["type"], "public-key");
    assert_eq!(client_origin(&response), ORIGIN);
    assert_eq!(response_bytes(&response, "userHandle"), alice().handle);
}

#[tokio::test]
async fn options_wrapped_in_public_key_are_accepted() {
    let rp = rp();
    let mut client = seeded(2);
    let (options, state) =
        rp.start_registration(&alice(), &[], &SeededEntropy::new(3), NOW).unwrap();
    let wrapped = serde_json::json!({ "publicKey": options });
    let response = client.register(&wrapped, ORIGIN).await.unwrap();
    rp.finish_registration(&state, &response, NOW).unwrap();
}

#[tokio::test]
async fn the_same_seed_gives_the_same_credential_id_and_public_key() {
    let a = register(&mut seeded(42)).await;
    let b = register(&mut seeded(42)).await;
    let c = register(&mut seeded(43)).await;
    assert_eq!(a.id, b.id);
    assert_eq!(a.data, b.data, "the stored data holds the public key");
    assert_eq!(a.id.len(), 32);
    assert_ne!(a.id, c.id);
    assert_ne!(a.data, c.data);
}

#[tokio::test]
async fn the_client_refuses_an_origin_that_may_not_use_the_rp_id() {
    let rp = rp();
    let mut client = seeded(4);
    let (options, _) = rp.start_registration(&alice(), &[], &SeededEntropy::new(5), NOW).unwrap();
    for origin in ["https://evil.example", "http://example.com", "https://example.com.evil"] {
        let err = client.register(&options, origin).await.unwrap_err();
        assert!(matches!(err, VaError::Origin { .. }), "{origin}: {err}");
    }
    // passkey-client alone would let any origin use `localhost`; ours does not.
    let local = RelyingParty::new(RpConfig {
        rp_id: "localhost".into(),
        rp_name: "dev".into(),
        allowed_origins: vec!["http://localhost:3080".into()],
    })
    .unwrap();
    let (options, _) =
        local.start_registration(&alice(), &[], &SeededEntropy::new(6), NOW).unwrap();
    let err = client.register(&options, "https://example.com").await.unwrap_err();
    assert!(matches!(err, VaError::Origin { .. }), "{err}");
    assert_eq!(client.authenticator().credential_count(), 0);
}

#[tokio::test]
async fn an_unknown_credential_gets_no_assertion() {
    let mut client = seeded(7);
    let credential = register(&mut client).await;
    let mut other = seeded(8);
    let rp = rp();
    let (options, _) =
        rp.start_assertion(&alice(), &[credential], &SeededEntropy::new(9), NOW).unwrap();
    let err = other.authenticate(&options, ORIGIN).await.unwrap_err();
    assert!(matches!(err, VaError::NoCredential { .. }), "{err}");
}

// ---- the credential file ----

#[tokio::test]
async fn the_credential_file_is_created_0600_and_keeps_keys_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let mut client = WebauthnClient::new(SoftAuthenticator::open_file(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let credential = register(&mut client).await;
    let (_, verdict) = assert_once(&mut client, &credential).await;
    assert_eq!(verdict, Ok(1));
    drop(client);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "rewrites keep the mode");
    assert!(!dir.path().join("credentials.json.tmp").exists());

    let mut reopened = WebauthnClient::new(SoftAuthenticator::open_file(&path).unwrap());
    assert_eq!(reopened.authenticator().credential_count(), 1);
    let (_, verdict) = assert_once(&mut reopened, &credential).await;
    assert_eq!(verdict, Ok(2), "the key and the counter were persisted");
}

#[test]
fn a_credential_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    std::fs::write(&path, r#"{"version":1,"credentials":[]}"#).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = SoftAuthenticator::open_file(&path).unwrap_err();
    assert!(matches!(err, VaError::InsecureFile { mode: 0o644, .. }), "{err}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[test]
fn a_credential_file_that_is_not_ours_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    std::fs::write(&path, "not json").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = SoftAuthenticator::open_file(&path).unwrap_err();
    assert!(matches!(err, VaError::CorruptFile { .. }), "{err}");
}

// ---- fault switches ----

#[tokio::test]
async fn each_fault_changes_the_assertion_and_the_relying_party_refuses_it() {
    // (faults, what the response must show, the check the relying party must name)
    type Shows = fn(&Value) -> bool;
    let cases: Vec<(Faults, Shows, &str)> = vec![
        (
            Faults { no_user_verification: true, ..Default::default() },
            |r| flags(r) & 0x04 == 0 && flags(r) & 0x01 != 0,
            "user_verified",
        ),
        (
            Faults { no_user_presence: true, ..Default::default() },
            |r| flags(r) & 0x01 == 0,
            "user_present",
        ),
        (
            Faults { wrong_rp_id: Some("evil.example".into()), ..Default::default() },
            |r| {
                use sha2::Digest as _;
                response_bytes(r, "authenticatorData")[..32]
                    == sha2::Sha256::digest(b"evil.example")[..]
            },
            "rp_id_hash",
        ),
        (
            Faults { wrong_origin: Some("https://evil.example".into()), ..Default::default() },
            |r| client_origin(r) == "https://evil.example",
            "origin",
        ),
        (Faults { bogus_signature: true, ..Default::default() }, |_| true, "signature"),
        (
            Faults { inconsistent_backup_flags: true, ..Default::default() },
            |r| flags(r) & 0x18 == 0x10,
            "backup_flags",
        ),
        (
            Faults { unsolicited_extension: true, ..Default::default() },
            |r| flags(r) & 0x80 != 0 && response_bytes(r, "authenticatorData").len() > 37,
            "extensions",
        ),
        (
            Faults { counter: CounterFault::RolledBack, ..Default::default() },
            |r| counter(r) == 0,
            "counter",
        ),
        (
            Faults { counter: CounterFault::Frozen, ..Default::default() },
            |r| counter(r) == 0,
            "counter",
        ),
    ];
    for (faults, shows, check) in cases {
        let mut client = seeded(10);
        let credential = register(&mut client).await;
        // One honest assertion first, so the stored counter is 1 and going back shows.
        let rp = rp();
        let creds = std::slice::from_ref(&credential);
        let (options, state) =
            rp.start_assertion(&alice(), creds, &SeededEntropy::new(11), NOW).unwrap();
        let response = client.authenticate(&options, ORIGIN).await.unwrap();
        let updated = rp.finish_assertion(&state, &response, &alice(), creds, NOW).unwrap();

        client.authenticator_mut().set_faults(faults.clone());
        assert_eq!(client.authenticator().faults(), faults);
        let (response, verdict) = assert_once(&mut client, &updated.updated).await;
        assert!(shows(&response), "{faults:?} did not change the response as intended");
        assert_eq!(verdict, Err(check), "{faults:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_user_answers_after_the_delay() {
    let mut client = seeded(12);
    let credential = register(&mut client).await;
    let delay = Duration::from_secs(20);
    client.authenticator_mut().set_faults(Faults { delay: Some(delay), ..Default::default() });
    let started = tokio::time::Instant::now();
    let (_, verdict) = assert_once(&mut client, &credential).await;
    assert!(started.elapsed() >= delay);
    assert_eq!(verdict, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn an_absent_authenticator_fails_after_the_delay() {
    let mut client = seeded(13);
    let credential = register(&mut client).await;
    let delay = Duration::from_secs(30);
    client.authenticator_mut().set_faults(Faults {
        absent: true,
        delay: Some(delay),
        ..Default::default()
    });
    let rp = rp();
    let (options, _) =
        rp.start_assertion(&alice(), &[credential], &SeededEntropy::new(14), NOW).unwrap();
    let started = tokio::time::Instant::now();
    let err = client.authenticate(&options, ORIGIN).await.unwrap_err();
    assert!(matches!(err, VaError::Absent), "{err}");
    assert!(started.elapsed() >= delay);
}

#[test]
fn the_client_and_its_ceremonies_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SoftAuthenticator>();
    send_sync::<WebauthnClient>();
    let mut client = seeded(15);
    let options = serde_json::json!({});
    send(&client.register(&options, ORIGIN));
    send(&client.authenticate(&options, ORIGIN));
}

#[test]
fn faults_read_from_json_default_to_an_honest_authenticator() {
    let faults: Faults = serde_json::from_str(r#"{"counter": "rolled_back"}"#).unwrap();
    assert_eq!(faults, Faults { counter: CounterFault::RolledBack, ..Default::default() });
}
