//! Node.js glue for `breeze-ffi`: every function is a one-line forward; this file only
//! converts numbers and bytes and turns errors into `Error` objects whose `code` is the
//! crate error's stable code. (`#[napi]` recognises a fallible function only by a literal
//! `Result<..>` return type, so no alias is used for it.)
#![deny(clippy::all)]

use breeze_ffi::error::{js_integral_numbers, js_number_from_u64, u64_from_f64, unix_from_f64};
use breeze_ffi::{FfiError, agent, audit, authz, credentials, httpsig, jwt, password, secrets, totp, webhooks};
use napi::bindgen_prelude::{Either, Uint8Array};
use napi_derive::napi;
use serde_json::Value;

fn r<T>(result: Result<T, FfiError>) -> Result<T, napi::Error<String>> {
    result.map_err(|e| napi::Error::new(e.code.to_owned(), e.message))
}

fn json<T: serde::Serialize>(value: &T) -> Result<Value, napi::Error<String>> {
    r(breeze_ffi::error::to_json(value))
}

fn now(unix: f64) -> Result<i64, napi::Error<String>> {
    r(unix_from_f64(unix))
}

fn bytes(input: &Either<String, Uint8Array>) -> &[u8] {
    match input {
        Either::A(s) => s.as_bytes(),
        Either::B(b) => b,
    }
}

// ---- passwords

#[napi]
pub fn password_hash(password: String) -> Result<String, napi::Error<String>> {
    r(password::password_hash(&password))
}

#[napi]
pub fn password_hash_with_salt(password: String, salt_hex: String) -> Result<String, napi::Error<String>> {
    r(password::password_hash_with_salt(&password, &salt_hex))
}

#[napi]
pub fn password_verify(password: String, phc: String) -> Result<bool, napi::Error<String>> {
    r(password::password_verify(&password, &phc))
}

#[napi]
pub fn password_needs_rehash(phc: String) -> Result<bool, napi::Error<String>> {
    r(password::password_needs_rehash(&phc))
}

#[napi]
pub fn password_policy_check(password: String) -> Vec<String> {
    password::password_policy_check(&password)
}

// ---- credentials

#[napi]
pub fn credential_generate(kind: String) -> Result<Value, napi::Error<String>> {
    json(&r(credentials::credential_generate(&kind))?)
}

#[napi]
pub fn credential_hash(kind: String, value: String) -> Result<String, napi::Error<String>> {
    r(credentials::credential_hash(&kind, &value))
}

#[napi]
pub fn credential_verify(kind: String, value: String, stored_hash: String) -> Result<bool, napi::Error<String>> {
    r(credentials::credential_verify(&kind, &value, &stored_hash))
}

#[napi]
pub fn credential_peppered_hash(kind: String, pepper: String, value: String) -> Result<String, napi::Error<String>> {
    r(credentials::credential_peppered_hash(&kind, &pepper, &value))
}

#[napi]
pub fn credential_verify_peppered(kind: String, pepper: String, value: String, stored_hash: String) -> Result<bool, napi::Error<String>> {
    r(credentials::credential_verify_peppered(&kind, &pepper, &value, &stored_hash))
}

#[napi]
pub fn recovery_codes_generate() -> Result<Vec<String>, napi::Error<String>> {
    r(credentials::recovery_codes_generate())
}

#[napi]
pub fn recovery_code_normalize(code: String) -> Result<String, napi::Error<String>> {
    r(credentials::recovery_code_normalize(&code))
}

// ---- secrets at rest

#[napi]
pub fn secret_encrypt(ring: Value, table: String, column: String, plaintext: String) -> Result<String, napi::Error<String>> {
    r(secrets::secret_encrypt(ring, &table, &column, &plaintext))
}

#[napi]
pub fn secret_decrypt(ring: Value, table: String, column: String, value: String) -> Result<String, napi::Error<String>> {
    r(secrets::secret_decrypt(ring, &table, &column, &value))
}

#[napi]
pub fn secret_decrypt_for_migration(ring: Value, table: String, column: String, value: String) -> Result<String, napi::Error<String>> {
    r(secrets::secret_decrypt_for_migration(ring, &table, &column, &value))
}

#[napi]
pub fn secret_reencrypt(ring: Value, table: String, column: String, value: String) -> Result<Value, napi::Error<String>> {
    json(&r(secrets::secret_reencrypt(ring, &table, &column, &value))?)
}

#[napi]
pub fn secret_version(value: String) -> Result<String, napi::Error<String>> {
    r(secrets::secret_version(&value))
}

#[napi]
pub fn mfa_encrypt(mfa_key: String, plaintext: String) -> Result<String, napi::Error<String>> {
    r(secrets::mfa_encrypt(&mfa_key, &plaintext))
}

#[napi]
pub fn mfa_decrypt(mfa_key: String, value: String) -> Result<String, napi::Error<String>> {
    r(secrets::mfa_decrypt(&mfa_key, &value))
}

// ---- JWT

#[napi]
pub fn jwt_sign(ring: Value, claims: Value) -> Result<String, napi::Error<String>> {
    r(jwt::jwt_sign(ring, claims))
}

#[napi]
pub fn jwt_verify(ring: Value, token: String, expected: String, unix: f64) -> Result<Value, napi::Error<String>> {
    r(jwt::jwt_verify(ring, &token, &expected, now(unix)?))
}

// ---- TOTP

#[napi]
pub fn totp_generate_secret() -> Result<String, napi::Error<String>> {
    r(totp::totp_generate_secret())
}

#[napi]
pub fn totp_code(secret_base32: String, unix: f64) -> Result<String, napi::Error<String>> {
    r(totp::totp_code(&secret_base32, now(unix)?))
}

#[napi]
pub fn totp_verify(secret_base32: String, code: String, unix: f64) -> Result<f64, napi::Error<String>> {
    r(totp::totp_verify(&secret_base32, &code, now(unix)?).and_then(js_number_from_u64))
}

#[napi]
pub fn totp_otpauth_uri(secret_base32: String, email: String) -> Result<String, napi::Error<String>> {
    r(totp::totp_otpauth_uri(&secret_base32, &email))
}

#[napi]
pub fn totp_rfc6238_code(secret: Uint8Array, unix: f64, digits: u32) -> Result<String, napi::Error<String>> {
    let unix = u64::try_from(now(unix)?).map_err(|_| napi::Error::new("invalid_input".to_owned(), "time must not be negative".to_owned()))?;
    r(totp::totp_rfc6238_code(&secret, unix, digits as usize))
}

// ---- authorization

#[napi]
pub fn permission_check(role: String, permission: String) -> Result<bool, napi::Error<String>> {
    r(authz::permission_check(&role, &permission))
}

#[napi]
pub fn role_allows(role: Value, permission: String) -> Result<bool, napi::Error<String>> {
    r(authz::role_allows(role, &permission))
}

#[napi]
pub fn role_validate(role: Value) -> Result<(), napi::Error<String>> {
    r(authz::role_validate(role))
}

#[napi]
pub fn grant_matches(grant: String, permission: String) -> Result<bool, napi::Error<String>> {
    r(authz::grant_matches(&grant, &permission))
}

#[napi]
pub fn permission_registry() -> Vec<String> {
    authz::permission_registry()
}

#[napi]
pub fn seeded_roles() -> Result<Value, napi::Error<String>> {
    r(authz::seeded_roles())
}

#[napi]
pub fn api_key_scopes_allow(scopes: Vec<String>, permission: String) -> Result<bool, napi::Error<String>> {
    r(authz::api_key_scopes_allow(&scopes, &permission))
}

#[napi]
pub fn api_key_check(status: String, expires_at: Option<String>, now: String) -> Result<(), napi::Error<String>> {
    r(authz::api_key_check(&status, expires_at.as_deref(), &now))
}

#[napi]
pub fn risk_catalogue() -> Result<Value, napi::Error<String>> {
    r(authz::risk_catalogue())
}

#[napi]
pub fn risk_decide(tool: String, target: Value, policies: Option<Value>) -> Result<Value, napi::Error<String>> {
    r(authz::risk_decide(&tool, target, policies.unwrap_or_else(|| Value::Array(Vec::new()))))
}

#[napi]
pub fn approval_argument_digest(tool: String, arguments_json: String) -> Result<String, napi::Error<String>> {
    r(authz::approval_argument_digest(&tool, &arguments_json))
}

#[napi]
pub fn ai_scope_named(scopes: Vec<String>, scope: String) -> Result<bool, napi::Error<String>> {
    r(authz::ai_scope_named(&scopes, &scope))
}

#[napi]
pub fn ai_tools() -> Result<Value, napi::Error<String>> {
    r(authz::ai_tools())
}

#[napi]
pub fn mfa_enrollment_required(role_requires_mfa: bool, mfa_enrolled: bool, path: String) -> bool {
    authz::mfa_enrollment_required(role_requires_mfa, mfa_enrolled, &path)
}

#[napi]
pub fn session_check(user: Value, token: Value) -> Result<(), napi::Error<String>> {
    r(authz::session_check(user, token))
}

// ---- audit chain

#[napi]
pub fn audit_entry_hashes(entry: Value) -> Result<Value, napi::Error<String>> {
    json(&r(audit::audit_entry_hashes(entry))?)
}

#[napi]
pub fn audit_verify_chain(chain: String, entries: Value, keys: Value) -> Result<Value, napi::Error<String>> {
    r(audit::audit_verify_chain(&chain, entries, keys))
}

#[napi]
pub fn audit_verify_stream(chain: String, entries: Value, keys: Value) -> Result<Value, napi::Error<String>> {
    r(audit::audit_verify_stream(&chain, entries, keys))
}

#[napi]
pub fn audit_verify_bundle(bundle: Either<String, Uint8Array>, trusted_keys: Option<Value>, trusted_checkpoints: Option<Value>) -> Result<Value, napi::Error<String>> {
    r(audit::audit_verify_bundle(bytes(&bundle), trusted_keys, trusted_checkpoints))
}

#[napi]
pub fn audit_verify_checkpoint(checkpoint: Value, keys: Value) -> Result<(), napi::Error<String>> {
    r(audit::audit_verify_checkpoint(checkpoint, keys))
}

#[napi]
pub fn audit_sanitize_details(details: Value) -> Value {
    audit::audit_sanitize_details(&details)
}

// ---- agent protocol

#[napi]
pub fn agent_message_kinds() -> Vec<String> {
    agent::agent_message_kinds()
}

#[napi]
pub fn agent_decode(kind: String, input: Either<String, Uint8Array>) -> Result<Value, napi::Error<String>> {
    r(agent::agent_decode(&kind, bytes(&input)))
}

#[napi]
pub fn agent_decode_binary(input: Uint8Array) -> Value {
    agent::agent_decode_binary(&input)
}

#[napi]
pub fn agent_schema(kind: String) -> Result<Value, napi::Error<String>> {
    r(agent::agent_schema(&kind))
}

#[napi]
pub fn agent_redact_secrets(output: String) -> String {
    agent::agent_redact_secrets(&output)
}

#[napi]
pub fn agent_check_remote_path(path: String) -> Option<String> {
    agent::agent_check_remote_path(&path).map(str::to_owned)
}

#[napi]
pub fn agent_file_content_verify(
    content_base64: String,
    sha256: String,
    size: Option<f64>,
) -> Result<Value, napi::Error<String>> {
    let size = size.map(|s| r(u64_from_f64(s))).transpose()?;
    Ok(agent::agent_file_content_verify(&content_base64, &sha256, size))
}

// ---- webhooks

#[napi]
pub fn webhook_sign(secrets: Vec<String>, msg_id: String, timestamp: f64, body: Either<String, Uint8Array>) -> Result<String, napi::Error<String>> {
    r(webhooks::webhook_sign(&secrets, &msg_id, now(timestamp)?, bytes(&body)))
}

#[napi]
pub fn webhook_verify(
    secrets: Vec<String>,
    msg_id: String,
    timestamp: String,
    signature: String,
    body: Either<String, Uint8Array>,
    now: f64,
    tolerance: Option<f64>,
) -> Result<(), napi::Error<String>> {
    let tolerance = tolerance.map(|t| r(u64_from_f64(t))).transpose()?;
    r(webhooks::webhook_verify(&secrets, &msg_id, &timestamp, &signature, bytes(&body), r(unix_from_f64(now))?, tolerance))
}

#[napi]
pub fn webhook_generate_secret() -> Result<String, napi::Error<String>> {
    r(webhooks::webhook_generate_secret())
}

#[napi]
pub fn webhook_event_catalogue() -> Value {
    webhooks::webhook_event_catalogue()
}

// `data` as JavaScript built it: integral numbers past 2^32 (floats through napi) are
// integers again.
#[napi]
pub fn webhook_payload(event_type: String, timestamp_rfc3339: String, org_id: String, data: Value) -> Result<String, napi::Error<String>> {
    r(webhooks::webhook_payload(&event_type, &timestamp_rfc3339, &org_id, js_integral_numbers(data)))
}

// ---- HTTP message signatures (SPEC 17)

#[napi(ts_return_type = "{ seed: string; publicKey: string }")]
pub fn httpsig_generate_key() -> Result<Value, napi::Error<String>> {
    json(&r(httpsig::httpsig_generate_key())?)
}

#[napi]
pub fn httpsig_public_key(seed: String) -> Result<String, napi::Error<String>> {
    r(httpsig::httpsig_public_key(&seed))
}

#[napi]
pub fn httpsig_content_digest(body: Either<String, Uint8Array>) -> String {
    httpsig::httpsig_content_digest(bytes(&body))
}

#[napi(ts_return_type = "{ contentDigest: string | null; signatureInput: string; signature: string }")]
pub fn httpsig_sign(
    seed: String,
    method: String,
    target_uri: String,
    body: Either<String, Uint8Array>,
    keyid: String,
    created: f64,
    nonce: Option<String>,
) -> Result<Value, napi::Error<String>> {
    json(&r(httpsig::httpsig_sign(&seed, &method, &target_uri, bytes(&body), &keyid, now(created)?, nonce.as_deref()))?)
}

// `headers`: the received fields, as httpsigSign returns them; other keys are refused.
#[napi(ts_return_type = "{ created: number; nonce: string }")]
#[allow(clippy::too_many_arguments, reason = "the request's parts, its fields and the policy, as breeze-ffi takes them")]
pub fn httpsig_verify(
    public_key: String,
    method: String,
    target_uri: String,
    body: Either<String, Uint8Array>,
    #[napi(ts_arg_type = "{ contentDigest?: string | null; signatureInput?: string | null; signature?: string | null }")] headers: Value,
    label: String,
    keyid: String,
    now: f64,
) -> Result<Value, napi::Error<String>> {
    let now = r(unix_from_f64(now))?;
    json(&r(httpsig::httpsig_verify(&public_key, &method, &target_uri, bytes(&body), headers, &label, &keyid, now))?)
}
