//! The audit chain (SPEC 6): canonical form and hashes of an entry, chain verification (whole,
//! or a segment received as a stream), export-bundle verification with the first-break report, checkpoint verification and the
//! details sanitizer.

use breeze_core::audit::{
    BundleOptions, ChainBreak, ChainId, Checkpoint, Entry, KeyId, KeyRing, VerifiedChain,
    sanitize_details, verify_bundle_bytes, verify_chain, verify_segment,
};
use serde::{Deserialize, Serialize};

use crate::error::{FfiError, FfiResult, from_json, to_json};

/// A trusted checkpoint-verification key: `{"key_id": "k1", "public_key": "<64 hex>"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpec {
    key_id: String,
    public_key: String,
}

fn key_ring(keys: serde_json::Value) -> FfiResult<KeyRing> {
    let specs: Vec<KeySpec> = from_json(keys, "checkpoint keys")?;
    let mut ring = KeyRing::new();
    for k in specs {
        let mut public = [0u8; 32];
        hex::decode_to_slice(&k.public_key, &mut public)
            .map_err(|_| FfiError::input("public_key must be 64 hex digits"))?;
        ring.insert_bytes(KeyId::new(&k.key_id)?, &public)?;
    }
    Ok(ring)
}

/// The canonical form and hashes of one entry, and whether its stored seal matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryHashes {
    /// The canonical bytes (SPEC 6, version 1) as lowercase hex.
    pub canonical_hex: String,
    /// SHA-256 of the canonical bytes.
    pub content_hash: String,
    /// SHA-256 of the previous chain hash and the content hash.
    pub chain_hash: String,
    /// Whether the entry's stored `content_hash` and `chain_hash` are these.
    pub seal_valid: bool,
}

/// Canonical bytes and hashes of an entry given as its JSON form (as exported).
///
/// # Errors
/// `invalid_input` when `entry` is not an entry.
pub fn audit_entry_hashes(entry: serde_json::Value) -> FfiResult<EntryHashes> {
    let entry: Entry = from_json(entry, "audit entry")?;
    let (content, chain) = entry.compute_hashes();
    Ok(EntryHashes {
        canonical_hex: hex::encode(entry.canonical_bytes()),
        content_hash: content.to_hex(),
        chain_hash: chain.to_hex(),
        seal_valid: entry.seal_is_valid(),
    })
}

/// `{"ok": true, ...VerifiedChain}` or `{"ok": false, "break": ChainBreak}`.
fn verdict(result: Result<VerifiedChain, ChainBreak>) -> FfiResult<serde_json::Value> {
    Ok(match result {
        Ok(verified) => {
            let mut v = to_json(&verified)?;
            if let Some(map) = v.as_object_mut() {
                map.insert("ok".to_owned(), true.into());
            }
            v
        }
        Err(b) => serde_json::json!({ "ok": false, "break": to_json(&b)? }),
    })
}

/// Verifies a whole chain from genesis: `{"ok": true, "chain", "first_sequence", "entries",
/// "last_sequence", "head_hash", "checkpoints", ...}` or `{"ok": false, "break": {"kind",
/// "chain", "sequence", "detail"}}`.
///
/// # Errors
/// `invalid_input` for a bad chain id, entries or keys; `audit` family for a bad key.
pub fn audit_verify_chain(
    chain: &str,
    entries: serde_json::Value,
    keys: serde_json::Value,
) -> FfiResult<serde_json::Value> {
    let chain: ChainId = from_json(serde_json::Value::from(chain), "chain id")?;
    let entries: Vec<Entry> = from_json(entries, "audit entries")?;
    verdict(verify_chain(chain, key_ring(keys)?, &entries))
}

/// Verifies a segment of a chain, as received through `audit.appended` webhooks: the first
/// entry is trusted to link to what came before it, every later one must follow without a
/// hole (a missing entry is `entry_removed` at its sequence). Same verdict as
/// [`audit_verify_chain`].
///
/// # Errors
/// `invalid_input` for a bad chain id, entries or keys; `audit` family for a bad key.
pub fn audit_verify_stream(
    chain: &str,
    entries: serde_json::Value,
    keys: serde_json::Value,
) -> FfiResult<serde_json::Value> {
    let chain: ChainId = from_json(serde_json::Value::from(chain), "chain id")?;
    let entries: Vec<Entry> = from_json(entries, "audit entries")?;
    verdict(verify_segment(chain, key_ring(keys)?, &entries))
}

/// Verifies an export bundle (JSON lines). `trusted_keys` (`[{"key_id", "public_key"}]`)
/// replaces the bundle's own keys when given; `trusted_checkpoints` are checkpoints kept from
/// before, whose heads the bundle must contain. Returns the report: `ok`, counts, head, or
/// the first break (`kind`, `sequence`, `line`, `detail`).
///
/// # Errors
/// `invalid_input` for bad options (a bad bundle is a report, not an error).
pub fn audit_verify_bundle(
    bundle: &[u8],
    trusted_keys: Option<serde_json::Value>,
    trusted_checkpoints: Option<serde_json::Value>,
) -> FfiResult<serde_json::Value> {
    let options = BundleOptions {
        trusted_keys: trusted_keys.map(key_ring).transpose()?,
        trusted_checkpoints: match trusted_checkpoints {
            Some(v) => from_json(v, "trusted checkpoints")?,
            None => Vec::new(),
        },
    };
    to_json(&verify_bundle_bytes(bundle, &options))
}

/// Verifies one checkpoint's signature with `keys` (`[{"key_id", "public_key"}]`).
///
/// # Errors
/// `audit` family: `unknown_key`, `bad_signature`, `count_mismatch`, ...; `invalid_input`.
pub fn audit_verify_checkpoint(
    checkpoint: serde_json::Value,
    keys: serde_json::Value,
) -> FfiResult<()> {
    let checkpoint: Checkpoint = from_json(checkpoint, "checkpoint")?;
    key_ring(keys)?.verify(&checkpoint)?;
    Ok(())
}

/// The details object with secrets redacted, as the chain stores it.
#[must_use]
pub fn audit_sanitize_details(details: &serde_json::Value) -> serde_json::Value {
    sanitize_details(details)
}
