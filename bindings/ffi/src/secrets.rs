//! Secrets at rest: AES-256-GCM envelopes with a key ring, bound to a table and column
//! (SPEC 4), and the `mfa:v1` cipher for TOTP secrets.

use std::collections::BTreeMap;

use breeze_crypto::envelope::{self, Field, KeyRing, MfaCipher};
use breeze_crypto::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{FfiResult, from_json};

/// A key ring as the bindings pass it:
/// `{"keys": {"k2026": "<key>"}, "active": "k2026", "legacyKey": "<key for enc:v1>"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RingSpec {
    keys: BTreeMap<String, String>,
    active: String,
    #[serde(default)]
    legacy_key: Option<String>,
}

fn ring(spec: serde_json::Value) -> FfiResult<KeyRing> {
    let spec: RingSpec = from_json(spec, "key ring")?;
    let mut builder = KeyRing::builder();
    for (id, key) in spec.keys {
        builder = builder.key(&id, SecretString::from(key))?;
    }
    if let Some(legacy) = spec.legacy_key {
        builder = builder.legacy_v1_key(SecretString::from(legacy));
    }
    Ok(builder.active(&spec.active)?)
}

/// The result of [`secret_reencrypt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reencrypted {
    /// The value to store (unchanged when `changed` is false).
    pub value: String,
    /// Whether the value was rewritten.
    pub changed: bool,
}

/// Encrypts `plaintext` as `enc:v3` under the ring's active key, bound to `table.column`.
///
/// # Errors
/// `envelope` family (`invalid_name`, `active_key_missing`, `too_large`, ...), `invalid_input`.
pub fn secret_encrypt(
    ring_spec: serde_json::Value,
    table: &str,
    column: &str,
    plaintext: &str,
) -> FfiResult<String> {
    Ok(ring(ring_spec)?.encrypt(plaintext, &Field::new(table, column)?)?)
}

/// Decrypts an `enc:v3` value stored in `table.column`; anything else is refused.
///
/// # Errors
/// `not_an_envelope`, `version_not_accepted`, `authentication_failed`, `unknown_key_id`, ...
pub fn secret_decrypt(
    ring_spec: serde_json::Value,
    table: &str,
    column: &str,
    value: &str,
) -> FfiResult<String> {
    let plain = ring(ring_spec)?.decrypt(value, &Field::new(table, column)?)?;
    Ok(plain.expose_secret().to_owned())
}

/// Decrypts any `enc:` version the ring can read (v1 with the legacy key, v2, v3). For
/// migrations only.
///
/// # Errors
/// As [`secret_decrypt`], `no_legacy_key`.
pub fn secret_decrypt_for_migration(
    ring_spec: serde_json::Value,
    table: &str,
    column: &str,
    value: &str,
) -> FfiResult<String> {
    let plain = ring(ring_spec)?.decrypt_for_migration(value, &Field::new(table, column)?)?;
    Ok(plain.expose_secret().to_owned())
}

/// Moves a readable value to `enc:v3` under the active key bound to `table.column`.
///
/// # Errors
/// As [`secret_decrypt_for_migration`]: a value that cannot be read is never rewritten.
pub fn secret_reencrypt(
    ring_spec: serde_json::Value,
    table: &str,
    column: &str,
    value: &str,
) -> FfiResult<Reencrypted> {
    let r = ring(ring_spec)?.reencrypt(value, &Field::new(table, column)?)?;
    Ok(Reencrypted {
        value: r.value,
        changed: r.changed,
    })
}

/// The envelope version of a stored value (`enc:v1`, `enc:v2`, `enc:v3`, `mfa:v1`).
///
/// # Errors
/// `not_an_envelope`.
pub fn secret_version(value: &str) -> FfiResult<String> {
    Ok(envelope::version_of(value)?.as_str().to_owned())
}

/// Encrypts a TOTP secret (or other MFA value) as `mfa:v1` with the MFA key.
///
/// # Errors
/// `too_large`, `rng_failure`.
pub fn mfa_encrypt(mfa_key: &str, plaintext: &str) -> FfiResult<String> {
    Ok(MfaCipher::new(&SecretString::from(mfa_key)).encrypt(plaintext)?)
}

/// Decrypts an `mfa:v1` value with the MFA key.
///
/// # Errors
/// `version_not_accepted`, `authentication_failed`, ...
pub fn mfa_decrypt(mfa_key: &str, value: &str) -> FfiResult<String> {
    let plain = MfaCipher::new(&SecretString::from(mfa_key)).decrypt(value)?;
    Ok(plain.expose_secret().to_owned())
}
