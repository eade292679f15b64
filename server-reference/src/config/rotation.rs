//! The settings of a secret roll in progress (`breeze-server secrets rotate` writes them;
//! the variable names and phases are `breeze_core::config::rotation`): values that are
//! accepted beside the current one, and the key ids a roll of a key ring is at.

use breeze_core::config::NamedSecret;
use breeze_core::config::rotation::{
    ENCRYPTION_VARS, ENROLLMENT_SECRET_VARS, JWT_VARS, METRICS_TOKEN_VARS, MFA_VARS, PEPPER_VARS,
    RingVars, RollState, SecretKind, SingleVars,
};
use secrecy::ExposeSecret as _;

use super::{ConfigError, KeyedSecret, Settings};

/// Secrets accepted beside the current ones while a roll is in progress, each named `next`
/// (staged) or `previous` (activated, not yet retired). `Debug` never prints a value.
#[derive(Debug, Clone, Default)]
pub struct RotationConfig {
    /// Peppers that still verify (`BREEZE_PEPPER_NEXT`, `BREEZE_PEPPER_PREVIOUS`); new
    /// hashes use `BREEZE_PEPPER`.
    pub peppers: Vec<KeyedSecret>,
    /// Enrollment secrets accepted beside `BREEZE_ENROLLMENT_SECRET`.
    pub enrollment_secrets: Vec<KeyedSecret>,
    /// Metrics tokens accepted beside `BREEZE_METRICS_TOKEN`.
    pub metrics_tokens: Vec<KeyedSecret>,
    /// MFA keys that still open TOTP secrets (`BREEZE_MFA_ENCRYPTION_KEY_NEXT`,
    /// `_PREVIOUS`); new ones are sealed under `BREEZE_MFA_ENCRYPTION_KEY`.
    pub mfa_keys: Vec<KeyedSecret>,
    /// The staged JWT key id (verifies, does not sign).
    pub jwt_next_kid: Option<String>,
    /// The previous JWT key id (verifies until retired).
    pub jwt_previous_kid: Option<String>,
    /// The staged encryption key id (decrypts, does not encrypt).
    pub encryption_next_key_id: Option<String>,
    /// The previous encryption key id (decrypts until retired).
    pub encryption_previous_key_id: Option<String>,
}

impl RotationConfig {
    /// Reads the roll settings; `jwt_keys` and `encryption_keys` are the configured rings,
    /// which a staged or previous key id must name (and not as the active id).
    ///
    /// # Errors
    /// [`ConfigError`] for a staged or previous value whose current one is unset, or a key
    /// id that is not in its ring.
    pub(super) fn from_settings(
        settings: &Settings,
        jwt_keys: &[KeyedSecret],
        encryption_keys: &[KeyedSecret],
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let peppers = single(settings, PEPPER_VARS, &mut errors);
        let enrollment_secrets = single(settings, ENROLLMENT_SECRET_VARS, &mut errors);
        let metrics_tokens = single(settings, METRICS_TOKEN_VARS, &mut errors);
        let mfa_keys = single(settings, MFA_VARS, &mut errors);
        let jwt_next_kid = ring_id(settings, JWT_VARS, JWT_VARS.next, jwt_keys, &mut errors);
        let jwt_previous_kid =
            ring_id(settings, JWT_VARS, JWT_VARS.previous, jwt_keys, &mut errors);
        let encryption_next_key_id = ring_id(
            settings,
            ENCRYPTION_VARS,
            ENCRYPTION_VARS.next,
            encryption_keys,
            &mut errors,
        );
        let encryption_previous_key_id = ring_id(
            settings,
            ENCRYPTION_VARS,
            ENCRYPTION_VARS.previous,
            encryption_keys,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            peppers,
            enrollment_secrets,
            metrics_tokens,
            mfa_keys,
            jwt_next_kid,
            jwt_previous_kid,
            encryption_next_key_id,
            encryption_previous_key_id,
        })
    }
}

impl RotationConfig {
    /// The rolls left between two phases, and where each is (`doctor`).
    #[must_use]
    pub fn in_progress(&self) -> Vec<(SecretKind, RollState)> {
        let state = |next: bool, previous: bool| match (next, previous) {
            (false, false) => None,
            (true, false) => Some(RollState::Staged),
            (false, true) => Some(RollState::Activated),
            (true, true) => Some(RollState::Inconsistent),
        };
        let single = |keys: &[KeyedSecret]| {
            state(
                keys.iter().any(|k| k.id == "next"),
                keys.iter().any(|k| k.id == "previous"),
            )
        };
        [
            (
                SecretKind::Jwt,
                state(self.jwt_next_kid.is_some(), self.jwt_previous_kid.is_some()),
            ),
            (
                SecretKind::Encryption,
                state(
                    self.encryption_next_key_id.is_some(),
                    self.encryption_previous_key_id.is_some(),
                ),
            ),
            (SecretKind::Mfa, single(&self.mfa_keys)),
            (SecretKind::Pepper, single(&self.peppers)),
            (
                SecretKind::EnrollmentSecret,
                single(&self.enrollment_secrets),
            ),
            (SecretKind::MetricsToken, single(&self.metrics_tokens)),
        ]
        .into_iter()
        .filter_map(|(kind, state)| state.map(|s| (kind, s)))
        .collect()
    }
}

/// The staged and previous values of a single secret, as startup validation names them
/// (`next`, `previous`).
pub(super) fn named(settings: &Settings, v: SingleVars) -> Vec<NamedSecret> {
    accepted(settings, v)
        .iter()
        .map(|k| NamedSecret::new(&k.id, k.value.expose_secret()))
        .collect()
}

fn accepted(settings: &Settings, v: SingleVars) -> Vec<KeyedSecret> {
    [("next", v.next), ("previous", v.previous)]
        .into_iter()
        .filter_map(|(id, var)| {
            settings.secret(var).map(|value| KeyedSecret {
                id: id.to_owned(),
                value,
            })
        })
        .collect()
}

fn single(settings: &Settings, v: SingleVars, errors: &mut Vec<ConfigError>) -> Vec<KeyedSecret> {
    let extra = accepted(settings, v);
    if !extra.is_empty() && settings.get(v.current).is_none() {
        errors.push(ConfigError::Invalid {
            name: v.current.to_owned(),
            reason: "is required while a staged or previous value is set".to_owned(),
        });
    }
    extra
}

fn ring_id(
    settings: &Settings,
    v: RingVars,
    var: &str,
    keys: &[KeyedSecret],
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let id = settings.get(var)?;
    let active = settings.get(v.active);
    if !keys.iter().any(|k| k.id == id) || Some(id) == active {
        errors.push(ConfigError::Invalid {
            name: var.to_owned(),
            reason: format!(
                "must name a key `{}<id>` of the ring other than the active one",
                v.key_prefix
            ),
        });
    }
    Some(id.to_owned())
}

/// Converts to the validation's named secrets.
pub(super) fn to_named(keys: &[KeyedSecret]) -> Vec<NamedSecret> {
    keys.iter()
        .map(|k| NamedSecret::new(&k.id, k.value.expose_secret()))
        .collect()
}
