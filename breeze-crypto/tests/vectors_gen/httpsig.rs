//! `vectors/crypto/httpsig.json`: RFC 9421 / RFC 9530 known answers and Breeze's request
//! profile (SPEC 17), signed with fixed test-only seeds and nonces (Ed25519 is
//! deterministic, so every signature is reproducible). Each verify case states the outcome
//! it was written for; the generator fails if the library disagrees.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use breeze_crypto::httpsig::base::{self, SignatureParams};
use breeze_crypto::httpsig::profile::{
    self, ReceivedHeaders, RequestParts, SignOptions, SignedHeaders, VerifyPolicy,
};
use breeze_crypto::httpsig::{DevicePublicKey, DeviceSigningKey, digest};
use serde_json::{Value, json};

/// RFC 9421 appendix B.1.4 `test-key-ed25519` (PKCS#8; the seed is its last 32 bytes).
const RFC_KEY_PKCS8: &str = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF";
/// RFC 9421 appendix B.2.6, `Signature: sig-b26=:…:`.
const RFC_B26_SIGNATURE: &str =
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==";
/// A fixed test-only seed (never a real key).
const SEED: [u8; 32] = [7u8; 32];
const OTHER_SEED: [u8; 32] = [9u8; 32];
const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const AGENT: &str = "agt_0123456789abcdefghijklmnopqrstuv";
const URI: &str =
    "https://rmm.example.com/api/v1/agents/agt_0123456789abcdefghijklmnopqrstuv/heartbeat";
const NONCE: &str = "bm9uY2Utb2YtdGhlLXZlY3Rvcg";

fn rfc_seed() -> [u8; 32] {
    let der = STANDARD.decode(RFC_KEY_PKCS8).unwrap();
    der[der.len() - 32..].try_into().unwrap()
}

fn rfc9421() -> Value {
    let key = DeviceSigningKey::from_seed(&rfc_seed());
    let components = [
        ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("@method", "POST"),
        ("@path", "/foo"),
        ("@authority", "example.com"),
        ("content-type", "application/json"),
        ("content-length", "18"),
    ];
    let ids: Vec<&str> = components.iter().map(|(id, _)| *id).collect();
    let params = SignatureParams::new(&ids)
        .unwrap()
        .integer("created", 1_618_884_473)
        .unwrap()
        .string("keyid", "test-key-ed25519")
        .unwrap();
    let sig_base = base::signature_base(&params, |id| {
        components.iter().find(|(c, _)| *c == id).map(|(_, v)| *v)
    })
    .unwrap();
    let signature = STANDARD.encode(key.sign(sig_base.as_bytes()));
    assert_eq!(signature, RFC_B26_SIGNATURE, "RFC 9421 B.2.6");
    let raw = STANDARD.decode(RFC_B26_SIGNATURE).unwrap();
    key.public_key().verify(sig_base.as_bytes(), &raw).unwrap();
    json!({
        "name": "RFC 9421 appendix B.2.6 (ed25519, test-key-ed25519)",
        "seed": URL_SAFE_NO_PAD.encode(rfc_seed()),
        "publicKey": key.public_key().to_base64url(),
        "components": components.iter().map(|(id, v)| json!([id, v])).collect::<Vec<_>>(),
        "signatureParams": params.serialize(),
        "signatureBase": sig_base,
        "signatureInput": base::signature_input_member("sig-b26", &params).unwrap(),
        "signature": format!("sig-b26=:{RFC_B26_SIGNATURE}:"),
    })
}

fn digests() -> Value {
    let cases: [(&str, &[u8]); 4] = [
        ("RFC 9530 appendix B.1", b"{\"hello\": \"world\"}"),
        ("empty body", b""),
        (
            "heartbeat body",
            br#"{"status":"ok","agentVersion":"1.4.2"}"#,
        ),
        (
            "non-ASCII body",
            "{\"hostname\":\"caf\u{e9}-01\"}".as_bytes(),
        ),
    ];
    let digest_of = |body: &[u8]| digest::content_digest(body);
    assert_eq!(
        digest_of(b"{\"hello\": \"world\"}"),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "RFC 9530 B.1"
    );
    Value::Array(
        cases
            .iter()
            .map(|(name, body)| json!({"name": name, "body": std::str::from_utf8(body).unwrap(), "contentDigest": digest_of(body)}))
            .collect(),
    )
}

struct Case {
    name: &'static str,
    method: &'static str,
    uri: String,
    body: &'static str,
}

fn sign_cases() -> Vec<Case> {
    vec![
        Case {
            name: "heartbeat",
            method: "POST",
            uri: URI.into(),
            body: r#"{"status":"ok","agentVersion":"1.4.2"}"#,
        },
        Case {
            name: "websocket upgrade (no body)",
            method: "GET",
            uri: format!("https://rmm.example.com/api/v1/agent-ws/{AGENT}/ws"),
            body: "",
        },
        Case {
            name: "loopback with a port and a query",
            method: "POST",
            uri: format!(
                "http://127.0.0.1:3000/api/v1/agents/{AGENT}/commands/5d2c/result?retry=1"
            ),
            body: r#"{"status":"completed","exitCode":0}"#,
        },
        Case {
            name: "non-ASCII body",
            method: "POST",
            uri: URI.into(),
            body: "{\"hostname\":\"caf\u{e9}-01\"}",
        },
    ]
}

fn sign(key: &DeviceSigningKey, c: &Case, created: i64, nonce: &str) -> SignedHeaders {
    profile::sign_request(
        key,
        &RequestParts {
            method: c.method,
            target_uri: &c.uri,
            body: c.body.as_bytes(),
        },
        &SignOptions::new(AGENT, created).unwrap().with_nonce(nonce),
    )
    .unwrap()
}

fn headers_json(h: &SignedHeaders) -> Value {
    json!({"contentDigest": h.content_digest, "signatureInput": h.signature_input, "signature": h.signature})
}

fn signs() -> Value {
    let key = DeviceSigningKey::from_seed(&SEED);
    Value::Array(
        sign_cases()
            .iter()
            .map(|c| {
                let h = sign(&key, c, NOW, NONCE);
                json!({
                    "name": c.name, "seed": URL_SAFE_NO_PAD.encode(SEED), "keyid": AGENT,
                    "method": c.method, "targetUri": c.uri, "body": c.body,
                    "created": NOW, "nonce": NONCE, "expect": headers_json(&h),
                })
            })
            .collect(),
    )
}

/// A verify case: the request, its fields, the verifier's expectations and the outcome.
#[allow(clippy::too_many_arguments, reason = "one vector's fields")]
fn verify_case(
    name: &str,
    public: &DevicePublicKey,
    c: &Case,
    body: &str,
    fields: (Option<&str>, Option<&str>, Option<&str>),
    keyid: &str,
    now: i64,
) -> Value {
    let (content_digest, signature_input, signature) = fields;
    let got = profile::verify_request(
        public,
        &RequestParts {
            method: c.method,
            target_uri: &c.uri,
            body: body.as_bytes(),
        },
        &ReceivedHeaders {
            content_digest,
            signature_input,
            signature,
        },
        &VerifyPolicy::new(profile::REQUEST_LABEL, keyid, now),
    );
    let expect = match got {
        Ok(v) => json!({"ok": true, "created": v.created, "nonce": v.nonce}),
        Err(e) => json!({"ok": false, "code": e.code()}),
    };
    json!({
        "name": name, "publicKey": public.to_base64url(), "method": c.method, "targetUri": c.uri,
        "body": body, "contentDigest": content_digest, "signatureInput": signature_input,
        "signature": signature, "label": profile::REQUEST_LABEL, "keyid": keyid, "now": now,
        "expect": expect,
    })
}

fn verifies() -> Value {
    let key = DeviceSigningKey::from_seed(&SEED);
    let public = key.public_key();
    let other = DeviceSigningKey::from_seed(&OTHER_SEED).public_key();
    let cases = sign_cases();
    let hb = &cases[0];
    let h = sign(&key, hb, NOW, NONCE);
    let f = (
        h.content_digest.as_deref(),
        Some(h.signature_input.as_str()),
        Some(h.signature.as_str()),
    );
    let ws = &cases[1];
    let hw = sign(&key, ws, NOW, NONCE);
    let fw = (
        None,
        Some(hw.signature_input.as_str()),
        Some(hw.signature.as_str()),
    );
    let other_path = Case {
        name: "",
        method: "POST",
        uri: URI.replace("heartbeat", "rotate-token"),
        body: hb.body,
    };
    let other_method = Case {
        name: "",
        method: "PUT",
        uri: URI.into(),
        body: hb.body,
    };
    let other_host = Case {
        name: "",
        method: "POST",
        uri: URI.replace("rmm.example.com", "evil.example.com"),
        body: hb.body,
    };
    let no_alg = h.signature_input.replace(";alg=\"ed25519\"", "");
    let hmac_alg = h.signature_input.replace("\"ed25519\"", "\"hmac-sha256\"");
    let short_nonce = h.signature_input.replace(NONCE, "abc");
    let with_tag = format!("{};tag=\"breeze\"", h.signature_input);
    let path_component = h.signature_input.replace("\"@target-uri\"", "\"@path\"");
    let renamed = h.signature_input.replacen("sig1=", "sig2=", 1);
    let rebuilt_digest =
        digest::content_digest(b"{\"status\":\"error\",\"agentVersion\":\"1.4.2\"}");
    let out = vec![
        verify_case("valid heartbeat", &public, hb, hb.body, f, AGENT, NOW),
        verify_case(
            "valid at the end of the window",
            &public,
            hb,
            hb.body,
            f,
            AGENT,
            NOW + profile::MAX_AGE_SECS,
        ),
        verify_case(
            "valid within the clock skew",
            &public,
            hb,
            hb.body,
            f,
            AGENT,
            NOW - profile::MAX_SKEW_SECS,
        ),
        verify_case("valid websocket upgrade", &public, ws, "", fw, AGENT, NOW),
        verify_case(
            "expired",
            &public,
            hb,
            hb.body,
            f,
            AGENT,
            NOW + profile::MAX_AGE_SECS + 1,
        ),
        verify_case(
            "from the future",
            &public,
            hb,
            hb.body,
            f,
            AGENT,
            NOW - profile::MAX_SKEW_SECS - 1,
        ),
        verify_case("another key", &other, hb, hb.body, f, AGENT, NOW),
        verify_case(
            "another keyid expected",
            &public,
            hb,
            hb.body,
            f,
            "agt_someoneelse",
            NOW,
        ),
        verify_case("another path", &public, &other_path, hb.body, f, AGENT, NOW),
        verify_case(
            "another method",
            &public,
            &other_method,
            hb.body,
            f,
            AGENT,
            NOW,
        ),
        verify_case("another host", &public, &other_host, hb.body, f, AGENT, NOW),
        verify_case(
            "another body",
            &public,
            hb,
            "{\"status\":\"error\",\"agentVersion\":\"1.4.2\"}",
            f,
            AGENT,
            NOW,
        ),
        verify_case(
            "another body with its own digest",
            &public,
            hb,
            "{\"status\":\"error\",\"agentVersion\":\"1.4.2\"}",
            (Some(&rebuilt_digest), f.1, f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "body added to a bodyless signature",
            &public,
            ws,
            "{}",
            fw,
            AGENT,
            NOW,
        ),
        verify_case(
            "no content-digest field",
            &public,
            hb,
            hb.body,
            (None, f.1, f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "no signature field",
            &public,
            hb,
            hb.body,
            (f.0, f.1, None),
            AGENT,
            NOW,
        ),
        verify_case(
            "no signature-input field",
            &public,
            hb,
            hb.body,
            (f.0, None, f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "alg omitted (allowed)",
            &public,
            hb,
            hb.body,
            (f.0, Some(&no_alg), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "alg hmac-sha256",
            &public,
            hb,
            hb.body,
            (f.0, Some(&hmac_alg), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "nonce too short",
            &public,
            hb,
            hb.body,
            (f.0, Some(&short_nonce), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "unknown parameter",
            &public,
            hb,
            hb.body,
            (f.0, Some(&with_tag), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "@path instead of @target-uri",
            &public,
            hb,
            hb.body,
            (f.0, Some(&path_component), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "another label",
            &public,
            hb,
            hb.body,
            (f.0, Some(&renamed), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "signature not a byte sequence",
            &public,
            hb,
            hb.body,
            (f.0, f.1, Some("sig1=\"abc\"")),
            AGENT,
            NOW,
        ),
        verify_case(
            "signature-input not a dictionary",
            &public,
            hb,
            hb.body,
            (f.0, Some("(\"@method\""), f.2),
            AGENT,
            NOW,
        ),
        verify_case(
            "content-digest with another algorithm",
            &public,
            hb,
            hb.body,
            (Some("sha-512=:AAAA:"), f.1, f.2),
            AGENT,
            NOW,
        ),
    ];
    // the outcomes the cases were written for
    let want = [
        None,
        None,
        None,
        None,
        Some("signature_expired"),
        Some("signature_from_future"),
        Some("signature_invalid"),
        Some("signature_keyid"),
        Some("signature_invalid"),
        Some("signature_invalid"),
        Some("signature_invalid"),
        Some("content_digest_mismatch"),
        Some("signature_invalid"),
        Some("content_digest_missing"),
        Some("content_digest_missing"),
        Some("signature_missing"),
        Some("signature_missing"),
        Some("signature_invalid"),
        Some("signature_algorithm"),
        Some("signature_nonce"),
        Some("signature_params"),
        Some("signature_components"),
        Some("signature_label_missing"),
        Some("signature_malformed"),
        Some("signature_malformed"),
        Some("signature_malformed"),
    ];
    assert_eq!(out.len(), want.len());
    for (case, want) in out.iter().zip(want) {
        let got = case["expect"]["code"].as_str();
        assert_eq!(got, want, "{}", case["name"]);
    }
    // ("alg omitted" is refused because the signature covered the `alg` it lost)
    Value::Array(out)
}

fn public_keys() -> Value {
    let good = DeviceSigningKey::from_seed(&SEED)
        .public_key()
        .to_base64url();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let cases = [
        ("valid", good.clone()),
        (
            "identity point (small order)",
            URL_SAFE_NO_PAD.encode(identity),
        ),
        ("padded", format!("{good}=")),
        ("standard base64 alphabet", "+".repeat(43)),
        ("31 bytes", URL_SAFE_NO_PAD.encode([1u8; 31])),
        ("empty", String::new()),
    ];
    Value::Array(
        cases
            .iter()
            .map(|(name, key)| {
                let expect = match DevicePublicKey::from_base64url(key) {
                    Ok(_) => json!({"ok": true}),
                    Err(e) => json!({"ok": false, "code": e.code()}),
                };
                json!({"name": name, "publicKey": key, "expect": expect})
            })
            .collect(),
    )
}

/// The contents of `httpsig.json`.
pub fn generate() -> Value {
    json!({
        "comment": "Generated by `cargo run -p breeze-crypto --example gen_vectors`. Do not edit. Seeds are fixed test values, never real keys.",
        "rfc9421": [rfc9421()],
        "contentDigest": digests(),
        "keys": [{"seed": URL_SAFE_NO_PAD.encode(SEED), "publicKey": DeviceSigningKey::from_seed(&SEED).public_key().to_base64url()}],
        "publicKeys": public_keys(),
        "sign": signs(),
        "verify": verifies(),
    })
}
