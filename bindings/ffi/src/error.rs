//! The one error type every binding raises: a family, the crate error's stable `code()` and
//! its message (which never carries a secret: the crates guarantee that).

use std::fmt;

use serde::Serialize;

/// Which crate error family an error comes from. Bindings map it to an exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    /// The caller's input does not have the shape the function takes (bad JSON, unknown kind).
    Input,
    /// Password hashing and PHC strings.
    Password,
    /// Random credentials (tokens, keys) and their hashes.
    Credential,
    /// Encrypted envelopes and key rings.
    Envelope,
    /// JWT signing and verification.
    Jwt,
    /// TOTP secrets and codes.
    Totp,
    /// MFA recovery codes.
    Recovery,
    /// Permissions, grants, roles, API-key scopes, session validity, the AI risk policy and
    /// approvals.
    Authz,
    /// The audit chain: checkpoints, keys, chain ids.
    Audit,
    /// Outbound webhooks: secrets, signatures, event types and payloads.
    Webhook,
    /// HTTP message signatures of agent requests (RFC 9421) and content digests (RFC 9530):
    /// device keys, signatures, the request profile.
    Httpsig,
}

impl Family {
    /// The family as its stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Password => "password",
            Self::Credential => "credential",
            Self::Envelope => "envelope",
            Self::Jwt => "jwt",
            Self::Totp => "totp",
            Self::Recovery => "recovery",
            Self::Authz => "authz",
            Self::Audit => "audit",
            Self::Webhook => "webhook",
            Self::Httpsig => "httpsig",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the bindings see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct FfiError {
    /// The error family.
    pub family: Family,
    /// The stable machine code (the crate error's `code()`).
    pub code: &'static str,
    /// The human message (lowercase, no secret).
    pub message: String,
}

impl FfiError {
    /// An error from `family` with `code` and `message`.
    #[must_use]
    pub fn new(family: Family, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            family,
            code,
            message: message.into(),
        }
    }

    /// Input of the wrong shape: code `invalid_input`.
    #[must_use]
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(Family::Input, "invalid_input", message)
    }
}

/// Result of every binding function.
pub type FfiResult<T> = Result<T, FfiError>;

macro_rules! from_crate_error {
    ($($ty:ty => $family:ident),* $(,)?) => {$(
        impl From<$ty> for FfiError {
            fn from(e: $ty) -> Self {
                Self::new(Family::$family, e.code(), e.to_string())
            }
        }
    )*};
}

from_crate_error! {
    breeze_crypto::password::PasswordError => Password,
    breeze_crypto::credentials::CredentialError => Credential,
    breeze_crypto::envelope::EnvelopeError => Envelope,
    breeze_crypto::jwt::JwtError => Jwt,
    breeze_crypto::totp::TotpError => Totp,
    breeze_crypto::recovery::RecoveryCodeError => Recovery,
    breeze_authz::permission::PermissionError => Authz,
    breeze_authz::api_key::ScopeError => Authz,
    breeze_authz::api_key::ApiKeyRejection => Authz,
    breeze_authz::role::RoleError => Authz,
    breeze_authz::risk::RiskPolicyError => Authz,
    breeze_authz::risk::ApprovalError => Authz,
    breeze_authz::session::SessionInvalid => Authz,
    breeze_core::audit::CheckpointError => Audit,
    breeze_core::webhooks::WebhookError => Webhook,
    breeze_crypto::httpsig::SignatureError => Httpsig,
}

/// Deserialises a JSON value into `T`, naming `what` in the error.
///
/// # Errors
/// [`FfiError::input`] when the value does not fit.
pub fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> FfiResult<T> {
    serde_json::from_value(value).map_err(|e| FfiError::input(format!("invalid {what}: {e}")))
}

/// Serialises `value` for the bindings.
///
/// # Errors
/// [`FfiError::input`] if it cannot be represented (never for the types used here).
pub fn to_json<T: Serialize>(value: &T) -> FfiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| FfiError::input(format!("unrepresentable output: {e}")))
}

/// Unix seconds from a JavaScript number: finite, integral and within +-2^53.
///
/// # Errors
/// [`FfiError::input`] otherwise.
pub fn unix_from_f64(x: f64) -> FfiResult<i64> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if !x.is_finite() || x.fract() != 0.0 || x.abs() > SAFE {
        return Err(FfiError::input(
            "time must be an integral number of unix seconds",
        ));
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "checked integral and within 2^53 above"
    )]
    Ok(x as i64)
}

/// A size or count given as a JavaScript number: a non-negative integer within 2^53.
///
/// # Errors
/// [`FfiError::input`] for a fraction, a negative, a non-finite number or one above 2^53 - 1.
pub fn u64_from_f64(x: f64) -> FfiResult<u64> {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if !x.is_finite() || x.fract() != 0.0 || !(0.0..=SAFE).contains(&x) {
        return Err(FfiError::input("expected a non-negative integral number"));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked integral, non-negative and within 2^53 above"
    )]
    Ok(x as u64)
}

/// A count or step as a JavaScript number: exact below 2^53.
///
/// # Errors
/// [`FfiError::input`] above 2^53 - 1.
pub fn js_number_from_u64(x: u64) -> FfiResult<f64> {
    const SAFE: u64 = 9_007_199_254_740_991;
    if x > SAFE {
        return Err(FfiError::input("number too large for JavaScript"));
    }
    #[expect(clippy::cast_precision_loss, reason = "at most 2^53 - 1, exact in f64")]
    Ok(x as f64)
}

/// The fields of a flat JSON object with every integral float within +-2^53 turned into an
/// integer. The napi layer hands JavaScript numbers beyond 2^32 to serde as floats (`1e10`,
/// not `10000000000`), which integer fields would refuse; the values are exact below 2^53.
/// Other values, and fields of nested objects, are returned as they are.
#[must_use]
pub fn js_integral_fields(value: serde_json::Value) -> serde_json::Value {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    let serde_json::Value::Object(map) = value else {
        return value;
    };
    let integral = |v: serde_json::Value| -> serde_json::Value {
        match v.as_f64() {
            Some(x) if v.is_f64() && x.fract() == 0.0 && x.abs() <= SAFE => {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "checked integral and within 2^53 above"
                )]
                let n = x as i64;
                serde_json::Value::from(n)
            }
            _ => v,
        }
    };
    serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect())
}

/// [`js_integral_fields`] at every depth: every integral float within +-2^53, in objects and
/// arrays at any nesting, turned into an integer. For JSON a JavaScript caller built (where
/// `1` and `1.0` are the same number) that is written back out, such as a webhook payload's
/// `data`.
#[must_use]
pub fn js_integral_numbers(value: serde_json::Value) -> serde_json::Value {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, js_integral_numbers(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(js_integral_numbers).collect())
        }
        v => match v.as_f64() {
            Some(x) if v.is_f64() && x.fract() == 0.0 && x.abs() <= SAFE => {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "checked integral and within 2^53 above"
                )]
                let n = x as i64;
                serde_json::Value::from(n)
            }
            _ => v,
        },
    }
}
