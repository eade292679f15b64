//! criterion benchmarks of breeze-crypto: credential verify per kind, JWT sign/verify,
//! secret encrypt/decrypt of a 64-byte value, Argon2id hash, HTTP message signature sign and
//! verify of a heartbeat (SPEC 17), OpenID Connect ID-token verification per algorithm with
//! the tokens node `jose` minted (SPEC 16, feature `oidc`).
//! Run: `cargo bench -p breeze-crypto --features oidc --bench crypto`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark code"
)]

use std::hint::black_box;

use breeze_crypto::credentials::{
    AgentToken, ApiKey, EnrollmentKey, PasswordResetToken, Pepper, SessionToken,
};
use breeze_crypto::envelope::{Field, KeyRing};
use breeze_crypto::jwt::{Claims, JwtKeyRing, TokenScope, TokenSubject, TokenType};
use breeze_crypto::password::hash_password;
use breeze_crypto::recovery::RecoveryCode;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use uuid::Uuid;

mod jsonwebtoken_hs256;

/// Each credential as a request checks it: shape, hash where it lies, constant-time compare
/// (the allocation-free `*_presented` forms).
fn credentials(c: &mut Criterion) {
    let mut g = c.benchmark_group("credential_verify");
    let agent = AgentToken::generate().unwrap();
    let agent_raw = agent.expose_secret().to_owned();
    let agent_hash = agent.hash();
    g.bench_function("agent_token", |b| {
        b.iter(|| {
            AgentToken::hash_presented(black_box(&agent_raw))
                .unwrap()
                .ct_eq(black_box(&agent_hash))
        });
    });
    let key = ApiKey::generate().unwrap();
    let key_raw = key.expose_secret().to_owned();
    let key_hash = key.hash();
    g.bench_function("api_key", |b| {
        b.iter(|| {
            ApiKey::hash_presented(black_box(&key_raw))
                .unwrap()
                .ct_eq(black_box(&key_hash))
        });
    });
    let session = SessionToken::generate().unwrap();
    let session_raw = session.expose_secret().to_owned();
    let session_hash = session.hash();
    g.bench_function("session_token", |b| {
        b.iter(|| {
            SessionToken::hash_presented(black_box(&session_raw))
                .unwrap()
                .ct_eq(black_box(&session_hash))
        });
    });
    let reset = PasswordResetToken::generate().unwrap();
    let reset_raw = reset.expose_secret().to_owned();
    let reset_hash = reset.hash();
    g.bench_function("password_reset_token", |b| {
        b.iter(|| {
            PasswordResetToken::hash_presented(black_box(&reset_raw))
                .unwrap()
                .ct_eq(black_box(&reset_hash))
        });
    });
    let pepper = Pepper::new(SecretString::from(
        "bench-pepper-0123456789abcdef0123456789",
    ));
    let ek = EnrollmentKey::generate().unwrap();
    let ek_raw = ek.expose_secret().to_owned();
    let ek_hash = ek.peppered_hash(&pepper);
    g.bench_function("enrollment_key_peppered", |b| {
        b.iter(|| {
            EnrollmentKey::peppered_hash_presented(black_box(&ek_raw), &pepper)
                .unwrap()
                .ct_eq(black_box(&ek_hash))
        });
    });
    let rc_hash = RecoveryCode::normalize("ABCD-2345")
        .unwrap()
        .peppered_hash(&pepper);
    g.bench_function("recovery_code_peppered", |b| {
        b.iter(|| {
            RecoveryCode::peppered_hash_presented(black_box("abcd-2345"), &pepper)
                .unwrap()
                .ct_eq(black_box(&rc_hash))
        });
    });
    g.finish();
}

fn jwt(c: &mut Criterion) {
    let ring = JwtKeyRing::builder()
        .key(
            "k1",
            SecretString::from("8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d"),
        )
        .unwrap()
        .active("k1")
        .unwrap();
    let subject = TokenSubject {
        user_id: Uuid::new_v4(),
        email: "ana@example.com".into(),
        role_id: Some(Uuid::new_v4()),
        org_id: Some(Uuid::new_v4()),
        partner_id: None,
        scope: TokenScope::Organization,
        mfa: true,
        auth_epoch: 3,
        mfa_epoch: 2,
    };
    // Now, not a fixed instant: the jsonwebtoken baseline checks `exp` against the clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .cast_signed();
    let fam = Uuid::new_v4();
    let token = ring.issue_access(&subject, fam, now).unwrap().token;

    jsonwebtoken_hs256::install();
    let jwt_key =
        jsonwebtoken::DecodingKey::from_secret(b"8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d")
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["breeze"]);
    validation.set_audience(&["breeze-api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let theirs = jsonwebtoken::decode::<Claims>(&token, &jwt_key, &validation).unwrap();
    assert_eq!(
        theirs.claims,
        ring.verify(&token, TokenType::Access, now).unwrap()
    );

    let mut g = c.benchmark_group("jwt");
    g.bench_function("sign_access", |b| {
        b.iter(|| ring.issue_access(black_box(&subject), fam, now).unwrap());
    });
    g.bench_function("verify_access", |b| {
        b.iter(|| {
            ring.verify(black_box(&token), TokenType::Access, now)
                .unwrap()
        });
    });
    // The same token through the jsonwebtoken crate (HS256, iss/aud/exp checked, the same
    // Claims type), for the ratio issue 23 asks for.
    g.bench_function("verify_access_jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Claims>(black_box(&token), &jwt_key, &validation).unwrap()
        });
    });
    g.finish();
}

fn envelope(c: &mut Criterion) {
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
    let mut g = c.benchmark_group("secret_64b");
    g.bench_function("encrypt", |b| {
        b.iter(|| ring.encrypt(black_box(&value), &field).unwrap());
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| ring.decrypt(black_box(&sealed), &field).unwrap());
    });
    g.finish();
}

fn argon2(c: &mut Criterion) {
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(10);
    let pw = SecretString::from("Correct-Horse-9");
    g.bench_function("hash_m64mib_t3_p4", |b| {
        b.iter(|| hash_password(black_box(&pw)).unwrap());
    });
    g.finish();
}

/// SPEC 17: what a signed agent request costs the agent (sign) and the server (verify), for
/// a heartbeat-sized body.
fn httpsig(c: &mut Criterion) {
    use breeze_crypto::httpsig::DeviceSigningKey;
    use breeze_crypto::httpsig::profile::{self, RequestParts, SignOptions, VerifyPolicy};
    let key = DeviceSigningKey::from_seed(&[3u8; 32]);
    let public = key.public_key();
    let body = br#"{"status":"ok","agentVersion":"1.4.2","metrics":{"cpuPercent":12.5,"ramPercent":41.0,"diskPercent":63.2}}"#;
    let uri =
        "https://rmm.example.com/api/v1/agents/agt_0123456789abcdefghijklmnopqrstuv/heartbeat";
    let parts = RequestParts {
        method: "POST",
        target_uri: uri,
        body,
    };
    let now = 1_800_000_000;
    let options = SignOptions::new("agt_0123456789abcdefghijklmnopqrstuv", now).unwrap();
    let signed = profile::sign_request(&key, &parts, &options).unwrap();
    let policy = VerifyPolicy::new(
        profile::REQUEST_LABEL,
        "agt_0123456789abcdefghijklmnopqrstuv",
        now,
    );
    let mut g = c.benchmark_group("httpsig");
    g.bench_function("sign_request", |b| {
        b.iter(|| profile::sign_request(&key, black_box(&parts), &options).unwrap());
    });
    g.bench_function("verify_request", |b| {
        b.iter(|| {
            profile::verify_request(&public, black_box(&parts), &signed.as_received(), &policy)
                .unwrap()
        });
    });
    g.finish();
}

#[cfg(feature = "oidc")]
fn oidc(c: &mut Criterion) {
    use breeze_crypto::oidc::{ExpectedNonce, IdTokenPolicy, Jwks, SignatureAlg, verify_id_token};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/crypto/oidc_jose.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let jwks = Jwks::parse(&serde_json::to_vec(&v["jwks"]).unwrap()).unwrap();
    let policy = IdTokenPolicy {
        issuer: v["issuer"].as_str().unwrap().to_owned(),
        client_id: v["clientId"].as_str().unwrap().to_owned(),
        algs: SignatureAlg::ALL.to_vec(),
    };
    let nonce = v["nonce"].as_str().unwrap();
    let now = v["now"].as_i64().unwrap();
    let mut g = c.benchmark_group("oidc");
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let name = format!("{alg} signed by the provider verifies");
        let case = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name.as_str())
            .unwrap();
        let token = case["token"].as_str().unwrap().to_owned();
        g.bench_function(format!("verify_id_token_{alg}"), |b| {
            b.iter(|| {
                verify_id_token(
                    black_box(&token),
                    &jwks,
                    &policy,
                    ExpectedNonce::Value(nonce),
                    now,
                )
                .unwrap()
            });
        });
    }
    g.finish();
}

#[cfg(not(feature = "oidc"))]
const fn oidc(_: &mut Criterion) {}

criterion_group!(benches, credentials, jwt, envelope, argon2, httpsig, oidc);
criterion_main!(benches);
