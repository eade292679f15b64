//! Agent authentication (SPEC 8.2) for every `/api/v1/agents/{agentId}/*` route declared
//! `Access::Agent` and for the agent WebSocket.
//!
//! Order: bearer `brz_` format -> device by agent id -> token suspended -> credentials
//! missing (`re_enrollment_required`) -> current, pending (unexpired), previous (in grace)
//! hash for the agent role, then the watchdog role (constant-time) -> decommissioned or
//! quarantined: 403 -> per device+IP limit -> proof of possession for a bound device
//! (SPEC 17, see [`crate::agents::binding`]) -> source-IP change (audited, de-duplicated per
//! device+IP for 24 h; a device's first address on the heartbeat route is written by the
//! heartbeat's batch instead, see [`Sighting`]) -> per-agent limit -> per-organization
//! limit -> tenant state (`offboarding` keeps the HTTP agent routes, not the WebSocket) ->
//! the response carries `x-token-rotation-required: true` when the previous token was used.
//!
//! Agent-facing errors are `HttpErrorBody`s (`{"error", "code", "message"}`) so the
//! agent can act on the reason. The lookups run in a short system-scope transaction closed
//! before the handler opens the agent's own (organization scope, its site only).

use breeze_agent_proto::http::ErrorReason;
use breeze_authz::access::{AccessContext, Principal, resolve};
use breeze_core::audit::{Actor, AuditResult};
use breeze_core::ratelimit::AgentRequestClass;
use breeze_core::tenancy::{DeviceId, OrgId, OrgStatus, PartnerId, SiteId};
use breeze_crypto::credentials::{AgentToken, TokenHash};
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::agents::binding::{self, Proof};
use crate::agents::error::AgentError;
use crate::audit::events::{ClientMeta, event_builder};
use crate::state::AppState;
use crate::store::{agents, audit};

/// Which role's token authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    /// The agent.
    Agent,
    /// The watchdog.
    Watchdog,
}

/// Which generation of the role's token matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenGeneration {
    /// The current token.
    Current,
    /// The staged token of a rotation (unexpired).
    Pending,
    /// The previous token, inside its grace window.
    Previous,
}

/// Where the agent is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// An HTTP agent route (heartbeat, results, rotation).
    Http,
    /// The WebSocket (agent role only, tenant must be active).
    WebSocket,
}

/// When a device's first source address is recorded (SPEC 11, group commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// In its own transaction during authentication (every route but the heartbeat).
    Immediate,
    /// A first sighting (no address known yet) goes into the heartbeat's batch, in the same
    /// transaction as the heartbeat; any address change is still recorded and audited
    /// during authentication, and a first sighting of a refused request is recorded there.
    WithHeartbeat,
}

/// A device's first source address, not yet recorded: the heartbeat carries it into its
/// batch ([`crate::agents::heartbeat::process_heartbeat`]) or, when the heartbeat does not
/// reach a batch, records it on its own ([`record_first_sighting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSighting(pub String);

/// An authenticated agent (request extension of [`Access::Agent`] routes).
///
/// [`Access::Agent`]: crate::http::route::Access::Agent
#[derive(Debug, Clone)]
pub struct AgentAuthed {
    /// Public agent id.
    pub agent_id: String,
    /// Device.
    pub device_id: DeviceId,
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Partner of the organization.
    pub partner_id: PartnerId,
    /// Access context (organization scope, the device's site only).
    pub ctx: AccessContext,
    /// Role of the token.
    pub role: TokenRole,
    /// Generation of the token.
    pub generation: TokenGeneration,
    /// Hash of the presented token (hex).
    pub presented_hash: String,
    /// Rotation is due.
    pub rotation_due: bool,
    /// A rotation is staged.
    pub rotation_pending: bool,
    /// Client.
    pub client: ClientMeta,
    /// The device is bound to a key and this request was signed with it (SPEC 17).
    pub bound: bool,
    /// The device's key when bound.
    pub public_key: Option<breeze_crypto::httpsig::DevicePublicKey>,
    /// The first source address of the device, left for the heartbeat's batch to record
    /// (only with [`Sighting::WithHeartbeat`]).
    pub first_sighting: Option<FirstSighting>,
}

impl AgentAuthed {
    /// The audit actor.
    #[must_use]
    pub const fn actor(&self) -> Actor {
        Actor::Agent(self.device_id)
    }

    /// Opens a transaction in the agent's own context (its organization, its device's site
    /// only): the one way the agent service gets its transaction.
    ///
    /// # Errors
    /// [`crate::store::StoreError`] when PostgreSQL is unreachable.
    pub async fn begin(
        &self,
        state: &AppState,
    ) -> crate::store::StoreResult<crate::store::ScopedTx> {
        state.store.begin(&self.ctx).await
    }
}

fn ct_match(presented: &TokenHash, stored: Option<&String>) -> bool {
    stored
        .and_then(|s| s.parse::<TokenHash>().ok())
        .is_some_and(|h| presented.ct_eq(&h))
}

/// `Ok` when `decision` allows; 429 when it refuses; 503 when the limiter is unavailable.
pub(crate) fn rate(decision: &breeze_core::ratelimit::RateDecision) -> Result<(), AgentError> {
    if decision.is_allowed() {
        return Ok(());
    }
    if decision.verdict == breeze_core::ratelimit::Verdict::Unavailable {
        return Err(AgentError::Unavailable);
    }
    Err(AgentError::RateLimited(
        decision.retry_after_secs().unwrap_or(1),
    ))
}

/// The authentication row of `agent_id` from PostgreSQL (a short system-scope read shared
/// with the other reads waiting, [`crate::agents::rows::RowLoader`]), kept in the cache for
/// the next calls.
async fn load_row(
    state: &AppState,
    agent_id: &str,
) -> Result<Option<agents::AgentAuthRow>, AgentError> {
    state
        .agent_cache
        .ensure_listening(state.config.database_url.expose_secret())
        .await;
    // coalesced with the other reads waiting (one statement for all of them), and cached
    Ok(state.agent_rows.load(agent_id).await?)
}

/// The device count of `org` for its agent limit (cached; counted on a miss).
pub(crate) async fn org_devices(state: &AppState, org: OrgId) -> Result<u32, AgentError> {
    if let Some(n) = state.agent_load.org_devices(org) {
        return Ok(n);
    }
    let mut tx = state
        .store
        .begin_system("count organization devices")
        .await?;
    let n = agents::org_device_count(&mut tx, org).await?;
    drop(tx);
    let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    state.agent_load.set_org_devices(org, n);
    Ok(n)
}

/// Which role and generation of `row` the presented hash matches. Every comparison runs
/// (constant time per hash, no early exit on a match).
fn match_token(
    row: &agents::AgentAuthRow,
    presented: &TokenHash,
    lane: Lane,
    now: time::OffsetDateTime,
) -> Option<(TokenRole, TokenGeneration)> {
    let pending_live = row.pending_expires_at.is_some_and(|t| t > now);
    let grace_live = row.previous_grace_until.is_some_and(|t| t > now);
    let roles: &[(TokenRole, &[Option<String>; 3])] = match lane {
        Lane::Http => &[
            (TokenRole::Agent, &row.agent),
            (TokenRole::Watchdog, &row.watchdog),
        ],
        Lane::WebSocket => &[(TokenRole::Agent, &row.agent)],
    };
    let mut matched = None;
    for (role, hashes) in roles {
        let [current, pending, previous] = hashes;
        let c = ct_match(presented, current.as_ref());
        let p = pending_live && ct_match(presented, pending.as_ref());
        let v = grace_live && ct_match(presented, previous.as_ref());
        if matched.is_none() {
            matched = if c {
                Some((*role, TokenGeneration::Current))
            } else if p {
                Some((*role, TokenGeneration::Pending))
            } else if v {
                Some((*role, TokenGeneration::Previous))
            } else {
                None
            };
        }
    }
    matched
}

/// Authenticates an agent call (see the module docs for the order).
///
/// # Errors
/// [`AgentError`] with the reason of the first failed step.
pub async fn authenticate(
    state: &AppState,
    agent_id: &str,
    bearer: Option<&str>,
    proof: &Proof<'_>,
    client: ClientMeta,
    lane: Lane,
    sighting: Sighting,
) -> Result<AgentAuthed, AgentError> {
    let invalid = AgentError::Reason(ErrorReason::InvalidToken);
    let raw = bearer.ok_or(AgentError::Reason(ErrorReason::InvalidToken))?;
    // shape checked and hashed where the header lies: the secret is not copied
    let presented = AgentToken::hash_presented(raw)
        .map_err(|_| AgentError::Reason(ErrorReason::InvalidToken))?;
    if breeze_agent_proto::AgentId::parse(agent_id).is_err() {
        return Err(invalid);
    }

    let now = state.clock.now();
    // the cached row first; a token it does not know is looked up again before refusal
    let (mut row, cached) = match state.agent_cache.get(agent_id) {
        Some(r) => (r, true),
        None => (load_row(state, agent_id).await?.ok_or(invalid)?, false),
    };
    let unix = state.clock.unix();
    let mut matched = match_token(&row, &presented, lane, now);
    // a cached row may only let a request in: every refusal is decided on a fresh row
    let refusing = matched.is_none()
        || row.suspended
        || !row.has_credentials
        || row.status == "decommissioned"
        || row.status == "quarantined";
    let mut stale = cached;
    if refusing && cached {
        row = load_row(state, agent_id)
            .await?
            .ok_or(AgentError::Reason(ErrorReason::InvalidToken))?;
        matched = match_token(&row, &presented, lane, now);
        stale = false;
    }
    if row.suspended {
        return Err(AgentError::Reason(ErrorReason::TokenSuspended));
    }
    if !row.has_credentials || row.agent.first().is_none_or(Option::is_none) {
        return Err(AgentError::Reason(ErrorReason::ReEnrollmentRequired));
    }
    let pending_live = row.pending_expires_at.is_some_and(|t| t > now);
    let (role, generation) = matched.ok_or(AgentError::Reason(ErrorReason::InvalidToken))?;
    if row.status == "decommissioned" || row.status == "quarantined" {
        return Err(AgentError::Reason(ErrorReason::DeviceNotAuthorized));
    }
    // the organization came with the row (one round trip on the hot path)
    let orgs = [row.org];
    let devices = org_devices(state, row.org_id).await?;

    rate(
        &state
            .limiter
            .agent_per_device_ip(row.device_id, client.key())
            .await,
    )?;

    // proof of possession (SPEC 17), after the limit (a copied token spends only its own
    // address's budget on signature checks) and before the source address is recorded; a
    // refusal on a cached row is decided again with the key and policy read fresh
    let mut possession = binding::decide(&row, agent_id, proof, unix);
    if possession.is_err()
        && stale
        && let Some(fresh) = load_row(state, agent_id).await?
        && (fresh.public_key != row.public_key || fresh.require_key != row.require_key)
    {
        row.public_key = fresh.public_key;
        row.require_key = fresh.require_key;
        possession = binding::decide(&row, agent_id, proof, unix);
    }
    let nonce = match possession {
        Ok(nonce) => nonce,
        Err(refusal) => return Err(binding::refuse(state, &row, &client, proof, refusal).await),
    };
    if let Some(nonce) = &nonce
        && let Err(refusal) = binding::take_nonce(state, &row.device_id.to_string(), nonce).await?
    {
        return Err(binding::refuse(state, &row, &client, proof, refusal).await);
    }

    let ip = client.ip.to_string();
    let mut deferred = None;
    if row.last_ip.as_deref() != Some(ip.as_str()) {
        if row.last_ip.is_none() && sighting == Sighting::WithHeartbeat {
            deferred = Some(ip);
        } else {
            record_source(state, &Source::of_row(&row, agent_id), &client, &ip).await?;
        }
    }

    match admit(state, agent_id, &row, devices, &orgs, lane).await {
        Ok(ctx) => Ok(AgentAuthed {
            agent_id: agent_id.to_owned(),
            device_id: row.device_id,
            org_id: row.org_id,
            site_id: row.site_id,
            partner_id: row.org.partner_id,
            ctx,
            role,
            generation,
            presented_hash: presented.to_hex(),
            rotation_due: row.rotation_due_at.is_some_and(|t| t <= now),
            rotation_pending: pending_live,
            client,
            bound: nonce.is_some(),
            public_key: row.public_key,
            first_sighting: deferred.map(FirstSighting),
        }),
        Err(refusal) => {
            // a refused request's address is recorded all the same, as it would have been
            // before the refusal
            if let Some(ip) = deferred {
                record_source(state, &Source::of_row(&row, agent_id), &client, &ip).await?;
            }
            Err(refusal)
        }
    }
}

/// Whose source address is recorded: the device, where it is, and the address known so far.
struct Source<'a> {
    agent_id: &'a str,
    device: DeviceId,
    org: OrgId,
    previous: Option<&'a str>,
}

impl<'a> Source<'a> {
    fn of_row(row: &'a agents::AgentAuthRow, agent_id: &'a str) -> Self {
        Self {
            agent_id,
            device: row.device_id,
            org: row.org_id,
            previous: row.last_ip.as_deref(),
        }
    }
}

/// Records `ip` as the device's source address in its own short transaction; a change
/// from a known address is audited (`agent.source.ip.changed`, de-duplicated per device
/// and address for 24 h).
async fn record_source(
    state: &AppState,
    source: &Source<'_>,
    client: &ClientMeta,
    ip: &str,
) -> Result<(), AgentError> {
    let (device, org) = (source.device, source.org);
    let changed = source.previous.is_some();
    let mut tx = state.store.begin_system("agent source ip").await?;
    let audit_it = agents::record_source_ip(&mut tx, device, org, ip, changed).await?;
    if audit_it {
        let event = event_builder(
            state,
            Actor::Agent(device),
            client,
            "agent.source.ip.changed",
            AuditResult::Success,
        )?
        .resource_type("device")
        .resource_id(device.to_string())
        .details(&json!({"previousIp": source.previous, "ip": ip}))
        .build()
        .map_err(AgentError::internal)?;
        audit::append(&mut tx, Some(org), event).await?;
    }
    tx.commit().await?;
    state.agent_cache.set_last_ip(source.agent_id, ip);
    Ok(())
}

/// Records the first sighting `authed` carries in its own transaction: the fallback of a
/// heartbeat that did not reach a batch (an undecodable body, a full queue, a failed batch),
/// so a request that got through authentication always leaves its address. No address was
/// known, so it is not a change and never audited.
///
/// # Errors
/// [`AgentError`] on database failure.
pub async fn record_first_sighting(
    state: &AppState,
    authed: &AgentAuthed,
) -> Result<(), AgentError> {
    let Some(FirstSighting(ip)) = &authed.first_sighting else {
        return Ok(());
    };
    let source = Source {
        agent_id: &authed.agent_id,
        device: authed.device_id,
        org: authed.org_id,
        previous: None,
    };
    record_source(state, &source, &authed.client, ip).await
}

/// The checks after the source address: the per-agent and per-organization limits and the
/// tenant's state. Returns the agent's access context.
async fn admit(
    state: &AppState,
    agent_id: &str,
    row: &agents::AgentAuthRow,
    devices: u32,
    orgs: &[breeze_authz::access::OrgRecord],
    lane: Lane,
) -> Result<AccessContext, AgentError> {
    rate(&state.limiter.agent_per_agent(agent_id).await)?;
    rate(
        &state
            .limiter
            .agent_per_org(row.org_id, devices, AgentRequestClass::General)
            .await,
    )?;

    let ctx = resolve(
        &Principal::Agent {
            device_id: row.device_id,
            org_id: row.org_id,
            site_id: row.site_id,
        },
        orgs,
    )
    .map_err(|_| AgentError::Reason(ErrorReason::TenantInactive))?;
    let offboarding = orgs
        .iter()
        .any(|o| o.id == row.org_id && o.status == OrgStatus::Offboarding);
    if offboarding && lane == Lane::WebSocket {
        return Err(AgentError::Reason(ErrorReason::TenantOffboarding));
    }
    Ok(ctx)
}

/// Why an open agent WebSocket must close (its close code, SPEC 8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketVerdict {
    /// The socket may stay.
    Keep,
    /// 4001: the device is no longer authorized (token suspended or gone, device
    /// quarantined, organization or partner not serviceable).
    NotAuthorized,
    /// 4040: reconnect and authenticate again (device moved or decommissioned, agent id
    /// re-bound, the socket's token rotated out).
    Reconnect,
}

/// The verdict of `row` on the socket opened as `authed`.
fn socket_verdict(
    row: &agents::AgentAuthRow,
    authed: &AgentAuthed,
    now: time::OffsetDateTime,
) -> SocketVerdict {
    if row.device_id != authed.device_id || row.status == "decommissioned" {
        return SocketVerdict::Reconnect;
    }
    if row.suspended || !row.has_credentials || row.status == "quarantined" {
        return SocketVerdict::NotAuthorized;
    }
    if row.org_id != authed.org_id
        || row.site_id != authed.site_id
        || row.org.partner_id != authed.partner_id
    {
        return SocketVerdict::Reconnect;
    }
    let still_valid = authed
        .presented_hash
        .parse::<TokenHash>()
        .ok()
        .and_then(|h| match_token(row, &h, Lane::WebSocket, now))
        .is_some();
    if !still_valid {
        return SocketVerdict::Reconnect;
    }
    let principal = Principal::Agent {
        device_id: row.device_id,
        org_id: row.org_id,
        site_id: row.site_id,
    };
    if resolve(&principal, &[row.org]).is_err() || row.org.status == OrgStatus::Offboarding {
        return SocketVerdict::NotAuthorized;
    }
    SocketVerdict::Keep
}

/// Re-authenticates an open WebSocket (SPEC 8.6 "tenant must be active", for as long as
/// the socket lives). `fresh` reads the row from PostgreSQL (after a notification);
/// otherwise the cached row is used when there is one (every ping
/// tick), and a verdict to close is confirmed on a fresh row first (a cached row may only
/// keep a socket open, never close one). No rate limit is charged.
///
/// # Errors
/// [`AgentError`] when PostgreSQL cannot answer (the caller keeps the socket until the next
/// check).
pub async fn recheck_socket(
    state: &AppState,
    authed: &AgentAuthed,
    fresh: bool,
) -> Result<SocketVerdict, AgentError> {
    let now = state.clock.now();
    if !fresh
        && let Some(row) = state.agent_cache.get(&authed.agent_id)
        && socket_verdict(&row, authed, now) == SocketVerdict::Keep
    {
        return Ok(SocketVerdict::Keep);
    }
    let Some(row) = load_row(state, &authed.agent_id).await? else {
        return Ok(SocketVerdict::Reconnect);
    };
    // the row's organization status includes its partner's (issue 15, finding 6)
    Ok(socket_verdict(&row, authed, now))
}
