//! The virtual security key and the client's CTAP2 code (`hwa-ctap`) against each other, with
//! no HID in between: both PIN protocols, and each rule of the key tried from the attacker's
//! side (a forged or replayed PIN proof, a token used for another relying party or another
//! operation, PINs guessed past the limits, malformed requests).

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns; a failed unwrap is a failed test

use hwa_core::entropy::SeededEntropy;
use hwa_ctap::messages::{self, GetAssertion, MakeCredential, PinUvAuth, permission};
use hwa_ctap::pin::Protocol;
use hwa_ctap::{CtapError, Session, Status, Verification};
use hwa_virtual_authenticator::{SoftAuthenticator, UserVerification, VirtualSecurityKey};

const PIN: &str = "4321";
const RP: &str = "example.com";
/// The user-verified flag of authenticator data.
const UV: u8 = 0x04;

fn key(verification: UserVerification) -> VirtualSecurityKey {
    let entropy = SeededEntropy::shared(11);
    VirtualSecurityKey::new(SoftAuthenticator::in_memory(entropy.clone()), verification, entropy)
}

async fn session(verification: UserVerification) -> Session<VirtualSecurityKey> {
    Session::open(key(verification)).await.expect("getInfo")
}

fn make(hash: [u8; 32], rp: &str, pin_uv_auth: Option<PinUvAuth>) -> MakeCredential {
    MakeCredential {
        client_data_hash: hash,
        rp_id: rp.into(),
        rp_name: rp.into(),
        user_id: vec![1; 16],
        user_name: "alice".into(),
        user_display_name: "Alice".into(),
        algorithms: vec![messages::ES256],
        exclude: Vec::new(),
        resident_key: false,
        uv: false,
        pin_uv_auth,
    }
}

fn get(
    hash: [u8; 32],
    rp: &str,
    allow: Vec<Vec<u8>>,
    pin_uv_auth: Option<PinUvAuth>,
) -> GetAssertion {
    GetAssertion { rp_id: rp.into(), client_data_hash: hash, allow, uv: false, pin_uv_auth }
}

fn status<T: std::fmt::Debug>(result: Result<T, CtapError>) -> Status {
    result.unwrap_err().status().expect("a CTAP status")
}

/// Registers a credential for `RP` with a PIN token of `protocol`; answers its ID.
async fn registered(s: &mut Session<VirtualSecurityKey>, protocol: Protocol) -> Vec<u8> {
    let entropy = SeededEntropy::new(5);
    let token =
        s.pin_token(protocol, PIN, permission::MAKE_CREDENTIAL, RP, &entropy).await.unwrap();
    let hash = [1u8; 32];
    let made = s.make_credential(&make(hash, RP, Some(token.authenticate(&hash)))).await.unwrap();
    assert_ne!(made.auth_data[32] & UV, 0, "the PIN verified the user");
    made.credential_id().unwrap()
}

#[tokio::test]
async fn both_pin_protocols_give_tokens_that_verify_the_user() {
    for protocol in [Protocol::One, Protocol::Two] {
        let mut s = session(UserVerification::Pin(PIN.into())).await;
        assert_eq!(s.verification(), Verification::Pin(Protocol::Two));
        let id = registered(&mut s, protocol).await;
        let entropy = SeededEntropy::new(6);
        let token =
            s.pin_token(protocol, PIN, permission::GET_ASSERTION, RP, &entropy).await.unwrap();
        let hash = [2u8; 32];
        let request = get(hash, RP, vec![id.clone()], Some(token.authenticate(&hash)));
        let signed = s.get_assertion(&request).await.unwrap();
        assert_eq!(signed.credential_id, Some(id));
        assert_ne!(signed.auth_data[32] & UV, 0, "{protocol:?}: verified");
    }
}

#[tokio::test]
async fn a_proof_must_be_made_with_the_token_over_this_client_data() {
    let mut s = session(UserVerification::Pin(PIN.into())).await;
    let id = registered(&mut s, Protocol::Two).await;
    let entropy = SeededEntropy::new(7);
    let token = s.pin_token(Protocol::Two, PIN, permission::GET_ASSERTION, RP, &entropy).await;
    let token = token.unwrap();
    let forged = PinUvAuth { protocol: Protocol::Two, param: vec![0xAA; 32] };
    let result = s.get_assertion(&get([3; 32], RP, vec![id.clone()], Some(forged))).await;
    assert_eq!(status(result), Status::PIN_AUTH_INVALID);
    // A proof over other client data (a replay onto a new challenge).
    let replayed = token.authenticate(&[4; 32]);
    let result = s.get_assertion(&get([5; 32], RP, vec![id.clone()], Some(replayed))).await;
    assert_eq!(status(result), Status::PIN_AUTH_INVALID);
    // A protocol-one proof of a protocol-two token is the wrong length.
    let short = PinUvAuth { protocol: Protocol::One, ..token.authenticate(&[6; 32]) };
    let result = s.get_assertion(&get([6; 32], RP, vec![id], Some(short))).await;
    assert_eq!(status(result), Status::PIN_AUTH_INVALID);
}

#[tokio::test]
async fn a_token_serves_only_its_relying_party_and_its_operation() {
    let mut s = session(UserVerification::Pin(PIN.into())).await;
    registered(&mut s, Protocol::Two).await;
    let entropy = SeededEntropy::new(8);
    let token = s.pin_token(Protocol::Two, PIN, permission::GET_ASSERTION, RP, &entropy).await;
    let token = token.unwrap();
    let hash = [7u8; 32];
    let elsewhere = get(hash, "evil.example", vec![], Some(token.authenticate(&hash)));
    assert_eq!(status(s.get_assertion(&elsewhere).await), Status::UNAUTHORIZED_PERMISSION);
    let other_operation = make(hash, RP, Some(token.authenticate(&hash)));
    assert_eq!(status(s.make_credential(&other_operation).await), Status::UNAUTHORIZED_PERMISSION);
}

#[tokio::test]
async fn without_a_pin_proof_no_credential_is_made_and_assertions_lack_verification() {
    let mut s = session(UserVerification::Pin(PIN.into())).await;
    let id = registered(&mut s, Protocol::Two).await;
    assert_eq!(status(s.make_credential(&make([8; 32], RP, None)).await), Status::PUAT_REQUIRED);
    let signed = s.get_assertion(&get([9; 32], RP, vec![id], None)).await.unwrap();
    assert_eq!(signed.auth_data[32] & UV, 0, "no PIN, no user verification");
}

#[tokio::test]
async fn wrong_pins_block_for_the_power_up_then_for_good() {
    let mut s = session(UserVerification::Pin(PIN.into())).await;
    let entropy = SeededEntropy::new(9);
    let guess = async |s: &mut Session<VirtualSecurityKey>, pin: &str| {
        s.pin_token(Protocol::Two, pin, permission::GET_ASSERTION, RP, &entropy).await
    };
    assert_eq!(status(guess(&mut s, "0000").await), Status::PIN_INVALID);
    assert_eq!(status(guess(&mut s, "0001").await), Status::PIN_INVALID);
    assert_eq!(s.pin_retries(Protocol::Two).await.unwrap(), 6);
    assert_eq!(status(guess(&mut s, "0002").await), Status::PIN_AUTH_BLOCKED);
    assert_eq!(status(guess(&mut s, PIN).await), Status::PIN_AUTH_BLOCKED, "until unplugged");

    let mut key = key(UserVerification::Pin(PIN.into()));
    key.set_pin_retries(2);
    let mut s = Session::open(key).await.unwrap();
    assert_eq!(status(guess(&mut s, "0000").await), Status::PIN_INVALID);
    assert_eq!(status(guess(&mut s, "0001").await), Status::PIN_BLOCKED);
    assert_eq!(status(guess(&mut s, PIN).await), Status::PIN_BLOCKED, "blocked for good");
}

#[tokio::test]
async fn a_token_from_before_a_power_cycle_is_worthless() {
    let mut key = key(UserVerification::Pin(PIN.into()));
    let entropy = SeededEntropy::new(10);
    let mut s = Session::open(key).await.unwrap();
    let id = registered(&mut s, Protocol::Two).await;
    let token = s.pin_token(Protocol::Two, PIN, permission::GET_ASSERTION, RP, &entropy).await;
    let token = token.unwrap();
    // Take the key back out of the session, unplug it and plug it in again.
    key = s.into_transport();
    key.power_cycle();
    let mut s = Session::open(key).await.unwrap();
    let hash = [10u8; 32];
    let stale = get(hash, RP, vec![id], Some(token.authenticate(&hash)));
    assert_eq!(status(s.get_assertion(&stale).await), Status::PIN_AUTH_INVALID);
}

#[tokio::test]
async fn a_key_without_a_pin_or_with_a_sensor_says_so_in_its_info() {
    assert_eq!(session(UserVerification::NoPin).await.verification(), Verification::PinNotSet);
    assert_eq!(session(UserVerification::BuiltIn).await.verification(), Verification::BuiltIn);
    let mut s = session(UserVerification::NoPin).await;
    let entropy = SeededEntropy::new(12);
    let token = s.pin_token(Protocol::Two, PIN, permission::GET_ASSERTION, RP, &entropy).await;
    assert_eq!(status(token), Status::PIN_NOT_SET);
}

#[tokio::test]
async fn malformed_requests_get_a_status_not_a_crash() {
    let mut key = key(UserVerification::Pin(PIN.into()));
    assert_eq!(key.handle(&[]).await, vec![Status::INVALID_LENGTH.0]);
    assert_eq!(key.handle(&[0x7E]).await, vec![Status::INVALID_COMMAND.0]);
    for command in [messages::MAKE_CREDENTIAL, messages::GET_ASSERTION, messages::CLIENT_PIN] {
        let answer = key.handle(&[command, 0xFF, 0x00, 0x13]).await;
        assert_eq!(answer, vec![Status::INVALID_CBOR.0], "command {command:#x}");
    }
}
