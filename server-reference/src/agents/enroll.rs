//! Agent enrollment (SPEC 8.1): the order of checks, the refusals and their audit, re-enrollment in place.

use breeze_agent_proto::Message as _;
use breeze_agent_proto::enrollment::*;
use breeze_agent_proto::http::ErrorReason;
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::tenancy::{DeviceId, EnrollmentKeyId, OrgId};
use breeze_crypto::credentials::{AgentId, AgentToken, EnrollmentKey, TokenHash};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::agents::error::AgentError;
use crate::agents::rotation::{TokenSet, wire};
use crate::audit::events::{ClientMeta, event_builder};
use crate::config::Mode;
use crate::state::AppState;
use crate::store::{agents, audit, principal};

/// Audits a refused enrollment (the system chain when the organization is unknown) and
/// returns the refusal.
async fn enroll_refused(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<EnrollmentKeyId>,
    reason: ErrorReason,
    result: AuditResult,
) -> AgentError {
    match audit_enroll_refusal(state, client, org, key_id, reason.as_str(), result).await {
        Ok(()) => AgentError::Reason(reason),
        Err(e) => e,
    }
}

/// Appends one `agent.enroll` refusal with `reason` in its details (the path every
/// enrollment denial takes, so it can be aggregated in one place). Unauthenticated
/// callers reach it: it costs one append and reads nothing from the request body.
async fn audit_enroll_refusal(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<EnrollmentKeyId>,
    reason: &'static str,
    result: AuditResult,
) -> Result<(), AgentError> {
    audit_enroll_refusal_with(state, client, org, key_id, reason, result, Value::Null).await
}

/// [`audit_enroll_refusal`] of a denial before any key was found (rate limit, malformed key):
/// no organization, so the system chain, aggregated per source and minute.
async fn audit_keyless_refusal(
    state: &AppState,
    client: &ClientMeta,
    reason: &'static str,
) -> Result<(), AgentError> {
    audit_enroll_refusal(state, client, None, None, reason, AuditResult::Denied).await
}

/// [`audit_enroll_refusal`] with more details (`extra`, an object, is merged in).
async fn audit_enroll_refusal_with(
    state: &AppState,
    client: &ClientMeta,
    org: Option<OrgId>,
    key_id: Option<EnrollmentKeyId>,
    reason: &'static str,
    result: AuditResult,
    extra: Value,
) -> Result<(), AgentError> {
    // without an organization the refusal goes to the system chain: aggregated per source
    // and minute (crate::audit::failures); the first of a window is written at once
    if org.is_none()
        && !client.first_failure_in_window(
            state,
            crate::audit::failures::Failure {
                action: "agent.enroll",
                reason,
                result,
                resource_type: "enrollment_key",
                error_message: None,
            },
        )
    {
        return Ok(());
    }
    let mut details = if org.is_none() {
        json!({"reason": reason, "count": 1})
    } else {
        json!({"reason": reason})
    };
    if let (Value::Object(extra), Some(d)) = (extra, details.as_object_mut()) {
        d.extend(extra);
    }
    let mut tx = state.store.begin_system("audit refused enrollment").await?;
    let mut builder = event_builder(state, Actor::System, client, "agent.enroll", result)?
        .resource_type("enrollment_key")
        .details(&details);
    if let Some(id) = key_id {
        builder = builder.resource_id(id.to_string());
    }
    let event = builder.build().map_err(AgentError::internal)?;
    audit::append(&mut tx, org, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The audit reason of a malformed enrollment key (answered as the body error it is).
const KEY_MALFORMED: &str = "enrollment_key_malformed";
/// The audit reason of an enrollment refused because the host's device in the site is
/// suspended or quarantined (answered 403 `device_not_authorized`).
pub const DEVICE_HELD: &str = "device_held";

const fn os_name(os: OsType) -> &'static str {
    match os {
        OsType::Windows => "windows",
        OsType::Macos => "macos",
        OsType::Linux => "linux",
    }
}

fn secret_ok(state: &AppState, key_secret: Option<&str>, presented: Option<&str>) -> Option<bool> {
    match (key_secret, &state.config.enrollment_secret) {
        (Some(stored), _) => {
            let Some(p) = presented else {
                return Some(false);
            };
            let Ok(stored) = stored.parse::<TokenHash>() else {
                return Some(false);
            };
            // under any accepted pepper: a pepper roll keeps per-key secrets working
            Some(state.pepper.verify(p, &stored))
        }
        (None, Some(global)) => {
            let Some(p) = presented else {
                return Some(false);
            };
            // the current secret, and during a roll the staged or previous one
            let accepted: Vec<&[u8]> = std::iter::once(global)
                .chain(
                    state
                        .config
                        .rotation
                        .enrollment_secrets
                        .iter()
                        .map(|k| &k.value),
                )
                .map(|s| s.expose_secret().as_bytes())
                .collect();
            Some(breeze_crypto::ct::constant_time_eq_any(
                p.as_bytes(),
                &accepted,
            ))
        }
        // production without any secret refuses enrollment
        (None, None) if state.config.mode == Mode::Production => None,
        (None, None) => Some(true),
    }
}

/// What an enrolling agent presented beside its body: the enrollment secret header and the
/// bearer token of a re-enrollment in place.
#[derive(Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The `x-breeze-enrollment-secret` header, when sent.
    pub secret_header: Option<&'a str>,
    /// The `Authorization: Bearer` token, when sent (the device's current agent token).
    pub bearer: Option<&'a str>,
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("secret_header", &self.secret_header.map(|_| "[REDACTED]"))
            .field("bearer", &self.bearer.map(|_| "[REDACTED]"))
            .finish()
    }
}

/// Enrolls an agent (SPEC 8.1, in its order of checks); every refusal is audited.
///
/// # Errors
/// [`AgentError`] with the reason of the first failed check.
#[expect(
    clippy::too_many_lines,
    reason = "the SPEC 8.1 order reads best as one sequence"
)]
pub async fn enroll(
    state: &AppState,
    client: &ClientMeta,
    presented: Presented<'_>,
    body: &[u8],
) -> Result<EnrollResponse, AgentError> {
    let decision = state.limiter.enrollment_per_ip(client.key()).await;
    if !decision.is_allowed() {
        // audited like every other enrollment denial (issue 15, finding 16), before the
        // body is even decoded
        audit_keyless_refusal(state, client, ErrorReason::RateLimited.as_str()).await?;
        return Err(AgentError::from(crate::error::rate_limited(&decision)));
    }
    let request = match EnrollRequest::decode(body) {
        Ok(r) => r.into_message(),
        Err(e) => {
            // a malformed (or missing) key is a credential failure worth an audit entry;
            // other malformed bodies are not (issue 15, finding 16)
            if e.issues().iter().any(|i| i.path == "enrollmentKey") {
                audit_keyless_refusal(state, client, KEY_MALFORMED).await?;
            }
            return Err(AgentError::decode(&e));
        }
    };
    // the device key (SPEC 17): a valid, strong Ed25519 point, or nothing
    let public_key = match request.public_key.as_deref() {
        None => None,
        Some(k) => Some(
            breeze_crypto::httpsig::DevicePublicKey::from_base64url(k)
                .map_err(|_| {
                    AgentError::Invalid(vec![breeze_agent_proto::issue::Issue::new(
                        "publicKey",
                        breeze_agent_proto::issue::IssueCode::InvalidValue,
                        "not a valid Ed25519 public key",
                    )])
                })?
                .to_base64url(),
        ),
    };
    let key = match EnrollmentKey::parse(request.enrollment_key.expose_secret()) {
        Ok(k) => k,
        Err(_) => {
            audit_keyless_refusal(state, client, KEY_MALFORMED).await?;
            return Err(AgentError::Reason(ErrorReason::EnrollmentKeyNotFound));
        }
    };
    let key_hashes: Vec<String> = key
        .peppered_hashes(&state.pepper)
        .iter()
        .map(TokenHash::to_hex)
        .collect();

    let mut tx = state.store.begin_system("agent enrollment").await?;
    let Some(row) = agents::enrollment_key_by_hash(&mut tx, &key_hashes).await? else {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            None,
            None,
            ErrorReason::EnrollmentKeyNotFound,
            AuditResult::Denied,
        )
        .await);
    };
    let refuse = |reason| (Some(row.org_id), Some(row.id), reason);
    let now = state.clock.now();
    let failure = if row.expires_at <= now {
        Some(refuse(ErrorReason::EnrollmentKeyExpired))
    } else if row.usage_count >= row.max_usage {
        Some(refuse(ErrorReason::EnrollmentKeyExhausted))
    } else {
        let header_secret = presented.secret_header;
        let presented_secret = request
            .enrollment_secret
            .as_ref()
            .map(|s| s.expose_secret())
            .or(header_secret);
        match secret_ok(state, row.secret_hash.as_deref(), presented_secret) {
            None => Some(refuse(ErrorReason::EnrollmentDisabled)),
            Some(false) => Some(refuse(ErrorReason::EnrollmentSecretInvalid)),
            Some(true) => None,
        }
    };
    if let Some((org, key_id, reason)) = failure {
        drop(tx);
        return Err(enroll_refused(state, client, org, key_id, reason, AuditResult::Denied).await);
    }
    let orgs = principal::org_records_for(&mut tx, None, Some(*row.org_id.as_uuid())).await?;
    if !orgs
        .iter()
        .any(|o| o.id == row.org_id && o.is_serviceable())
    {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::TenantInactive,
            AuditResult::Denied,
        )
        .await);
    }

    // an organization that requires device-bound credentials enrolls only agents that
    // bring a key (SPEC 17)
    if public_key.is_none() && agents::org_requires_key(&mut tx, row.org_id).await? {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::SignatureRequired,
            AuditResult::Denied,
        )
        .await);
    }

    // re-enrollment in place: same host name, same site, the device's current token shown
    // (never for a device bound to a key: a copied token must not rebind it; such a host
    // comes back as a new device flagged as a possible replacement)
    let presented_token = presented
        .bearer
        .and_then(|t| AgentToken::parse(t).ok())
        .map(|t| t.hash());
    let candidates = agents::reenroll_candidates(&mut tx, row.site_id, &request.hostname).await?;
    let in_place = presented_token.as_ref().and_then(|h| {
        candidates.iter().find(|c| {
            c.status != "decommissioned"
                && !c.bound
                && c.agent_hash
                    .as_deref()
                    .and_then(|s| s.parse::<TokenHash>().ok())
                    .is_some_and(|stored| h.ct_eq(&stored))
        })
    });
    if in_place.is_some_and(|c| c.suspended) {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::TokenSuspended,
            AuditResult::Denied,
        )
        .await);
    }
    // A host whose device in this site is suspended or quarantined cannot come back as a
    // new device (issue 15, finding 3: a multi-use key would otherwise bypass both): after
    // the tenant check, before the device limit. Refused as the device itself would be
    // (403 `device_not_authorized`), audited with reason `device_held`; an admin lifts
    // the suspension or the quarantine first.
    if let Some(held) = agents::held_device(&mut tx, row.site_id, &request.hostname).await? {
        drop(tx);
        let extra = json!({
            "heldDeviceId": held.device_id.to_string(),
            "held": if held.suspended { "suspended" } else { "quarantined" },
            "hostname": request.hostname,
        });
        audit_enroll_refusal_with(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            DEVICE_HELD,
            AuditResult::Denied,
            extra,
        )
        .await?;
        return Err(AgentError::Reason(ErrorReason::DeviceNotAuthorized));
    }
    // The partner row is locked for the rest of this transaction before its devices are
    // counted, so concurrent enrollments of one partner count one after the other and
    // never exceed the limit together (issue 15, finding 16); the limit is read under the
    // lock too.
    if in_place.is_none()
        && row.partner_max_devices.is_some()
        && let Some(max) = agents::lock_partner_limit(&mut tx, row.partner_id).await?
        && agents::partner_device_count(&mut tx, row.partner_id).await? >= i64::from(max)
    {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::DeviceLimitReached,
            AuditResult::Denied,
        )
        .await);
    }

    let tokens = TokenSet::generate()?;
    let (device_id, agent_id, replaced) = match in_place {
        Some(c) => (c.device_id, c.agent_id.clone(), None),
        None => (
            DeviceId::new_random(),
            AgentId::generate()
                .map_err(AgentError::internal)?
                .as_str()
                .to_owned(),
            candidates
                .iter()
                .find(|c| c.status != "decommissioned")
                .map(|c| c.device_id),
        ),
    };
    let device = agents::EnrolledDevice {
        id: device_id,
        org_id: row.org_id,
        site_id: row.site_id,
        agent_id: agent_id.clone(),
        hostname: request.hostname.clone(),
        os_type: os_name(request.os_type),
        os_version: request.os_version.clone(),
        architecture: request.architecture.clone(),
        agent_version: request.agent_version.clone(),
        possible_replacement_of: replaced,
    };
    if in_place.is_some() {
        agents::update_device_in_place(&mut tx, &device).await?;
    } else {
        agents::insert_device(&mut tx, &device).await?;
    }
    agents::set_credentials(
        &mut tx,
        device_id,
        row.org_id,
        &tokens.hashes(),
        public_key.as_deref(),
    )
    .await?;
    if !agents::claim_key_use(&mut tx, row.id).await? {
        drop(tx);
        return Err(enroll_refused(
            state,
            client,
            Some(row.org_id),
            Some(row.id),
            ErrorReason::EnrollmentKeyRaceLost,
            AuditResult::Failure,
        )
        .await);
    }
    let event = event_builder(
        state,
        Actor::Agent(device_id),
        client,
        "agent.enroll",
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(device_id.to_string())
    .details(&json!({
        "enrollmentKeyId": row.id,
        "siteId": row.site_id.to_string(),
        "hostname": request.hostname,
        "reenrolledInPlace": in_place.is_some(),
        "keyBound": public_key.is_some(),
        "possibleReplacementOf": replaced.map(|d| d.to_string()),
    }))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(row.org_id), event).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(device_id);

    let response = EnrollResponse {
        agent_id: breeze_agent_proto::AgentId::parse(&agent_id).map_err(AgentError::internal)?,
        device_id,
        auth_token: wire(&tokens.agent)?,
        watchdog_auth_token: wire(&tokens.watchdog)?,
        helper_auth_token: wire(&tokens.helper)?,
        org_id: row.org_id,
        site_id: row.site_id,
        config: AgentConfig::default(),
        protocol_version: None,
    };
    Ok(response)
}
