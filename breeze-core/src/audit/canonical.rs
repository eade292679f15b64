//! The canonical byte form of a chain entry (version 1) and its two hashes.
//!
//! The full layout, with a worked example, is in the [module docs of `audit`](super).

use std::net::IpAddr;

use super::canonical_json;
use super::chain::{Entry, EntryBody};
use super::event::AuditEvent;
use super::hash::{ChainHash, Digest32, chain_hash_of, content_hash_of};
use super::retention::RetentionRecord;

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

fn put_event(out: &mut Vec<u8>, e: &AuditEvent) {
    out.push(e.actor().actor_type().code());
    if let Some(id) = e.actor().id() {
        out.extend_from_slice(id.as_bytes());
    }
    put_str(out, e.action().as_str());
    put_str(out, e.resource_type());
    put_opt_str(out, e.resource_id());
    out.push(e.result().code());
    match e.ip() {
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
    put_opt_str(out, e.user_agent());
    // Details: length-prefixed canonical JSON. Reserve the prefix, write, then patch it.
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    canonical_json::write_value(e.details(), out);
    let len = u32::try_from(out.len().saturating_sub(at + 4)).unwrap_or(u32::MAX);
    if let Some(prefix) = out.get_mut(at..at + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    put_opt_str(out, e.error_message());
    out.push(e.initiated_by().code());
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

/// Appends the canonical bytes of `entry` to `out` (its seal fields are not part of them).
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    out.push(CANONICAL_VERSION);
    out.push(match entry.body {
        EntryBody::Event(_) => KIND_EVENT,
        EntryBody::Retention(_) => KIND_RETENTION,
    });
    entry.chain.encode(out);
    out.extend_from_slice(&entry.sequence.to_be_bytes());
    out.extend_from_slice(entry.prev_hash.as_bytes());
    out.extend_from_slice(&entry.timestamp().unix_micros().to_be_bytes());
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

/// Content hash and chain hash of `entry`, using `scratch` as the encoding buffer.
pub(crate) fn hashes_with(entry: &Entry, scratch: &mut Vec<u8>) -> (Digest32, ChainHash) {
    scratch.clear();
    encode_entry(entry, scratch);
    let content = content_hash_of(scratch);
    (content, chain_hash_of(&entry.prev_hash, &content))
}
