//! Runs one breeze-crypto operation N times, for instruction counting under callgrind, which
//! is repeatable on a busy machine where wall-clock benchmarks are not:
//!
//! ```text
//! cargo build --release -p breeze-crypto --example instruction_counts
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!   target/release/examples/instruction_counts agent_token 10000
//! ```
//! `scripts/bench-crypto` runs it for every operation with N = 0 and N = 10000 and prints
//! the difference divided by N: instructions per operation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark program"
)]

use std::hint::black_box;

use breeze_crypto::credentials::{AgentToken, ApiKey, EnrollmentKey, Pepper, SessionToken};
use breeze_crypto::envelope::{Field, KeyRing};
use breeze_crypto::jwt::{JwtKeyRing, TokenScope, TokenSubject, TokenType};
use secrecy::SecretString;
use uuid::Uuid;

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);

    let agent = format!("brz_{}", "0123456789abcdef".repeat(4));
    let agent_hash = AgentToken::parse(&agent).unwrap().hash();
    let api = format!("brzk_{}", "a1b2c3d4e5f6".repeat(4));
    let api_hash = ApiKey::parse(&api).unwrap().hash();
    let session = "V1StGXR8_Z5jdHi6B-myTV1StGXR8_Z5jdHi6B-myTabcdef";
    let session_hash = SessionToken::parse(session).unwrap().hash();
    let pepper = Pepper::new(SecretString::from(
        "bench-pepper-0123456789abcdef0123456789",
    ));
    let ek = "fe".repeat(32);
    let ek_hash = EnrollmentKey::parse(&ek).unwrap().peppered_hash(&pepper);
    let jwt = JwtKeyRing::builder()
        .key(
            "k1",
            SecretString::from("8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d"),
        )
        .unwrap()
        .active("k1")
        .unwrap();
    let subject = TokenSubject {
        user_id: Uuid::from_u128(1),
        email: "ana@example.com".into(),
        role_id: Some(Uuid::from_u128(2)),
        org_id: Some(Uuid::from_u128(3)),
        partner_id: None,
        scope: TokenScope::Organization,
        mfa: true,
        auth_epoch: 3,
        mfa_epoch: 2,
    };
    let now = 1_800_000_000;
    let token = jwt
        .issue_access(&subject, Uuid::from_u128(4), now)
        .unwrap()
        .token;
    let ring = KeyRing::builder()
        .key(
            "k1",
            SecretString::from("4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7"),
        )
        .unwrap()
        .active("k1")
        .unwrap();
    let field = Field::new("webhooks", "secret").unwrap();
    let value = "x".repeat(64);
    let sealed = ring.encrypt(&value, &field).unwrap();

    // SPEC 17: a signed heartbeat, as in the criterion benchmark
    let device = breeze_crypto::httpsig::DeviceSigningKey::from_seed(&[3u8; 32]);
    let device_public = device.public_key();
    let body = br#"{"status":"ok","agentVersion":"1.4.2","metrics":{"cpuPercent":12.5,"ramPercent":41.0,"diskPercent":63.2}}"#;
    let parts = breeze_crypto::httpsig::profile::RequestParts {
        method: "POST",
        target_uri: "https://rmm.example.com/api/v1/agents/agt_0123456789abcdefghijklmnopqrstuv/heartbeat",
        body,
    };
    let sign_options = breeze_crypto::httpsig::profile::SignOptions::new(
        "agt_0123456789abcdefghijklmnopqrstuv",
        now,
    )
    .unwrap()
    .with_nonce("fixed-nonce-for-counting");
    let signed =
        breeze_crypto::httpsig::profile::sign_request(&device, &parts, &sign_options).unwrap();
    let policy = breeze_crypto::httpsig::profile::VerifyPolicy::new(
        breeze_crypto::httpsig::profile::REQUEST_LABEL,
        "agt_0123456789abcdefghijklmnopqrstuv",
        now,
    );

    for _ in 0..n {
        let ok = match op.as_str() {
            "agent_token" => AgentToken::hash_presented(black_box(&agent))
                .unwrap()
                .ct_eq(&agent_hash),
            "api_key" => ApiKey::hash_presented(black_box(&api))
                .unwrap()
                .ct_eq(&api_hash),
            "session_token" => SessionToken::hash_presented(black_box(session))
                .unwrap()
                .ct_eq(&session_hash),
            "enrollment_key_peppered" => {
                EnrollmentKey::peppered_hash_presented(black_box(&ek), &pepper)
                    .unwrap()
                    .ct_eq(&ek_hash)
            }
            "jwt_sign" => !jwt
                .issue_access(&subject, Uuid::from_u128(4), now)
                .unwrap()
                .token
                .is_empty(),
            "jwt_verify" => jwt
                .verify(black_box(&token), TokenType::Access, now)
                .is_ok(),
            "secret_encrypt" => ring.encrypt(black_box(&value), &field).is_ok(),
            "secret_decrypt" => ring.decrypt(black_box(&sealed), &field).is_ok(),
            "httpsig_sign" => breeze_crypto::httpsig::profile::sign_request(
                &device,
                black_box(&parts),
                &sign_options,
            )
            .is_ok(),
            "httpsig_verify" => breeze_crypto::httpsig::profile::verify_request(
                &device_public,
                black_box(&parts),
                &signed.as_received(),
                &policy,
            )
            .is_ok(),
            other => panic!("unknown op {other}"),
        };
        assert!(ok);
    }
}
