//! Replays `vectors/crypto/httpsig.json` (RFC 9421 / RFC 9530 known answers and the SPEC 17
//! request profile); the Python, Node and WASM suites replay the same file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use breeze_crypto::httpsig::base::{self, SignatureParams};
use breeze_crypto::httpsig::profile::{
    self, ReceivedHeaders, RequestParts, SignOptions, VerifyPolicy,
};
use breeze_crypto::httpsig::{DevicePublicKey, DeviceSigningKey, digest};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/crypto/httpsig.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn seed(v: &Value) -> DeviceSigningKey {
    let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(s(v)).unwrap().try_into().unwrap();
    DeviceSigningKey::from_seed(&raw)
}

#[test]
fn rfc9421_ed25519_example_signs_and_verifies() {
    for c in vectors()["rfc9421"].as_array().unwrap() {
        let key = seed(&c["seed"]);
        assert_eq!(key.public_key().to_base64url(), s(&c["publicKey"]));
        let params = base::parse_signature_input(s(&c["signatureInput"]), "sig-b26").unwrap();
        assert_eq!(params.serialize(), s(&c["signatureParams"]));
        let comps: Vec<(String, String)> = c["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (s(&p[0]).to_owned(), s(&p[1]).to_owned()))
            .collect();
        let sig_base = base::signature_base(&params, |id| {
            comps.iter().find(|(c, _)| c == id).map(|(_, v)| v.as_str())
        })
        .unwrap();
        assert_eq!(sig_base, s(&c["signatureBase"]));
        let sig = base::parse_signature(s(&c["signature"]), "sig-b26").unwrap();
        assert_eq!(
            base::signature_member("sig-b26", &key.sign(sig_base.as_bytes())).unwrap(),
            s(&c["signature"])
        );
        key.public_key().verify(sig_base.as_bytes(), &sig).unwrap();
        let _ = SignatureParams::new(&["@method"]).unwrap();
    }
}

#[test]
fn content_digests() {
    for c in vectors()["contentDigest"].as_array().unwrap() {
        let body = s(&c["body"]).as_bytes();
        assert_eq!(digest::content_digest(body), s(&c["contentDigest"]));
        digest::check(s(&c["contentDigest"]), body).unwrap();
    }
}

#[test]
fn public_keys() {
    for c in vectors()["publicKeys"].as_array().unwrap() {
        let got = DevicePublicKey::from_base64url(s(&c["publicKey"]));
        match c["expect"]["ok"].as_bool().unwrap() {
            true => assert!(got.is_ok(), "{}", c["name"]),
            false => assert_eq!(
                got.unwrap_err().code(),
                s(&c["expect"]["code"]),
                "{}",
                c["name"]
            ),
        }
    }
}

#[test]
fn profile_signatures() {
    for c in vectors()["sign"].as_array().unwrap() {
        let key = seed(&c["seed"]);
        let signed = profile::sign_request(
            &key,
            &RequestParts {
                method: s(&c["method"]),
                target_uri: s(&c["targetUri"]),
                body: s(&c["body"]).as_bytes(),
            },
            &SignOptions::new(s(&c["keyid"]), c["created"].as_i64().unwrap())
                .unwrap()
                .with_nonce(s(&c["nonce"])),
        )
        .unwrap();
        let e = &c["expect"];
        assert_eq!(
            signed.content_digest.as_deref(),
            e["contentDigest"].as_str(),
            "{}",
            c["name"]
        );
        assert_eq!(
            signed.signature_input,
            s(&e["signatureInput"]),
            "{}",
            c["name"]
        );
        assert_eq!(signed.signature, s(&e["signature"]), "{}", c["name"]);
    }
}

#[test]
fn profile_verification() {
    let all = vectors();
    let cases = all["verify"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let key = DevicePublicKey::from_base64url(s(&c["publicKey"])).unwrap();
        let got = profile::verify_request(
            &key,
            &RequestParts {
                method: s(&c["method"]),
                target_uri: s(&c["targetUri"]),
                body: s(&c["body"]).as_bytes(),
            },
            &ReceivedHeaders {
                content_digest: c["contentDigest"].as_str(),
                signature_input: c["signatureInput"].as_str(),
                signature: c["signature"].as_str(),
            },
            &VerifyPolicy::new(s(&c["label"]), s(&c["keyid"]), c["now"].as_i64().unwrap()),
        );
        let e = &c["expect"];
        match got {
            Ok(v) => {
                assert!(e["ok"].as_bool().unwrap(), "{}", c["name"]);
                assert_eq!(v.created, e["created"].as_i64().unwrap());
                assert_eq!(v.nonce, s(&e["nonce"]));
            }
            Err(err) => assert_eq!(err.code(), s(&e["code"]), "{}", c["name"]),
        }
    }
}

/// Signatures made by an independent implementation, the `http-message-signatures` package
/// from PyPI (written by `vectors/crypto/interop/check_httpsig.py --write-package-signed`),
/// verify here with the request profile and give back their `created` and nonce.
#[test]
fn signatures_made_by_http_message_signatures_verify() {
    use base64::engine::general_purpose::STANDARD;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/crypto/httpsig_http_message_signatures.json"
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = all["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let key = DevicePublicKey::from_base64url(s(&c["publicKey"])).unwrap();
        let body = STANDARD.decode(s(&c["bodyBase64"])).unwrap();
        let headers = ReceivedHeaders {
            content_digest: c["contentDigest"].as_str(),
            signature_input: c["signatureInput"].as_str(),
            signature: c["signature"].as_str(),
        };
        let policy = VerifyPolicy::new(s(&c["label"]), s(&c["keyid"]), c["now"].as_i64().unwrap());
        let parts = |method| RequestParts {
            method,
            target_uri: s(&c["targetUri"]),
            body: &body,
        };
        let ok = profile::verify_request(&key, &parts(s(&c["method"])), &headers, &policy)
            .unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        assert_eq!(ok.created, c["expect"]["created"].as_i64().unwrap());
        assert_eq!(ok.nonce, s(&c["expect"]["nonce"]));
        if let Some(field) = headers.content_digest {
            assert_eq!(digest::content_digest(&body), field, "{}", c["name"]);
        }
        assert_eq!(
            profile::verify_request(&key, &parts("OPTIONS"), &headers, &policy)
                .unwrap_err()
                .code(),
            "signature_invalid"
        );
    }
}
