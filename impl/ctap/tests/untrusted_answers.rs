//! Whatever bytes a key (or, on the key's side, a client) sends, decoding answers a value or an
//! error and never panics; and what one side encodes, the other reads back unchanged.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed property

use ciborium::Value;
use hwa_ctap::cbor;
use hwa_ctap::messages::{Assertion, Attestation, ClientPin, ClientPinResponse, Info};
use hwa_ctap::pin::{CoseKey, KeyPair, Protocol};
use proptest::prelude::*;

/// Small CBOR values of every kind, nested, with the integer keys CTAP uses.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(cbor::int),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Value::Bytes),
        "[a-zA-Z_]{0,12}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(((-4i64..12).prop_map(cbor::int), inner), 0..8)
                .prop_map(Value::Map),
        ]
    })
}

fn decode_all(bytes: &[u8]) {
    let _ = Info::decode(bytes);
    let _ = Attestation::decode(bytes).map(|a| a.credential_id());
    let _ = Assertion::decode(bytes);
    let _ = ClientPin::decode(bytes);
    let _ = ClientPinResponse::decode(bytes);
}

proptest! {
    #[test]
    fn random_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_all(&bytes);
    }

    #[test]
    fn well_formed_cbor_of_the_wrong_shape_never_panics_a_decoder(v in value()) {
        decode_all(&cbor::encode(&v));
    }

    #[test]
    fn assertions_round_trip(
        id in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..64)),
        auth_data in proptest::collection::vec(any::<u8>(), 37..120),
        signature in proptest::collection::vec(any::<u8>(), 8..80),
        user in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..64)),
    ) {
        let a = Assertion { credential_id: id, auth_data, signature, user_handle: user };
        prop_assert_eq!(Assertion::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn a_shared_secret_is_the_same_on_both_sides(seed in any::<u64>(), two in any::<bool>()) {
        let protocol = if two { Protocol::Two } else { Protocol::One };
        let entropy = hwa_core::entropy::SeededEntropy::new(seed);
        let (a, b) = (KeyPair::generate(&entropy), KeyPair::generate(&entropy));
        let fields = cbor::Fields::of("key", b.public().to_value()).unwrap();
        let b_public = CoseKey::from_fields(&fields).unwrap();
        let sealed = a.agree(protocol, &b_public).unwrap().encrypt(&[9u8; 32], &entropy).unwrap();
        let opened = b.agree(protocol, &a.public()).unwrap().decrypt(&sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), &[9u8; 32]);
    }
}
