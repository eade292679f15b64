//! A tour of breeze-crypto end to end, the way a server uses it: a user sets a password and
//! enrolls MFA, logs in and gets tokens, the signing key rotates, an agent is issued a token,
//! a webhook secret is stored encrypted and survives a key rotation.
//!
//! Run: `scripts/run` (or `cargo run --release -p crypto-tour`).

use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use breeze_crypto::credentials::{AgentId, AgentToken, ApiKey, EnrollmentKey, Pepper};
use breeze_crypto::envelope::{Field, KeyRing, MfaCipher};
use breeze_crypto::jwt::{JwtKeyRing, TokenScope, TokenSubject, TokenType};
use breeze_crypto::keys::{validate_distinct_keys, validate_encryption_key, validate_jwt_secret};
use breeze_crypto::password::{
    PasswordPolicy, dummy_verify, hash_password, needs_rehash, verify_password,
};
use breeze_crypto::recovery::{RecoveryCode, generate_codes};
use breeze_crypto::totp::{self, TotpSecret};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

// Demo configuration. A real deployment generates its own (`openssl rand -hex 32`).
const APP_KEY_2026: &str = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";
const APP_KEY_2027: &str = "d81c4e7a2f9b06c35e1a8d4f7b2c9e0a6f3d8b1e5c7a2f9d4b0e6c3a8f1d5b7e";
const MFA_KEY: &str = "9b3e71c0d5a28f46e1b7c3d9a0f5e2b8c4d6a1f3e7b9c0d2a5f8e1b4c7d0a3f6";
const JWT_OLD: &str = "f3a9c1e5b7d2048e6c1a3f5b7d9e0c2a4f6b8d1e3c5a7f9b";
const JWT_NEW: &str = "8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d";
const PEPPER: &str = "demo-pepper-7c2e9a4f1b8d3e6a0f5c1b9d7e2a4f8c";

fn step(title: &str) {
    println!("\n== {title}");
}

/// The first `n` bytes of a value, for display.
fn head(s: &str, n: usize) -> &str {
    s.get(..n).unwrap_or(s)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    step("1. configuration is validated before use");
    validate_encryption_key(APP_KEY_2026)?;
    validate_encryption_key(MFA_KEY)?;
    validate_distinct_keys(APP_KEY_2026, MFA_KEY)?;
    validate_jwt_secret(JWT_NEW)?;
    match validate_encryption_key("changeme") {
        Err(e) => println!("refused APP_ENCRYPTION_KEY=changeme: {e}"),
        Ok(()) => return Err("placeholder accepted".into()),
    }

    step("2. password policy and Argon2id (m=64 MiB, t=3, p=4)");
    let policy = PasswordPolicy::default();
    if let Err(e) = policy.check("password") {
        let rules: Vec<String> = e.violations().iter().map(ToString::to_string).collect();
        println!("'password' refused: {}", rules.join("; "));
    }
    let password = SecretString::from("Correct-Horse-9-Battery");
    policy.check(password.expose_secret())?;
    let t = Instant::now();
    let stored = hash_password(&password)?;
    println!(
        "hashed in {:?}: {}...",
        t.elapsed(),
        head(stored.as_str(), 31)
    );
    println!(
        "verify right password: {}",
        verify_password(&password, stored.as_str())?
    );
    println!(
        "verify wrong password: {}",
        verify_password(
            &SecretString::from("Correct-Horse-9-battery"),
            stored.as_str()
        )?
    );
    println!("needs rehash: {}", needs_rehash(stored.as_str())?);
    let t = Instant::now();
    let _ = dummy_verify(&password);
    println!(
        "dummy verify for an unknown user took {:?} (same cost)",
        t.elapsed()
    );

    step("3. MFA enrollment: TOTP secret stored as mfa:v1, first code confirms");
    let mfa_cipher = MfaCipher::new(&SecretString::from(MFA_KEY));
    let secret = TotpSecret::generate()?;
    let uri = totp::otpauth_uri(&secret, "ana@example.com")?;
    println!(
        "otpauth uri (shown once): {}...",
        head(uri.expose_secret(), 40)
    );
    let stored_secret = mfa_cipher.encrypt(secret.to_base32().expose_secret())?;
    println!("stored: {}...", head(&stored_secret, 20));
    let reopened = TotpSecret::from_base32(mfa_cipher.decrypt(&stored_secret)?.expose_secret())?;
    let code = totp::code_at(&reopened, now())?;
    let step_used = totp::verify(&reopened, &code, now())?;
    println!(
        "code accepted at step {step_used}; the server now refuses step {step_used} for this user"
    );
    let codes = generate_codes()?;
    let pepper = Pepper::new(SecretString::from(PEPPER));
    let hashes: Vec<_> = codes.iter().map(|c| c.peppered_hash(&pepper)).collect();
    let (fourth, fourth_hash) = codes.get(3).zip(hashes.get(3)).ok_or("no code")?;
    let typed = RecoveryCode::normalize(&fourth.expose_secret().to_lowercase())?;
    println!(
        "10 recovery codes issued; typed code matches stored hash #4: {}",
        typed.verify_peppered(&pepper, fourth_hash)
    );

    step("4. tokens, and a signing key rotation with no logout");
    let old_ring = JwtKeyRing::builder()
        .key("2026-08", SecretString::from(JWT_OLD))?
        .active("2026-08")?;
    let subject = TokenSubject {
        user_id: Uuid::new_v4(),
        email: "ana@example.com".into(),
        role_id: Some(Uuid::new_v4()),
        org_id: Some(Uuid::new_v4()),
        partner_id: None,
        scope: TokenScope::Organization,
        mfa: true,
        auth_epoch: 1,
        mfa_epoch: 1,
    };
    let family = Uuid::new_v4();
    let access = old_ring.issue_access(&subject, family, now())?;
    let refresh = old_ring.issue_refresh(&subject, family, now())?;
    let new_ring = JwtKeyRing::builder()
        .key("2026-08", SecretString::from(JWT_OLD))?
        .key("2026-11", SecretString::from(JWT_NEW))?
        .active("2026-11")?;
    let claims = new_ring.verify(&access.token, TokenType::Access, now())?;
    println!(
        "old-key access token still verifies after rotation (sub {})",
        claims.sub
    );
    match new_ring.verify(&refresh.token, TokenType::Access, now()) {
        Err(e) => println!("refresh token used as access token refused: {e}"),
        Ok(_) => return Err("type confusion accepted".into()),
    }
    match new_ring.verify(&access.token, TokenType::Access, now() + 901) {
        Err(e) => println!("after 15 minutes: {e}"),
        Ok(_) => return Err("expired token accepted".into()),
    }

    step("5. agents and integrations: credentials shown once, stored as SHA-256");
    let agent_id = AgentId::generate()?;
    let token = AgentToken::generate()?;
    println!("agent {agent_id} token hash {}", token.hash());
    let presented = AgentToken::parse(token.expose_secret())?;
    println!(
        "presented token matches: {}",
        presented.verify(&token.hash())
    );
    let api_key = ApiKey::generate()?;
    println!(
        "api key display prefix {} (hash {})",
        api_key.display_prefix(),
        api_key.hash()
    );
    match ApiKey::parse(token.expose_secret()) {
        Err(e) => println!("agent token offered as an API key: {e}"),
        Ok(_) => return Err("kind confusion accepted".into()),
    }
    let enrollment = EnrollmentKey::generate()?;
    println!(
        "enrollment key stored as peppered hash {}",
        enrollment.peppered_hash(&pepper)
    );

    step("6. secrets at rest, bound to their column, re-encrypted on key rotation");
    let field = Field::new("webhooks", "secret")?;
    let ring_2026 = KeyRing::builder()
        .key("k2026", SecretString::from(APP_KEY_2026))?
        .active("k2026")?;
    let sealed = ring_2026.encrypt("whsec_live_4242", &field)?;
    println!("stored: {}...", head(&sealed, 24));
    match ring_2026.decrypt(&sealed, &Field::new("sso_providers", "client_secret")?) {
        Err(e) => println!("moved to another column: {e}"),
        Ok(_) => return Err("AAD not enforced".into()),
    }
    let ring_2027 = KeyRing::builder()
        .key("k2026", SecretString::from(APP_KEY_2026))?
        .key("k2027", SecretString::from(APP_KEY_2027))?
        .active("k2027")?;
    let moved = ring_2027.reencrypt(&sealed, &field)?;
    println!(
        "rekeyed (changed: {}): {}...; decrypts to the same secret: {}",
        moved.changed,
        head(&moved.value, 24),
        ring_2027.decrypt(&moved.value, &field)?.expose_secret() == "whsec_live_4242"
    );

    println!("\ncrypto tour complete");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crypto tour failed: {e}");
            ExitCode::FAILURE
        }
    }
}
