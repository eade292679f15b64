//! Proof of possession for agent requests (SPEC 17): a device bound to an Ed25519 key must
//! sign every request and its WebSocket upgrade (RFC 9421, `breeze_crypto::httpsig`'s
//! profile); its bearer token alone is refused.
//!
//! Where it sits in the agent-auth order (SPEC 8.2): after the token matched and the
//! device's status was checked, and after the per device+IP limit (so a stolen token
//! presented from elsewhere spends only that address's budget), but before the source-IP
//! change is recorded (a thief's address never becomes the device's). In order:
//!
//! 1. device bound: the signature (label `sig1`, `keyid` = the agent id, created within
//!    5 minutes, 30 s skew; content digest of the body), then its nonce, which must not
//!    have been seen for this device on any replica (Redis `SET NX`, kept for the window);
//! 2. device not bound, organization requires binding: refused, except the one-time key
//!    registration;
//! 3. otherwise the bearer token is enough (a signature on such a request is ignored).
//!
//! Each refusal is audited `agent.auth.signature_invalid` (denied) with its code and
//! answered 401 `signature_required` (no signature, or binding required) or
//! `signature_invalid` (anything else; the detailed code is only in the audit log).

use breeze_agent_proto::http::ErrorReason;
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::revocation::NonceUse;
use breeze_core::tenancy::{DeviceId, OrgId};
use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, RequestParts, VerifyPolicy};
use breeze_crypto::httpsig::{DevicePublicKey, SignatureError};
use serde_json::json;

use crate::agents::error::AgentError;
use crate::audit::events::{ClientMeta, event_builder};
use crate::state::AppState;
use crate::store::{agents, audit};

/// The audit action of a refused proof.
pub const REFUSED_ACTION: &str = "agent.auth.signature_invalid";
/// Code of a bearer-only request of an unbound device whose organization requires binding.
pub const KEY_REQUIRED: &str = "agent_key_required";
/// Code of a replayed nonce.
pub const REPLAYED: &str = "signature_replayed";

/// What a request presents for the proof.
#[derive(Debug, Clone, Copy)]
pub struct Proof<'a> {
    /// The method.
    pub method: &'a str,
    /// The request path (for the audit entry of a refusal).
    pub path: &'a str,
    /// The target URI as the server received it (`scheme://authority/path?query`).
    pub target_uri: &'a str,
    /// The body (empty when the request carries no signature: it is not read then).
    pub body: &'a [u8],
    /// `Signature-Input`, `Signature`, `Content-Digest`.
    pub headers: ReceivedHeaders<'a>,
    /// The request is the one-time key registration (`POST .../key`).
    pub registering: bool,
}

impl Proof<'_> {
    /// Whether the request carries a signature at all.
    #[must_use]
    pub const fn is_signed(&self) -> bool {
        self.headers.signature_input.is_some() || self.headers.signature.is_some()
    }
}

/// A refusal: its audit code and its agent-facing reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Audit code (`signature_expired`, `agent_key_required`, ...).
    pub code: &'static str,
    /// Agent-facing reason.
    pub reason: ErrorReason,
}

impl From<SignatureError> for Refusal {
    fn from(e: SignatureError) -> Self {
        Self {
            code: e.code(),
            reason: if e == SignatureError::Missing {
                ErrorReason::SignatureRequired
            } else {
                ErrorReason::SignatureInvalid
            },
        }
    }
}

/// The decision without side effects: the verified nonce of a bound device's request,
/// `None` when the device is not bound and the bearer token is enough.
///
/// # Errors
/// The [`Refusal`] of the first failed step.
pub fn decide(
    row: &agents::AgentAuthRow,
    agent_id: &str,
    proof: &Proof<'_>,
    now: i64,
) -> Result<Option<String>, Refusal> {
    let Some(key) = &row.public_key else {
        if row.require_key && !proof.registering {
            return Err(Refusal {
                code: KEY_REQUIRED,
                reason: ErrorReason::SignatureRequired,
            });
        }
        return Ok(None);
    };
    verify_with(key, profile::REQUEST_LABEL, agent_id, proof, now)
        .map(|v| Some(v.nonce))
        .map_err(Refusal::from)
}

/// Verifies signature `label` of `proof` with `key`.
///
/// # Errors
/// The [`SignatureError`] of the first failed check.
pub fn verify_with(
    key: &DevicePublicKey,
    label: &str,
    agent_id: &str,
    proof: &Proof<'_>,
    now: i64,
) -> Result<profile::Verified, SignatureError> {
    profile::verify_request(
        key,
        &RequestParts {
            method: proof.method,
            target_uri: proof.target_uri,
            body: proof.body,
        },
        &proof.headers,
        &VerifyPolicy::new(label, agent_id, now),
    )
}

/// Takes the nonce of a verified request for `device` (every replica shares the cache when
/// Redis is configured).
///
/// # Errors
/// The replay refusal; [`AgentError::Unavailable`] when the cache cannot answer.
pub async fn take_nonce(
    state: &AppState,
    device: &str,
    nonce: &str,
) -> Result<Result<(), Refusal>, AgentError> {
    let ttl = std::time::Duration::from_secs(profile::NONCE_TTL_SECS.unsigned_abs());
    match state.revocation.accept_nonce(device, nonce, ttl).await {
        NonceUse::Fresh => Ok(Ok(())),
        NonceUse::Replayed => Ok(Err(Refusal {
            code: REPLAYED,
            reason: ErrorReason::SignatureInvalid,
        })),
        NonceUse::Unavailable => Err(AgentError::Unavailable),
    }
}

/// The device a refusal is audited for.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// The device.
    pub device_id: DeviceId,
    /// Its organization (the chain the refusal goes to).
    pub org_id: OrgId,
    /// Whether it is bound to a key.
    pub bound: bool,
}

impl From<&agents::AgentAuthRow> for Subject {
    fn from(row: &agents::AgentAuthRow) -> Self {
        Self {
            device_id: row.device_id,
            org_id: row.org_id,
            bound: row.public_key.is_some(),
        }
    }
}

/// Audits a refused proof and turns it into the agent's error.
///
/// # Errors
/// Always: the refusal's [`AgentError`], or the audit write's failure.
pub async fn refuse(
    state: &AppState,
    row: impl Into<Subject>,
    client: &ClientMeta,
    proof: &Proof<'_>,
    refusal: Refusal,
) -> AgentError {
    let row: Subject = row.into();
    let written = async {
        let mut tx = state.store.begin_system("agent signature refusal").await?;
        let event = event_builder(
            state,
            Actor::Agent(row.device_id),
            client,
            REFUSED_ACTION,
            AuditResult::Denied,
        )?
        .resource_type("device")
        .resource_id(row.device_id.to_string())
        .details(&json!({
            "code": refusal.code,
            "method": proof.method,
            "path": proof.path.chars().take(200).collect::<String>(),
            "signed": proof.is_signed(),
            "bound": row.bound,
        }))
        .build()
        .map_err(AgentError::internal)?;
        audit::append(&mut tx, Some(row.org_id), event).await?;
        tx.commit().await?;
        Ok::<(), AgentError>(())
    }
    .await;
    match written {
        Ok(()) => AgentError::Reason(refusal.reason),
        Err(e) => e,
    }
}
