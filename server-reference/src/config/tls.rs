//! TLS served by the server itself, for deployments without a reverse proxy.

use std::path::PathBuf;

use super::ConfigError;
use super::settings::Settings;

/// The certificate chain and private key files the server answers HTTPS with.
///
/// `BREEZE_TLS_CERT_FILE` (PEM, leaf first, then intermediates) and `BREEZE_TLS_KEY_FILE`
/// (PEM, PKCS#8, PKCS#1 or SEC1): both or neither. Read at start and again on `SIGHUP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert_file: PathBuf,
    /// The private key.
    pub key_file: PathBuf,
}

impl TlsFiles {
    pub(super) fn from_settings(settings: &Settings) -> Result<Option<Self>, ConfigError> {
        let absolute = |name: &str| -> Result<Option<PathBuf>, ConfigError> {
            match settings.get(name) {
                None => Ok(None),
                Some(raw) => {
                    let path = PathBuf::from(raw);
                    if path.is_absolute() {
                        Ok(Some(path))
                    } else {
                        Err(ConfigError::Invalid {
                            name: name.into(),
                            reason: "expected an absolute path".into(),
                        })
                    }
                }
            }
        };
        match (
            absolute("BREEZE_TLS_CERT_FILE")?,
            absolute("BREEZE_TLS_KEY_FILE")?,
        ) {
            (None, None) => Ok(None),
            (Some(cert_file), Some(key_file)) => Ok(Some(Self {
                cert_file,
                key_file,
            })),
            (Some(_), None) => Err(ConfigError::Missing("BREEZE_TLS_KEY_FILE".into())),
            (None, Some(_)) => Err(ConfigError::Missing("BREEZE_TLS_CERT_FILE".into())),
        }
    }
}
