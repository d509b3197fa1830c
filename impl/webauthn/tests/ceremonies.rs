//! Registration and assertion ceremonies of `hwa-webauthn` against the software
//! authenticator, and at least one refusal for each check of SPEC section 3: a response is
//! tampered with (as JSON, or through the authenticator's fault switches, which sign again
//! so that only the intended check can fail) and the refusal must name that check.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns; a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwa_core::UnixMillis;
use hwa_core::entropy::SeededEntropy;
use hwa_core::limits::CHALLENGE_TTL;
use hwa_virtual_authenticator::{CounterFault, Faults, SoftAuthenticator, WebauthnClient};
use hwa_webauthn::{
    CeremonyState, RelyingParty, RpConfig, StoredCredential, VerifiedAssertion, WebauthnError,
    WebauthnUser, challenge_of_response,
};
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

fn user(name: &str, handle: Vec<u8>) -> WebauthnUser {
    WebauthnUser { handle, name: name.into(), display_name: name.to_uppercase() }
}

fn alice() -> WebauthnUser {
    user("alice", vec![7; 32])
}

/// A relying party with alice registered on a seeded software authenticator.
struct Fixture {
    rp: RelyingParty,
    client: WebauthnClient,
    entropy: SeededEntropy,
    credentials: Vec<StoredCredential>,
}

impl Fixture {
    async fn new() -> Self {
        let rp = rp();
        let entropy = SeededEntropy::new(1);
        let authenticator = SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(2)));
        let mut client = WebauthnClient::new(authenticator);
        let (options, state) = rp.start_registration(&alice(), &[], &entropy, NOW).unwrap();
        let response = client.register(&options, ORIGIN).await.unwrap();
        let credential = rp.finish_registration(&state, &response, NOW).unwrap();
        Fixture { rp, client, entropy, credentials: vec![credential] }
    }

    fn set_faults(&mut self, faults: Faults) {
        self.client.authenticator_mut().set_faults(faults);
    }

    async fn assertion(&mut self) -> (Value, CeremonyState) {
        let (options, state) =
            self.rp.start_assertion(&alice(), &self.credentials, &self.entropy, NOW).unwrap();
        let response = self.client.authenticate(&options, ORIGIN).await.unwrap();
        (response, state)
    }

    fn finish(
        &self,
        state: &CeremonyState,
        response: &Value,
    ) -> Result<VerifiedAssertion, WebauthnError> {
        self.rp.finish_assertion(state, response, &alice(), &self.credentials, NOW)
    }

    /// Asserts with `faults` set and returns the refusal's check name.
    async fn refusal_with(&mut self, faults: Faults) -> &'static str {
        self.set_faults(faults);
        let (response, state) = self.assertion().await;
        self.finish(&state, &response).unwrap_err().check()
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

/// Replaces the raw client data bytes of a response.
fn set_client_data(response: &mut Value, bytes: &[u8]) {
    response["response"]["clientDataJSON"] = b64(bytes);
}

/// Edits the client data of a response as JSON.
fn edit_client_data(response: &mut Value, edit: impl FnOnce(&mut Value)) {
    let text = response["response"]["clientDataJSON"].as_str().unwrap();
    let mut data: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap();
    edit(&mut data);
    set_client_data(response, serde_json::to_string(&data).unwrap().as_bytes());
}

#[tokio::test]
async fn a_registered_credential_asserts_and_its_counter_advances() {
    let mut f = Fixture::new().await;
    let (response, state) = f.assertion().await;
    let verified = f.finish(&state, &response).unwrap();
    assert_eq!(verified.credential_id, f.credentials[0].id);
    assert!(verified.user_verified);
    assert_eq!(verified.sign_count, 1);
    assert_eq!(verified.updated.last_used_at, Some(NOW));
    f.credentials = vec![verified.updated];

    let (response, state) = f.assertion().await;
    assert_eq!(f.finish(&state, &response).unwrap().sign_count, 2);
}

#[tokio::test]
async fn options_carry_our_challenge_and_the_state_expires_with_the_challenge_ttl() {
    let rp = rp();
    let (options, state) =
        rp.start_registration(&alice(), &[], &SeededEntropy::new(9), NOW).unwrap();
    let (again, again_state) =
        rp.start_registration(&alice(), &[], &SeededEntropy::new(9), NOW).unwrap();
    // Challenges come from the given entropy and the state holds nothing from the ambient
    // clock, so a seed replays options and state byte for byte.
    assert_eq!(options, again);
    assert_eq!(state, again_state);
    assert_eq!(options["challenge"].as_str().unwrap(), state.challenge);
    assert_eq!(URL_SAFE_NO_PAD.decode(&state.challenge).unwrap().len(), 16);
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["rp"]["name"], "Example");
    assert_eq!(state.expires_at, NOW.plus(CHALLENGE_TTL));
}

#[tokio::test]
async fn assertion_options_list_the_users_credentials_and_require_verification() {
    let mut f = Fixture::new().await;
    let (options, _) = f.rp.start_assertion(&alice(), &f.credentials, &f.entropy, NOW).unwrap();
    assert_eq!(options["userVerification"], "required");
    assert_eq!(options["rpId"], "example.com");
    assert_eq!(options["allowCredentials"][0]["id"], f.credentials[0].id_b64());
    let (response, state) = f.assertion().await;
    assert_eq!(challenge_of_response(&response).unwrap(), state.challenge);
}

#[tokio::test]
async fn a_user_without_credentials_gets_no_assertion_options() {
    let f = Fixture::new().await;
    let bob = user("bob", vec![8; 32]);
    let err = f.rp.start_assertion(&bob, &f.credentials, &f.entropy, NOW).unwrap_err();
    assert_eq!(err.check(), "allowed_credential");
}

#[tokio::test]
async fn user_handles_of_16_and_64_bytes_work_and_15_is_refused() {
    for len in [16, 64] {
        let rp = rp();
        let entropy = SeededEntropy::new(3);
        let u = user("carol", vec![3; len]);
        let mut client =
            WebauthnClient::new(SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(4))));
        let (options, state) = rp.start_registration(&u, &[], &entropy, NOW).unwrap();
        let response = client.register(&options, ORIGIN).await.unwrap();
        let cred = rp.finish_registration(&state, &response, NOW).unwrap();
        assert_eq!(cred.user_handle, u.handle);
        let (options, state) =
            rp.start_assertion(&u, std::slice::from_ref(&cred), &entropy, NOW).unwrap();
        let response = client.authenticate(&options, ORIGIN).await.unwrap();
        rp.finish_assertion(&state, &response, &u, &[cred], NOW).unwrap();
    }
    let short = user("dave", vec![1; 15]);
    let err = rp().start_registration(&short, &[], &SeededEntropy::new(1), NOW).unwrap_err();
    assert_eq!(err.check(), "config");
}

#[tokio::test]
async fn localhost_with_a_port_works_when_the_origin_is_allowed() {
    let origin = "http://localhost:3080";
    let rp = RelyingParty::new(RpConfig {
        rp_id: "localhost".into(),
        rp_name: "dev".into(),
        allowed_origins: vec![origin.into()],
    })
    .unwrap();
    let entropy = SeededEntropy::new(5);
    let mut client =
        WebauthnClient::new(SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(6))));
    let (options, state) = rp.start_registration(&alice(), &[], &entropy, NOW).unwrap();
    let response = client.register(&options, origin).await.unwrap();
    let cred = rp.finish_registration(&state, &response, NOW).unwrap();
    let (options, state) =
        rp.start_assertion(&alice(), std::slice::from_ref(&cred), &entropy, NOW).unwrap();
    let response = client.authenticate(&options, origin).await.unwrap();
    rp.finish_assertion(&state, &response, &alice(), &[cred], NOW).unwrap();
}

#[test]
fn the_relying_party_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<RelyingParty>();
}

#[test]
fn a_bad_configuration_is_refused() {
    let bad_origin = RpConfig {
        rp_id: "example.com".into(),
        rp_name: "x".into(),
        allowed_origins: vec!["not a url".into()],
    };
    assert_eq!(RelyingParty::new(bad_origin).unwrap_err().check(), "config");
}

// ---- one refusal per check of SPEC section 3 ----

#[tokio::test]
async fn a_response_that_is_not_a_public_key_credential_is_refused() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    response["type"] = Value::String("password".into());
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "response_type");
}

#[tokio::test]
async fn an_unknown_credential_is_refused() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    response["id"] = b64(&[9; 32]);
    response["rawId"] = b64(&[9; 32]);
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "allowed_credential");
}

#[tokio::test]
async fn another_users_credential_is_refused() {
    let mut f = Fixture::new().await;
    let (response, state) = f.assertion().await;
    // The same credential presented for bob, whose credentials do not include it.
    let bob = user("bob", vec![8; 32]);
    let err = f.rp.finish_assertion(&state, &response, &bob, &f.credentials, NOW).unwrap_err();
    assert_eq!(err.check(), "user_handle");
}

#[tokio::test]
async fn another_users_handle_in_the_response_is_refused() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    response["response"]["userHandle"] = b64(&[8; 32]);
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "user_handle");
}

#[tokio::test]
async fn a_response_without_a_user_handle_is_accepted() {
    let mut f = Fixture::new().await;
    for absent in [Value::Null, Value::String(String::new())] {
        let (mut response, state) = f.assertion().await;
        response["response"]["userHandle"] = absent;
        let verified = f.finish(&state, &response).unwrap();
        f.credentials = vec![verified.updated];
    }
}

#[tokio::test]
async fn client_data_that_is_not_utf8_json_is_refused() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    set_client_data(&mut response, &[0xff, 0xfe, b'{']);
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "client_data_json");
    set_client_data(&mut response, b"{\"type\": \"webauthn.get\", ");
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "client_data_json");
}

#[tokio::test]
async fn client_data_of_a_registration_is_refused_in_an_assertion() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    edit_client_data(&mut response, |d| d["type"] = "webauthn.create".into());
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "type");
}

#[tokio::test]
async fn an_answer_to_another_challenge_is_refused() {
    let mut f = Fixture::new().await;
    let (response, _) = f.assertion().await;
    let (_, other_state) = f.rp.start_assertion(&alice(), &f.credentials, &f.entropy, NOW).unwrap();
    assert_eq!(f.finish(&other_state, &response).unwrap_err().check(), "challenge");
}

#[tokio::test]
async fn an_origin_that_is_not_allowed_is_refused() {
    let mut f = Fixture::new().await;
    let check = f
        .refusal_with(Faults {
            wrong_origin: Some("https://evil.example".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(check, "origin");

    // A subdomain the browser would allow for this RP ID, but not configured.
    f.set_faults(Faults::default());
    let (options, state) = f.rp.start_assertion(&alice(), &f.credentials, &f.entropy, NOW).unwrap();
    let response = f.client.authenticate(&options, "https://login.example.com").await.unwrap();
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "origin");
}

#[tokio::test]
async fn a_cross_origin_ceremony_is_refused() {
    let mut f = Fixture::new().await;
    let (mut response, state) = f.assertion().await;
    edit_client_data(&mut response, |d| d["crossOrigin"] = true.into());
    assert_eq!(f.finish(&state, &response).unwrap_err().check(), "cross_origin");
}

#[tokio::test]
async fn a_signature_for_another_rp_id_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { wrong_rp_id: Some("evil.example".into()), ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "rp_id_hash");
}

#[tokio::test]
async fn an_assertion_without_user_presence_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { no_user_presence: true, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "user_present");
}

#[tokio::test]
async fn an_assertion_without_user_verification_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { no_user_verification: true, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "user_verified");
}

#[tokio::test]
async fn a_backup_without_backup_eligibility_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { inconsistent_backup_flags: true, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "backup_flags");
}

#[tokio::test]
async fn an_unsolicited_authenticator_extension_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { unsolicited_extension: true, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "extensions");
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let mut f = Fixture::new().await;
    let faults = Faults { bogus_signature: true, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "signature");
}

#[tokio::test]
async fn a_counter_going_backwards_is_refused_and_the_stored_credential_is_unchanged() {
    let mut f = Fixture::new().await;
    let (response, state) = f.assertion().await;
    f.credentials = vec![f.finish(&state, &response).unwrap().updated];
    let before = f.credentials.clone();

    let faults = Faults { counter: CounterFault::RolledBack, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "counter");
    // A frozen counter (0) after a non-zero one is the same clone signal.
    let faults = Faults { counter: CounterFault::Frozen, ..Default::default() };
    assert_eq!(f.refusal_with(faults).await, "counter");
    assert_eq!(f.credentials, before);

    // The honest authenticator goes on working with the stored credential.
    f.set_faults(Faults::default());
    let (response, state) = f.assertion().await;
    assert!(f.finish(&state, &response).unwrap().sign_count > 1);
}

#[tokio::test]
async fn a_counterless_authenticator_is_accepted_while_the_stored_counter_is_zero() {
    let mut f = Fixture::new().await;
    f.set_faults(Faults { counter: CounterFault::Frozen, ..Default::default() });
    for _ in 0..2 {
        let (response, state) = f.assertion().await;
        let verified = f.finish(&state, &response).unwrap();
        assert_eq!(verified.sign_count, 0);
        f.credentials = vec![verified.updated];
    }
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let mut f = Fixture::new().await;
    let (response, state) = f.assertion().await;
    let later = state.expires_at.plus(Duration::from_millis(1));
    let err =
        f.rp.finish_assertion(&state, &response, &alice(), &f.credentials, later).unwrap_err();
    assert_eq!(err.check(), "expired");
}

#[tokio::test]
async fn a_registration_state_cannot_finish_an_assertion() {
    let mut f = Fixture::new().await;
    let (response, _) = f.assertion().await;
    let (_, reg_state) = f.rp.start_registration(&alice(), &[], &f.entropy, NOW).unwrap();
    assert!(f.finish(&reg_state, &response).is_err());
}

// ---- registration refusals ----

async fn registration_refusal(faults: Faults, origin: &str) -> &'static str {
    let rp = rp();
    let entropy = SeededEntropy::new(11);
    let mut authenticator = SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(12)));
    authenticator.set_faults(faults);
    let mut client = WebauthnClient::new(authenticator);
    let (options, state) = rp.start_registration(&alice(), &[], &entropy, NOW).unwrap();
    let response = client.register(&options, origin).await.unwrap();
    rp.finish_registration(&state, &response, NOW).unwrap_err().check()
}

#[tokio::test]
async fn registrations_are_refused_for_each_faulty_answer() {
    let cases = [
        (Faults { no_user_verification: true, ..Default::default() }, "user_verified"),
        (Faults { no_user_presence: true, ..Default::default() }, "user_present"),
        (Faults { wrong_rp_id: Some("evil.example".into()), ..Default::default() }, "rp_id_hash"),
        (
            Faults { wrong_origin: Some("https://evil.example".into()), ..Default::default() },
            "origin",
        ),
        (Faults { inconsistent_backup_flags: true, ..Default::default() }, "backup_flags"),
    ];
    for (faults, check) in cases {
        assert_eq!(registration_refusal(faults.clone(), ORIGIN).await, check, "{faults:?}");
    }
}

#[tokio::test]
async fn an_expired_registration_is_refused() {
    let rp = rp();
    let entropy = SeededEntropy::new(13);
    let mut client =
        WebauthnClient::new(SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(14))));
    let (options, state) = rp.start_registration(&alice(), &[], &entropy, NOW).unwrap();
    let response = client.register(&options, ORIGIN).await.unwrap();
    let later = state.expires_at.plus(Duration::from_secs(1));
    assert_eq!(rp.finish_registration(&state, &response, later).unwrap_err().check(), "expired");
}

#[tokio::test]
async fn an_authenticator_asked_to_exclude_its_credential_does_not_register_again() {
    let mut f = Fixture::new().await;
    let (options, _) = f.rp.start_registration(&alice(), &f.credentials, &f.entropy, NOW).unwrap();
    assert_eq!(options["excludeCredentials"][0]["id"], f.credentials[0].id_b64());
    assert!(f.client.register(&options, ORIGIN).await.is_err());
}
