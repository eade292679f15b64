//! The simulator's secret files: enrollment keys (from `provision`) and agent credentials
//! (from `enroll`, with the device key's seed when it bound keys). JSON Lines, written
//! atomically at mode 0600, and refused on read when group or others may read them (as
//! ssh does with private keys).

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;

use breeze_agent_proto::{AgentId, EnrollmentKey, EnrollmentSecret, WireToken};
use breeze_crypto::httpsig::DeviceSigningKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SimError;

/// One enrollment key and the secret it was created with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRecord {
    /// The raw key.
    pub enrollment_key: EnrollmentKey,
    /// Its per-key secret.
    pub enrollment_secret: EnrollmentSecret,
    /// Organization the key enrolls into.
    pub org_id: Uuid,
    /// Site the key enrolls into.
    pub site_id: Uuid,
}

/// One enrolled agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentRecord {
    /// Public agent id.
    pub agent_id: AgentId,
    /// Device id.
    pub device_id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Agent-role token.
    pub auth_token: WireToken,
    /// The device's Ed25519 key (SPEC 17), when it was enrolled with one: every request
    /// and WebSocket upgrade is then signed. Kept as its seed in unpadded base64url
    /// (`signingKey`); `Debug` shows only the public half.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "seed")]
    pub signing_key: Option<Arc<DeviceSigningKey>>,
}

/// The `signingKey` field: the seed in unpadded base64url, refused without echoing it.
mod seed {
    use std::sync::Arc;

    use breeze_crypto::httpsig::DeviceSigningKey;
    use secrecy::{ExposeSecret as _, SecretString};
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        key: &Option<Arc<DeviceSigningKey>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => serializer.serialize_str(key.to_base64url().expose_secret()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Arc<DeviceSigningKey>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let text = SecretString::from(text);
        DeviceSigningKey::from_base64url(text.expose_secret())
            .map(|k| Some(Arc::new(k)))
            .map_err(|_| serde::de::Error::custom("signingKey: expected a 32-byte seed"))
    }
}

/// Writes `records` as JSON Lines to `path`: a temporary file at mode 0600 in the same
/// directory, synced, then renamed over `path`.
///
/// # Errors
/// [`SimError::File`].
pub fn save<T: Serialize>(path: &Path, records: &[T]) -> Result<(), SimError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut buf = std::io::BufWriter::new(&mut file);
        for r in records {
            serde_json::to_writer(&mut buf, r)?;
            buf.write_all(b"\n")?;
        }
        buf.flush()?;
        drop(buf);
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(d) = dir {
            std::fs::File::open(d)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SimError::file(path, e)
    })
}

/// Reads JSON Lines records from `path`, refusing a file group or others can read.
///
/// # Errors
/// [`SimError::File`] for an unreadable, too-open or malformed file (the line number is
/// named; the line itself is not echoed, it holds secrets).
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, SimError> {
    let meta = std::fs::metadata(path).map_err(|e| SimError::file(path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(SimError::file(
            path,
            "holds secrets but group or others can read it (chmod 600)",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| SimError::file(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                SimError::file(
                    path,
                    format!("line {}: malformed record ({})", i + 1, e.classify_name()),
                )
            })
        })
        .collect()
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected field or value",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn record() -> AgentRecord {
        AgentRecord {
            agent_id: AgentId::parse(&"a".repeat(64)).unwrap(),
            device_id: Uuid::new_v4(),
            org_id: Uuid::new_v4(),
            auth_token: WireToken::parse(&format!("brz_{}", "b".repeat(64))).unwrap(),
            signing_key: None,
        }
    }

    #[test]
    fn a_bound_agent_keeps_its_key_and_never_shows_the_seed() {
        use secrecy::ExposeSecret as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.jsonl");
        let key = Arc::new(DeviceSigningKey::generate().unwrap());
        let seed = key.to_base64url();
        let bound = AgentRecord {
            signing_key: Some(Arc::clone(&key)),
            ..record()
        };
        save(&path, &[bound.clone(), record()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().contains(seed.expose_secret()));
        // an unbound agent's line is as before: no field at all
        assert!(!lines.next().unwrap().contains("signingKey"));
        let back: Vec<AgentRecord> = load(&path).unwrap();
        let again = back[0].signing_key.as_ref().unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(again.to_base64url().expose_secret(), seed.expose_secret());
        assert!(back[1].signing_key.is_none());
        let shown = format!("{:?}", back[0]);
        assert!(!shown.contains(seed.expose_secret()), "{shown}");

        // a malformed seed is refused without echoing it
        let line = serde_json::to_string(&bound)
            .unwrap()
            .replace(seed.expose_secret(), "c2VjcmV0LXNlZWQtbm90LTMyLWJ5dGVz");
        std::fs::write(&path, format!("{line}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load::<AgentRecord>(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn round_trip_at_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.jsonl");
        let records = vec![record(), record()];
        save(&path, &records).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back: Vec<AgentRecord> = load(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].device_id, records[0].device_id);
        assert_eq!(back[1].auth_token, records[1].auth_token);
        // the Debug form never shows the token
        assert!(!format!("{:?}", back[0]).contains("bbbb"));
    }

    #[test]
    fn refuses_open_permissions_and_bad_lines_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.jsonl");
        save(&path, &[record()]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load::<AgentRecord>(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");

        let secret = format!("brz_{}", "c".repeat(64));
        std::fs::write(&path, format!("{{\"authToken\":\"{secret}\"}}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = load::<AgentRecord>(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains(&secret), "{err}");
    }
}
