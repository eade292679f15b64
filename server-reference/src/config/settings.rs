//! Raw settings (the file's `KEY=VALUE` lines overlaid by the environment), the generated
//! secrets file of development mode, and the helpers that read required and keyed secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::Path;

use secrecy::SecretString;

use super::{ConfigError, DevSecrets, KeyedSecret};

/// Raw settings: the file's lines overlaid by the environment.
#[derive(Default)]
pub struct Settings(BTreeMap<String, String>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Settings {
    /// Reads `path` (if any) then the process environment.
    ///
    /// # Errors
    /// [`ConfigError::File`] when the file cannot be read or has a malformed line.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut settings = Self::default();
        if let Some(path) = path {
            settings.merge_file(path)?;
        }
        for (key, value) in std::env::vars() {
            if key.starts_with("BREEZE_") || key.starts_with("DATABASE_") || key == "REDIS_URL" {
                settings.0.insert(key, value);
            }
        }
        Ok(settings)
    }

    /// Reads `path`, else the file `BREEZE_CONFIG_FILE` names (if any), then the process
    /// environment.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_env_and_file(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env_path = std::env::var_os("BREEZE_CONFIG_FILE").map(std::path::PathBuf::from);
        Self::load(path.or(env_path.as_deref()))
    }

    /// Settings from explicit pairs (tests, embedding).
    #[must_use]
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub(super) fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, &e))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    reason: format!("line {} is not KEY=VALUE", n.saturating_add(1)),
                });
            };
            self.0
                .entry(key.trim().to_owned())
                .or_insert_with(|| value.trim().to_owned());
        }
        Ok(())
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        self.get(key).map(|v| SecretString::from(v.to_owned()))
    }

    pub(super) fn keyed(&self, prefix: &str) -> Vec<KeyedSecret> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let id = k.strip_prefix(prefix)?;
                (!id.is_empty() && !v.is_empty()).then(|| KeyedSecret {
                    id: id.to_owned(),
                    value: SecretString::from(v.clone()),
                })
            })
            .collect()
    }

    pub(super) fn parsed<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: key.into(),
                reason: "not a valid value".into(),
            }),
        }
    }

    pub(super) fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(super) fn file_error(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError::File {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    }
}

pub(super) fn random_hex(bytes: usize) -> Result<String, ConfigError> {
    let mut buf = vec![0u8; bytes];
    breeze_crypto::random::fill(&mut buf).map_err(|_| ConfigError::Invalid {
        name: "random".into(),
        reason: "the operating system random source failed".into(),
    })?;
    Ok(hex::encode(buf))
}

/// The secrets development mode generates when they are missing, with their sizes in bytes.
pub(super) const DEV_SECRETS: [(&str, usize); 6] = [
    ("BREEZE_JWT_KEY_dev1", 48),
    ("BREEZE_ENCRYPTION_KEY_dev1", 32),
    ("BREEZE_MFA_ENCRYPTION_KEY", 32),
    ("BREEZE_PEPPER", 32),
    ("BREEZE_AUDIT_SIGNING_KEY_dev1", 32),
    ("BREEZE_METRICS_TOKEN", 32),
];

/// Development mode: creates (0600, never overwritten; its directory 0700) or reads the
/// generated secrets file, and fills in what the settings lack. With
/// [`DevSecrets::ExistingOnly`] a missing file is refused, naming the settings.
pub(super) fn ensure_dev_secrets(
    settings: &mut Settings,
    path: &Path,
    dev: DevSecrets,
) -> Result<(), ConfigError> {
    let needs_generation = settings.keyed("BREEZE_JWT_KEY_").is_empty()
        || settings.keyed("BREEZE_ENCRYPTION_KEY_").is_empty()
        || settings.get("BREEZE_MFA_ENCRYPTION_KEY").is_none()
        || settings.get("BREEZE_PEPPER").is_none()
        || settings.keyed("BREEZE_AUDIT_SIGNING_KEY_").is_empty();
    if !needs_generation {
        return Ok(());
    }
    if !path.exists() {
        if dev == DevSecrets::ExistingOnly {
            return Err(ConfigError::NoDevSecrets(path.display().to_string()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(|e| file_error(dir, &e))?;
        }
        let mut body = String::from(
            "# Generated by breeze-server in development mode. Keep private (mode 0600).\n",
        );
        for (key, size) in DEV_SECRETS {
            body.push_str(&format!("{key}={}\n", random_hex(size)?));
        }
        body.push_str("BREEZE_JWT_ACTIVE_KID=dev1\nBREEZE_ENCRYPTION_ACTIVE_KEY_ID=dev1\nBREEZE_AUDIT_ACTIVE_SIGNING_KID=dev1\n");
        write_private_file(path, body.as_bytes())?;
        tracing::warn!(path = %path.display(), "development mode: generated secrets file");
    }
    settings.merge_file(path)
}

/// Creates `path` with mode 0600 (refusing to overwrite) and writes `body` durably.
pub(super) fn write_private_file(path: &Path, body: &[u8]) -> Result<(), ConfigError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| file_error(path, &e))?;
    file.write_all(body).map_err(|e| file_error(path, &e))?;
    file.sync_all().map_err(|e| file_error(path, &e))
}

pub(super) fn required(settings: &Settings, key: &str) -> Result<SecretString, ConfigError> {
    settings
        .secret(key)
        .ok_or_else(|| ConfigError::Missing(key.into()))
}

pub(super) fn active_id(
    settings: &Settings,
    key: &str,
    ring: &[KeyedSecret],
    ring_prefix: &str,
) -> Result<String, ConfigError> {
    let id = match settings.get(key) {
        Some(id) => id.to_owned(),
        None => match ring {
            [only] => only.id.clone(),
            // no key at all: name the key setting, not the active id
            [] => return Err(ConfigError::Missing(format!("{ring_prefix}<id>"))),
            _ => return Err(ConfigError::Missing(key.into())),
        },
    };
    if ring.iter().any(|k| k.id == id) {
        Ok(id)
    } else {
        Err(ConfigError::Invalid {
            name: key.into(),
            reason: format!("no `{ring_prefix}{id}` is configured"),
        })
    }
}
