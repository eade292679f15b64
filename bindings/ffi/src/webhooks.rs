//! Outbound webhooks (SPEC 13): Standard Webhooks signing and verification (what a receiver
//! needs), secret generation, the event catalogue and delivery bodies.

use breeze_core::tenancy::OrgId;
use breeze_core::webhooks::{self, DEFAULT_TOLERANCE_SECS, EventType, WebhookSecret};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{FfiError, FfiResult};

fn parse_secrets(secrets: &[String]) -> FfiResult<Vec<WebhookSecret>> {
    secrets
        .iter()
        .map(|s| WebhookSecret::parse(s).map_err(FfiError::from))
        .collect()
}

/// The `webhook-signature` header for a delivery: `v1,<base64>` per secret (`whsec_...`),
/// space separated.
///
/// # Errors
/// `webhook` family: `secret_format`, `secret_length`, `no_secret`, `message_id`,
/// `timestamp_invalid` (negative).
pub fn webhook_sign(
    secrets: &[String],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> FfiResult<String> {
    let parsed = parse_secrets(secrets)?;
    let refs: Vec<&WebhookSecret> = parsed.iter().collect();
    Ok(webhooks::sign(&refs, msg_id, timestamp, body)?)
}

/// Verifies a delivery from its three headers and raw body, as a receiver does: passes when
/// any `v1` signature matches any secret and `timestamp` is within `tolerance` seconds of
/// `now` (default 300).
///
/// # Errors
/// `webhook` family: `secret_format`, `secret_length`, `no_secret`, `message_id`,
/// `timestamp_invalid`, `timestamp_too_old`, `timestamp_too_new`, `signature_header`,
/// `no_matching_signature`.
pub fn webhook_verify(
    secrets: &[String],
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Option<u64>,
) -> FfiResult<()> {
    let parsed = parse_secrets(secrets)?;
    let refs: Vec<&WebhookSecret> = parsed.iter().collect();
    webhooks::verify(
        &refs,
        msg_id,
        timestamp,
        signature,
        body,
        now,
        tolerance.unwrap_or(DEFAULT_TOLERANCE_SECS),
    )?;
    Ok(())
}

/// A new secret, `whsec_` + base64 of 32 random bytes (show it once; store it encrypted).
///
/// # Errors
/// `rng_failure`.
pub fn webhook_generate_secret() -> FfiResult<String> {
    Ok(WebhookSecret::generate()?.to_wire().as_str().to_owned())
}

/// The event catalogue: `[{"type", "subscribable", "dataFields"}]` in catalogue order.
#[must_use]
pub fn webhook_event_catalogue() -> Value {
    Value::Array(
        EventType::ALL
            .iter()
            .map(|e| {
                json!({
                    "type": e.as_str(),
                    "subscribable": e.is_subscribable(),
                    "dataFields": e.data_fields(),
                })
            })
            .collect(),
    )
}

/// The body of a delivery: `{"type","timestamp","orgId","data"}`, compact JSON, the
/// timestamp (any RFC 3339 time) written in UTC to the second.
///
/// # Errors
/// `webhook` family: `unknown_event`, `timestamp_invalid` (not RFC 3339, or outside years
/// 0000 to 9999), `data_not_object`, `undocumented_field`; `invalid_input` for an org id
/// that is not a UUID.
pub fn webhook_payload(
    event_type: &str,
    timestamp_rfc3339: &str,
    org_id: &str,
    data: Value,
) -> FfiResult<String> {
    let event = EventType::parse(event_type)?;
    let timestamp = OffsetDateTime::parse(timestamp_rfc3339, &Rfc3339)
        .map_err(|_| FfiError::from(webhooks::WebhookError::TimestampInvalid))?;
    let org: OrgId = org_id
        .parse()
        .map_err(|_| FfiError::input("org_id must be a UUID"))?;
    let body = webhooks::payload(event, timestamp, org, data)?;
    String::from_utf8(body).map_err(|_| FfiError::input("payload is not UTF-8"))
}
