//! Secret rotation as three phases over the service's environment file: `stage` (the new
//! value is accepted but not used), `activate` (the new value signs, encrypts or hashes; the
//! old one is still accepted) and `retire` (the old one is removed). Every replica is
//! restarted with the file between two phases, so at any moment every value one replica
//! issues is accepted by every other.
//!
//! The phase a roll is in is written in the file itself, next to the values, by two
//! variables per secret: `..._NEXT...` (staged) and `..._PREVIOUS...` (activated, waiting to
//! be retired). The server reads them (a staged or previous value is accepted); this module
//! decides every edit, the order of phases and when a retirement is refused. It never reads
//! or writes the file and never generates a value: the caller does (OS random source,
//! atomic replace, audit).
//!
//! ```
//! use breeze_core::config::rotation::{EnvFile, Phase, RollState, SecretKind, plan};
//! use breeze_crypto::secrecy::SecretString;
//!
//! let mut file = EnvFile::parse("BREEZE_METRICS_TOKEN=old-token-value\n").unwrap();
//! let new = SecretString::from("new-token-value".to_owned());
//! plan(&mut file, SecretKind::MetricsToken, Phase::Stage, &new, "unused").unwrap();
//! assert_eq!(SecretKind::MetricsToken.state(&file), RollState::Staged);
//! // activating twice is refused: the second one would undo the first
//! plan(&mut file, SecretKind::MetricsToken, Phase::Activate, &new, "unused").unwrap();
//! let again = plan(&mut file, SecretKind::MetricsToken, Phase::Activate, &new, "unused");
//! assert_eq!(again.unwrap_err().code(), "wrong_phase");
//! ```

use std::fmt;

use breeze_crypto::secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// The secrets `secrets rotate` rolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The JWT signing key ring (`BREEZE_JWT_KEY_<kid>`, `BREEZE_JWT_ACTIVE_KID`).
    Jwt,
    /// The at-rest encryption key ring (`BREEZE_ENCRYPTION_KEY_<id>`,
    /// `BREEZE_ENCRYPTION_ACTIVE_KEY_ID`).
    Encryption,
    /// The pepper of enrollment keys and recovery codes (`BREEZE_PEPPER`).
    Pepper,
    /// The global agent enrollment secret (`BREEZE_ENROLLMENT_SECRET`).
    EnrollmentSecret,
    /// The bearer token of `/metrics` (`BREEZE_METRICS_TOKEN`).
    MetricsToken,
    /// The key of TOTP secrets at rest (`BREEZE_MFA_ENCRYPTION_KEY`).
    Mfa,
}

/// The variables of a key ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingVars {
    /// Prefix of each key (`BREEZE_JWT_KEY_`): the key id follows.
    pub key_prefix: &'static str,
    /// The active key id.
    pub active: &'static str,
    /// The staged key id (accepted, not used).
    pub next: &'static str,
    /// The previous key id (accepted, not used, waiting to be retired).
    pub previous: &'static str,
}

/// The variables of a single secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleVars {
    /// The current value.
    pub current: &'static str,
    /// The staged value (accepted, not used).
    pub next: &'static str,
    /// The previous value (accepted, not used, waiting to be retired).
    pub previous: &'static str,
}

/// Where a secret lives in the environment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vars {
    /// A key ring with ids.
    Ring(RingVars),
    /// One value.
    Single(SingleVars),
}

/// The JWT key ring's variables.
pub const JWT_VARS: RingVars = RingVars {
    key_prefix: "BREEZE_JWT_KEY_",
    active: "BREEZE_JWT_ACTIVE_KID",
    next: "BREEZE_JWT_NEXT_KID",
    previous: "BREEZE_JWT_PREVIOUS_KID",
};
/// The encryption key ring's variables.
pub const ENCRYPTION_VARS: RingVars = RingVars {
    key_prefix: "BREEZE_ENCRYPTION_KEY_",
    active: "BREEZE_ENCRYPTION_ACTIVE_KEY_ID",
    next: "BREEZE_ENCRYPTION_NEXT_KEY_ID",
    previous: "BREEZE_ENCRYPTION_PREVIOUS_KEY_ID",
};
/// The pepper's variables.
pub const PEPPER_VARS: SingleVars = SingleVars {
    current: "BREEZE_PEPPER",
    next: "BREEZE_PEPPER_NEXT",
    previous: "BREEZE_PEPPER_PREVIOUS",
};
/// The enrollment secret's variables.
pub const ENROLLMENT_SECRET_VARS: SingleVars = SingleVars {
    current: "BREEZE_ENROLLMENT_SECRET",
    next: "BREEZE_ENROLLMENT_SECRET_NEXT",
    previous: "BREEZE_ENROLLMENT_SECRET_PREVIOUS",
};
/// The metrics token's variables.
pub const METRICS_TOKEN_VARS: SingleVars = SingleVars {
    current: "BREEZE_METRICS_TOKEN",
    next: "BREEZE_METRICS_TOKEN_NEXT",
    previous: "BREEZE_METRICS_TOKEN_PREVIOUS",
};

/// The MFA key's variables.
pub const MFA_VARS: SingleVars = SingleVars {
    current: "BREEZE_MFA_ENCRYPTION_KEY",
    next: "BREEZE_MFA_ENCRYPTION_KEY_NEXT",
    previous: "BREEZE_MFA_ENCRYPTION_KEY_PREVIOUS",
};

/// Seconds after an `activate` during which replicas not yet restarted may still sign, seal or
/// hash with the previous value: what was made in them may depend on it.
pub const RESTART_MARGIN_SECS: i64 = 3600;

/// Seconds after `jwt activate` until no token the previous key signed can still verify:
/// the refresh token lifetime, plus an hour for the rolling restart (replicas not yet
/// restarted keep signing with the previous key). Retiring the key earlier logs out every
/// session that has not refreshed since.
pub const JWT_RETIRE_AFTER_SECS: i64 = breeze_crypto::jwt::REFRESH_TTL_SECS + RESTART_MARGIN_SECS;

impl SecretKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [Self; 6] = [
        Self::Jwt,
        Self::Encryption,
        Self::Mfa,
        Self::Pepper,
        Self::EnrollmentSecret,
        Self::MetricsToken,
    ];

    /// Parses the command-line spelling.
    ///
    /// # Errors
    /// [`RotateError::UnknownKind`].
    pub fn parse(s: &str) -> Result<Self, RotateError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| RotateError::UnknownKind(s.chars().take(40).collect()))
    }

    /// The command-line spelling (`jwt`, `encryption`, `mfa`, `pepper`, `enrollment-secret`,
    /// `metrics-token`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Encryption => "encryption",
            Self::Pepper => "pepper",
            Self::EnrollmentSecret => "enrollment-secret",
            Self::MetricsToken => "metrics-token",
            Self::Mfa => "mfa",
        }
    }

    /// Its variables.
    #[must_use]
    pub const fn vars(self) -> Vars {
        match self {
            Self::Jwt => Vars::Ring(JWT_VARS),
            Self::Encryption => Vars::Ring(ENCRYPTION_VARS),
            Self::Pepper => Vars::Single(PEPPER_VARS),
            Self::EnrollmentSecret => Vars::Single(ENROLLMENT_SECRET_VARS),
            Self::MetricsToken => Vars::Single(METRICS_TOKEN_VARS),
            Self::Mfa => Vars::Single(MFA_VARS),
        }
    }

    /// The phase of its roll as the file says.
    #[must_use]
    pub fn state(self, file: &EnvFile) -> RollState {
        let (next, previous) = match self.vars() {
            Vars::Ring(v) => (v.next, v.previous),
            Vars::Single(v) => (v.next, v.previous),
        };
        match (file.get(next).is_some(), file.get(previous).is_some()) {
            (false, false) => RollState::Idle,
            (true, false) => RollState::Staged,
            (false, true) => RollState::Activated,
            (true, true) => RollState::Inconsistent,
        }
    }
}

/// A phase of a roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Add the new value, accepted but not used.
    Stage,
    /// Use the new value; keep the old one accepted.
    Activate,
    /// Remove the old value.
    Retire,
}

impl Phase {
    /// Parses the command-line spelling.
    ///
    /// # Errors
    /// [`RotateError::UnknownPhase`].
    pub fn parse(s: &str) -> Result<Self, RotateError> {
        match s {
            "stage" => Ok(Self::Stage),
            "activate" => Ok(Self::Activate),
            "retire" => Ok(Self::Retire),
            other => Err(RotateError::UnknownPhase(other.chars().take(40).collect())),
        }
    }

    /// The command-line spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stage => "stage",
            Self::Activate => "activate",
            Self::Retire => "retire",
        }
    }
}

/// Where a roll is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollState {
    /// No roll: only the current value.
    Idle,
    /// A new value is staged.
    Staged,
    /// The new value is in use; the previous one is still accepted.
    Activated,
    /// Both a staged and a previous value: edited by hand; the command refuses to guess.
    Inconsistent,
}

impl RollState {
    /// Its spelling in messages.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Staged => "staged",
            Self::Activated => "activated",
            Self::Inconsistent => "inconsistent",
        }
    }

    /// The phase that may run next, if any.
    #[must_use]
    pub const fn next_phase(self) -> Option<Phase> {
        match self {
            Self::Idle => Some(Phase::Stage),
            Self::Staged => Some(Phase::Activate),
            Self::Activated => Some(Phase::Retire),
            Self::Inconsistent => None,
        }
    }
}

/// A refused rotation. Messages name variables and key ids, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// Not a kind of secret this command rolls.
    #[error(
        "unknown secret kind `{0}`: expected jwt, encryption, mfa, pepper, enrollment-secret or metrics-token"
    )]
    UnknownKind(String),
    /// Not a phase.
    #[error("unknown phase `{0}`: expected stage, activate or retire")]
    UnknownPhase(String),
    /// The phase does not follow the roll's state.
    #[error("cannot {phase} {kind}: the roll is {state} ({hint})")]
    WrongPhase {
        /// The kind.
        kind: &'static str,
        /// The phase asked for.
        phase: &'static str,
        /// The state found.
        state: &'static str,
        /// What to do instead.
        hint: String,
    },
    /// The secret is not configured in the file.
    #[error("`{0}` is not set in the environment file: there is nothing to roll")]
    NotConfigured(String),
    /// The file names an active key that is not in it.
    #[error("`{0}` names a key that is not in the environment file")]
    MissingKey(String),
    /// The key id is not valid.
    #[error("key id `{0}` is invalid: it must match ^[A-Za-z0-9._-]+$ (at most 64 characters)")]
    InvalidKeyId(String),
    /// The key id is already in the ring.
    #[error("key id `{0}` is already in the ring")]
    KeyIdTaken(String),
    /// Stored TOTP secrets do not open under the current MFA key yet.
    #[error(
        "{rows} stored totp secrets do not open under the current mfa key yet: run `breeze-server secrets rekey` (after every replica runs with the activated key) until it reports them all current, then retire"
    )]
    MfaKeyInUse {
        /// How many values.
        rows: u64,
    },
    /// The old encryption key still opens stored values.
    #[error(
        "encryption key `{key_id}` still encrypts {rows} stored values: run `breeze-server secrets rekey` (after every replica runs with the activated key) until it reports them all under the active key, then retire"
    )]
    KeyInUse {
        /// The key.
        key_id: String,
        /// How many values.
        rows: u64,
    },
    /// Tokens signed with the old JWT key may still be in use.
    #[error(
        "refresh tokens signed with jwt key `{key_id}` may still be valid: retire it in {remaining_secs} seconds (the refresh token lifetime after the newer key was activated), or pass --force to log out every session that has not refreshed since"
    )]
    WindowOpen {
        /// The key.
        key_id: String,
        /// Seconds until no token it signed verifies anyway.
        remaining_secs: i64,
    },
    /// No record of when the new value was activated.
    #[error(
        "no audited activation was found for {0}, so what still depends on the previous value is unknown: pass --force to retire it anyway"
    )]
    ActivationUnknown(String),
    /// Enrollment keys or recovery codes made under the previous pepper are still usable.
    #[error(
        "{keys} enrollment keys and {codes} unused recovery codes made before the new pepper was in use would stop working: retire once the keys have expired or been deleted and users have made new recovery codes, or pass --force to invalidate them"
    )]
    PepperInUse {
        /// Live enrollment keys made before the activation (and its restarts).
        keys: u64,
        /// Unused recovery codes made before it.
        codes: u64,
    },
    /// A line of the file is not `KEY=VALUE`.
    #[error("line {0} of the environment file is not KEY=VALUE")]
    Malformed(usize),
}

impl RotateError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownKind(_) => "unknown_kind",
            Self::UnknownPhase(_) => "unknown_phase",
            Self::WrongPhase { .. } => "wrong_phase",
            Self::NotConfigured(_) => "not_configured",
            Self::MissingKey(_) => "missing_key",
            Self::InvalidKeyId(_) => "invalid_key_id",
            Self::KeyIdTaken(_) => "key_id_taken",
            Self::KeyInUse { .. } | Self::MfaKeyInUse { .. } | Self::PepperInUse { .. } => {
                "key_in_use"
            }
            Self::WindowOpen { .. } => "window_open",
            Self::ActivationUnknown(_) => "activation_unknown",
            Self::Malformed(_) => "malformed_file",
        }
    }
}

/// One line of an environment file.
struct Line {
    raw: String,
    key: Option<String>,
}

/// The lines of an environment file (`KEY=VALUE`, `#` comments, blank lines), kept in order
/// so an edit changes only the lines it must. Values are zeroized on drop; `Debug` shows the
/// keys only.
pub struct EnvFile {
    lines: Vec<Line>,
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        for line in &mut self.lines {
            line.raw.zeroize();
        }
    }
}

impl fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.lines.iter().filter_map(|l| l.key.as_deref()))
            .finish()
    }
}

impl EnvFile {
    /// Parses `text` as the server's configuration loader does (first `=` splits, both
    /// sides trimmed).
    ///
    /// # Errors
    /// [`RotateError::Malformed`] with the 1-based line number.
    pub fn parse(text: &str) -> Result<Self, RotateError> {
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            let key = if trimmed.is_empty() || trimmed.starts_with('#') {
                None
            } else {
                let (key, _) = trimmed
                    .split_once('=')
                    .ok_or(RotateError::Malformed(n.saturating_add(1)))?;
                Some(key.trim().to_owned())
            };
            lines.push(Line {
                raw: raw.to_owned(),
                key,
            });
        }
        Ok(Self { lines })
    }

    /// The value of `key` (the first line that sets it, as the loader reads it), unless empty.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.key.as_deref() == Some(key))
            .and_then(|l| l.raw.split_once('='))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The key ids of the ring whose keys start with `prefix`.
    #[must_use]
    pub fn ids(&self, prefix: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| l.key.as_deref()?.strip_prefix(prefix))
            .filter(|id| !id.is_empty())
            .filter(|id| self.get(&format!("{prefix}{id}")).is_some())
            .map(str::to_owned)
            .collect()
    }

    /// Sets `key` (replacing its first line, removing any other, else appending).
    pub fn set(&mut self, key: &str, value: &str) {
        let line = format!("{key}={value}");
        match self
            .lines
            .iter()
            .position(|l| l.key.as_deref() == Some(key))
        {
            Some(i) => {
                self.remove_after(key, i);
                if let Some(l) = self.lines.get_mut(i) {
                    l.raw.zeroize();
                    l.raw = line;
                }
            }
            None => self.lines.push(Line {
                raw: line,
                key: Some(key.to_owned()),
            }),
        }
    }

    /// Removes every line setting `key`.
    pub fn remove(&mut self, key: &str) {
        self.remove_after(key, 0);
        if let Some(i) = self
            .lines
            .iter()
            .position(|l| l.key.as_deref() == Some(key))
        {
            let mut line = self.lines.remove(i);
            line.raw.zeroize();
        }
    }

    fn remove_after(&mut self, key: &str, first: usize) {
        let mut i = self.lines.len();
        while i > first.saturating_add(1) {
            i -= 1;
            if self.lines.get(i).and_then(|l| l.key.as_deref()) == Some(key) {
                let mut line = self.lines.remove(i);
                line.raw.zeroize();
            }
        }
    }

    /// The file's text, ending with a newline. Holds secrets: the caller writes it and
    /// drops it (it is zeroized).
    #[must_use]
    pub fn render(&self) -> SecretString {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.raw);
            out.push('\n');
        }
        SecretString::from(out)
    }
}

/// What a phase did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The secret.
    pub kind: SecretKind,
    /// The phase done.
    pub phase: Phase,
    /// The key id the phase is about (the staged or activated id; the retired id), for rings.
    pub key_id: Option<String>,
    /// The variables set or removed (names only).
    pub changed: Vec<String>,
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn wrong(kind: SecretKind, phase: Phase, state: RollState) -> RotateError {
    let hint = match state.next_phase() {
        Some(next) => format!("the next phase is `{}`", next.as_str()),
        None => "both a staged and a previous value are set: fix the file by hand".to_owned(),
    };
    RotateError::WrongPhase {
        kind: kind.as_str(),
        phase: phase.as_str(),
        state: state.as_str(),
        hint,
    }
}

/// Applies `phase` of `kind`'s roll to `file`: `new_value` is the staged value (only read by
/// `stage`), `new_key_id` the staged key id of a ring (only read by `stage` of `jwt` and
/// `encryption`). The file is unchanged when an error is returned.
///
/// # Errors
/// [`RotateError`]: a phase out of order, an unset secret, a bad or taken key id.
pub fn plan(
    file: &mut EnvFile,
    kind: SecretKind,
    phase: Phase,
    new_value: &SecretString,
    new_key_id: &str,
) -> Result<Rotation, RotateError> {
    let state = kind.state(file);
    if state.next_phase() != Some(phase) {
        return Err(wrong(kind, phase, state));
    }
    match kind.vars() {
        Vars::Ring(v) => plan_ring(file, kind, phase, v, new_value, new_key_id),
        Vars::Single(v) => plan_single(file, kind, phase, v, new_value),
    }
}

/// The active id of a ring: its variable, else the only key.
fn active_id(file: &EnvFile, v: RingVars) -> Result<String, RotateError> {
    let ids = file.ids(v.key_prefix);
    let active = match (file.get(v.active), ids.as_slice()) {
        (Some(id), _) => id.to_owned(),
        (None, [only]) => only.clone(),
        (None, []) => return Err(RotateError::NotConfigured(format!("{}<id>", v.key_prefix))),
        (None, _) => return Err(RotateError::NotConfigured(v.active.to_owned())),
    };
    if ids.contains(&active) {
        Ok(active)
    } else {
        Err(RotateError::MissingKey(v.active.to_owned()))
    }
}

fn plan_ring(
    file: &mut EnvFile,
    kind: SecretKind,
    phase: Phase,
    v: RingVars,
    new_value: &SecretString,
    new_key_id: &str,
) -> Result<Rotation, RotateError> {
    let active = active_id(file, v)?;
    let ids = file.ids(v.key_prefix);
    let done = |key_id: String, changed: &[&str]| Rotation {
        kind,
        phase,
        key_id: Some(key_id),
        changed: changed.iter().map(|s| (*s).to_owned()).collect(),
    };
    match phase {
        Phase::Stage => {
            if !valid_key_id(new_key_id) {
                return Err(RotateError::InvalidKeyId(
                    new_key_id.chars().take(64).collect(),
                ));
            }
            if ids.iter().any(|id| id == new_key_id) {
                return Err(RotateError::KeyIdTaken(new_key_id.to_owned()));
            }
            let key_var = format!("{}{new_key_id}", v.key_prefix);
            // a ring of one key may leave its active id implicit; two keys may not
            file.set(v.active, &active);
            file.set(&key_var, new_value.expose_secret());
            file.set(v.next, new_key_id);
            Ok(done(new_key_id.to_owned(), &[&key_var, v.next, v.active]))
        }
        Phase::Activate => {
            let next = file.get(v.next).unwrap_or_default().to_owned();
            if !ids.contains(&next) || next == active {
                return Err(RotateError::MissingKey(v.next.to_owned()));
            }
            file.set(v.active, &next);
            file.set(v.previous, &active);
            file.remove(v.next);
            Ok(done(next, &[v.active, v.previous, v.next]))
        }
        Phase::Retire => {
            let previous = file.get(v.previous).unwrap_or_default().to_owned();
            if !ids.contains(&previous) || previous == active {
                return Err(RotateError::MissingKey(v.previous.to_owned()));
            }
            let key_var = format!("{}{previous}", v.key_prefix);
            file.remove(&key_var);
            file.remove(v.previous);
            Ok(done(previous, &[&key_var, v.previous]))
        }
    }
}

fn plan_single(
    file: &mut EnvFile,
    kind: SecretKind,
    phase: Phase,
    v: SingleVars,
    new_value: &SecretString,
) -> Result<Rotation, RotateError> {
    let Some(current) = file
        .get(v.current)
        .map(|c| SecretString::from(c.to_owned()))
    else {
        return Err(RotateError::NotConfigured(v.current.to_owned()));
    };
    let changed: Vec<String> = match phase {
        Phase::Stage => {
            file.set(v.next, new_value.expose_secret());
            vec![v.next.to_owned()]
        }
        Phase::Activate => {
            let next = file
                .get(v.next)
                .map(|n| SecretString::from(n.to_owned()))
                .ok_or_else(|| RotateError::MissingKey(v.next.to_owned()))?;
            file.set(v.previous, current.expose_secret());
            file.set(v.current, next.expose_secret());
            file.remove(v.next);
            vec![
                v.current.to_owned(),
                v.previous.to_owned(),
                v.next.to_owned(),
            ]
        }
        Phase::Retire => {
            file.remove(v.previous);
            vec![v.previous.to_owned()]
        }
    };
    Ok(Rotation {
        kind,
        phase,
        key_id: None,
        changed,
    })
}

/// Whether the previous encryption key may be removed: only when no stored value is still
/// under it (`rows_under_key`, counted by the caller over every key-ringed column).
///
/// # Errors
/// [`RotateError::KeyInUse`].
pub fn check_encryption_retire(key_id: &str, rows_under_key: u64) -> Result<(), RotateError> {
    if rows_under_key == 0 {
        Ok(())
    } else {
        Err(RotateError::KeyInUse {
            key_id: key_id.to_owned(),
            rows: rows_under_key,
        })
    }
}

/// Whether the previous MFA key may be removed: only when every stored TOTP secret opens
/// under the current key (`rows_not_current`, counted by the caller).
///
/// # Errors
/// [`RotateError::MfaKeyInUse`].
pub fn check_mfa_retire(rows_not_current: u64) -> Result<(), RotateError> {
    if rows_not_current == 0 {
        Ok(())
    } else {
        Err(RotateError::MfaKeyInUse {
            rows: rows_not_current,
        })
    }
}

/// Whether the previous pepper may be removed: only when no live enrollment key
/// (`live_keys`) and no unused recovery code (`unused_codes`) was made before
/// `activated_at` + [`RESTART_MARGIN_SECS`] (the caller counts them with that cutoff,
/// [`pepper_cutoff`]), unless `force`. A peppered hash cannot say which pepper made it, so
/// anything made before every replica hashed with the new pepper counts.
///
/// # Errors
/// [`RotateError::PepperInUse`] or [`RotateError::ActivationUnknown`].
pub fn check_pepper_retire(
    activated_at: Option<i64>,
    live_keys: u64,
    unused_codes: u64,
    force: bool,
) -> Result<(), RotateError> {
    if force {
        return Ok(());
    }
    if activated_at.is_none() {
        return Err(RotateError::ActivationUnknown("the pepper".to_owned()));
    }
    if live_keys == 0 && unused_codes == 0 {
        Ok(())
    } else {
        Err(RotateError::PepperInUse {
            keys: live_keys,
            codes: unused_codes,
        })
    }
}

/// The creation time (unix seconds) before which an enrollment key or recovery code may be
/// hashed with the previous pepper: the activation plus [`RESTART_MARGIN_SECS`].
#[must_use]
pub const fn pepper_cutoff(activated_at: i64) -> i64 {
    activated_at.saturating_add(RESTART_MARGIN_SECS)
}

/// Whether the previous JWT key may be removed at `now` (unix seconds): only once
/// [`JWT_RETIRE_AFTER_SECS`] have passed since the newer key was activated
/// (`activated_at`, from the audit chain), unless `force`.
///
/// # Errors
/// [`RotateError::WindowOpen`] with the seconds left, or [`RotateError::ActivationUnknown`].
pub fn check_jwt_retire(
    key_id: &str,
    activated_at: Option<i64>,
    now: i64,
    force: bool,
) -> Result<(), RotateError> {
    if force {
        return Ok(());
    }
    let Some(at) = activated_at else {
        return Err(RotateError::ActivationUnknown(format!(
            "jwt key `{key_id}`"
        )));
    };
    let remaining = at.saturating_add(JWT_RETIRE_AFTER_SECS).saturating_sub(now);
    if remaining > 0 {
        Err(RotateError::WindowOpen {
            key_id: key_id.to_owned(),
            remaining_secs: remaining,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    const JWT_FILE: &str = "# service\nBREEZE_MODE=production\nBREEZE_JWT_KEY_k1=old-jwt-secret\n";

    #[test]
    fn jwt_roll_goes_through_three_phases_and_keeps_other_lines() {
        let mut f = EnvFile::parse(JWT_FILE).unwrap();
        let new = secret("new-jwt-secret");
        let r = plan(&mut f, SecretKind::Jwt, Phase::Stage, &new, "k2").unwrap();
        assert_eq!(r.key_id.as_deref(), Some("k2"));
        assert_eq!(f.get("BREEZE_JWT_ACTIVE_KID"), Some("k1"));
        assert_eq!(f.get("BREEZE_JWT_NEXT_KID"), Some("k2"));
        assert_eq!(f.get("BREEZE_JWT_KEY_k2"), Some("new-jwt-secret"));
        assert_eq!(SecretKind::Jwt.state(&f), RollState::Staged);

        plan(&mut f, SecretKind::Jwt, Phase::Activate, &new, "x").unwrap();
        assert_eq!(f.get("BREEZE_JWT_ACTIVE_KID"), Some("k2"));
        assert_eq!(f.get("BREEZE_JWT_PREVIOUS_KID"), Some("k1"));
        assert_eq!(f.get("BREEZE_JWT_NEXT_KID"), None);
        assert_eq!(f.get("BREEZE_JWT_KEY_k1"), Some("old-jwt-secret"));

        let r = plan(&mut f, SecretKind::Jwt, Phase::Retire, &new, "x").unwrap();
        assert_eq!(r.key_id.as_deref(), Some("k1"));
        assert_eq!(f.get("BREEZE_JWT_KEY_k1"), None);
        assert_eq!(f.get("BREEZE_JWT_PREVIOUS_KID"), None);
        assert_eq!(SecretKind::Jwt.state(&f), RollState::Idle);
        let text = f.render();
        assert!(
            text.expose_secret()
                .starts_with("# service\nBREEZE_MODE=production\n")
        );
    }

    #[test]
    fn phases_out_of_order_are_refused_and_change_nothing() {
        let mut f = EnvFile::parse(JWT_FILE).unwrap();
        let before = f.render().expose_secret().to_owned();
        for phase in [Phase::Activate, Phase::Retire] {
            let e = plan(&mut f, SecretKind::Jwt, phase, &secret("v"), "k2").unwrap_err();
            assert_eq!(e.code(), "wrong_phase");
        }
        assert_eq!(f.render().expose_secret(), before);
        plan(&mut f, SecretKind::Jwt, Phase::Stage, &secret("v"), "k2").unwrap();
        let e = plan(&mut f, SecretKind::Jwt, Phase::Stage, &secret("v"), "k3").unwrap_err();
        assert_eq!(e.code(), "wrong_phase");
        assert!(e.to_string().contains("the next phase is `activate`"));
    }

    #[test]
    fn stage_refuses_bad_and_taken_key_ids() {
        let mut f = EnvFile::parse(JWT_FILE).unwrap();
        for (id, code) in [
            ("k1", "key_id_taken"),
            ("bad id", "invalid_key_id"),
            ("", "invalid_key_id"),
        ] {
            let e = plan(&mut f, SecretKind::Jwt, Phase::Stage, &secret("v"), id).unwrap_err();
            assert_eq!(e.code(), code);
        }
        assert_eq!(SecretKind::Jwt.state(&f), RollState::Idle);
    }

    #[test]
    fn single_values_swap_on_activate() {
        let mut f = EnvFile::parse("BREEZE_PEPPER = old-pepper\n").unwrap();
        plan(
            &mut f,
            SecretKind::Pepper,
            Phase::Stage,
            &secret("new-pepper"),
            "",
        )
        .unwrap();
        assert_eq!(f.get("BREEZE_PEPPER"), Some("old-pepper"));
        assert_eq!(f.get("BREEZE_PEPPER_NEXT"), Some("new-pepper"));
        plan(
            &mut f,
            SecretKind::Pepper,
            Phase::Activate,
            &secret("unused"),
            "",
        )
        .unwrap();
        assert_eq!(f.get("BREEZE_PEPPER"), Some("new-pepper"));
        assert_eq!(f.get("BREEZE_PEPPER_PREVIOUS"), Some("old-pepper"));
        assert_eq!(f.get("BREEZE_PEPPER_NEXT"), None);
        plan(
            &mut f,
            SecretKind::Pepper,
            Phase::Retire,
            &secret("unused"),
            "",
        )
        .unwrap();
        assert_eq!(f.render().expose_secret(), "BREEZE_PEPPER=new-pepper\n");
    }

    #[test]
    fn an_unset_secret_cannot_be_rolled() {
        let mut f = EnvFile::parse("BREEZE_MODE=production\n").unwrap();
        let e = plan(
            &mut f,
            SecretKind::MetricsToken,
            Phase::Stage,
            &secret("v"),
            "",
        )
        .unwrap_err();
        assert_eq!(e.code(), "not_configured");
        let e = plan(
            &mut f,
            SecretKind::Encryption,
            Phase::Stage,
            &secret("v"),
            "k",
        )
        .unwrap_err();
        assert_eq!(e.code(), "not_configured");
    }

    #[test]
    fn a_hand_edited_file_with_both_markers_is_refused() {
        let mut f = EnvFile::parse(
            "BREEZE_METRICS_TOKEN=a\nBREEZE_METRICS_TOKEN_NEXT=b\nBREEZE_METRICS_TOKEN_PREVIOUS=c\n",
        )
        .unwrap();
        for phase in [Phase::Stage, Phase::Activate, Phase::Retire] {
            let e = plan(&mut f, SecretKind::MetricsToken, phase, &secret("v"), "").unwrap_err();
            assert_eq!(e.code(), "wrong_phase");
        }
    }

    #[test]
    fn kinds_and_phases_parse_and_unknown_ones_are_named() {
        for k in SecretKind::ALL {
            assert_eq!(SecretKind::parse(k.as_str()).unwrap(), k);
        }
        assert_eq!(
            SecretKind::parse("session").unwrap_err().code(),
            "unknown_kind"
        );
        assert_eq!(
            Phase::parse("rollback").unwrap_err().code(),
            "unknown_phase"
        );
    }

    #[test]
    fn retire_checks() {
        assert!(check_encryption_retire("k1", 0).is_ok());
        assert!(check_mfa_retire(0).is_ok());
        assert!(check_pepper_retire(Some(1), 0, 0, false).is_ok());
        assert_eq!(
            check_pepper_retire(Some(1), 2, 0, false).unwrap_err(),
            RotateError::PepperInUse { keys: 2, codes: 0 }
        );
        assert!(check_pepper_retire(Some(1), 2, 5, true).is_ok());
        assert_eq!(
            check_pepper_retire(None, 0, 0, false).unwrap_err().code(),
            "activation_unknown"
        );
        assert_eq!(pepper_cutoff(10), 10 + RESTART_MARGIN_SECS);
        assert_eq!(check_mfa_retire(2).unwrap_err().code(), "key_in_use");
        assert_eq!(
            check_encryption_retire("k1", 3).unwrap_err().code(),
            "key_in_use"
        );
        let at = 1_000_000;
        let e = check_jwt_retire("k1", Some(at), at + 10, false).unwrap_err();
        assert_eq!(
            e,
            RotateError::WindowOpen {
                key_id: "k1".into(),
                remaining_secs: JWT_RETIRE_AFTER_SECS - 10
            }
        );
        assert!(check_jwt_retire("k1", Some(at), at + JWT_RETIRE_AFTER_SECS, false).is_ok());
        assert!(check_jwt_retire("k1", Some(at), at + 10, true).is_ok());
        assert_eq!(
            check_jwt_retire("k1", None, at, false).unwrap_err().code(),
            "activation_unknown"
        );
    }

    #[test]
    fn debug_and_errors_never_show_values() {
        let f = EnvFile::parse("BREEZE_PEPPER=very-secret-pepper\n").unwrap();
        assert!(!format!("{f:?}").contains("very-secret"));
        let mut f = f;
        let e = plan(&mut f, SecretKind::Pepper, Phase::Retire, &secret("x"), "").unwrap_err();
        assert!(!e.to_string().contains("very-secret"));
    }
}
