//! Known-answer and cross-implementation vectors (see `vectors/crypto/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod vectors_gen;

use argon2::{Algorithm, Argon2, Params, Version};
use breeze_crypto::credentials::{
    AgentToken, ApiKey, EnrollmentKey, PasswordResetToken, Pepper, SessionToken,
};
use breeze_crypto::envelope::{EnvelopeError, Field, KeyRing, MfaCipher};
use breeze_crypto::jwt::{JwtError, JwtKeyRing, TokenType};
use breeze_crypto::password::{needs_rehash, verify_password};
use breeze_crypto::recovery::RecoveryCode;
use breeze_crypto::totp::{self, TotpSecret};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use vectors_gen::{generate, read_json};

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn checked_in_vectors_are_fresh() {
    vectors_gen::support::assert_fresh(
        &vectors_gen::dir(),
        vectors_gen::DIR,
        vectors_gen::COMMAND,
        vectors_gen::all(),
    );
}

fn jwt_ring(inputs: &Value) -> JwtKeyRing {
    let j = &inputs["jwt"];
    let mut b = JwtKeyRing::builder();
    for (kid, secret) in j["keys"].as_object().unwrap() {
        b = b.key(kid, SecretString::from(s(secret))).unwrap();
    }
    b.legacy_secret(SecretString::from(s(&j["legacySecret"])))
        .unwrap()
        .active("2026-11")
        .unwrap()
}

#[test]
fn jwts_minted_by_node_jose_verify_here() {
    let inputs = read_json("interop/inputs.json");
    let ring = jwt_ring(&inputs);
    let jose = read_json("jwt_jose.json");
    let now = jose["now"].as_i64().unwrap();
    let tokens = jose["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 5);
    for t in tokens {
        let ty = if s(&t["type"]) == "access" {
            TokenType::Access
        } else {
            TokenType::Refresh
        };
        let claims = ring.verify(s(&t["token"]), ty, now).unwrap();
        assert_eq!(claims.email, "ana@example.com");
        assert_eq!(claims.aep, 3);
        // and each is refused for the other type, and once expired
        let other = if ty == TokenType::Access {
            TokenType::Refresh
        } else {
            TokenType::Access
        };
        assert_eq!(
            ring.verify(s(&t["token"]), other, now),
            Err(JwtError::WrongType)
        );
        assert_eq!(
            ring.verify(s(&t["token"]), ty, claims.exp),
            Err(JwtError::Expired)
        );
    }
    // A jose token signed with a key later removed from the ring is refused.
    let only_new = JwtKeyRing::builder()
        .key(
            "2026-11",
            SecretString::from(s(&inputs["jwt"]["keys"]["2026-11"])),
        )
        .unwrap()
        .active("2026-11")
        .unwrap();
    let old = tokens.iter().find(|t| t["kid"] == "2026-08").unwrap();
    assert_eq!(
        only_new.verify(s(&old["token"]), TokenType::Access, now),
        Err(JwtError::UnknownKeyId)
    );
}

#[test]
fn our_jwts_replay() {
    let inputs = read_json("interop/inputs.json");
    let ring = jwt_ring(&inputs);
    for t in generate()["jwt"].as_array().unwrap() {
        let ty = if s(&t["type"]) == "access" {
            TokenType::Access
        } else {
            TokenType::Refresh
        };
        let claims = ring
            .verify(s(&t["token"]), ty, t["now"].as_i64().unwrap())
            .unwrap();
        assert_eq!(serde_json::to_value(claims).unwrap(), t["claims"]);
    }
}

fn envelope_ring(inputs: &Value) -> (KeyRing, MfaCipher, Field) {
    let e = &inputs["envelope"];
    let mut b = KeyRing::builder();
    for (kid, key) in e["keys"].as_object().unwrap() {
        b = b.key(kid, SecretString::from(s(key))).unwrap();
    }
    let ring = b
        .legacy_v1_key(SecretString::from(s(&e["legacyKey"])))
        .active("k2026")
        .unwrap();
    let mfa = MfaCipher::new(&SecretString::from(s(&e["mfaKey"])));
    let field = Field::new(s(&e["table"]), s(&e["column"])).unwrap();
    (ring, mfa, field)
}

fn check_envelopes(values: &[Value]) {
    let inputs = read_json("interop/inputs.json");
    let (ring, mfa, field) = envelope_ring(&inputs);
    for v in values {
        let value = s(&v["value"]);
        let want = s(&v["plaintext"]);
        match s(&v["version"]) {
            "enc:v3" => {
                assert_eq!(ring.decrypt(value, &field).unwrap().expose_secret(), want);
                let other = Field::new("webhooks", "secret").unwrap();
                assert_eq!(
                    ring.decrypt(value, &other).err(),
                    Some(EnvelopeError::Authentication)
                );
            }
            "enc:v2" | "enc:v1" => {
                assert!(matches!(
                    ring.decrypt(value, &field),
                    Err(EnvelopeError::VersionNotAccepted { .. })
                ));
                assert_eq!(
                    ring.decrypt_for_migration(value, &field)
                        .unwrap()
                        .expose_secret(),
                    want
                );
                let moved = ring.reencrypt(value, &field).unwrap();
                assert!(moved.changed && moved.value.starts_with("enc:v3:k2026:"));
                assert_eq!(
                    ring.decrypt(&moved.value, &field).unwrap().expose_secret(),
                    want
                );
            }
            "mfa:v1" => assert_eq!(mfa.decrypt(value).unwrap().expose_secret(), want),
            other => panic!("unknown version {other}"),
        }
    }
}

#[test]
fn envelopes_made_by_node_crypto_decrypt_here() {
    let node = read_json("envelope_node.json");
    let values = node["values"].as_array().unwrap();
    assert_eq!(values.len(), 16);
    check_envelopes(values);
}

#[test]
fn our_envelopes_replay() {
    check_envelopes(generate()["envelopes"].as_array().unwrap());
}

#[test]
fn argon2_cffi_hashes_verify_here() {
    let cffi = read_json("argon2_cffi.json");
    for h in cffi["hashes"].as_array().unwrap() {
        let pw = SecretString::from(s(&h["password"]));
        assert!(verify_password(&pw, s(&h["phc"])).unwrap());
        let wrong = SecretString::from(format!("{}x", s(&h["password"])));
        assert!(!verify_password(&wrong, s(&h["phc"])).unwrap());
        assert_eq!(
            needs_rehash(s(&h["phc"])).unwrap(),
            h["needsRehash"].as_bool().unwrap()
        );
    }
}

#[test]
fn rfc6238_appendix_b_sha1() {
    let v = read_json("rfc6238_totp.json");
    let secret = s(&v["secretAscii"]).as_bytes();
    for row in v["vectors"].as_array().unwrap() {
        let t = row["time"].as_u64().unwrap();
        assert_eq!(
            totp::rfc6238_sha1_code(secret, t, 8).unwrap(),
            s(&row["code"]),
            "t={t}"
        );
    }
    // The 6-digit codes Breeze uses are the last 6 digits of the same HOTP value.
    let ts = TotpSecret::from_bytes(secret).unwrap();
    for row in v["vectors"].as_array().unwrap() {
        let t = row["time"].as_i64().unwrap();
        let code8 = s(&row["code"]);
        let step = totp::verify(&ts, &code8[2..], t).unwrap();
        assert_eq!(step, row["step"].as_u64().unwrap());
    }
}

#[test]
fn rfc9106_argon2id_known_answer() {
    let v = read_json("rfc9106_argon2id.json");
    let h = |k: &str| hex::decode(s(&v[k])).unwrap();
    let params = Params::new(
        u32::try_from(v["memoryKiB"].as_u64().unwrap()).unwrap(),
        u32::try_from(v["passes"].as_u64().unwrap()).unwrap(),
        u32::try_from(v["lanes"].as_u64().unwrap()).unwrap(),
        Some(32),
    )
    .unwrap();
    let secret = h("secret");
    let ad = h("associatedData");
    let params = argon2::ParamsBuilder::new()
        .m_cost(params.m_cost())
        .t_cost(params.t_cost())
        .p_cost(params.p_cost())
        .output_len(32)
        .data(argon2::AssociatedData::new(&ad).unwrap())
        .build()
        .unwrap();
    let ctx =
        Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut out = [0u8; 32];
    ctx.hash_password_into(&h("password"), &h("salt"), &mut out)
        .unwrap();
    assert_eq!(hex::encode(out), s(&v["tag"]));
}

#[test]
fn credential_hashes_replay() {
    for c in generate()["credentials"].as_array().unwrap() {
        let raw = s(&c["raw"]);
        let got = match s(&c["kind"]) {
            "agent_token" => AgentToken::parse(raw).unwrap().hash().to_hex(),
            "api_key" | "api_key_legacy" => ApiKey::parse(raw).unwrap().hash().to_hex(),
            "session_token" => SessionToken::parse(raw).unwrap().hash().to_hex(),
            "password_reset_token" => PasswordResetToken::parse(raw).unwrap().hash().to_hex(),
            "enrollment_key" => {
                let p = Pepper::new(SecretString::from(s(&c["pepper"])));
                let got = EnrollmentKey::parse(raw)
                    .unwrap()
                    .peppered_hash(&p)
                    .to_hex();
                assert_eq!(got, s(&c["pepperedSha256"]));
                continue;
            }
            "recovery_code" => {
                let p = Pepper::new(SecretString::from(s(&c["pepper"])));
                let code = RecoveryCode::normalize(raw).unwrap();
                assert_eq!(code.expose_secret(), s(&c["normalized"]));
                assert_eq!(code.peppered_hash(&p).to_hex(), s(&c["pepperedSha256"]));
                continue;
            }
            other => panic!("unknown kind {other}"),
        };
        assert_eq!(got, s(&c["sha256"]));
    }
}
