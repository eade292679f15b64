//! Host files (SPEC 8.7): the config directory (0750), `agent.yaml` (0640, no secrets) and
//! `secrets.yaml` (0600: the three tokens, plus the pending tokens during a rotation).
//!
//! Format: YAML through `serde_norway` (a maintained fork of `serde_yaml`; `serde_yaml` is
//! archived and `serde_yml` is unsound). Both files are small flat maps.
//!
//! Writes are atomic and durable: a temp file is created in the same directory at its final
//! mode (`O_CREAT|O_EXCL`), written, fsynced, renamed over the target, and the directory is
//! fsynced. Reads refuse symlinks, non-regular files, files owned by another user, files
//! larger than [`MAX_FILE_BYTES`], a secrets file that group or others may access, and a
//! config file or directory that group or others may write. Unknown fields are refused.

use std::sync::Arc;

use breeze_crypto::httpsig::DeviceSigningKey;
use secrecy::ExposeSecret as _;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use breeze_agent_proto::{AgentConfig, AgentId, WireToken};
use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use breeze_crypto::credentials::AgentToken;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Default configuration directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/breeze";
/// Name of the non-secret config file.
pub const AGENT_FILE: &str = "agent.yaml";
/// Name of the secrets file.
pub const SECRETS_FILE: &str = "secrets.yaml";
/// Mode of the config directory.
pub const DIR_MODE: u32 = 0o750;
/// Mode of `agent.yaml`.
pub const AGENT_FILE_MODE: u32 = 0o640;
/// Mode of `secrets.yaml`.
pub const SECRETS_FILE_MODE: u32 = 0o600;
/// Largest host file the agent reads.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Most entries of `file_roots`.
pub const MAX_FILE_ROOTS: usize = 64;

/// A host file problem. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file does not exist (not enrolled yet).
    #[error("`{path}` does not exist (run `breeze-agent enroll` first)")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file or directory has unsafe permissions or ownership.
    #[error("`{path}` is unsafe: {why}")]
    Unsafe {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
    },
    /// The file is not valid (bad YAML, a wrong type, an unknown field, a malformed token).
    #[error("`{path}` is invalid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message (never contains a token: token fields fail with a fixed text).
        message: String,
    },
    /// The agent is already enrolled.
    #[error("already enrolled (`{path}` exists); pass --force to enroll again")]
    AlreadyEnrolled {
        /// `agent.yaml`.
        path: PathBuf,
    },
    /// The written secrets did not read back identically.
    #[error("secrets read back from `{path}` differ from what was written")]
    ReadBackMismatch {
        /// `secrets.yaml`.
        path: PathBuf,
    },
    /// An I/O error.
    #[error("i/o error on `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// A stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "missing",
            Self::Unsafe { .. } => "unsafe",
            Self::Invalid { .. } => "invalid",
            Self::AlreadyEnrolled { .. } => "already_enrolled",
            Self::ReadBackMismatch { .. } => "read_back_mismatch",
            Self::Io { .. } => "io",
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `agent.yaml`: everything the agent needs except its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct AgentFile {
    /// Server base URL (`https://...`, or `http://` on loopback / with `insecure_http`).
    pub server_url: String,
    /// Whether plain HTTP to a non-loopback host was explicitly allowed at enrollment.
    #[serde(default)]
    pub insecure_http: bool,
    /// A PEM file of the CA the server's certificate chains to (a private CA); absent: the
    /// public web PKI. Absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The public agent id.
    pub agent_id: AgentId,
    /// The device id.
    pub device_id: DeviceId,
    /// The device's organization.
    pub org_id: OrgId,
    /// The device's site.
    pub site_id: SiteId,
    /// Seconds between heartbeats.
    pub heartbeat_interval_seconds: u32,
    /// Seconds between metric samples.
    pub metrics_collection_interval_seconds: u32,
    /// Shell of remote terminal sessions (absolute; absent: `$SHELL` if absolute, else
    /// `/bin/sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_shell: Option<PathBuf>,
    /// When set, remote file operations are confined to these directories (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_roots: Option<Vec<PathBuf>>,
    /// Largest remote file read or write in bytes (1 to 4 MiB; absent: 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_max_bytes: Option<u64>,
    /// The server holds this device's public key (enrolled with it, or registered once
    /// since; SPEC 17). Until then the agent registers the key in `secrets.yaml` at start.
    #[serde(default)]
    pub key_bound: bool,
}

impl AgentFile {
    /// A client for this agent's server, trusting its configured roots.
    ///
    /// # Errors
    /// [`crate::client::ClientError`] of [`crate::client::ApiClient::new`].
    pub fn api_client(&self) -> Result<crate::client::ApiClient, crate::client::ClientError> {
        crate::client::ApiClient::new(
            &self.server_url,
            self.insecure_http,
            self.ca_file.as_deref(),
        )
    }

    /// The terminal settings.
    #[must_use]
    pub fn terminal_config(&self) -> crate::terminal::TerminalConfig {
        crate::terminal::TerminalConfig::new(self.terminal_shell.as_deref())
    }

    /// The file operation settings, refusing `dir` (the config directory).
    #[must_use]
    pub fn file_config(&self, dir: &Path) -> crate::files::FileConfig {
        crate::files::FileConfig {
            config_dir: dir.to_path_buf(),
            roots: self.file_roots.clone(),
            max_bytes: self.file_max_bytes.unwrap_or(crate::files::MAX_FILE_BYTES),
        }
    }

    /// The intervals as the protocol's [`AgentConfig`].
    #[must_use]
    pub const fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            heartbeat_interval_seconds: self.heartbeat_interval_seconds,
            metrics_collection_interval_seconds: self.metrics_collection_interval_seconds,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let range = breeze_agent_proto::limits::MIN_INTERVAL_SECONDS
            ..=breeze_agent_proto::limits::MAX_INTERVAL_SECONDS;
        if !range.contains(&self.heartbeat_interval_seconds)
            || !range.contains(&self.metrics_collection_interval_seconds)
        {
            return Err("intervals must be between 5 and 86400 seconds".to_owned());
        }
        if self.server_url.is_empty() || self.server_url.len() > 2048 {
            return Err("server_url must be 1 to 2048 bytes".to_owned());
        }
        if self
            .terminal_shell
            .as_ref()
            .is_some_and(|p| !p.is_absolute())
        {
            return Err("terminal_shell must be an absolute path".to_owned());
        }
        if let Some(roots) = &self.file_roots {
            if roots.len() > MAX_FILE_ROOTS {
                return Err(format!("at most {MAX_FILE_ROOTS} file_roots"));
            }
            if roots.iter().any(|p| !p.is_absolute()) {
                return Err("file_roots must be absolute paths".to_owned());
            }
        }
        if self
            .file_max_bytes
            .is_some_and(|n| !(1..=crate::files::MAX_FILE_BYTES).contains(&n))
        {
            return Err("file_max_bytes must be 1 to 4194304".to_owned());
        }
        Ok(())
    }
}

/// The three tokens of one generation (agent, watchdog and helper roles).
#[derive(Debug)]
pub struct Tokens {
    /// Agent-role token: every agent call and the WebSocket.
    pub auth: AgentToken,
    /// Watchdog-role token (kept for the watchdog process).
    pub watchdog: AgentToken,
    /// Helper-role token (kept for the helper process; never in a world-readable file).
    pub helper: AgentToken,
}

impl Tokens {
    /// Converts wire tokens (already format-checked) into credentials.
    ///
    /// # Errors
    /// Never in practice: both types accept the same format.
    pub fn from_wire(
        auth: &WireToken,
        watchdog: &WireToken,
        helper: &WireToken,
    ) -> Result<Self, breeze_crypto::credentials::CredentialError> {
        Ok(Self {
            auth: AgentToken::parse(auth.expose_secret())?,
            watchdog: AgentToken::parse(watchdog.expose_secret())?,
            helper: AgentToken::parse(helper.expose_secret())?,
        })
    }

    /// Constant-time equality of all three tokens.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        let a = ct(&self.auth, &other.auth);
        let w = ct(&self.watchdog, &other.watchdog);
        let h = ct(&self.helper, &other.helper);
        a & w & h
    }

    /// A copy (re-parsed: the token type is deliberately not `Clone`).
    ///
    /// # Errors
    /// Never in practice (the tokens were valid when parsed).
    pub fn duplicate(&self) -> Result<Self, breeze_crypto::credentials::CredentialError> {
        Ok(Self {
            auth: AgentToken::parse(self.auth.expose_secret())?,
            watchdog: AgentToken::parse(self.watchdog.expose_secret())?,
            helper: AgentToken::parse(self.helper.expose_secret())?,
        })
    }
}

fn ct(a: &AgentToken, b: &AgentToken) -> bool {
    a.expose_secret()
        .as_bytes()
        .ct_eq(b.expose_secret().as_bytes())
        .into()
}

/// Tokens staged by a rotation (phase 1 done, phase 2 not yet confirmed).
#[derive(Debug)]
pub struct PendingTokens {
    /// The staged tokens.
    pub tokens: Tokens,
    /// When the server forgets them unless confirmed.
    pub expires_at: OffsetDateTime,
}

/// `secrets.yaml`: current tokens and, during a rotation, the pending ones.
#[derive(Debug)]
pub struct Secrets {
    /// The tokens in use.
    pub current: Tokens,
    /// Staged tokens awaiting confirmation.
    pub pending: Option<PendingTokens>,
    /// The device's Ed25519 signing key (SPEC 17); token rotations keep it.
    pub signing_key: Option<Arc<DeviceSigningKey>>,
}

impl Secrets {
    /// A copy (tokens are re-parsed; the type is deliberately not `Clone`).
    ///
    /// # Errors
    /// Never in practice (the tokens were valid when parsed).
    pub fn duplicate(&self) -> Result<Self, breeze_crypto::credentials::CredentialError> {
        Ok(Self {
            signing_key: self.signing_key.clone(),
            current: self.current.duplicate()?,
            pending: match &self.pending {
                None => None,
                Some(p) => Some(PendingTokens {
                    tokens: p.tokens.duplicate()?,
                    expires_at: p.expires_at,
                }),
            },
        })
    }

    /// Constant-time comparison of every token, plus the pending expiry.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        let current = self.current.ct_eq(&other.current);
        let pending = match (&self.pending, &other.pending) {
            (None, None) => true,
            (Some(a), Some(b)) => a.tokens.ct_eq(&b.tokens) & (a.expires_at == b.expires_at),
            _ => false,
        };
        let key = match (&self.signing_key, &other.signing_key) {
            (None, None) => true,
            (Some(a), Some(b)) => breeze_crypto::ct::constant_time_eq(
                a.to_base64url().expose_secret().as_bytes(),
                b.to_base64url().expose_secret().as_bytes(),
            ),
            _ => false,
        };
        current & pending & key
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct SecretsDoc {
    auth_token: WireToken,
    watchdog_auth_token: WireToken,
    helper_auth_token: WireToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<PendingDoc>,
    /// The Ed25519 seed, unpadded base64url (SPEC 17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signing_key: Option<String>,
}

impl Drop for SecretsDoc {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        if let Some(k) = self.signing_key.as_mut() {
            k.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct PendingDoc {
    auth_token: WireToken,
    watchdog_auth_token: WireToken,
    helper_auth_token: WireToken,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

fn wire(token: &AgentToken) -> Result<WireToken, String> {
    WireToken::parse(token.expose_secret()).map_err(|e| e.to_string())
}

impl SecretsDoc {
    fn from_secrets(s: &Secrets) -> Result<Self, String> {
        Ok(Self {
            auth_token: wire(&s.current.auth)?,
            watchdog_auth_token: wire(&s.current.watchdog)?,
            helper_auth_token: wire(&s.current.helper)?,
            pending: match &s.pending {
                None => None,
                Some(p) => Some(PendingDoc {
                    auth_token: wire(&p.tokens.auth)?,
                    watchdog_auth_token: wire(&p.tokens.watchdog)?,
                    helper_auth_token: wire(&p.tokens.helper)?,
                    expires_at: p.expires_at,
                }),
            },
            signing_key: s
                .signing_key
                .as_ref()
                .map(|k| k.to_base64url().expose_secret().to_owned()),
        })
    }

    fn into_secrets(mut self) -> Result<Secrets, String> {
        let current = Tokens::from_wire(
            &self.auth_token,
            &self.watchdog_auth_token,
            &self.helper_auth_token,
        )
        .map_err(|e| e.to_string())?;
        let pending = match self.pending.take() {
            None => None,
            Some(p) => Some(PendingTokens {
                tokens: Tokens::from_wire(
                    &p.auth_token,
                    &p.watchdog_auth_token,
                    &p.helper_auth_token,
                )
                .map_err(|e| e.to_string())?,
                expires_at: p.expires_at,
            }),
        };
        let signing_key = match self.signing_key.take().map(Zeroizing::new) {
            None => None,
            Some(seed) => Some(Arc::new(
                DeviceSigningKey::from_base64url(&seed).map_err(|e| e.to_string())?,
            )),
        };
        Ok(Secrets {
            current,
            pending,
            signing_key,
        })
    }
}

/// The agent's configuration directory.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    path: PathBuf,
}

impl ConfigDir {
    /// A handle on `path` (nothing is touched yet).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `agent.yaml`.
    #[must_use]
    pub fn agent_path(&self) -> PathBuf {
        self.path.join(AGENT_FILE)
    }

    /// `secrets.yaml`.
    #[must_use]
    pub fn secrets_path(&self) -> PathBuf {
        self.path.join(SECRETS_FILE)
    }

    /// Creates the directory at mode 0750 if missing, then checks it.
    ///
    /// # Errors
    /// [`ConfigError::Unsafe`] for a symlink, a non-directory, another owner, or group/other
    /// write access; [`ConfigError::Io`].
    pub fn ensure(&self) -> Result<(), ConfigError> {
        match fs::symlink_metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(&self.path)
                    .map_err(io_err(&self.path))?;
                fs::set_permissions(&self.path, Permissions::from_mode(DIR_MODE))
                    .map_err(io_err(&self.path))?;
            }
            Err(e) => return Err(io_err(&self.path)(e)),
            Ok(_) => {}
        }
        self.check_dir()?;
        // An existing directory others may read (0755, say) is tightened to 0750; one that
        // group or others may write was refused above (its files may have been swapped).
        let meta = fs::symlink_metadata(&self.path).map_err(io_err(&self.path))?;
        if meta.mode() & 0o7777 != DIR_MODE {
            fs::set_permissions(&self.path, Permissions::from_mode(DIR_MODE))
                .map_err(io_err(&self.path))?;
        }
        Ok(())
    }

    fn check_dir(&self) -> Result<(), ConfigError> {
        let meta = fs::symlink_metadata(&self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing {
                    path: self.path.clone(),
                }
            } else {
                io_err(&self.path)(e)
            }
        })?;
        let unsafe_dir = |why| ConfigError::Unsafe {
            path: self.path.clone(),
            why,
        };
        if !meta.file_type().is_dir() {
            return Err(unsafe_dir("not a directory (symlinks are refused)"));
        }
        check_owner(&meta).map_err(unsafe_dir)?;
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_dir("group or others may write to it"));
        }
        Ok(())
    }

    /// Whether `agent.yaml` exists.
    #[must_use]
    pub fn is_enrolled(&self) -> bool {
        fs::symlink_metadata(self.agent_path()).is_ok()
    }

    /// Reads and validates `agent.yaml`.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn read_agent(&self) -> Result<AgentFile, ConfigError> {
        self.check_dir()?;
        let path = self.agent_path();
        let text = read_checked(&path, 0o022, "group or others may write to it")?;
        let file: AgentFile = serde_norway::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        file.validate()
            .map_err(|message| ConfigError::Invalid { path, message })?;
        Ok(file)
    }

    /// Writes `agent.yaml` atomically at mode 0640.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn write_agent(&self, file: &AgentFile) -> Result<(), ConfigError> {
        self.ensure()?;
        let path = self.agent_path();
        file.validate().map_err(|message| ConfigError::Invalid {
            path: path.clone(),
            message,
        })?;
        let text = serde_norway::to_string(file).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        atomic_write(&self.path, AGENT_FILE, text.as_bytes(), AGENT_FILE_MODE)
    }

    /// Reads and validates `secrets.yaml`.
    ///
    /// # Errors
    /// [`ConfigError::Unsafe`] when group or others have any access; see [`ConfigError`].
    pub fn read_secrets(&self) -> Result<Secrets, ConfigError> {
        self.check_dir()?;
        let path = self.secrets_path();
        let text = read_checked(&path, 0o077, "group or others may access it (want 0600)")?;
        let doc: SecretsDoc = serde_norway::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        doc.into_secrets()
            .map_err(|message| ConfigError::Invalid { path, message })
    }

    /// Writes `secrets.yaml` atomically at mode 0600.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn write_secrets(&self, secrets: &Secrets) -> Result<(), ConfigError> {
        self.ensure()?;
        let doc = SecretsDoc::from_secrets(secrets).map_err(|message| ConfigError::Invalid {
            path: self.secrets_path(),
            message,
        })?;
        let text =
            Zeroizing::new(
                serde_norway::to_string(&doc).map_err(|e| ConfigError::Invalid {
                    path: self.secrets_path(),
                    message: e.to_string(),
                })?,
            );
        atomic_write(&self.path, SECRETS_FILE, text.as_bytes(), SECRETS_FILE_MODE)
    }

    /// Writes `secrets.yaml`, reads it back and compares in constant time.
    ///
    /// # Errors
    /// [`ConfigError::ReadBackMismatch`], or any write/read error.
    pub fn write_secrets_verified(&self, secrets: &Secrets) -> Result<(), ConfigError> {
        self.write_secrets(secrets)?;
        let back = self.read_secrets()?;
        if back.ct_eq(secrets) {
            Ok(())
        } else {
            Err(ConfigError::ReadBackMismatch {
                path: self.secrets_path(),
            })
        }
    }
}

fn check_owner(meta: &fs::Metadata) -> Result<(), &'static str> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() == me || meta.uid() == 0 {
        Ok(())
    } else {
        Err("owned by another user")
    }
}

fn read_checked(
    path: &Path,
    forbidden_bits: u32,
    why: &'static str,
) -> Result<Zeroizing<String>, ConfigError> {
    let nofollow = i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                path: path.to_owned(),
            },
            // ELOOP: the final component is a symlink.
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                ConfigError::Unsafe {
                    path: path.to_owned(),
                    why: "is a symlink",
                }
            }
            _ => io_err(path)(e),
        })?;
    let meta = file.metadata().map_err(io_err(path))?;
    let unsafe_file = |why| ConfigError::Unsafe {
        path: path.to_owned(),
        why,
    };
    if !meta.file_type().is_file() {
        return Err(unsafe_file("not a regular file"));
    }
    check_owner(&meta).map_err(unsafe_file)?;
    if meta.mode() & forbidden_bits != 0 {
        return Err(unsafe_file(why));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(unsafe_file("larger than 64 KiB"));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ConfigError::Invalid {
        path: path.to_owned(),
        message: "not utf-8".to_owned(),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Writes `dir/name` atomically and durably at exactly `mode`: temp file created with
/// `O_CREAT|O_EXCL` at `mode` in `dir`, written, fsynced, renamed, directory fsynced. On any
/// error the temp file is removed and the target is unchanged.
///
/// # Errors
/// [`ConfigError::Io`].
pub fn atomic_write(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), ConfigError> {
    let suffix = getrandom::u64().map_err(|_| ConfigError::Io {
        path: dir.to_owned(),
        source: std::io::Error::other("os random number generator failed"),
    })?;
    let tmp = dir.join(format!(".{name}.tmp-{suffix:016x}"));
    let target = dir.join(name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        // The umask may have removed bits; set the exact mode before any content exists.
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(io_err(&target))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ignored = fs::remove_file(&tmp);
    }
    result
}
