//! WebAssembly glue for `breeze-ffi`: every function is a one-line forward with the same
//! camelCase name and arguments as the Node package; this file only converts JSON values,
//! bytes and numbers and turns errors into `Error` objects whose `code` is the crate error's
//! stable code.

use breeze_ffi::error::{js_number_from_u64, u64_from_f64, unix_from_f64};
use breeze_ffi::{FfiError, agent, audit, authz, credentials, httpsig, jwt, password, secrets, totp, webhooks};
use js_sys::{JSON, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

type Res<T> = Result<T, JsValue>;

fn js_error(e: &FfiError) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    // Reflect::set on a fresh Error object cannot fail; the message survives regardless.
    let _ = Reflect::set(&err, &"code".into(), &e.code.into());
    err.into()
}

fn r<T>(result: Result<T, FfiError>) -> Res<T> {
    result.map_err(|e| js_error(&e))
}

fn input(message: &str) -> JsValue {
    js_error(&FfiError::input(message))
}

fn json_in(value: &JsValue) -> Res<serde_json::Value> {
    let text = JSON::stringify(value)?
        .as_string()
        .ok_or_else(|| input("expected a JSON value"))?;
    serde_json::from_str(&text).map_err(|e| input(&e.to_string()))
}

fn opt_json_in(value: &JsValue) -> Res<Option<serde_json::Value>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    json_in(value).map(Some)
}

fn json_out<T: serde::Serialize>(value: &T) -> Res<JsValue> {
    let text = serde_json::to_string(value).map_err(|e| input(&e.to_string()))?;
    JSON::parse(&text)
}

fn now(unix: f64) -> Res<i64> {
    r(unix_from_f64(unix))
}

/// The bytes of a `string` (UTF-8) or a `Uint8Array`.
fn bytes(value: &JsValue) -> Res<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    if value.is_instance_of::<Uint8Array>() {
        return Ok(Uint8Array::new(value).to_vec());
    }
    Err(input("expected a string or a Uint8Array"))
}

// ---- passwords

#[wasm_bindgen(js_name = passwordHash)]
pub fn password_hash(password: &str) -> Res<String> {
    r(password::password_hash(password))
}

#[wasm_bindgen(js_name = passwordHashWithSalt)]
pub fn password_hash_with_salt(password: &str, salt_hex: &str) -> Res<String> {
    r(password::password_hash_with_salt(password, salt_hex))
}

#[wasm_bindgen(js_name = passwordVerify)]
pub fn password_verify(password: &str, phc: &str) -> Res<bool> {
    r(password::password_verify(password, phc))
}

#[wasm_bindgen(js_name = passwordNeedsRehash)]
pub fn password_needs_rehash(phc: &str) -> Res<bool> {
    r(password::password_needs_rehash(phc))
}

#[wasm_bindgen(js_name = passwordPolicyCheck)]
pub fn password_policy_check(password: &str) -> Vec<String> {
    password::password_policy_check(password)
}

// ---- credentials

#[wasm_bindgen(js_name = credentialGenerate)]
pub fn credential_generate(kind: &str) -> Res<JsValue> {
    json_out(&r(credentials::credential_generate(kind))?)
}

#[wasm_bindgen(js_name = credentialHash)]
pub fn credential_hash(kind: &str, value: &str) -> Res<String> {
    r(credentials::credential_hash(kind, value))
}

#[wasm_bindgen(js_name = credentialVerify)]
pub fn credential_verify(kind: &str, value: &str, stored_hash: &str) -> Res<bool> {
    r(credentials::credential_verify(kind, value, stored_hash))
}

#[wasm_bindgen(js_name = credentialPepperedHash)]
pub fn credential_peppered_hash(kind: &str, pepper: &str, value: &str) -> Res<String> {
    r(credentials::credential_peppered_hash(kind, pepper, value))
}

#[wasm_bindgen(js_name = credentialVerifyPeppered)]
pub fn credential_verify_peppered(kind: &str, pepper: &str, value: &str, stored_hash: &str) -> Res<bool> {
    r(credentials::credential_verify_peppered(kind, pepper, value, stored_hash))
}

#[wasm_bindgen(js_name = recoveryCodesGenerate)]
pub fn recovery_codes_generate() -> Res<Vec<String>> {
    r(credentials::recovery_codes_generate())
}

#[wasm_bindgen(js_name = recoveryCodeNormalize)]
pub fn recovery_code_normalize(code: &str) -> Res<String> {
    r(credentials::recovery_code_normalize(code))
}

// ---- secrets at rest

#[wasm_bindgen(js_name = secretEncrypt)]
pub fn secret_encrypt(ring: JsValue, table: &str, column: &str, plaintext: &str) -> Res<String> {
    r(secrets::secret_encrypt(json_in(&ring)?, table, column, plaintext))
}

#[wasm_bindgen(js_name = secretDecrypt)]
pub fn secret_decrypt(ring: JsValue, table: &str, column: &str, value: &str) -> Res<String> {
    r(secrets::secret_decrypt(json_in(&ring)?, table, column, value))
}

#[wasm_bindgen(js_name = secretDecryptForMigration)]
pub fn secret_decrypt_for_migration(ring: JsValue, table: &str, column: &str, value: &str) -> Res<String> {
    r(secrets::secret_decrypt_for_migration(json_in(&ring)?, table, column, value))
}

#[wasm_bindgen(js_name = secretReencrypt)]
pub fn secret_reencrypt(ring: JsValue, table: &str, column: &str, value: &str) -> Res<JsValue> {
    json_out(&r(secrets::secret_reencrypt(json_in(&ring)?, table, column, value))?)
}

#[wasm_bindgen(js_name = secretVersion)]
pub fn secret_version(value: &str) -> Res<String> {
    r(secrets::secret_version(value))
}

#[wasm_bindgen(js_name = mfaEncrypt)]
pub fn mfa_encrypt(mfa_key: &str, plaintext: &str) -> Res<String> {
    r(secrets::mfa_encrypt(mfa_key, plaintext))
}

#[wasm_bindgen(js_name = mfaDecrypt)]
pub fn mfa_decrypt(mfa_key: &str, value: &str) -> Res<String> {
    r(secrets::mfa_decrypt(mfa_key, value))
}

// ---- JWT

#[wasm_bindgen(js_name = jwtSign)]
pub fn jwt_sign(ring: JsValue, claims: JsValue) -> Res<String> {
    r(jwt::jwt_sign(json_in(&ring)?, json_in(&claims)?))
}

#[wasm_bindgen(js_name = jwtVerify)]
pub fn jwt_verify(ring: JsValue, token: &str, expected: &str, unix: f64) -> Res<JsValue> {
    json_out(&r(jwt::jwt_verify(json_in(&ring)?, token, expected, now(unix)?))?)
}

// ---- TOTP

#[wasm_bindgen(js_name = totpGenerateSecret)]
pub fn totp_generate_secret() -> Res<String> {
    r(totp::totp_generate_secret())
}

#[wasm_bindgen(js_name = totpCode)]
pub fn totp_code(secret_base32: &str, unix: f64) -> Res<String> {
    r(totp::totp_code(secret_base32, now(unix)?))
}

#[wasm_bindgen(js_name = totpVerify)]
pub fn totp_verify(secret_base32: &str, code: &str, unix: f64) -> Res<f64> {
    r(totp::totp_verify(secret_base32, code, now(unix)?).and_then(js_number_from_u64))
}

#[wasm_bindgen(js_name = totpOtpauthUri)]
pub fn totp_otpauth_uri(secret_base32: &str, email: &str) -> Res<String> {
    r(totp::totp_otpauth_uri(secret_base32, email))
}

#[wasm_bindgen(js_name = totpRfc6238Code)]
pub fn totp_rfc6238_code(secret: &[u8], unix: f64, digits: u32) -> Res<String> {
    let unix = u64::try_from(now(unix)?).map_err(|_| input("time must not be negative"))?;
    r(totp::totp_rfc6238_code(secret, unix, digits as usize))
}

// ---- authorization

#[wasm_bindgen(js_name = permissionCheck)]
pub fn permission_check(role: &str, permission: &str) -> Res<bool> {
    r(authz::permission_check(role, permission))
}

#[wasm_bindgen(js_name = roleAllows)]
pub fn role_allows(role: JsValue, permission: &str) -> Res<bool> {
    r(authz::role_allows(json_in(&role)?, permission))
}

#[wasm_bindgen(js_name = roleValidate)]
pub fn role_validate(role: JsValue) -> Res<()> {
    r(authz::role_validate(json_in(&role)?))
}

#[wasm_bindgen(js_name = grantMatches)]
pub fn grant_matches(grant: &str, permission: &str) -> Res<bool> {
    r(authz::grant_matches(grant, permission))
}

#[wasm_bindgen(js_name = permissionRegistry)]
pub fn permission_registry() -> Vec<String> {
    authz::permission_registry()
}

#[wasm_bindgen(js_name = seededRoles)]
pub fn seeded_roles() -> Res<JsValue> {
    json_out(&r(authz::seeded_roles())?)
}

#[wasm_bindgen(js_name = apiKeyScopesAllow)]
pub fn api_key_scopes_allow(scopes: Vec<String>, permission: &str) -> Res<bool> {
    r(authz::api_key_scopes_allow(&scopes, permission))
}

#[wasm_bindgen(js_name = apiKeyCheck)]
pub fn api_key_check(status: &str, expires_at: Option<String>, now: &str) -> Res<()> {
    r(authz::api_key_check(status, expires_at.as_deref(), now))
}

#[wasm_bindgen(js_name = riskCatalogue)]
pub fn risk_catalogue() -> Res<JsValue> {
    json_out(&r(authz::risk_catalogue())?)
}

#[wasm_bindgen(js_name = riskDecide)]
pub fn risk_decide(tool: &str, target: JsValue, policies: JsValue) -> Res<JsValue> {
    let policies = opt_json_in(&policies)?.unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
    json_out(&r(authz::risk_decide(tool, json_in(&target)?, policies))?)
}

#[wasm_bindgen(js_name = approvalArgumentDigest)]
pub fn approval_argument_digest(tool: &str, arguments_json: &str) -> Res<String> {
    r(authz::approval_argument_digest(tool, arguments_json))
}

#[wasm_bindgen(js_name = aiScopeNamed)]
pub fn ai_scope_named(scopes: Vec<String>, scope: &str) -> Res<bool> {
    r(authz::ai_scope_named(&scopes, scope))
}

#[wasm_bindgen(js_name = aiTools)]
pub fn ai_tools() -> Res<JsValue> {
    json_out(&r(authz::ai_tools())?)
}

#[wasm_bindgen(js_name = mfaEnrollmentRequired)]
pub fn mfa_enrollment_required(role_requires_mfa: bool, mfa_enrolled: bool, path: &str) -> bool {
    authz::mfa_enrollment_required(role_requires_mfa, mfa_enrolled, path)
}

#[wasm_bindgen(js_name = sessionCheck)]
pub fn session_check(user: JsValue, token: JsValue) -> Res<()> {
    r(authz::session_check(json_in(&user)?, json_in(&token)?))
}

// ---- audit chain

#[wasm_bindgen(js_name = auditEntryHashes)]
pub fn audit_entry_hashes(entry: JsValue) -> Res<JsValue> {
    json_out(&r(audit::audit_entry_hashes(json_in(&entry)?))?)
}

#[wasm_bindgen(js_name = auditVerifyChain)]
pub fn audit_verify_chain(chain: &str, entries: JsValue, keys: JsValue) -> Res<JsValue> {
    json_out(&r(audit::audit_verify_chain(chain, json_in(&entries)?, json_in(&keys)?))?)
}

#[wasm_bindgen(js_name = auditVerifyStream)]
pub fn audit_verify_stream(chain: &str, entries: JsValue, keys: JsValue) -> Res<JsValue> {
    json_out(&r(audit::audit_verify_stream(chain, json_in(&entries)?, json_in(&keys)?))?)
}

#[wasm_bindgen(js_name = auditVerifyBundle)]
pub fn audit_verify_bundle(bundle: JsValue, trusted_keys: JsValue, trusted_checkpoints: JsValue) -> Res<JsValue> {
    let report = audit::audit_verify_bundle(
        &bytes(&bundle)?,
        opt_json_in(&trusted_keys)?,
        opt_json_in(&trusted_checkpoints)?,
    );
    json_out(&r(report)?)
}

#[wasm_bindgen(js_name = auditVerifyCheckpoint)]
pub fn audit_verify_checkpoint(checkpoint: JsValue, keys: JsValue) -> Res<()> {
    r(audit::audit_verify_checkpoint(json_in(&checkpoint)?, json_in(&keys)?))
}

#[wasm_bindgen(js_name = auditSanitizeDetails)]
pub fn audit_sanitize_details(details: JsValue) -> Res<JsValue> {
    json_out(&audit::audit_sanitize_details(&json_in(&details)?))
}

// ---- agent protocol

#[wasm_bindgen(js_name = agentMessageKinds)]
pub fn agent_message_kinds() -> Vec<String> {
    agent::agent_message_kinds()
}

#[wasm_bindgen(js_name = agentDecode)]
pub fn agent_decode(kind: &str, input: JsValue) -> Res<JsValue> {
    json_out(&r(agent::agent_decode(kind, &bytes(&input)?))?)
}

#[wasm_bindgen(js_name = agentDecodeBinary)]
pub fn agent_decode_binary(input: &[u8]) -> Res<JsValue> {
    json_out(&agent::agent_decode_binary(input))
}

#[wasm_bindgen(js_name = agentSchema)]
pub fn agent_schema(kind: &str) -> Res<JsValue> {
    json_out(&r(agent::agent_schema(kind))?)
}

#[wasm_bindgen(js_name = agentRedactSecrets)]
pub fn agent_redact_secrets(output: &str) -> String {
    agent::agent_redact_secrets(output)
}

/// `null` (not `undefined`) when allowed, as the Node package answers.
#[wasm_bindgen(js_name = agentCheckRemotePath)]
pub fn agent_check_remote_path(path: &str) -> JsValue {
    agent::agent_check_remote_path(path).map_or(JsValue::NULL, JsValue::from)
}

#[wasm_bindgen(js_name = agentFileContentVerify)]
pub fn agent_file_content_verify(content_base64: &str, sha256: &str, size: Option<f64>) -> Res<JsValue> {
    let size = size.map(|s| r(u64_from_f64(s))).transpose()?;
    json_out(&agent::agent_file_content_verify(content_base64, sha256, size))
}

// ---- webhooks

#[wasm_bindgen(js_name = webhookSign)]
pub fn webhook_sign(secrets: Vec<String>, msg_id: &str, timestamp: f64, body: JsValue) -> Res<String> {
    r(webhooks::webhook_sign(&secrets, msg_id, now(timestamp)?, &bytes(&body)?))
}

#[wasm_bindgen(js_name = webhookVerify)]
pub fn webhook_verify(
    secrets: Vec<String>,
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: JsValue,
    now: f64,
    tolerance: Option<f64>,
) -> Res<()> {
    let tolerance = tolerance.map(|t| r(u64_from_f64(t))).transpose()?;
    r(webhooks::webhook_verify(&secrets, msg_id, timestamp, signature, &bytes(&body)?, r(unix_from_f64(now))?, tolerance))
}

#[wasm_bindgen(js_name = webhookGenerateSecret)]
pub fn webhook_generate_secret() -> Res<String> {
    r(webhooks::webhook_generate_secret())
}

#[wasm_bindgen(js_name = webhookEventCatalogue)]
pub fn webhook_event_catalogue() -> Res<JsValue> {
    json_out(&webhooks::webhook_event_catalogue())
}

#[wasm_bindgen(js_name = webhookPayload)]
pub fn webhook_payload(event_type: &str, timestamp_rfc3339: &str, org_id: &str, data: JsValue) -> Res<String> {
    r(webhooks::webhook_payload(event_type, timestamp_rfc3339, org_id, json_in(&data)?))
}

// ---- HTTP message signatures (SPEC 17)

#[wasm_bindgen(js_name = httpsigGenerateKey)]
pub fn httpsig_generate_key() -> Res<JsValue> {
    json_out(&r(httpsig::httpsig_generate_key())?)
}

#[wasm_bindgen(js_name = httpsigPublicKey)]
pub fn httpsig_public_key(seed: &str) -> Res<String> {
    r(httpsig::httpsig_public_key(seed))
}

#[wasm_bindgen(js_name = httpsigContentDigest)]
pub fn httpsig_content_digest(body: JsValue) -> Res<String> {
    Ok(httpsig::httpsig_content_digest(&bytes(&body)?))
}

#[wasm_bindgen(js_name = httpsigSign)]
pub fn httpsig_sign(
    seed: &str,
    method: &str,
    target_uri: &str,
    body: JsValue,
    keyid: &str,
    created: f64,
    nonce: Option<String>,
) -> Res<JsValue> {
    json_out(&r(httpsig::httpsig_sign(seed, method, target_uri, &bytes(&body)?, keyid, now(created)?, nonce.as_deref()))?)
}

#[wasm_bindgen(js_name = httpsigVerify)]
#[allow(clippy::too_many_arguments, reason = "the request's parts, its fields and the policy, as breeze-ffi takes them")]
pub fn httpsig_verify(
    public_key: &str,
    method: &str,
    target_uri: &str,
    body: JsValue,
    headers: JsValue,
    label: &str,
    keyid: &str,
    now: f64,
) -> Res<JsValue> {
    let now = r(unix_from_f64(now))?;
    json_out(&r(httpsig::httpsig_verify(public_key, method, target_uri, &bytes(&body)?, json_in(&headers)?, label, keyid, now))?)
}
