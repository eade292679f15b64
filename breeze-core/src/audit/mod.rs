//! The tamper-evident audit chain (SPEC 6): events, their canonical form, hash chains per
//! organization, streaming verification, signed checkpoints, retention and export bundles.
//!
//! Pure: no I/O beyond `std::io::{BufRead, Write}` in [`export`], no threads, no clock
//! except [`Timestamp::now`]. The server's PostgreSQL store and the Python, Node and WASM
//! bindings compute and check every hash through this module.
//!
//! ```
//! use breeze_core::audit::*;
//! use breeze_core::tenancy::{OrgId, UserId};
//! use zeroize::Zeroizing;
//!
//! let org: OrgId = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f".parse()?;
//! let mut chain = MemoryChain::new(ChainId::Org(org));
//! let t = Timestamp::from_unix_micros(1_767_225_600_000_000)?;
//! let event = AuditEvent::builder(
//!     Actor::User(UserId::new_random()),
//!     Action::new("device.command.execute")?,
//!     AuditResult::Success,
//!     InitiatedBy::Manual,
//!     t,
//! )
//! .resource_type("device")
//! .details(&serde_json::json!({"command": "reboot", "apiKey": "k-123"}))
//! .build()?;
//! assert_eq!(event.details()["apiKey"], "[REDACTED]");
//! chain.append(event)?;
//!
//! let signer = CheckpointSigner::from_seed(KeyId::new("k1")?, &Zeroizing::new([7u8; 32]));
//! let mut keys = KeyRing::new();
//! keys.insert(signer.key_id().clone(), signer.verifying_key())?;
//! chain.checkpoint(&signer, t)?;
//!
//! let mut bundle = Vec::new();
//! chain.export(&mut bundle, &keys, t)?;
//! let report = verify_bundle_bytes(&bundle, &BundleOptions {
//!     trusted_keys: Some(keys),
//!     ..BundleOptions::default()
//! });
//! assert!(report.ok, "{report:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a store uses it (the server's PostgreSQL store does exactly this)
//!
//! - **Append**, in the transaction of the change being audited: take the per-chain lock,
//!   read the last row, rebuild [`ChainHead::after`] it (which re-checks that row's seal),
//!   [`ChainHead::append_event`], insert the returned [`Entry`] with its sequence and both
//!   hashes. An empty chain starts from [`ChainHead::genesis`]; a pruned one from its last
//!   row like any other.
//! - **Checkpoint** periodically with [`CheckpointSigner::sign_head`]; store checkpoints
//!   and publish or hand them out (auditors keep them as trusted checkpoints).
//! - **Verify** by streaming rows in sequence order into a [`ChainVerifier`] (from
//!   [`ChainVerifier::new`] or, after a prune, [`ChainVerifier::from_anchor`]), pushing each
//!   stored checkpoint right after the row it signs; report the [`ChainBreak`] of
//!   [`ChainVerifier::finish`].
//! - **Prune** only through a stored checkpoint: [`RetentionRecord::plan`] (which refuses
//!   any other end), append the record with [`ChainHead::seal`], delete the rows through
//!   `pruned_through`, keep the checkpoint as the chain's anchor.
//! - **Export** with [`BundleWriter`]; anyone verifies offline with [`verify_bundle`].
//! - **Stream** each sealed entry (`audit.appended` webhooks, [`crate::webhooks`]); the
//!   receiver checks what it received with [`verify_segment`], or resumes with
//!   [`ChainVerifier::continuing`] from the last head it verified.
//!
//! What the chain cannot show by itself: an attacker with write access can rewrite the whole
//! tail after the last checkpoint a verifier holds, or drop it. Verifiers that keep
//! checkpoints ([`BundleOptions::trusted_checkpoints`]) and trust only known keys
//! ([`BundleOptions::trusted_keys`]) detect both. A reordering is told apart from a removal
//! only within [`verify::REORDER_WINDOW`] entries; beyond that it is reported as a removal.
//!
//! # Canonical form, version 1
//!
//! Every entry is encoded to bytes as below; integers are big-endian; `str` is a u32
//! byte length followed by UTF-8; `opt str` is `00`, or `01` followed by a `str`.
//!
//! | field | encoding |
//! |---|---|
//! | version | u8 `01` |
//! | kind | u8: `01` audit event, `02` retention record |
//! | chain id | `00` (system chain), or `01` + the 16 bytes of the organization UUID |
//! | sequence | u64 |
//! | previous chain hash | 32 bytes (all zero for sequence 0) |
//! | timestamp | i64 microseconds since 1970-01-01T00:00:00Z (UTC) |
//!
//! then for an audit event:
//!
//! | field | encoding |
//! |---|---|
//! | actor type | u8: `01` user, `02` api_key, `03` agent, `04` system |
//! | actor id | 16 UUID bytes (absent for `system`) |
//! | action | str |
//! | resource type | str |
//! | resource id | opt str |
//! | result | u8: `01` success, `02` failure, `03` denied |
//! | ip | `00` none, `04` + 4 bytes, or `06` + 16 bytes |
//! | user agent | opt str |
//! | details | str of the canonical JSON of the details object (see below) |
//! | error message | opt str |
//! | initiated by | u8: `01` manual, `02` ai, `03` automation, `04` policy, `05` schedule, `06` agent, `07` integration |
//!
//! or for a retention record:
//!
//! | field | encoding |
//! |---|---|
//! | pruned from | u64 |
//! | pruned through | u64 |
//! | checkpoint | u32 length + the checkpoint's signed message ([`Checkpoint::signed_message`]) |
//! | checkpoint signature | 64 bytes |
//!
//! Details JSON is canonical: no whitespace, object members sorted by the UTF-8 bytes of
//! their keys, strings escaped only for `"`, `\` and control characters (`\b \t \n \f \r`,
//! else `\u00xx` lowercase), integers in decimal, floats in serde_json's shortest
//! round-trip form.
//!
//! Hashes (SHA-256, domain-separated):
//! - `content_hash = SHA-256("breeze-audit/v1/content\0" || canonical bytes)`
//! - `chain_hash = SHA-256("breeze-audit/v1/chain\0" || previous chain hash || content_hash)`
//!
//! Checkpoints sign (Ed25519, strict verification)
//! `"breeze-audit/v1/checkpoint\0" || chain id || sequence u64 || head hash || entry count u64
//! || timestamp i64 || str key id`.
//!
//! ## Worked example
//!
//! Organization chain `6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f`, sequence 0, user
//! `0b9e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b` runs `device.command.execute` on device
//! `d-42` at `2026-01-01T00:00:00.000001Z` from `192.0.2.7`, no user agent, details
//! `{"command":"reboot"}`, no error, manually, with success:
//!
//! ```text
//! 01                                                                 version
//! 01                                                                 kind (event)
//! 01                                                                 chain id: org
//! 6f1c2a4e7d8b4c3a9e2f1a2b3c4d5e6f                                   org uuid
//! 0000000000000000                                                   sequence 0
//! 0000000000000000000000000000000000000000000000000000000000000000   previous chain hash (genesis)
//! 0006474846204001                                                   timestamp 1767225600000001 us
//! 01                                                                 actor type: user
//! 0b9e5c1a2f3d4e5f8a9b0c1d2e3f4a5b                                   actor id
//! 00000016                                                           action length 22
//! 6465766963652e636f6d6d616e642e65786563757465                       action `device.command.execute`
//! 00000006                                                           resource type length 6
//! 646576696365                                                       resource type `device`
//! 01                                                                 resource id present
//! 00000004                                                           resource id length 4
//! 642d3432                                                           resource id `d-42`
//! 01                                                                 result: success
//! 04                                                                 ip: v4
//! c0000207                                                           ip 192.0.2.7
//! 00                                                                 user agent: none
//! 00000014                                                           details length 20
//! 7b22636f6d6d616e64223a227265626f6f74227d                           details `{"command":"reboot"}`
//! 00                                                                 error message: none
//! 01                                                                 initiated by: manual
//!
//! content hash 21b8fb6bc3fea7959b3bb48e8c91fb278c0972870cec5eb5d49611683c5b876b
//! chain hash   4a7d70465f9495c8265ee749b6cbe17f4109f0012838f8a6e5ef78be7864ea36
//! ```
//!
//! The test `worked_example_matches_docs` (in `tests/audit_vectors.rs`) rebuilds this entry
//! and checks these bytes and hashes; `vectors/audit/canonical.json` has more.

mod canonical_json;
mod details_stream;
mod entry_view;
pub(crate) mod strvisit;

pub mod canonical;
pub mod chain;
pub mod chain_id;
pub mod checkpoint;
pub mod event;
pub mod export;
pub mod hash;
pub mod memory;
pub mod retention;
pub mod sanitize;
pub mod timestamp;
pub mod verify;

pub use chain::{ChainError, ChainHead, Entry, EntryBody};
pub use chain_id::{ChainId, ChainIdParseError};
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointSigner, KeyId, KeyRing, SignatureBytes,
};
#[doc(hidden)]
pub use entry_view::check_against_owned;
pub use event::{
    Action, Actor, ActorType, AuditEvent, AuditEventBuilder, AuditResult, EventError, InitiatedBy,
};
pub use export::{
    BundleBreak, BundleOptions, BundleOptionsError, BundleReport, BundleWriter, verify_bundle,
    verify_bundle_bytes,
};
pub use hash::{ChainHash, Digest32};
pub use memory::MemoryChain;
pub use retention::{RetentionError, RetentionRecord};
pub use sanitize::sanitize_details;
pub use timestamp::{Timestamp, TimestampError};
pub use verify::{
    BreakKind, ChainBreak, ChainVerifier, VerifiedChain, verify_chain, verify_segment,
};

/// The canonical JSON of `value` (the rules of the details object: sorted keys, no
/// whitespace, fixed escapes), or `None` when it nests deeper than `max_depth` (a scalar is
/// 0, `{}` is 1). Other crates digest structured values with it (the argument digest of an
/// AI approval, `breeze_authz::approval`).
#[must_use]
pub fn canonical_json(value: &serde_json::Value, max_depth: usize) -> Option<Vec<u8>> {
    (canonical_json::depth(value, max_depth) <= max_depth).then(|| canonical_json::to_vec(value))
}
