//! ID tokens minted by node `jose` (an independent implementation,
//! `vectors/crypto/interop/make_oidc_jose.mjs`) replayed through Breeze's OpenID Connect
//! verification: every case's outcome is the one the vector file states.
#![cfg(feature = "oidc")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_crypto::oidc::{ExpectedNonce, IdTokenPolicy, Jwks, SignatureAlg, verify_id_token};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/crypto/oidc_jose.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn id_tokens_minted_by_node_jose_verify_or_fail_as_stated() {
    let v = vectors();
    let jwks = Jwks::parse(&serde_json::to_vec(&v["jwks"]).unwrap()).unwrap();
    assert_eq!(
        jwks.kids(),
        vec!["rsa-1", "rsa-pss-1", "ec-1", "ec384-1", "ed-1"]
    );
    let policy = IdTokenPolicy {
        issuer: v["issuer"].as_str().unwrap().to_owned(),
        client_id: v["clientId"].as_str().unwrap().to_owned(),
        algs: SignatureAlg::ALL.to_vec(),
    };
    let nonce = v["nonce"].as_str().unwrap();
    let now = v["now"].as_i64().unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 25, "{}", cases.len());
    let mut oks = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let token = case["token"].as_str().unwrap();
        let got = verify_id_token(token, &jwks, &policy, ExpectedNonce::Value(nonce), now);
        // the server's form (the nonce's SHA-256) decides the same
        let hashed = hex_sha256(nonce);
        let same = verify_id_token(
            token,
            &jwks,
            &policy,
            ExpectedNonce::Sha256Hex(&hashed),
            now,
        );
        assert_eq!(got.as_ref().err(), same.as_ref().err(), "{name}");
        match case["expect"].as_str().unwrap() {
            "ok" => {
                let claims = got.unwrap_or_else(|e| panic!("{name}: {}", e.code()));
                oks += 1;
                assert_eq!(claims.subject, "user-123", "{name}");
                let email = case
                    .get("verifiedEmail")
                    .map_or(Some("alice@acme.example"), Value::as_str);
                assert_eq!(claims.verified_email().as_deref(), email, "{name}");
                let mfa = case.get("multiFactor").is_none_or(|m| m.as_bool().unwrap());
                assert_eq!(claims.multi_factor(), mfa, "{name}");
            }
            code => {
                let err = got
                    .err()
                    .unwrap_or_else(|| panic!("{name}: verified, expected {code}"));
                assert_eq!(err.code(), code, "{name}");
            }
        }
    }
    assert!(oks >= 9);
}

#[test]
fn an_algorithm_outside_the_policy_is_refused_even_when_the_key_verifies() {
    let v = vectors();
    let jwks = Jwks::parse(&serde_json::to_vec(&v["jwks"]).unwrap()).unwrap();
    let policy = IdTokenPolicy {
        issuer: v["issuer"].as_str().unwrap().to_owned(),
        client_id: v["clientId"].as_str().unwrap().to_owned(),
        algs: vec![SignatureAlg::Rs256],
    };
    let es256 = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ES256 signed by the provider verifies")
        .unwrap();
    let err = verify_id_token(
        es256["token"].as_str().unwrap(),
        &jwks,
        &policy,
        ExpectedNonce::Value(v["nonce"].as_str().unwrap()),
        v["now"].as_i64().unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "id_token_alg_not_allowed");
}

#[test]
fn a_changed_payload_byte_breaks_the_signature() {
    let v = vectors();
    let jwks = Jwks::parse(&serde_json::to_vec(&v["jwks"]).unwrap()).unwrap();
    let policy = IdTokenPolicy {
        issuer: v["issuer"].as_str().unwrap().to_owned(),
        client_id: v["clientId"].as_str().unwrap().to_owned(),
        algs: SignatureAlg::ALL.to_vec(),
    };
    for case in v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["expect"] == "ok")
    {
        let token = case["token"].as_str().unwrap();
        let dot = token.find('.').unwrap();
        let mut bytes = token.as_bytes().to_vec();
        // flip a character of the payload to another base64url character
        let i = dot + 5;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let err = verify_id_token(
            &tampered,
            &jwks,
            &policy,
            ExpectedNonce::Value(v["nonce"].as_str().unwrap()),
            v["now"].as_i64().unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "id_token_bad_signature", "{}", case["name"]);
    }
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
