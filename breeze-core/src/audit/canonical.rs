//! The canonical byte form of a chain entry (version 1) and its two hashes.
//!
//! The full layout, with a worked example, is in the [module docs of `audit`](super).

use std::net::IpAddr;

use super::canonical_json;
use super::chain::{Entry, EntryBody};
use super::chain_id::ChainId;
use super::event::{Actor, AuditEvent, AuditResult, InitiatedBy};
use super::hash::{ChainHash, Digest32, chain_hash_of, content_hash_of};
use super::retention::RetentionRecord;
use super::timestamp::Timestamp;

/// Version byte that starts every canonical entry.
pub const CANONICAL_VERSION: u8 = 1;
/// Entry kind byte of an audit event.
pub const KIND_EVENT: u8 = 1;
/// Entry kind byte of a retention record.
pub const KIND_RETENTION: u8 = 2;

/// Appends a length-prefixed string: u32 big-endian byte length, then UTF-8.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Every string reaching here is bounded far below 4 GiB by validation; saturate rather
    // than wrap so an impossible overflow can never alias another encoding silently.
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b);
}

/// Appends an optional string: `00`, or `01` followed by the length-prefixed string.
fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// The fields of an event that its canonical bytes hold, borrowed from an owned
/// [`AuditEvent`] or from the parsed line of a bundle (`entry_view`); the details are
/// written by the caller (they are canonical JSON either way).
pub(crate) struct EventParts<'a> {
    pub(crate) actor: Actor,
    pub(crate) action: &'a str,
    pub(crate) resource_type: &'a str,
    pub(crate) resource_id: Option<&'a str>,
    pub(crate) result: AuditResult,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) error_message: Option<&'a str>,
    pub(crate) initiated_by: InitiatedBy,
}

/// Appends the event part of the canonical bytes; `details` appends the canonical JSON of
/// the details object.
pub(crate) fn put_event_parts(
    out: &mut Vec<u8>,
    e: &EventParts<'_>,
    details: impl FnOnce(&mut Vec<u8>),
) {
    out.push(e.actor.actor_type().code());
    if let Some(id) = e.actor.id() {
        out.extend_from_slice(id.as_bytes());
    }
    put_str(out, e.action);
    put_str(out, e.resource_type);
    put_opt_str(out, e.resource_id);
    out.push(e.result.code());
    match e.ip {
        None => out.push(0),
        Some(IpAddr::V4(v4)) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    put_opt_str(out, e.user_agent);
    // Details: length-prefixed canonical JSON. Reserve the prefix, write, then patch it.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    details(out);
    let len = u32::try_from(out.len().saturating_sub(at + 4)).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(at..at + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    put_opt_str(out, e.error_message);
    out.push(e.initiated_by.code());
}

fn put_event(out: &mut Vec<u8>, e: &AuditEvent) {
    let parts = EventParts {
        actor: *e.actor(),
        action: e.action().as_str(),
        resource_type: e.resource_type(),
        resource_id: e.resource_id(),
        result: e.result(),
        ip: e.ip(),
        user_agent: e.user_agent(),
        error_message: e.error_message(),
        initiated_by: e.initiated_by(),
    };
    put_event_parts(out, &parts, |out| {
        canonical_json::write_value(e.details(), out);
    });
}

fn put_retention(out: &mut Vec<u8>, r: &RetentionRecord) {
    out.extend_from_slice(&r.pruned_from.to_be_bytes());
    out.extend_from_slice(&r.pruned_through.to_be_bytes());
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    r.checkpoint.write_signed_message(out);
    let len = u32::try_from(out.len().saturating_sub(at + 4)).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(at..at + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&r.checkpoint.signature.0);
}

/// Appends what precedes the body in the canonical bytes: version, kind, chain, sequence,
/// previous hash, timestamp.
pub(crate) fn put_entry_head(
    out: &mut Vec<u8>,
    kind: u8,
    chain: &ChainId,
    sequence: u64,
    prev_hash: &ChainHash,
    timestamp: Timestamp,
) {
    out.push(CANONICAL_VERSION);
    out.push(kind);
    chain.encode(out);
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(prev_hash.as_bytes());
    out.extend_from_slice(&timestamp.unix_micros().to_be_bytes());
}

/// Appends the canonical bytes of `entry` to `out` (its seal fields are not part of them).
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    let kind = match entry.body {
        EntryBody::Event(_) => KIND_EVENT,
        EntryBody::Retention(_) => KIND_RETENTION,
    };
    put_entry_head(
        out,
        kind,
        &entry.chain,
        entry.sequence,
        &entry.prev_hash,
        entry.timestamp(),
    );
    match &entry.body {
        EntryBody::Event(e) => put_event(out, e),
        EntryBody::Retention(r) => put_retention(out, r),
    }
}

/// The canonical bytes of `entry`.
#[must_use]
pub fn canonical_bytes(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(384);
    encode_entry(entry, &mut out);
    out
}

/// What verification reads of an entry: an owned [`Entry`], or the borrowed view of an
/// entry line of a bundle (`entry_view`), so that both go through the same checks.
pub(crate) trait SealedFields {
    /// The chain it claims.
    fn chain(&self) -> ChainId;
    /// Its sequence.
    fn sequence(&self) -> u64;
    /// The chain hash it links to.
    fn prev_hash(&self) -> ChainHash;
    /// The stored seal (content hash, chain hash).
    fn seal(&self) -> (Option<Digest32>, Option<ChainHash>);
    /// The retention record it holds, if it is one.
    fn retention(&self) -> Option<&RetentionRecord>;
    /// Appends its canonical bytes.
    fn encode(&self, out: &mut Vec<u8>);
}

impl SealedFields for Entry {
    fn chain(&self) -> ChainId {
        self.chain
    }
    fn sequence(&self) -> u64 {
        self.sequence
    }
    fn prev_hash(&self) -> ChainHash {
        self.prev_hash
    }
    fn seal(&self) -> (Option<Digest32>, Option<ChainHash>) {
        (self.content_hash, self.chain_hash)
    }
    fn retention(&self) -> Option<&RetentionRecord> {
        match &self.body {
            EntryBody::Retention(r) => Some(r),
            EntryBody::Event(_) => None,
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        encode_entry(self, out);
    }
}

/// Content hash and chain hash of `entry`, using `scratch` as the encoding buffer.
pub(crate) fn hashes_with<E: SealedFields + ?Sized>(
    entry: &E,
    scratch: &mut Vec<u8>,
) -> (Digest32, ChainHash) {
    scratch.clear();
    entry.encode(scratch);
    let content = content_hash_of(scratch);
    (content, chain_hash_of(&entry.prev_hash(), &content))
}
