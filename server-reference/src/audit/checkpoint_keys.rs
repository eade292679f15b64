//! Audit checkpoint keys (SPEC 6.1): key ids derived from the public key, the verifying
//! ring, and the startup check of the checkpoints already stored.
//!
//! - A checkpoint is signed under the id [`derived_key_id`] of its key's public half:
//!   `ed25519-` followed by the first 16 hex digits (64 bits) of SHA-256 of the 32-byte
//!   Ed25519 public key. Two different keys cannot share an id, so a server started with a
//!   freshly generated key can never sign under the id of another server's key.
//! - The verifying ring holds every configured key (`BREEZE_AUDIT_SIGNING_KEY_<id>`) under
//!   its derived id and, as an alias, under its configured `<id>`: checkpoints signed before
//!   ids were derived (under `t1`, `dev1`, ...) keep verifying with the key that signed them.
//!   Stored checkpoints are append-only and their signature covers the key id, so they are
//!   never rewritten.
//! - [`unknown_stored_keys`]: the key ids of stored checkpoints this ring cannot verify,
//!   either because the id is unknown or because the ring's key under that id did not sign
//!   them (a second key configured under an old id). `serve` refuses to start on any, unless
//!   started with `--allow-unknown-checkpoint-keys`.

use breeze_core::audit::{CheckpointError, CheckpointSigner, KeyId, KeyRing};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::ServerConfig;
use crate::state::StateError;
use crate::store::{PgStore, StoreError, audit};

/// The prefix of a derived key id.
pub const KEY_ID_PREFIX: &str = "ed25519-";

/// Hex digits of the public key's SHA-256 kept in a derived id.
const KEY_ID_HEX_DIGITS: usize = 16;

/// The id of the Ed25519 public key `public_key`: [`KEY_ID_PREFIX`] and the first 16 hex
/// digits of its SHA-256.
///
/// # Errors
/// [`CheckpointError::KeyIdSyntax`] (cannot happen: the prefix and hex digits are valid).
pub fn derived_key_id(public_key: &[u8; 32]) -> Result<KeyId, CheckpointError> {
    let hex = breeze_core::audit::hash::sha256(public_key).to_hex();
    let short: String = hex.chars().take(KEY_ID_HEX_DIGITS).collect();
    KeyId::new(&format!("{KEY_ID_PREFIX}{short}"))
}

/// The signer of the active key and the verifying ring of every configured key.
///
/// # Errors
/// [`StateError::Key`] naming the setting of a key that is not a 64-hex Ed25519 seed, whose
/// configured id is invalid, or whose configured id is another key's derived id.
pub fn from_config(config: &ServerConfig) -> Result<(CheckpointSigner, KeyRing), StateError> {
    let mut ring = KeyRing::new();
    let mut active = None;
    for key in &config.audit_signing_keys {
        let name = format!("BREEZE_AUDIT_SIGNING_KEY_{}", key.id);
        let bad = || StateError::Key(name.clone());
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(key.value.expose_secret(), seed.as_mut_slice()).map_err(|_| bad())?;
        let alias = KeyId::new(&key.id).map_err(|_| bad())?;
        let public = CheckpointSigner::from_seed(alias.clone(), &seed).verifying_key();
        let derived = derived_key_id(public.as_bytes()).map_err(|_| bad())?;
        ring.insert(derived.clone(), public).map_err(|_| bad())?;
        ring.insert(alias, public).map_err(|_| bad())?;
        if key.id == config.audit_active_signing_kid {
            active = Some(CheckpointSigner::from_seed(derived, &seed));
        }
    }
    let signer =
        active.ok_or_else(|| StateError::Key("BREEZE_AUDIT_ACTIVE_SIGNING_KID".to_owned()))?;
    Ok((signer, ring))
}

/// The ids of the ring, for the startup log.
#[must_use]
pub fn ring_ids(ring: &KeyRing) -> String {
    ring.iter()
        .map(|(id, _)| id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The key ids of stored checkpoints that `ring` cannot verify: unknown ids, and known ids
/// whose latest stored checkpoint does not verify with the ring's key (another key under
/// the same id). Sorted.
///
/// # Errors
/// [`StoreError`] when the checkpoints cannot be read.
pub async fn unknown_stored_keys(
    store: &PgStore,
    ring: &KeyRing,
) -> Result<Vec<String>, StoreError> {
    let mut tx = store.begin_system("startup: checkpoint keys").await?;
    let mut unknown = Vec::new();
    for id in audit::checkpoint_key_ids(&mut tx).await? {
        let known = KeyId::new(&id).ok().filter(|k| ring.get(k).is_some());
        let verifies = match known {
            None => false,
            Some(_) => match audit::latest_checkpoint_of_key(&mut tx, &id).await? {
                Some(cp) => ring.verify(&cp).is_ok(),
                None => true,
            },
        };
        if !verifies {
            unknown.push(id);
        }
    }
    unknown.sort();
    Ok(unknown)
}
