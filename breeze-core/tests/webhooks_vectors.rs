//! Replays the checked-in vectors under `vectors/webhooks/` and fails when they are stale.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

#[path = "vectors_gen/webhooks.rs"]
mod webhooks_gen;

use breeze_core::tenancy::OrgId;
use breeze_core::webhooks::{
    DEFAULT_TOLERANCE_SECS, EventType, WebhookError, WebhookSecret, payload, sign, verify,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn load(name: &str) -> Value {
    let path = webhooks_gen::dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read vectors/{}/{name}: {e}; run `{}`",
            webhooks_gen::DIR,
            webhooks_gen::COMMAND
        )
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn checked_in_vectors_are_fresh() {
    webhooks_gen::support::assert_fresh(
        &webhooks_gen::dir(),
        webhooks_gen::DIR,
        webhooks_gen::COMMAND,
        webhooks_gen::all(),
    );
}

fn secrets(c: &Value) -> Result<Vec<WebhookSecret>, WebhookError> {
    c["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| WebhookSecret::parse(s.as_str().unwrap()))
        .collect()
}

fn s<'a>(c: &'a Value, key: &str) -> &'a str {
    c[key].as_str().unwrap()
}

fn sign_case(c: &Value) -> Result<String, WebhookError> {
    let parsed = secrets(c)?;
    let refs: Vec<&WebhookSecret> = parsed.iter().collect();
    sign(
        &refs,
        s(c, "msg_id"),
        c["timestamp"].as_i64().unwrap(),
        s(c, "body").as_bytes(),
    )
}

#[test]
fn signature_vectors_replay() {
    let v = load("signatures.json");
    assert_eq!(v["default_tolerance_secs"], DEFAULT_TOLERANCE_SECS);
    let r = &v["reference"];
    assert_eq!(r["secret"], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(
        r["signature"],
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    let secret = WebhookSecret::parse(s(r, "secret")).unwrap();
    assert_eq!(
        sign(
            &[&secret],
            s(r, "msg_id"),
            r["timestamp"].as_i64().unwrap(),
            s(r, "body").as_bytes()
        )
        .unwrap(),
        s(r, "signature")
    );

    let cases = v["sign"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for c in cases {
        assert_eq!(sign_case(c).unwrap(), s(c, "signature"), "{}", c["name"]);
    }
    let errors = v["sign_errors"].as_array().unwrap();
    assert!(errors.len() >= 6);
    for c in errors {
        assert_eq!(
            sign_case(c).unwrap_err().code(),
            s(c, "code"),
            "{}",
            c["name"]
        );
    }

    let cases = v["verify"].as_array().unwrap();
    assert!(cases.len() >= 40);
    let mut codes = std::collections::BTreeSet::new();
    for c in cases {
        let got = secrets(c).and_then(|parsed| {
            let refs: Vec<&WebhookSecret> = parsed.iter().collect();
            verify(
                &refs,
                s(c, "msg_id"),
                s(c, "timestamp"),
                s(c, "signature"),
                s(c, "body").as_bytes(),
                c["now"].as_i64().unwrap(),
                c["tolerance"].as_u64().unwrap_or(DEFAULT_TOLERANCE_SECS),
            )
        });
        let want = &c["expect"];
        match got {
            Ok(()) => assert_eq!(want["ok"], true, "{}", c["name"]),
            Err(e) => {
                assert_eq!(want["ok"], false, "{}: {e}", c["name"]);
                assert_eq!(e.code(), want["code"], "{}", c["name"]);
                codes.insert(e.code());
            }
        }
    }
    // Every verification refusal has a case.
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        [
            "message_id",
            "no_matching_signature",
            "no_secret",
            "secret_format",
            "secret_length",
            "signature_header",
            "timestamp_invalid",
            "timestamp_too_new",
            "timestamp_too_old",
        ]
    );
}

#[test]
fn payload_vectors_replay() {
    let v = load("payloads.json");
    let catalogue = v["catalogue"].as_array().unwrap();
    assert_eq!(catalogue.len(), EventType::ALL.len());
    for (entry, event) in catalogue.iter().zip(EventType::ALL) {
        assert_eq!(entry["type"], event.as_str());
        assert_eq!(entry["subscribable"], event.is_subscribable());
        assert_eq!(entry["dataFields"], serde_json::json!(event.data_fields()));
    }
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let name = &c["name"];
        let got = (|| -> Result<String, String> {
            let event = EventType::parse(s(c, "type")).map_err(|e| e.code().to_owned())?;
            let t = OffsetDateTime::parse(s(c, "timestamp"), &Rfc3339)
                .map_err(|_| "timestamp_invalid".to_owned())?;
            let org: OrgId = s(c, "org_id")
                .parse()
                .map_err(|_| "invalid_input".to_owned())?;
            let body =
                payload(event, t, org, c["data"].clone()).map_err(|e| e.code().to_owned())?;
            Ok(String::from_utf8(body).unwrap())
        })();
        let want = &c["expect"];
        if want["ok"] == true {
            let body = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(body, s(want, "body"), "{name}");
            // The body is JSON whose data is the input data.
            let parsed: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed["data"], c["data"], "{name}");
            assert_eq!(parsed["type"], c["type"], "{name}");
        } else {
            assert_eq!(got.unwrap_err(), s(want, "code"), "{name}");
        }
    }
}

#[test]
fn the_audit_appended_case_verifies_as_a_stream() {
    let data = webhooks_gen::audit_appended_data();
    let entry: breeze_core::audit::Entry = serde_json::from_value(data["entry"].clone()).unwrap();
    assert!(entry.seal_is_valid());
    assert_eq!(data["hash"], entry.chain_hash.unwrap().to_hex());
    let chain = entry.chain;
    let v = breeze_core::audit::verify_segment(chain, breeze_core::audit::KeyRing::new(), [&entry])
        .unwrap();
    assert_eq!(v.last_sequence, Some(0));
}
