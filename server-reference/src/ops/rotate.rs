//! `secrets rotate <kind> <stage|activate|retire> --env-file FILE`: one phase of a secret
//! roll, as an edit of the service's environment file.
//!
//! The phases, their order, the variables and the retirement rules are
//! `breeze_core::config::rotation`; this module wires them: it checks the file (a regular
//! file owned by the caller, nothing for others, no write for the group), generates a staged
//! value from the OS random source (32 bytes, hex), asks the store whether a retired
//! encryption key still encrypts a value and when a JWT key was activated, replaces the file
//! atomically (a temporary file in the same directory with the same mode and group,
//! `fsync`, `rename`, `fsync` of the directory) and records `secrets.rotate` on the system
//! audit chain (kind, phase, key id, the variables changed; never a value). When the audit
//! entry cannot be written, the file is put back as it was. Nothing is changed when any
//! check fails.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_core::config::rotation::{
    self, EnvFile, JWT_RETIRE_AFTER_SECS, Phase, RotateError, Rotation, SecretKind,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::store::{PgStore, StoreError, audit, ops};

/// What to rotate.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// `jwt`, `encryption`, `mfa`, `pepper`, `enrollment-secret` or `metrics-token`.
    pub kind: String,
    /// `stage`, `activate` or `retire`.
    pub phase: String,
    /// The service's environment file.
    pub env_file: PathBuf,
    /// The staged key id of a ring (default `k` + the UTC time, `k20261204t215633`).
    pub key_id: Option<String>,
    /// Retire although the old value may still be in use (`jwt`, `pepper`).
    pub force: bool,
}

/// A rotation that did not happen (nothing was changed), or whose audit entry failed (the
/// file was restored).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateCliError {
    /// Refused by the rotation rules.
    #[error(transparent)]
    Rule(#[from] RotateError),
    /// The environment file is unsafe or unreadable.
    #[error("environment file `{path}`: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The operating system random source failed.
    #[error("the operating system random source failed")]
    Rng,
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit entry could not be written (the file was restored).
    #[error("audit: {0} (the environment file was restored)")]
    Audit(String),
}

impl RotateCliError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Rule(e) => e.code(),
            Self::File { .. } => "env_file",
            Self::Rng => "rng",
            Self::Store(_) => "store",
            Self::Audit(_) => "audit",
        }
    }
}

/// A phase done: what changed and what the operator does next.
#[derive(Debug, Clone)]
pub struct RotateOutcome {
    /// The rule's account of the edit.
    pub rotation: Rotation,
    /// The next steps, one per line.
    pub next_steps: Vec<String>,
}

fn file_err(path: &Path, reason: impl Into<String>) -> RotateCliError {
    RotateCliError::File {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Refuses a file that is not a regular file owned by `uid` with no permission for others
/// and no write for its group (the `secrets_file` rule of `doctor`).
fn check_file(path: &Path, uid: u32) -> Result<std::fs::Metadata, RotateCliError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| file_err(path, e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(file_err(
            path,
            "not a regular file (a symbolic link is refused)",
        ));
    }
    if meta.uid() != uid {
        return Err(file_err(
            path,
            format!(
                "owned by uid {}, not by the caller (uid {uid}): run the command as its owner",
                meta.uid()
            ),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o027 != 0 {
        return Err(file_err(
            path,
            format!(
                "mode {mode:04o} is too open: `chmod 600` (or 640 for the service's group) first"
            ),
        ));
    }
    Ok(meta)
}

/// Takes the exclusive lock of `path`'s directory, refusing when another rotation holds it.
fn lock_dir(path: &Path) -> Result<std::fs::File, RotateCliError> {
    let dir = std::fs::File::open(dir_of(path)).map_err(|e| file_err(path, e.to_string()))?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(std::fs::TryLockError::WouldBlock) => Err(file_err(
            path,
            "another `secrets rotate` is running on this file's directory",
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(file_err(path, e.to_string())),
    }
}

/// Reads the file `meta` describes: the opened file must be the one checked (same device
/// and inode), so a swap between the check and the read is refused.
fn read_checked(path: &Path, meta: &std::fs::Metadata) -> Result<SecretString, RotateCliError> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(|e| file_err(path, e.to_string()))?;
    let opened = file.metadata().map_err(|e| file_err(path, e.to_string()))?;
    if opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        return Err(file_err(
            path,
            "the file changed while it was being checked",
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| file_err(path, e.to_string()))?;
    Ok(SecretString::from(text))
}

/// The directory of `path` (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new, empty, private temporary file next to `path` (its owner is the caller).
fn temp_next_to(path: &Path) -> Result<(PathBuf, std::fs::File), RotateCliError> {
    let mut suffix = [0u8; 8];
    breeze_crypto::random::fill(&mut suffix).map_err(|_| RotateCliError::Rng)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir_of(path).join(format!(".{name}.rotate-{}", hex::encode(suffix)));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| file_err(path, format!("cannot create a temporary file: {e}")))?;
    Ok((temp, file))
}

/// Writes `text` to `file` (the temporary `temp`), gives it `meta`'s mode and group, and
/// renames it over `path`; removes the temporary file on any failure.
fn replace(
    path: &Path,
    temp: &Path,
    mut file: std::fs::File,
    text: &SecretString,
    meta: &std::fs::Metadata,
) -> Result<(), RotateCliError> {
    let written = (|| {
        file.write_all(text.expose_secret().as_bytes())?;
        std::os::unix::fs::fchown(&file, None, Some(meta.gid()))?;
        file.set_permissions(std::fs::Permissions::from_mode(
            meta.permissions().mode() & 0o640,
        ))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(temp, path)?;
        std::fs::File::open(dir_of(path))?.sync_all()
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(temp);
        file_err(path, format!("cannot replace it: {e}"))
    })
}

/// Writes `text` over `path` atomically, keeping `meta`'s mode and group.
fn write_atomically(
    path: &Path,
    text: &SecretString,
    meta: &std::fs::Metadata,
) -> Result<(), RotateCliError> {
    let (temp, file) = temp_next_to(path)?;
    replace(path, &temp, file, text, meta)
}

/// 32 bytes of the OS random source as 64 hex characters: a valid JWT key, encryption key,
/// pepper, enrollment secret or metrics token.
fn new_secret() -> Result<SecretString, RotateCliError> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    breeze_crypto::random::fill(bytes.as_mut()).map_err(|_| RotateCliError::Rng)?;
    Ok(SecretString::from(hex::encode(bytes.as_ref())))
}

/// The default staged key id: `k` + the UTC time to the second.
fn default_key_id(now: time::OffsetDateTime) -> String {
    format!(
        "k{:04}{:02}{:02}t{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Runs one phase; `store` records it (and answers the retirement questions).
///
/// # Errors
/// [`RotateCliError`]; the file is unchanged unless the phase succeeded.
pub async fn rotate(
    store: &PgStore,
    options: &RotateOptions,
) -> Result<RotateOutcome, RotateCliError> {
    // the arguments first: a typo changes nothing and touches nothing
    let kind = SecretKind::parse(&options.kind)?;
    let phase = Phase::parse(&options.phase)?;
    let path = options.env_file.as_path();
    // one rotation at a time per directory: the file itself is replaced, so its own lock
    // would not outlive the rename (released when `_lock` is dropped, at the end)
    let _lock = lock_dir(path)?;
    // the caller's uid is the owner of a file it creates: a temporary file tells it without
    // any unsafe call, and is then the file written
    let (temp, temp_file) = temp_next_to(path)?;
    let result = rotate_with_temp(store, options, kind, phase, &temp, temp_file).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

async fn rotate_with_temp(
    store: &PgStore,
    options: &RotateOptions,
    kind: SecretKind,
    phase: Phase,
    temp: &Path,
    temp_file: std::fs::File,
) -> Result<RotateOutcome, RotateCliError> {
    let path = options.env_file.as_path();
    let uid = temp_file
        .metadata()
        .map_err(|e| file_err(path, e.to_string()))?
        .uid();
    let meta = check_file(path, uid)?;
    let original = read_checked(path, &meta)?;
    let mut file = EnvFile::parse(original.expose_secret())?;
    let now = time::OffsetDateTime::now_utc();
    let key_id = options
        .key_id
        .clone()
        .unwrap_or_else(|| default_key_id(now));
    let rotation = rotation::plan(&mut file, kind, phase, &new_secret()?, &key_id)?;

    if phase == Phase::Retire {
        check_retire(store, kind, &rotation, &file, now, options.force).await?;
    }
    replace(path, temp, temp_file, &file.render(), &meta)?;
    if let Err(e) = record(store, &rotation).await {
        // the file and the audit chain must agree: put the old file back
        return match write_atomically(path, &original, &meta) {
            Ok(()) => Err(RotateCliError::Audit(e.to_string())),
            Err(restore) => Err(RotateCliError::Audit(format!(
                "{e}; restoring the environment file failed too: {restore}"
            ))),
        };
    }
    Ok(RotateOutcome {
        next_steps: next_steps(&rotation, path, now),
        rotation,
    })
}

/// The retirement rules that need the database: no value under a retired encryption key;
/// a JWT key only after its tokens' lifetime (or `force`).
async fn check_retire(
    store: &PgStore,
    kind: SecretKind,
    rotation: &Rotation,
    file: &EnvFile,
    now: time::OffsetDateTime,
    force: bool,
) -> Result<(), RotateCliError> {
    let retired = rotation.key_id.as_deref().unwrap_or_default();
    match kind {
        SecretKind::Encryption => {
            let prefixes = breeze_crypto::envelope::key_id_prefixes(retired);
            let mut tx = store
                .begin_system("secrets rotate: values under a key")
                .await?;
            let mut rows: u64 = 0;
            for col in crate::ops::rekey::ENCRYPTED_COLUMNS {
                let n = ops::count_with_prefix(&mut tx, col.column, &prefixes).await?;
                rows = rows.saturating_add(u64::try_from(n).unwrap_or(0));
            }
            drop(tx);
            Ok(rotation::check_encryption_retire(retired, rows)?)
        }
        SecretKind::Jwt => {
            let active = file
                .get(rotation::JWT_VARS.active)
                .unwrap_or_default()
                .to_owned();
            let mut tx = store.begin_system("secrets rotate: jwt activation").await?;
            let at = ops::last_rotation_at(
                &mut tx,
                SecretKind::Jwt.as_str(),
                Phase::Activate.as_str(),
                &active,
            )
            .await?;
            drop(tx);
            Ok(rotation::check_jwt_retire(
                retired,
                at.map(time::OffsetDateTime::unix_timestamp),
                now.unix_timestamp(),
                force,
            )?)
        }
        SecretKind::Mfa => {
            let current = file
                .get(rotation::MFA_VARS.current)
                .map(|v| SecretString::from(v.to_owned()))
                .ok_or_else(|| RotateError::NotConfigured(rotation::MFA_VARS.current.to_owned()))?;
            let cipher = breeze_crypto::envelope::MfaCipher::new(&current);
            let rows = mfa_values_not_current(store, &cipher).await?;
            Ok(rotation::check_mfa_retire(rows)?)
        }
        SecretKind::Pepper => {
            let mut tx = store
                .begin_system("secrets rotate: peppered values")
                .await?;
            let at = ops::last_phase_at(&mut tx, SecretKind::Pepper.as_str(), "activate")
                .await?
                .map(time::OffsetDateTime::unix_timestamp);
            let (keys, codes) = match at {
                Some(at) => {
                    let cutoff =
                        time::OffsetDateTime::from_unix_timestamp(rotation::pepper_cutoff(at))
                            .unwrap_or(now);
                    ops::peppered_made_before(&mut tx, cutoff).await?
                }
                None => (0, 0),
            };
            drop(tx);
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            Ok(rotation::check_pepper_retire(
                at,
                count(keys),
                count(codes),
                force,
            )?)
        }
        SecretKind::EnrollmentSecret | SecretKind::MetricsToken => Ok(()),
    }
}

/// How many stored TOTP secrets the current MFA key alone does not open.
async fn mfa_values_not_current(
    store: &PgStore,
    cipher: &breeze_crypto::envelope::MfaCipher,
) -> Result<u64, RotateCliError> {
    const BATCH: i64 = 500;
    let mut count: u64 = 0;
    for col in crate::ops::rekey::MFA_COLUMNS {
        let mut after = None;
        loop {
            let mut tx = store.begin_system("secrets rotate: totp secrets").await?;
            let rows = ops::encrypted_batch(&mut tx, *col, after, BATCH).await?;
            drop(tx);
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = Some(*last);
            let n = rows
                .iter()
                .filter(|(_, v)| !cipher.opens_with_current(v))
                .count();
            count = count.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
            if rows.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    Ok(count)
}

/// Appends `secrets.rotate` to the system chain: kind, phase, key id and variable names.
async fn record(store: &PgStore, rotation: &Rotation) -> Result<(), RotateCliError> {
    let audit_err = |e: &dyn std::fmt::Display| RotateCliError::Audit(e.to_string());
    let details = serde_json::json!({
        "kind": rotation.kind.as_str(),
        "phase": rotation.phase.as_str(),
        "keyId": rotation.key_id,
        "variables": rotation.changed,
    });
    let now = Timestamp::from_datetime_truncated(time::OffsetDateTime::now_utc())
        .map_err(|e| audit_err(&e))?;
    let action = Action::new("secrets.rotate").map_err(|e| audit_err(&e))?;
    let event = AuditEvent::builder(
        Actor::System,
        action,
        AuditResult::Success,
        InitiatedBy::Manual,
        now,
    )
    .resource_type("secret")
    .resource_id(rotation.kind.as_str().to_owned())
    .details(&details)
    .build()
    .map_err(|e| audit_err(&e))?;
    let mut tx = store.begin_system("secrets rotate audit").await?;
    audit::append(&mut tx, None, event).await?;
    tx.commit().await?;
    Ok(())
}

/// What the operator does after `rotation` (never a value: the file holds it).
fn next_steps(rotation: &Rotation, path: &Path, now: time::OffsetDateTime) -> Vec<String> {
    let file = path.display();
    let restart = format!(
        "copy {file} to every replica's host, then restart the replicas one at a time (`systemctl restart breeze-server`), each once `curl -s 127.0.0.1:3000/ready` answers 200 on the one before"
    );
    let kind = rotation.kind.as_str();
    let next = |phase: &str| {
        format!("then: breeze-server secrets rotate {kind} {phase} --env-file {file}")
    };
    let mut steps = vec![restart];
    match (rotation.kind, rotation.phase) {
        (_, Phase::Stage) => {
            if let SecretKind::EnrollmentSecret | SecretKind::MetricsToken = rotation.kind {
                let var = match rotation.kind {
                    SecretKind::MetricsToken => rotation::METRICS_TOKEN_VARS.next,
                    _ => rotation::ENROLLMENT_SECRET_VARS.next,
                };
                steps.push(format!(
                    "after the restarts, give the clients the new value (the line {var}= of {file}: Prometheus' bearer token, or the agents' installers); both values are accepted until `retire`"
                ));
            }
            steps.push(next("activate"));
        }
        (SecretKind::Encryption | SecretKind::Mfa, Phase::Activate) => {
            steps.push("after every replica runs with it: breeze-server secrets rekey (repeat until it reports failed 0)".to_owned());
            steps.push(next("retire"));
        }
        (SecretKind::Jwt, Phase::Activate) => {
            let until = now + time::Duration::seconds(JWT_RETIRE_AFTER_SECS);
            steps.push(format!(
                "wait until {until} (the refresh token lifetime, {} days, and an hour for the restarts): tokens signed with the previous key verify until then, and `retire` is refused before",
                JWT_RETIRE_AFTER_SECS / 86_400
            ));
            steps.push(next("retire"));
        }
        (SecretKind::Pepper, Phase::Activate) => {
            steps.push("enrollment keys and recovery codes made before keep working while the previous pepper is set; retire it once they are no longer needed (enrollment keys expired or replaced, users told to regenerate recovery codes)".to_owned());
            steps.push(next("retire"));
        }
        (_, Phase::Activate) => {
            steps.push("once no client presents the previous value any more".to_owned());
            steps.push(next("retire"));
        }
        (_, Phase::Retire) => {
            steps.push("the roll is complete once every replica has restarted".to_owned());
        }
    }
    steps
}
