//! One delivery attempt: decrypt, check, sign, send through the guarded client, record.
//!
//! Nothing decrypted leaves this function: the URL and secrets are opened into values that
//! are dropped (secrets zeroized) at its end, errors carry stable codes only, and the log
//! lines name the delivery, never the URL.

use std::time::Instant;

use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_core::ssrf::{Method, SsrfError};
use breeze_core::tenancy::OrgId;
use breeze_core::webhooks::{self as rules, WebhookSecret};
use breeze_crypto::envelope::Field;
use secrecy::ExposeSecret;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::target::{self, TargetError};
use crate::state::AppState;
use crate::store::webhooks::{self as store, AttemptOutcome, Claimed};
use crate::store::{StoreError, audit};

/// Most bytes of an answer read (SPEC 13: 64 KiB).
pub const MAX_RESPONSE_READ: usize = 64 * 1024;
/// Most bytes of an answer stored (SPEC 13: 1 KiB).
pub const MAX_RESPONSE_STORED: usize = 1024;
/// Consecutive failed attempts that disable a subscription (SPEC 13: 20).
pub const DISABLE_AFTER: i32 = 20;

/// What one send came to.
struct Sent {
    status_code: Option<i32>,
    error: Option<&'static str>,
    excerpt: Option<String>,
    /// The address checks refused the target (audited).
    refused: bool,
}

impl Sent {
    fn refused(error: &'static str) -> Self {
        Self {
            status_code: None,
            error: Some(error),
            excerpt: None,
            refused: true,
        }
    }

    fn failed(error: &'static str) -> Self {
        Self {
            status_code: None,
            error: Some(error),
            excerpt: None,
            refused: false,
        }
    }
}

pub(crate) fn url_field() -> Result<Field, StoreError> {
    Field::new("webhook_subscriptions", "url").map_err(|e| StoreError::Audit(e.to_string()))
}

pub(crate) fn secret_field() -> Result<Field, StoreError> {
    Field::new("webhook_subscriptions", "secret").map_err(|e| StoreError::Audit(e.to_string()))
}

pub(crate) fn previous_secret_field() -> Result<Field, StoreError> {
    Field::new("webhook_subscriptions", "previous_secret")
        .map_err(|e| StoreError::Audit(e.to_string()))
}

/// Runs one attempt of `claimed` and records it.
///
/// # Errors
/// [`StoreError`] when the outcome cannot be recorded (the lease then lapses and another
/// worker retries: at least once).
pub async fn attempt(state: &AppState, claimed: Claimed) -> Result<(), StoreError> {
    if !claimed.subscription_active {
        let mut tx = state.store.begin_system("webhook delivery").await?;
        store::fail_unsent(&mut tx, claimed.id, "subscription_disabled").await?;
        return tx.commit().await;
    }
    let started_at = state.clock.now();
    let clock = Instant::now();
    let sent = send(state, &claimed).await;
    let duration_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
    let retry_at = sent
        .error
        .and_then(|_| next_attempt(state, claimed.attempts, started_at));
    let outcome = AttemptOutcome {
        delivery: claimed.id,
        org: claimed.org_id,
        subscription: claimed.subscription_id,
        attempt: claimed.attempts,
        replica: state.webhooks.replica,
        started_at,
        duration_ms,
        status_code: sent.status_code,
        error: sent.error,
        response_excerpt: sent.excerpt.as_deref(),
        retry_at,
    };
    let mut tx = state.store.begin_system("webhook delivery").await?;
    let count = store::finish_attempt(&mut tx, &outcome, DISABLE_AFTER).await?;
    // the first refusal since the last success is audited (not every retry: a refused
    // audit-streaming target would otherwise feed itself one entry per attempt)
    if sent.refused && count.consecutive == 1 {
        let details = json!({
            "deliveryId": claimed.id,
            "webhookId": claimed.msg_id,
            "host": claimed.url_host,
            "reason": sent.error,
        });
        audit_system(
            &mut tx,
            state,
            claimed.org_id,
            "webhook.delivery.refused",
            AuditResult::Denied,
            claimed.subscription_id,
            &details,
        )
        .await?;
    }
    if count.disabled_now {
        let details = json!({"reason": "consecutive_failures", "failures": count.consecutive});
        audit_system(
            &mut tx,
            state,
            claimed.org_id,
            "webhook.disabled",
            AuditResult::Success,
            claimed.subscription_id,
            &details,
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(code) = sent.error {
        tracing::info!(delivery = %claimed.id, attempt = claimed.attempts, error = code, status = ?sent.status_code, "webhook attempt failed");
    }
    Ok(())
}

/// When to try again after failed attempt number `attempt`, or `None` when none is left.
fn next_attempt(state: &AppState, attempt: i32, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let attempt = u32::try_from(attempt).ok()?;
    let jitter = f64::from(Uuid::new_v4().as_bytes()[0]) / 255.0;
    let delay = rules::retry_delay(attempt, state.config.webhooks.retry_base_ms, jitter)?;
    Some(now + delay)
}

async fn send(state: &AppState, claimed: &Claimed) -> Sent {
    let (Ok(url_field), Ok(secret_field), Ok(prev_field)) =
        (url_field(), secret_field(), previous_secret_field())
    else {
        return Sent::failed("internal");
    };
    let Ok(url) = state.secrets.decrypt(&claimed.url, &url_field) else {
        return Sent::failed("secret_unreadable");
    };
    let target = match target::parse(url.expose_secret()) {
        Ok(t) => t,
        Err(e) => return Sent::refused(e.code()),
    };
    if let Err(e) = target::check_allowed(&target, claimed.allowed_hosts.as_deref()) {
        return Sent::refused(e.code());
    }
    let mut secrets = Vec::with_capacity(2);
    for (value, field) in [
        (Some(&claimed.secret), &secret_field),
        (claimed.previous_secret.as_ref(), &prev_field),
    ] {
        let Some(value) = value else { continue };
        let Ok(opened) = state.secrets.decrypt(value, field) else {
            return Sent::failed("secret_unreadable");
        };
        let Ok(secret) = WebhookSecret::parse(opened.expose_secret()) else {
            return Sent::failed("secret_unreadable");
        };
        secrets.push(secret);
    }
    let refs: Vec<&WebhookSecret> = secrets.iter().collect();
    let timestamp = state.clock.unix();
    let Ok(signature) = rules::sign(
        &refs,
        &claimed.msg_id,
        timestamp,
        claimed.payload.as_bytes(),
    ) else {
        return Sent::failed("internal");
    };
    let request = match state
        .webhooks
        .client
        .request(Method::POST, target.url.as_str())
    {
        Ok(r) => r,
        Err(e) => return Sent::refused(TargetError::from(e).code()),
    };
    let request = request
        .header("content-type", "application/json")
        .header("webhook-id", &claimed.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(claimed.payload.clone());
    let mut response = match state.webhooks.client.send(request).await {
        Ok(r) => r,
        Err(e) => {
            let refused = !matches!(e, SsrfError::Transport { .. } | SsrfError::Resolve { .. });
            let code = TargetError::from(e).code();
            return Sent {
                refused,
                ..Sent::failed(code)
            };
        }
    };
    let status = response.status();
    let mut body = Vec::new();
    let mut read_error = false;
    while body.len() < MAX_RESPONSE_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_READ.saturating_sub(body.len());
                body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            }
            Ok(None) => break,
            Err(_) => {
                read_error = true;
                break;
            }
        }
    }
    drop(response);
    let excerpt = (!body.is_empty()).then(|| excerpt(&body));
    let status_code = Some(i32::from(status.as_u16()));
    let error = if !status.is_success() {
        Some(if status.is_redirection() {
            "redirect_refused"
        } else {
            "http_error"
        })
    } else if read_error {
        Some("response_read_failed")
    } else {
        None
    };
    Sent {
        status_code,
        error,
        excerpt,
        refused: status.is_redirection(),
    }
}

/// At most [`MAX_RESPONSE_STORED`] bytes of `body` as text, cut on a character boundary.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(
        body.get(..MAX_RESPONSE_STORED.min(body.len()))
            .unwrap_or_default(),
    );
    let mut end = text.len().min(MAX_RESPONSE_STORED);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    text.get(..end).unwrap_or_default().to_owned()
}

/// Appends a system-initiated webhook event to `org`'s chain inside `tx`.
pub(crate) async fn audit_system(
    tx: &mut crate::store::ScopedTx,
    state: &AppState,
    org: OrgId,
    action: &str,
    result: AuditResult,
    subscription: Uuid,
    details: &serde_json::Value,
) -> Result<(), StoreError> {
    let fail = |e: &dyn std::fmt::Display| StoreError::Audit(e.to_string());
    let now = Timestamp::from_datetime_truncated(state.clock.now()).map_err(|e| fail(&e))?;
    let action = Action::new(action).map_err(|e| fail(&e))?;
    let event = AuditEvent::builder(Actor::System, action, result, InitiatedBy::Integration, now)
        .resource_type("webhook")
        .resource_id(subscription.to_string())
        .details(details)
        .build()
        .map_err(|e| fail(&e))?;
    audit::append(tx, Some(org), event).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_excerpt_is_bounded_and_valid_text() {
        let long = "é".repeat(2000);
        let e = excerpt(long.as_bytes());
        assert!(e.len() <= MAX_RESPONSE_STORED);
        assert!(e.chars().all(|c| c == 'é' || c == '\u{fffd}'));
        assert_eq!(excerpt(b"ok"), "ok");
    }
}
