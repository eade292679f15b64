//! Python glue for `breeze-ffi`: every function is a one-line forward; this file only converts
//! arguments (str or bytes, dicts and lists through JSON) and maps errors to exceptions.

use breeze_ffi::{Family, FfiError, agent, audit, authz, credentials, httpsig, jwt, password, secrets, totp, webhooks};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

create_exception!(breeze, BreezeError, PyException, "Base of every Breeze error; `.code` is the stable machine code, `.family` the error family.");
create_exception!(breeze, InvalidInputError, BreezeError, "An argument has the wrong shape (bad JSON, unknown kind, bad time).");
create_exception!(breeze, PasswordError, BreezeError, "Password hashing or a PHC string.");
create_exception!(breeze, CredentialError, BreezeError, "A token, key or stored hash is malformed.");
create_exception!(breeze, EnvelopeError, BreezeError, "Encrypted envelope or key ring.");
create_exception!(breeze, JwtError, BreezeError, "JWT signing or verification.");
create_exception!(breeze, TotpError, BreezeError, "TOTP secret or code.");
create_exception!(breeze, RecoveryCodeError, BreezeError, "MFA recovery code.");
create_exception!(breeze, AuthzError, BreezeError, "Permission, grant, role, API-key scope, session validity or risk policy.");
create_exception!(breeze, AuditError, BreezeError, "Audit checkpoint or its keys.");
create_exception!(breeze, WebhookError, BreezeError, "Webhook secret, signature, event type or payload.");
create_exception!(breeze, HttpsigError, BreezeError, "HTTP message signature of an agent request (RFC 9421), its content digest or a device key.");

fn to_py(e: FfiError) -> PyErr {
    let message = e.message.clone();
    let err = match e.family {
        Family::Password => PasswordError::new_err(message),
        Family::Credential => CredentialError::new_err(message),
        Family::Envelope => EnvelopeError::new_err(message),
        Family::Jwt => JwtError::new_err(message),
        Family::Totp => TotpError::new_err(message),
        Family::Recovery => RecoveryCodeError::new_err(message),
        Family::Authz => AuthzError::new_err(message),
        Family::Audit => AuditError::new_err(message),
        Family::Webhook => WebhookError::new_err(message),
        Family::Httpsig => HttpsigError::new_err(message),
        _ => InvalidInputError::new_err(message),
    };
    Python::attach(|py| {
        let value = err.value(py);
        // Setting attributes on a fresh exception instance cannot fail in practice; if it
        // did, the exception still carries the message and class.
        let _ = value.setattr("code", e.code);
        let _ = value.setattr("family", e.family.as_str());
    });
    err
}

type Res<T> = PyResult<T>;

fn r<T>(result: Result<T, FfiError>) -> Res<T> {
    result.map_err(to_py)
}

/// A `str`, or `bytes` holding UTF-8.
fn text(obj: &Bound<'_, PyAny>) -> Res<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| to_py(FfiError::input("bytes must be valid utf-8")));
    }
    Err(to_py(FfiError::input("expected str or bytes")))
}

/// Runs `f` on the bytes of a `bytes` object or the UTF-8 of a `str`, without copying.
fn with_bytes<T>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> T) -> Res<T> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(f(s.to_cow()?.as_bytes()));
    }
    Err(to_py(FfiError::input("expected bytes or str")))
}

fn json_in(obj: &Bound<'_, PyAny>) -> Res<serde_json::Value> {
    let dumped: String = obj
        .py()
        .import("json")?
        .call_method1("dumps", (obj,))?
        .extract()?;
    serde_json::from_str(&dumped).map_err(|e| to_py(FfiError::input(e.to_string())))
}

fn json_out<T: serde::Serialize>(py: Python<'_>, value: &T) -> Res<Py<PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| to_py(FfiError::input(e.to_string())))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

// ---- passwords (Argon2 runs with the GIL released)

#[pyfunction]
fn password_hash(py: Python<'_>, password: &Bound<'_, PyAny>) -> Res<String> {
    let password = text(password)?;
    r(py.detach(|| password::password_hash(&password)))
}

#[pyfunction]
fn password_hash_with_salt(py: Python<'_>, password: &Bound<'_, PyAny>, salt_hex: &str) -> Res<String> {
    let password = text(password)?;
    r(py.detach(|| password::password_hash_with_salt(&password, salt_hex)))
}

#[pyfunction]
fn password_verify(py: Python<'_>, password: &Bound<'_, PyAny>, phc: &str) -> Res<bool> {
    let password = text(password)?;
    r(py.detach(|| password::password_verify(&password, phc)))
}

#[pyfunction]
fn password_needs_rehash(phc: &str) -> Res<bool> {
    r(password::password_needs_rehash(phc))
}

#[pyfunction]
fn password_policy_check(password: &Bound<'_, PyAny>) -> Res<Vec<String>> {
    Ok(password::password_policy_check(&text(password)?))
}

// ---- credentials

#[pyfunction]
fn credential_generate(py: Python<'_>, kind: &str) -> Res<Py<PyAny>> {
    json_out(py, &r(credentials::credential_generate(kind))?)
}

#[pyfunction]
fn credential_hash(kind: &str, value: &Bound<'_, PyAny>) -> Res<String> {
    r(credentials::credential_hash(kind, &text(value)?))
}

#[pyfunction]
fn credential_verify(kind: &str, value: &Bound<'_, PyAny>, stored_hash: &str) -> Res<bool> {
    r(credentials::credential_verify(kind, &text(value)?, stored_hash))
}

#[pyfunction]
fn credential_peppered_hash(kind: &str, pepper: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> Res<String> {
    r(credentials::credential_peppered_hash(kind, &text(pepper)?, &text(value)?))
}

#[pyfunction]
fn credential_verify_peppered(
    kind: &str,
    pepper: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    stored_hash: &str,
) -> Res<bool> {
    r(credentials::credential_verify_peppered(kind, &text(pepper)?, &text(value)?, stored_hash))
}

#[pyfunction]
fn recovery_codes_generate() -> Res<Vec<String>> {
    r(credentials::recovery_codes_generate())
}

#[pyfunction]
fn recovery_code_normalize(code: &Bound<'_, PyAny>) -> Res<String> {
    r(credentials::recovery_code_normalize(&text(code)?))
}

// ---- secrets at rest

#[pyfunction]
fn secret_encrypt(ring: &Bound<'_, PyAny>, table: &str, column: &str, plaintext: &Bound<'_, PyAny>) -> Res<String> {
    r(secrets::secret_encrypt(json_in(ring)?, table, column, &text(plaintext)?))
}

#[pyfunction]
fn secret_decrypt(ring: &Bound<'_, PyAny>, table: &str, column: &str, value: &str) -> Res<String> {
    r(secrets::secret_decrypt(json_in(ring)?, table, column, value))
}

#[pyfunction]
fn secret_decrypt_for_migration(ring: &Bound<'_, PyAny>, table: &str, column: &str, value: &str) -> Res<String> {
    r(secrets::secret_decrypt_for_migration(json_in(ring)?, table, column, value))
}

#[pyfunction]
fn secret_reencrypt(py: Python<'_>, ring: &Bound<'_, PyAny>, table: &str, column: &str, value: &str) -> Res<Py<PyAny>> {
    json_out(py, &r(secrets::secret_reencrypt(json_in(ring)?, table, column, value))?)
}

#[pyfunction]
fn secret_version(value: &str) -> Res<String> {
    r(secrets::secret_version(value))
}

#[pyfunction]
fn mfa_encrypt(mfa_key: &Bound<'_, PyAny>, plaintext: &Bound<'_, PyAny>) -> Res<String> {
    r(secrets::mfa_encrypt(&text(mfa_key)?, &text(plaintext)?))
}

#[pyfunction]
fn mfa_decrypt(mfa_key: &Bound<'_, PyAny>, value: &str) -> Res<String> {
    r(secrets::mfa_decrypt(&text(mfa_key)?, value))
}

// ---- JWT

#[pyfunction]
fn jwt_sign(ring: &Bound<'_, PyAny>, claims: &Bound<'_, PyAny>) -> Res<String> {
    r(jwt::jwt_sign(json_in(ring)?, json_in(claims)?))
}

#[pyfunction]
fn jwt_verify(py: Python<'_>, ring: &Bound<'_, PyAny>, token: &str, expected: &str, now: i64) -> Res<Py<PyAny>> {
    json_out(py, &r(jwt::jwt_verify(json_in(ring)?, token, expected, now))?)
}

// ---- TOTP

#[pyfunction]
fn totp_generate_secret() -> Res<String> {
    r(totp::totp_generate_secret())
}

#[pyfunction]
fn totp_code(secret_base32: &str, unix: i64) -> Res<String> {
    r(totp::totp_code(secret_base32, unix))
}

#[pyfunction]
fn totp_verify(secret_base32: &str, code: &str, unix: i64) -> Res<u64> {
    r(totp::totp_verify(secret_base32, code, unix))
}

#[pyfunction]
fn totp_otpauth_uri(secret_base32: &str, email: &str) -> Res<String> {
    r(totp::totp_otpauth_uri(secret_base32, email))
}

#[pyfunction]
fn totp_rfc6238_code(secret: &Bound<'_, PyBytes>, unix: u64, digits: usize) -> Res<String> {
    r(totp::totp_rfc6238_code(secret.as_bytes(), unix, digits))
}

// ---- authorization

#[pyfunction]
fn permission_check(role: &str, permission: &str) -> Res<bool> {
    r(authz::permission_check(role, permission))
}

#[pyfunction]
fn role_allows(role: &Bound<'_, PyAny>, permission: &str) -> Res<bool> {
    r(authz::role_allows(json_in(role)?, permission))
}

#[pyfunction]
fn role_validate(role: &Bound<'_, PyAny>) -> Res<()> {
    r(authz::role_validate(json_in(role)?))
}

#[pyfunction]
fn grant_matches(grant: &str, permission: &str) -> Res<bool> {
    r(authz::grant_matches(grant, permission))
}

#[pyfunction]
fn permission_registry() -> Vec<String> {
    authz::permission_registry()
}

#[pyfunction]
fn seeded_roles(py: Python<'_>) -> Res<Py<PyAny>> {
    json_out(py, &r(authz::seeded_roles())?)
}

#[pyfunction]
fn api_key_scopes_allow(scopes: Vec<String>, permission: &str) -> Res<bool> {
    r(authz::api_key_scopes_allow(&scopes, permission))
}

#[pyfunction]
#[pyo3(signature = (status, expires_at, now))]
fn api_key_check(status: &str, expires_at: Option<&str>, now: &str) -> Res<()> {
    r(authz::api_key_check(status, expires_at, now))
}

#[pyfunction]
fn risk_catalogue(py: Python<'_>) -> Res<Py<PyAny>> {
    json_out(py, &r(authz::risk_catalogue())?)
}

#[pyfunction]
#[pyo3(signature = (tool, target, policies = None))]
fn risk_decide(py: Python<'_>, tool: &str, target: &Bound<'_, PyAny>, policies: Option<&Bound<'_, PyAny>>) -> Res<Py<PyAny>> {
    let policies = match policies {
        Some(p) => json_in(p)?,
        None => serde_json::Value::Array(Vec::new()),
    };
    json_out(py, &r(authz::risk_decide(tool, json_in(target)?, policies))?)
}

#[pyfunction]
fn approval_argument_digest(tool: &str, arguments_json: &Bound<'_, PyAny>) -> Res<String> {
    r(authz::approval_argument_digest(tool, &text(arguments_json)?))
}

#[pyfunction]
fn ai_scope_named(scopes: Vec<String>, scope: &str) -> Res<bool> {
    r(authz::ai_scope_named(&scopes, scope))
}

#[pyfunction]
fn ai_tools(py: Python<'_>) -> Res<Py<PyAny>> {
    json_out(py, &r(authz::ai_tools())?)
}

#[pyfunction]
fn mfa_enrollment_required(role_requires_mfa: bool, mfa_enrolled: bool, path: &str) -> bool {
    authz::mfa_enrollment_required(role_requires_mfa, mfa_enrolled, path)
}

#[pyfunction]
fn session_check(user: &Bound<'_, PyAny>, token: &Bound<'_, PyAny>) -> Res<()> {
    r(authz::session_check(json_in(user)?, json_in(token)?))
}

// ---- audit chain

#[pyfunction]
fn audit_entry_hashes(py: Python<'_>, entry: &Bound<'_, PyAny>) -> Res<Py<PyAny>> {
    json_out(py, &r(audit::audit_entry_hashes(json_in(entry)?))?)
}

#[pyfunction]
fn audit_verify_chain(py: Python<'_>, chain: &str, entries: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> Res<Py<PyAny>> {
    json_out(py, &r(audit::audit_verify_chain(chain, json_in(entries)?, json_in(keys)?))?)
}

#[pyfunction]
fn audit_verify_stream(py: Python<'_>, chain: &str, entries: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> Res<Py<PyAny>> {
    json_out(py, &r(audit::audit_verify_stream(chain, json_in(entries)?, json_in(keys)?))?)
}

#[pyfunction]
#[pyo3(signature = (bundle, trusted_keys = None, trusted_checkpoints = None))]
fn audit_verify_bundle(
    py: Python<'_>,
    bundle: &Bound<'_, PyAny>,
    trusted_keys: Option<&Bound<'_, PyAny>>,
    trusted_checkpoints: Option<&Bound<'_, PyAny>>,
) -> Res<Py<PyAny>> {
    let keys = trusted_keys.map(json_in).transpose()?;
    let checkpoints = trusted_checkpoints.map(json_in).transpose()?;
    let report = with_bytes(bundle, |b| audit::audit_verify_bundle(b, keys, checkpoints))?;
    json_out(py, &r(report)?)
}

#[pyfunction]
fn audit_verify_checkpoint(checkpoint: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> Res<()> {
    r(audit::audit_verify_checkpoint(json_in(checkpoint)?, json_in(keys)?))
}

#[pyfunction]
fn audit_sanitize_details(py: Python<'_>, details: &Bound<'_, PyAny>) -> Res<Py<PyAny>> {
    json_out(py, &audit::audit_sanitize_details(&json_in(details)?))
}

// ---- agent protocol

#[pyfunction]
fn agent_message_kinds() -> Vec<String> {
    agent::agent_message_kinds()
}

#[pyfunction]
fn agent_decode(py: Python<'_>, kind: &str, input: &Bound<'_, PyAny>) -> Res<Py<PyAny>> {
    json_out(py, &r(with_bytes(input, |b| agent::agent_decode(kind, b))?)?)
}

#[pyfunction]
fn agent_decode_binary(py: Python<'_>, input: &Bound<'_, PyBytes>) -> Res<Py<PyAny>> {
    json_out(py, &agent::agent_decode_binary(input.as_bytes()))
}

#[pyfunction]
fn agent_schema(py: Python<'_>, kind: &str) -> Res<Py<PyAny>> {
    json_out(py, &r(agent::agent_schema(kind))?)
}

#[pyfunction]
fn agent_redact_secrets(output: &Bound<'_, PyAny>) -> Res<String> {
    Ok(agent::agent_redact_secrets(&text(output)?))
}

#[pyfunction]
fn agent_check_remote_path(path: &Bound<'_, PyAny>) -> Res<Option<&'static str>> {
    Ok(agent::agent_check_remote_path(&text(path)?))
}

#[pyfunction]
#[pyo3(signature = (content_base64, sha256, size=None))]
fn agent_file_content_verify(
    py: Python<'_>,
    content_base64: &Bound<'_, PyAny>,
    sha256: &str,
    size: Option<u64>,
) -> Res<Py<PyAny>> {
    let content = text(content_base64)?;
    json_out(py, &agent::agent_file_content_verify(&content, sha256, size))
}

// ---- webhooks

#[pyfunction]
fn webhook_sign(secrets: Vec<String>, msg_id: &str, timestamp: i64, body: &Bound<'_, PyAny>) -> Res<String> {
    r(with_bytes(body, |b| webhooks::webhook_sign(&secrets, msg_id, timestamp, b))?)
}

#[pyfunction]
#[pyo3(signature = (secrets, msg_id, timestamp, signature, body, now, tolerance = None))]
fn webhook_verify(
    secrets: Vec<String>,
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &Bound<'_, PyAny>,
    now: i64,
    tolerance: Option<u64>,
) -> Res<()> {
    r(with_bytes(body, |b| webhooks::webhook_verify(&secrets, msg_id, timestamp, signature, b, now, tolerance))?)
}

#[pyfunction]
fn webhook_generate_secret() -> Res<String> {
    r(webhooks::webhook_generate_secret())
}

#[pyfunction]
fn webhook_event_catalogue(py: Python<'_>) -> Res<Py<PyAny>> {
    json_out(py, &webhooks::webhook_event_catalogue())
}

#[pyfunction]
fn webhook_payload(event_type: &str, timestamp_rfc3339: &str, org_id: &str, data: &Bound<'_, PyAny>) -> Res<String> {
    r(webhooks::webhook_payload(event_type, timestamp_rfc3339, org_id, json_in(data)?))
}

// ---- HTTP message signatures (SPEC 17)

#[pyfunction]
fn httpsig_generate_key(py: Python<'_>) -> Res<Py<PyAny>> {
    json_out(py, &r(httpsig::httpsig_generate_key())?)
}

#[pyfunction]
fn httpsig_public_key(seed: &Bound<'_, PyAny>) -> Res<String> {
    r(httpsig::httpsig_public_key(&text(seed)?))
}

#[pyfunction]
fn httpsig_content_digest(body: &Bound<'_, PyAny>) -> Res<String> {
    with_bytes(body, httpsig::httpsig_content_digest)
}

#[pyfunction]
#[pyo3(signature = (seed, method, target_uri, body, keyid, created, nonce = None))]
fn httpsig_sign(
    seed: &Bound<'_, PyAny>,
    method: &str,
    target_uri: &str,
    body: &Bound<'_, PyAny>,
    keyid: &str,
    created: i64,
    nonce: Option<&str>,
) -> Res<Py<PyAny>> {
    let seed = text(seed)?;
    let signed = with_bytes(body, |b| httpsig::httpsig_sign(&seed, method, target_uri, b, keyid, created, nonce))?;
    json_out(body.py(), &r(signed)?)
}

#[pyfunction]
#[allow(clippy::too_many_arguments, reason = "the request's parts, its fields and the policy, as breeze-ffi takes them")]
fn httpsig_verify(
    public_key: &str,
    method: &str,
    target_uri: &str,
    body: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    label: &str,
    keyid: &str,
    now: i64,
) -> Res<Py<PyAny>> {
    let headers = json_in(headers)?;
    let verified = with_bytes(body, |b| httpsig::httpsig_verify(public_key, method, target_uri, b, headers, label, keyid, now))?;
    json_out(body.py(), &r(verified)?)
}

/// The native module behind the `breeze` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("BreezeError", py.get_type::<BreezeError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("PasswordError", py.get_type::<PasswordError>())?;
    m.add("CredentialError", py.get_type::<CredentialError>())?;
    m.add("EnvelopeError", py.get_type::<EnvelopeError>())?;
    m.add("JwtError", py.get_type::<JwtError>())?;
    m.add("TotpError", py.get_type::<TotpError>())?;
    m.add("RecoveryCodeError", py.get_type::<RecoveryCodeError>())?;
    m.add("AuthzError", py.get_type::<AuthzError>())?;
    m.add("AuditError", py.get_type::<AuditError>())?;
    m.add("WebhookError", py.get_type::<WebhookError>())?;
    m.add("HttpsigError", py.get_type::<HttpsigError>())?;
    m.add_function(wrap_pyfunction!(password_hash, m)?)?;
    m.add_function(wrap_pyfunction!(password_hash_with_salt, m)?)?;
    m.add_function(wrap_pyfunction!(password_verify, m)?)?;
    m.add_function(wrap_pyfunction!(password_needs_rehash, m)?)?;
    m.add_function(wrap_pyfunction!(password_policy_check, m)?)?;
    m.add_function(wrap_pyfunction!(credential_generate, m)?)?;
    m.add_function(wrap_pyfunction!(credential_hash, m)?)?;
    m.add_function(wrap_pyfunction!(credential_verify, m)?)?;
    m.add_function(wrap_pyfunction!(credential_peppered_hash, m)?)?;
    m.add_function(wrap_pyfunction!(credential_verify_peppered, m)?)?;
    m.add_function(wrap_pyfunction!(recovery_codes_generate, m)?)?;
    m.add_function(wrap_pyfunction!(recovery_code_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(secret_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(secret_decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(secret_decrypt_for_migration, m)?)?;
    m.add_function(wrap_pyfunction!(secret_reencrypt, m)?)?;
    m.add_function(wrap_pyfunction!(secret_version, m)?)?;
    m.add_function(wrap_pyfunction!(mfa_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(mfa_decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(jwt_sign, m)?)?;
    m.add_function(wrap_pyfunction!(jwt_verify, m)?)?;
    m.add_function(wrap_pyfunction!(totp_generate_secret, m)?)?;
    m.add_function(wrap_pyfunction!(totp_code, m)?)?;
    m.add_function(wrap_pyfunction!(totp_verify, m)?)?;
    m.add_function(wrap_pyfunction!(totp_otpauth_uri, m)?)?;
    m.add_function(wrap_pyfunction!(totp_rfc6238_code, m)?)?;
    m.add_function(wrap_pyfunction!(permission_check, m)?)?;
    m.add_function(wrap_pyfunction!(role_allows, m)?)?;
    m.add_function(wrap_pyfunction!(role_validate, m)?)?;
    m.add_function(wrap_pyfunction!(grant_matches, m)?)?;
    m.add_function(wrap_pyfunction!(permission_registry, m)?)?;
    m.add_function(wrap_pyfunction!(seeded_roles, m)?)?;
    m.add_function(wrap_pyfunction!(api_key_scopes_allow, m)?)?;
    m.add_function(wrap_pyfunction!(api_key_check, m)?)?;
    m.add_function(wrap_pyfunction!(risk_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(risk_decide, m)?)?;
    m.add_function(wrap_pyfunction!(approval_argument_digest, m)?)?;
    m.add_function(wrap_pyfunction!(ai_scope_named, m)?)?;
    m.add_function(wrap_pyfunction!(ai_tools, m)?)?;
    m.add_function(wrap_pyfunction!(mfa_enrollment_required, m)?)?;
    m.add_function(wrap_pyfunction!(session_check, m)?)?;
    m.add_function(wrap_pyfunction!(audit_entry_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify_chain, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify_stream, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(audit_sanitize_details, m)?)?;
    m.add_function(wrap_pyfunction!(agent_message_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(agent_decode, m)?)?;
    m.add_function(wrap_pyfunction!(agent_decode_binary, m)?)?;
    m.add_function(wrap_pyfunction!(agent_schema, m)?)?;
    m.add_function(wrap_pyfunction!(agent_redact_secrets, m)?)?;
    m.add_function(wrap_pyfunction!(agent_check_remote_path, m)?)?;
    m.add_function(wrap_pyfunction!(agent_file_content_verify, m)?)?;
    m.add_function(wrap_pyfunction!(webhook_sign, m)?)?;
    m.add_function(wrap_pyfunction!(webhook_verify, m)?)?;
    m.add_function(wrap_pyfunction!(webhook_generate_secret, m)?)?;
    m.add_function(wrap_pyfunction!(webhook_event_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(webhook_payload, m)?)?;
    m.add_function(wrap_pyfunction!(httpsig_generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(httpsig_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(httpsig_content_digest, m)?)?;
    m.add_function(wrap_pyfunction!(httpsig_sign, m)?)?;
    m.add_function(wrap_pyfunction!(httpsig_verify, m)?)?;
    Ok(())
}
