//! The remote session service (SPEC 12): creating a session under the caps, issuing a
//! ticket, opening the browser's socket from a ticket, the re-checks of a live session, its
//! end with the recording's digest sealed in the audit chain, and replay.
//!
//! Order of checks when a browser socket opens: ticket format -> atomic consumption
//! (unknown, replayed) -> session named by the URL -> expiry -> client IP -> User-Agent
//! hash -> the login session the ticket was issued under, judged as a request would be
//! (revocations, user state, resolved access, `remote:access`, MFA) -> the session is the
//! user's (or a system-scope admin's) and reachable in their context -> the device is
//! serviceable -> connect (pending, not past its deadline, not revoked) and take the lease.
//! Every ticket refusal is audited `remote.ticket.rejected` with the reason, never the ticket.

use breeze_core::audit::AuditResult;
use breeze_core::tenancy::{DeviceId, OrgId};
use breeze_crypto::envelope::Field;
use breeze_crypto::jwt::Claims;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::events::ClientMeta;
use crate::error::ApiError;
use crate::http::authn::{Authed, authenticate_claims};
use crate::http::route::{Access, RouteMeta};
use crate::remote::recording::Recorder;
use crate::remote::refusals::{Rejection, reject};
use crate::remote::ticket::{Ticket, same_hash, user_agent_hash};
use crate::state::AppState;
use crate::store::commands::{self, DeviceTarget};
use crate::store::remote::{self as store, Consumed, EndFacts, NewSession, NewTicket, SessionRow};
use crate::store::{ScopedTx, audit};

/// Live sessions per organization (SPEC 12).
pub const ORG_CAP: i64 = 10;
/// Live sessions per user (SPEC 12).
pub const USER_CAP: i64 = 5;
/// Seconds a session may stay unconnected (SPEC 12: 5 min).
pub const CONNECT_WITHIN_SECS: i64 = 300;
/// Seconds a ticket is valid (SPEC 12: 60 s).
pub const TICKET_TTL_SECS: i64 = 60;
/// The permission a terminal needs.
pub const PERMISSION: &str = "remote:access";
/// The route the socket is judged as (its access is re-checked on every tick).
pub const SOCKET_META: RouteMeta = RouteMeta {
    method: "GET",
    path: "/api/v1/remote-sessions/{sessionId}/ws",
    access: Access::Permission(PERMISSION),
    summary: "remote session socket",
    mfa: true,
};

pub(crate) fn transcript_field() -> Result<Field, ApiError> {
    Field::new("remote_sessions", "transcript").map_err(ApiError::internal)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether `authed` may act on `session` (its owner, or a system-scope admin).
fn may_act(authed: &Authed, session: &SessionRow) -> bool {
    authed.user_id() == Some(session.user_id)
        || authed.ctx.scope() == breeze_authz::role::RoleScope::System
}

/// The device in the context's reach (RLS and the Rust site check): 404 outside it.
async fn reachable_device(tx: &mut ScopedTx, device: DeviceId) -> Result<DeviceTarget, ApiError> {
    commands::device_in_reach(tx, device)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The session as `authed` may see it: 404 when it does not exist, is out of reach, or is
/// another user's (whose existence is not revealed).
async fn own_session(tx: &mut ScopedTx, authed: &Authed, id: Uuid) -> Result<SessionRow, ApiError> {
    let session = store::get(tx, id).await?.ok_or(ApiError::NotFound)?;
    if !authed.ctx.can_access_site(session.org_id, session.site_id) || !may_act(authed, &session) {
        return Err(ApiError::NotFound);
    }
    Ok(session)
}

fn serviceable(device: &DeviceTarget) -> Result<(), ApiError> {
    if device.status == "quarantined" || device.status == "decommissioned" {
        return Err(ApiError::Conflict("device_not_available"));
    }
    Ok(())
}

async fn audit_swept(
    state: &AppState,
    authed: &Authed,
    tx: &mut ScopedTx,
    org: OrgId,
    swept: Vec<store::Swept>,
) -> Result<(), ApiError> {
    for s in swept {
        let event = authed
            .event(state, "remote.session.ended", AuditResult::Success)?
            .resource_type("remote_session")
            .resource_id(s.id.to_string())
            .details(&json!({
                "deviceId": s.device_id.to_string(),
                "ownerId": s.user_id.to_string(),
                "bytesIn": null,
                "bytesOut": null,
                "durationMs": null,
                // the replica that held it is gone: what it recorded was never sealed
                "transcriptSha256": null,
                "truncated": true,
                "reason": s.end_reason,
            }))
            .build()
            .map_err(ApiError::internal)?;
        audit::append(tx, Some(org), event).await?;
    }
    Ok(())
}

/// Creates a pending terminal session on `device` for the calling user, under the
/// organization (10) and user (5) caps, which hold across replicas (an advisory lock per
/// organization serializes the count and the insert).
///
/// # Errors
/// 404 for a device out of reach; 409 `device_not_available`, `remote_session_limit_org`,
/// `remote_session_limit_user`.
pub async fn create(
    state: &AppState,
    authed: &Authed,
    device: DeviceId,
    cols: u16,
    rows: u16,
) -> Result<SessionRow, ApiError> {
    let user = authed.user_id().ok_or(ApiError::Forbidden("users_only"))?;
    let mut tx = authed.begin(state).await?;
    let target = reachable_device(&mut tx, device).await?;
    serviceable(&target)?;
    store::lock_org(&mut tx, target.org_id).await?;
    let swept = store::sweep(&mut tx, target.org_id).await?;
    audit_swept(state, authed, &mut tx, target.org_id, swept).await?;
    let (org_live, user_live) = store::live_counts(&mut tx, target.org_id, user).await?;
    if org_live >= ORG_CAP {
        return Err(ApiError::Conflict("remote_session_limit_org"));
    }
    if user_live >= USER_CAP {
        return Err(ApiError::Conflict("remote_session_limit_user"));
    }
    let session = store::insert(
        &mut tx,
        &NewSession {
            id: Uuid::new_v4(),
            org_id: target.org_id,
            site_id: target.site_id,
            device_id: target.id,
            user_id: user,
            cols,
            rows,
            connect_within_secs: CONNECT_WITHIN_SECS,
        },
    )
    .await?;
    let event = authed
        .event(state, "remote.session.created", AuditResult::Success)?
        .resource_type("remote_session")
        .resource_id(session.id.to_string())
        .details(&json!({"deviceId": target.id.to_string(), "type": "terminal"}))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(target.org_id), event).await?;
    store::purge_tickets(&mut tx, target.org_id).await?;
    tx.commit().await?;
    Ok(session)
}

/// One session of the caller's.
///
/// # Errors
/// 404 when it is not theirs to see.
pub async fn get(state: &AppState, authed: &Authed, id: Uuid) -> Result<SessionRow, ApiError> {
    let mut tx = authed.begin(state).await?;
    own_session(&mut tx, authed, id).await
}

/// Issues a one-time ticket for a pending session of the caller's, bound to them, their
/// login session, their IP and User-Agent. Returns the ticket (shown once) and its expiry.
///
/// # Errors
/// 404; 409 `session_not_pending`; 403 `users_only`.
pub async fn issue_ticket(
    state: &AppState,
    authed: &Authed,
    id: Uuid,
) -> Result<(Ticket, String), ApiError> {
    let session_facts = authed.session().ok_or(ApiError::Forbidden("users_only"))?;
    let family = session_facts
        .claims
        .sid
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    let claims = serde_json::to_value(&session_facts.claims).map_err(ApiError::internal)?;
    let mut tx = authed.begin(state).await?;
    let session = own_session(&mut tx, authed, id).await?;
    if session.status != "pending" || session.revoked || session.connect_by <= state.clock.now() {
        return Err(ApiError::Conflict("session_not_pending"));
    }
    let ticket = Ticket::generate().map_err(ApiError::internal)?;
    let expires = store::insert_ticket(
        &mut tx,
        &NewTicket {
            hash: ticket.hash(),
            session_id: session.id,
            org_id: session.org_id,
            site_id: session.site_id,
            user_id: session.user_id,
            family_id: family,
            client_ip: authed.client.ip,
            ua_hash: user_agent_hash(authed.client.user_agent.as_deref()),
            claims,
            ttl_secs: TICKET_TTL_SECS,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((ticket, rfc3339(expires)))
}

/// A browser socket that may open: who, which session, under which claims.
#[derive(Debug)]
pub struct Opened {
    /// The user, authenticated from the ticket's login session.
    pub authed: Authed,
    /// The session, now connected with this replica's lease.
    pub session: SessionRow,
    /// The claims the socket is re-judged under on every tick.
    pub claims: Claims,
    /// Idle timeout in effect (the organization's when tighter than the server's).
    pub idle_secs: u64,
    /// Maximum duration in effect (likewise).
    pub max_secs: u64,
}

/// The limit in effect: the organization's own value can only tighten the server's.
#[must_use]
pub fn effective(server: u64, org: Option<i32>) -> u64 {
    org.and_then(|v| u64::try_from(v).ok())
        .map_or(server, |o| o.min(server))
}

/// Opens a browser socket from a ticket (the order of checks is in the module docs).
///
/// # Errors
/// 401 `ticket_rejected` (audited), the request's own 401/403 codes for the login session,
/// 404, 409 `device_not_available` / `session_not_pending`.
pub async fn open(
    state: &AppState,
    session_id: Uuid,
    subprotocols: Option<&str>,
    client: ClientMeta,
) -> Result<Opened, ApiError> {
    let Ok(ticket) = Ticket::from_subprotocols(subprotocols.unwrap_or_default()) else {
        return Err(reject(state, &client, None, None, session_id, Rejection::Malformed).await);
    };
    let mut tx = state.store.begin_system("consume remote ticket").await?;
    let consumed = store::consume_ticket(&mut tx, &ticket.hash()).await?;
    tx.commit().await?;
    let row = match consumed {
        Consumed::Unknown => {
            return Err(reject(state, &client, None, None, session_id, Rejection::Unknown).await);
        }
        Consumed::Replayed(row) => {
            let (org, user) = (Some(row.org_id), Some(row.user_id));
            return Err(reject(state, &client, org, user, session_id, Rejection::Replayed).await);
        }
        Consumed::Fresh(row) => row,
    };
    let why = if row.session_id != session_id {
        Some(Rejection::SessionMismatch)
    } else if row.expired {
        Some(Rejection::Expired)
    } else if row.client_ip != client.ip.to_string() {
        Some(Rejection::IpMismatch)
    } else if !same_hash(&row.ua_hash, &user_agent_hash(client.user_agent.as_deref())) {
        Some(Rejection::UserAgentMismatch)
    } else {
        None
    };
    if let Some(why) = why {
        let (org, user) = (Some(row.org_id), Some(row.user_id));
        return Err(reject(state, &client, org, user, session_id, why).await);
    }
    let claims: Claims = serde_json::from_value(row.claims).map_err(ApiError::internal)?;
    if claims.sid != Some(row.family_id) || claims.sub != *row.user_id.as_uuid() {
        let (org, user) = (Some(row.org_id), Some(row.user_id));
        return Err(reject(
            state,
            &client,
            org,
            user,
            session_id,
            Rejection::ClaimsMismatch,
        )
        .await);
    }
    let authed = authenticate_claims(
        state,
        &SOCKET_META,
        SOCKET_META.path,
        claims.clone(),
        client,
    )
    .await?;
    let mut tx = authed.begin(state).await?;
    let session = own_session(&mut tx, &authed, session_id).await?;
    if session.user_id != row.user_id {
        return Err(ApiError::NotFound);
    }
    let device = reachable_device(&mut tx, session.device_id).await?;
    serviceable(&device)?;
    let limits = store::org_limits(&mut tx, session.org_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let lease = lease_secs(state);
    if !store::connect(&mut tx, session.id, state.relay.replica(), lease).await? {
        return Err(ApiError::Conflict("session_not_pending"));
    }
    let event = authed
        .event(state, "remote.session.connected", AuditResult::Success)?
        .resource_type("remote_session")
        .resource_id(session.id.to_string())
        .details(&json!({"deviceId": session.device_id.to_string()}))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(session.org_id), event).await?;
    tx.commit().await?;
    let remote = state.config.remote;
    Ok(Opened {
        authed,
        session,
        claims,
        idle_secs: effective(remote.idle_secs, limits.remote_idle_secs),
        max_secs: effective(remote.max_secs, limits.remote_max_secs),
    })
}

/// Seconds of a lease: three ping ticks.
#[must_use]
pub fn lease_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.remote.ping_secs.saturating_mul(3)).unwrap_or(90)
}

/// What a re-check decided for a live socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Keep,
    /// Close both ends with 4003 (user, login session, permission, session revoked; device
    /// quarantined), with the reason recorded.
    Revoked(&'static str),
    /// Close both ends with 4040 (the device moved or was decommissioned).
    Reconnect(&'static str),
}

/// Re-checks a live session on a ping tick: the login session (as a request would be
/// judged), the lease (renewed; lost or revoked ends it), the device. A database that cannot
/// answer keeps the session until the next tick; a lease not renewed within three ticks
/// lapses and any replica may end it.
pub async fn recheck(state: &AppState, opened: &Opened) -> Verdict {
    let authed = match authenticate_claims(
        state,
        &SOCKET_META,
        SOCKET_META.path,
        opened.claims.clone(),
        opened.authed.client.clone(),
    )
    .await
    {
        Ok(a) => a,
        Err(ApiError::Unavailable | ApiError::Internal(_)) => return Verdict::Keep,
        Err(_) => return Verdict::Revoked("user_revoked"),
    };
    let checked = async {
        let mut tx = authed.begin(state).await?;
        let renewed = store::renew(
            &mut tx,
            opened.session.id,
            state.relay.replica(),
            lease_secs(state),
        )
        .await?;
        let device = commands::device_target(&mut tx, opened.session.device_id).await?;
        tx.commit().await?;
        Ok::<_, ApiError>((renewed, device))
    }
    .await;
    let Ok((renewed, device)) = checked else {
        return Verdict::Keep;
    };
    match renewed {
        None => return Verdict::Revoked("lease_lost"),
        Some(true) => return Verdict::Revoked("ended_by_user"),
        Some(false) => {}
    }
    let Some(device) = device else {
        return Verdict::Reconnect("device_moved");
    };
    if device.status == "quarantined" {
        return Verdict::Revoked("device_quarantined");
    }
    if device.status == "decommissioned" {
        return Verdict::Reconnect("device_decommissioned");
    }
    if device.org_id != opened.session.org_id
        || device.site_id != opened.session.site_id
        || !authed.ctx.can_access_site(device.org_id, device.site_id)
    {
        return Verdict::Reconnect("device_moved");
    }
    Verdict::Keep
}

/// Counters of a finished session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Input bytes.
    pub bytes_in: u64,
    /// Output bytes.
    pub bytes_out: u64,
    /// Milliseconds connected.
    pub duration_ms: u64,
}

/// Ends a live session: the rest of the recording stored, the row ended, and
/// `remote.session.ended {bytesIn, bytesOut, durationMs, transcriptSha256, truncated}` sealed
/// in the organization's chain, in one transaction.
///
/// # Errors
/// [`ApiError`] on encryption or database failure.
pub async fn finish(
    state: &AppState,
    opened: &Opened,
    recorder: &mut Recorder,
    totals: Totals,
    reason: &'static str,
) -> Result<(), ApiError> {
    let rest = recorder.take_rest();
    let field = transcript_field()?;
    let sha = recorder.sha256();
    let mut tx = opened.authed.begin(state).await?;
    if let Some(chunk) = rest {
        let envelope = state
            .secrets
            .encrypt(&chunk.text, &field)
            .map_err(ApiError::internal)?;
        store::append_chunk(&mut tx, &opened.session, chunk.seq, &envelope).await?;
    }
    let facts = EndFacts {
        reason,
        bytes_in: i64::try_from(totals.bytes_in).unwrap_or(i64::MAX),
        bytes_out: i64::try_from(totals.bytes_out).unwrap_or(i64::MAX),
        transcript_bytes: i64::try_from(recorder.bytes()).unwrap_or(i64::MAX),
        transcript_sha256: sha.clone(),
        truncated: recorder.truncated(),
    };
    if !store::end(&mut tx, opened.session.id, &facts).await? {
        // ended elsewhere (a sweep after a lapsed lease): nothing more to seal here
        return Ok(());
    }
    let event = opened
        .authed
        .event(state, "remote.session.ended", AuditResult::Success)?
        .resource_type("remote_session")
        .resource_id(opened.session.id.to_string())
        .details(&json!({
            "deviceId": opened.session.device_id.to_string(),
            "bytesIn": totals.bytes_in,
            "bytesOut": totals.bytes_out,
            "durationMs": totals.duration_ms,
            "transcriptSha256": sha,
            "transcriptBytes": recorder.bytes(),
            "truncated": recorder.truncated(),
            "reason": reason,
        }))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(opened.session.org_id), event).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a session by request (`DELETE`): a pending one at once; a connected one is flagged
/// and its replica is told to close both ends (and on its next tick at the latest).
///
/// # Errors
/// 404 when it is not the caller's.
pub async fn end_by_request(state: &AppState, authed: &Authed, id: Uuid) -> Result<(), ApiError> {
    let mut tx = authed.begin(state).await?;
    let session = own_session(&mut tx, authed, id).await?;
    let revoked = store::revoke(&mut tx, session.id).await?;
    if revoked == store::Revoked::Ended {
        let event = authed
            .event(state, "remote.session.ended", AuditResult::Success)?
            .resource_type("remote_session")
            .resource_id(session.id.to_string())
            .details(&json!({
                "deviceId": session.device_id.to_string(),
                // never connected: nothing was typed, shown or recorded
                "bytesIn": 0,
                "bytesOut": 0,
                "durationMs": 0,
                "transcriptSha256": null,
                "truncated": false,
                "reason": "ended_by_user",
            }))
            .build()
            .map_err(ApiError::internal)?;
        audit::append(&mut tx, Some(session.org_id), event).await?;
    }
    tx.commit().await?;
    if revoked == store::Revoked::Flagged {
        state
            .relay
            .ensure_started(state)
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let _ = state
            .relay
            .to_viewer(session.id, crate::remote::relay::ToViewer::End);
    }
    Ok(())
}

/// An organization's remote session settings: its own values and those in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgSettings {
    /// The organization's idle timeout (`None`: the server's).
    pub idle_secs: Option<i32>,
    /// The organization's maximum duration (`None`: the server's).
    pub max_secs: Option<i32>,
    /// Idle timeout in effect.
    pub effective_idle_secs: u64,
    /// Maximum duration in effect.
    pub effective_max_secs: u64,
}

fn settings_of(state: &AppState, limits: store::OrgLimits) -> OrgSettings {
    let remote = state.config.remote;
    OrgSettings {
        idle_secs: limits.remote_idle_secs,
        max_secs: limits.remote_max_secs,
        effective_idle_secs: effective(remote.idle_secs, limits.remote_idle_secs),
        effective_max_secs: effective(remote.max_secs, limits.remote_max_secs),
    }
}

/// The remote session settings of organization `org`.
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn org_settings(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
) -> Result<OrgSettings, ApiError> {
    if !authed.ctx.can_access_org(org) {
        return Err(ApiError::NotFound);
    }
    let mut tx = authed.begin(state).await?;
    let limits = store::org_limits(&mut tx, org)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(settings_of(state, limits))
}

/// Sets organization `org`'s own idle timeout and maximum duration (each 10 s up to 4 h /
/// 24 h, or `None` for the server's); audited `organization.remote_settings.change` with the
/// old and new values.
///
/// # Errors
/// 404 outside the caller's reach.
pub async fn set_org_settings(
    state: &AppState,
    authed: &Authed,
    org: OrgId,
    idle_secs: Option<i32>,
    max_secs: Option<i32>,
) -> Result<OrgSettings, ApiError> {
    if !authed.ctx.can_access_org(org) {
        return Err(ApiError::NotFound);
    }
    let mut tx = authed.begin(state).await?;
    let before = store::org_limits(&mut tx, org)
        .await?
        .ok_or(ApiError::NotFound)?;
    let after = store::set_org_limits(
        &mut tx,
        org,
        store::OrgLimits {
            remote_idle_secs: idle_secs,
            remote_max_secs: max_secs,
        },
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    let event = authed
        .event(
            state,
            "organization.remote_settings.change",
            AuditResult::Success,
        )?
        .resource_type("organization")
        .resource_id(org.to_string())
        .details(&json!({
            "from": {"idleSecs": before.remote_idle_secs, "maxSecs": before.remote_max_secs},
            "to": {"idleSecs": after.remote_idle_secs, "maxSecs": after.remote_max_secs},
        }))
        .build()
        .map_err(ApiError::internal)?;
    audit::append(&mut tx, Some(org), event).await?;
    tx.commit().await?;
    Ok(settings_of(state, after))
}

#[cfg(test)]
mod tests {
    use super::effective;

    #[test]
    fn an_organization_can_only_tighten_the_server_limit() {
        assert_eq!(effective(900, None), 900);
        assert_eq!(effective(900, Some(60)), 60);
        assert_eq!(effective(900, Some(3600)), 900);
        assert_eq!(effective(900, Some(-5)), 900);
    }
}
