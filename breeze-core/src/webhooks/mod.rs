//! Outbound webhooks (SPEC 13), the pure part: the closed event catalogue, the rule that
//! turns sealed audit entries into events, delivery bodies, secrets and Standard Webhooks
//! signatures. No I/O: the server's outbox and workers deliver, the bindings let a receiver
//! verify.
//!
//! | module | holds |
//! |---|---|
//! | [`catalogue`] | [`EventType`]: wire names, which a subscription may name, the documented `data` fields of each |
//! | [`from_audit`] | [`events_from_audit`]: `audit.appended` for every event entry of an organization's chain, plus the domain event of a few actions |
//! | [`payload`](mod@payload) | [`payload()`](fn@payload): the delivery body `{"type","timestamp","orgId","data"}` |
//! | [`retry`] | [`retry_delay`]: 6 attempts, each wait three times the last, ±20 % jitter |
//! | [`secret`] | [`WebhookSecret`]: `whsec_` + base64 of 24 to 64 bytes, zeroized, redacted |
//! | [`signature`] | [`sign`] / [`verify`]: `webhook-signature` headers, several secrets during a roll |
//! | [`error`] | [`WebhookError`] and its stable codes |
//!
//! A receiver that streams `audit.appended` to a SIEM checks it missed nothing with
//! [`verify_segment`](crate::audit::verify::verify_segment) over the entries it received.
//!
//! ```
//! use breeze_core::webhooks::{
//!     DEFAULT_TOLERANCE_SECS, EventType, WebhookSecret, message_id, payload, sign, verify,
//! };
//!
//! // Sender: a body, a stable id, a signature per live secret.
//! let secret = WebhookSecret::generate()?;
//! let org = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f".parse()?;
//! let now = 1_767_225_600;
//! let at = time::OffsetDateTime::from_unix_timestamp(now)?;
//! let body = payload(EventType::WebhookTest, at, org, serde_json::json!({}))?;
//! let id = message_id(uuid::Uuid::new_v4());
//! let header = sign(&[&secret], &id, now, &body)?;
//!
//! // Receiver: the three headers and the raw body.
//! verify(&[&secret], &id, &now.to_string(), &header, &body, now + 5, DEFAULT_TOLERANCE_SECS)?;
//! let tampered = [&body[..body.len() - 1], b" }"].concat();
//! let err = verify(&[&secret], &id, &now.to_string(), &header, &tampered, now + 5, DEFAULT_TOLERANCE_SECS)
//!     .unwrap_err();
//! assert_eq!(err.code(), "no_matching_signature");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalogue;
pub mod error;
pub mod from_audit;
pub mod payload;
pub mod retry;
pub mod secret;
pub mod signature;

pub use catalogue::EventType;
pub use error::WebhookError;
pub use from_audit::events_from_audit;
pub use payload::payload;
pub use retry::{MAX_ATTEMPTS, retry_delay};
pub use secret::WebhookSecret;
pub use signature::{
    DEFAULT_TOLERANCE_SECS, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, message_id, sign, verify,
};
