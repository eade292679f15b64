//! The audit log API (SPEC 6).
//!
//! - `GET /api/v1/audit` (`audit:read`): events of the chains the caller can see (row-level
//!   security decides; `orgId` narrows to one organization and answers 404 for one outside
//!   the caller's access). Filters: `resource` matches the resource type, singular or plural
//!   alike (`devices` and `device` both match `device` and `devices`); `action` is exact, or
//!   a prefix when it ends in `.*` (`device.*`); `actor` is an actor id (UUID) or an actor
//!   type (`user`, `api_key`, `agent`, `system`); `result` is `success`, `failure` or
//!   `denied`. Ordered by (chain, sequence); `limit` 1..=100 (default 50); `cursor` is the
//!   `nextCursor` of the previous page (`<chain>:<seq>`). Hashes are included only with
//!   `includeHashes=true`.
//! - `GET /api/v1/audit/verify` (`audit:read`): the verification report of every chain the
//!   caller can see, or of `orgId`'s (no chains when it was never written). Always 200 for
//!   an accessible organization: `ok` says whether every chain verified.
//! - `GET /api/v1/audit/export` (`audit:export`): a self-contained export bundle (JSON
//!   Lines, breeze-core format) of `orgId`'s chain (system scope without `orgId`: the system
//!   chain; organization scope: its own), through `toSeq`; `fromSeq` may not be after the
//!   chain's first stored entry (bundles verify from genesis or their anchor). Capped at
//!   64 MiB (413 beyond). The export is itself audited (`audit.export`).

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use breeze_authz::access::Scope;
use breeze_core::audit::{AuditResult, Entry, EntryBody};
use breeze_core::tenancy::OrgId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::jobs::{self as audit_jobs, AuditJobError, MAX_EXPORT_BYTES};
use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract::{DEFAULT_PAGE, MAX_PAGE, Query, Validate};
use crate::http::route::{Access, Route, route};
use crate::state::AppState;
use crate::store::audit::{self as store_audit, ListFilter};

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/audit",
            Access::Permission("audit:read"),
            "list audit events (filters, cursor pagination)",
            list,
        )
        .errors(&[404])
        .ok::<AuditPage>(),
        route(
            Method::GET,
            "/api/v1/audit/verify",
            Access::Permission("audit:read"),
            "verify the audit chains the caller can see",
            verify,
        )
        .errors(&[404])
        .ok::<audit_jobs::VerifyReport>(),
        route(
            Method::GET,
            "/api/v1/audit/export",
            Access::Permission("audit:export"),
            "export an audit chain as a self-contained bundle",
            export,
        )
        .answers(
            200,
            Some("application/x-ndjson"),
            "the export bundle (JSON Lines)",
        )
        .errors(&[404]),
    ]
}

impl From<AuditJobError> for ApiError {
    fn from(e: AuditJobError) -> Self {
        match e {
            AuditJobError::Store(s) => s.into(),
            AuditJobError::NotFound => Self::NotFound,
            AuditJobError::TooLarge(_) => Self::PayloadTooLarge,
            AuditJobError::Range(_) => Self::invalid(
                "query.fromSeq",
                "must not be after the chain's first stored entry",
            ),
            other => Self::internal(other),
        }
    }
}

fn is_uuid(s: &str) -> bool {
    s.parse::<uuid::Uuid>().is_ok()
}

const ACTOR_TYPES: [&str; 4] = ["user", "api_key", "agent", "system"];
const RESULTS: [&str; 3] = ["success", "failure", "denied"];

/// `GET /api/v1/audit` query.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "AuditListQuery")]
pub struct ListQuery {
    resource: Option<String>,
    action: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    org_id: Option<String>,
    actor: Option<String>,
    result: Option<String>,
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    limit: Option<String>,
    cursor: Option<String>,
    #[schemars(with = "Option<bool>")]
    include_hashes: Option<String>,
}

pub(crate) fn parse_cursor(c: &str) -> Option<(String, u64)> {
    let (chain, seq) = c.rsplit_once(':')?;
    store_audit::parse_chain_key(chain).ok()?;
    Some((chain.to_owned(), seq.parse().ok()?))
}

impl Validate for ListQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if let Some(r) = &self.resource
            && (r.is_empty()
                || r.len() > 64
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)))
        {
            issues.push(FieldIssue::new("resource", "must be a resource type"));
        }
        if let Some(a) = &self.action {
            let body = a.strip_suffix(".*").unwrap_or(a);
            if body.is_empty()
                || body.len() > 128
                || !body
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._".contains(&b))
            {
                issues.push(FieldIssue::new(
                    "action",
                    "must be a dotted action or a prefix ending in .*",
                ));
            }
        }
        if self.org_id.as_deref().is_some_and(|o| !is_uuid(o)) {
            issues.push(FieldIssue::new("orgId", "is not a valid id"));
        }
        if let Some(a) = &self.actor
            && !is_uuid(a)
            && !ACTOR_TYPES.contains(&a.as_str())
        {
            issues.push(FieldIssue::new(
                "actor",
                "must be an actor id or actor type",
            ));
        }
        if self
            .result
            .as_deref()
            .is_some_and(|r| !RESULTS.contains(&r))
        {
            issues.push(FieldIssue::new(
                "result",
                "must be success, failure or denied",
            ));
        }
        if self.limit.as_deref().is_some_and(|l| {
            l.parse::<u32>()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .is_none()
        }) {
            issues.push(FieldIssue::new("limit", "must be 1 to 100"));
        }
        if self
            .cursor
            .as_deref()
            .is_some_and(|c| parse_cursor(c).is_none())
        {
            issues.push(FieldIssue::new("cursor", "is malformed"));
        }
        if self
            .include_hashes
            .as_deref()
            .is_some_and(|h| h != "true" && h != "false")
        {
            issues.push(FieldIssue::new("includeHashes", "must be true or false"));
        }
        issues
    }
}

/// Singular and plural forms of a resource type.
fn resource_forms(r: &str) -> Vec<String> {
    let r = r.to_ascii_lowercase();
    let mut forms = vec![r.clone()];
    if let Some(s) = r.strip_suffix('s').filter(|s| !s.is_empty()) {
        forms.push(s.to_owned());
    } else {
        forms.push(format!("{r}s"));
    }
    forms
}

/// The caller must be able to reach `org`; 404 otherwise (nothing is leaked). Chains are per
/// organization and cannot be cut by site, so a caller limited to a site list may not read
/// them at all (403): a partial chain would both leak other sites' events and not verify.
fn check_org(authed: &Authed, org: Option<&str>) -> Result<Option<OrgId>, ApiError> {
    if !authed.ctx.allowed_site_ids().is_all() {
        return Err(ApiError::Forbidden("site_limited"));
    }
    let Some(org) = org else { return Ok(None) };
    let id = org
        .parse::<uuid::Uuid>()
        .map(OrgId::from_uuid)
        .map_err(|_| ApiError::invalid("query.orgId", "is not a valid id"))?;
    if authed.ctx.can_access_org(id) {
        Ok(Some(id))
    } else {
        Err(ApiError::NotFound)
    }
}

/// One event as listed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    chain: String,
    seq: u64,
    kind: &'static str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    details: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initiated_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_hash: Option<String>,
}

pub(crate) fn item(chain: String, seq: u64, e: &Entry, hashes: bool) -> AuditItem {
    let ts = e
        .timestamp()
        .to_datetime()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut it = AuditItem {
        chain,
        seq,
        kind: "event",
        timestamp: ts,
        actor_type: None,
        actor_id: None,
        action: None,
        resource_type: None,
        resource_id: None,
        result: None,
        ip: None,
        user_agent: None,
        details: Value::Null,
        error_message: None,
        initiated_by: None,
        prev_hash: None,
        content_hash: None,
        chain_hash: None,
    };
    match &e.body {
        EntryBody::Event(ev) => {
            it.actor_type = Some(ev.actor().actor_type().as_str());
            it.actor_id = ev.actor().id().map(ToString::to_string);
            it.action = Some(ev.action().as_str().to_owned());
            it.resource_type = Some(ev.resource_type().to_owned());
            it.resource_id = ev.resource_id().map(str::to_owned);
            it.result = Some(ev.result().as_str());
            it.ip = ev.ip().map(|ip| ip.to_string());
            it.user_agent = ev.user_agent().map(str::to_owned);
            it.details = ev.details().clone();
            it.error_message = ev.error_message().map(str::to_owned);
            it.initiated_by = Some(ev.initiated_by().as_str());
        }
        EntryBody::Retention(r) => {
            it.kind = "retention";
            it.details = serde_json::json!({
                "prunedFrom": r.pruned_from,
                "prunedThrough": r.pruned_through,
                "checkpointSequence": r.checkpoint.sequence,
            });
        }
    }
    if hashes {
        it.prev_hash = Some(e.prev_hash.to_string());
        it.content_hash = e.content_hash.map(|h| h.to_string());
        it.chain_hash = e.chain_hash.map(|h| h.to_string());
    }
    it
}

/// A page of audit events.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditPage {
    items: Vec<AuditItem>,
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let org = check_org(&authed, q.org_id.as_deref())?;
    let limit = q
        .limit
        .as_deref()
        .and_then(|l| l.parse::<u32>().ok())
        .unwrap_or(DEFAULT_PAGE);
    let (actor_id, actor_type) = match &q.actor {
        Some(a) if is_uuid(a) => (Some(a.to_ascii_lowercase()), None),
        Some(a) => (None, Some(a.clone())),
        None => (None, None),
    };
    let (action, action_prefix) = match &q.action {
        Some(a) => match a.strip_suffix('*') {
            Some(prefix) => (Some(prefix.to_owned()), true),
            None => (Some(a.clone()), false),
        },
        None => (None, false),
    };
    // an organization-scope caller reads its own chain only, a partner user the chains of
    // the organizations it reaches: say so, so the query reads those chains instead of
    // filtering every chain's rows (row-level security lets through exactly these)
    let org = org.or_else(|| authed.ctx.sole_org());
    let filter = ListFilter {
        org,
        orgs: org.map_or_else(|| authed.ctx.listing_orgs(), |_| None),
        resource_types: q.resource.as_deref().map(resource_forms),
        action,
        action_prefix,
        actor_id,
        actor_type,
        result: q.result.clone(),
        after: q.cursor.as_deref().and_then(parse_cursor),
    };
    let mut tx = authed.begin(&state).await?;
    let rows = store_audit::list(&mut tx, &filter, limit.saturating_add(1)).await?;
    drop(tx);
    let hashes = q.include_hashes.as_deref() == Some("true");
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let mut items = Vec::with_capacity(rows.len());
    for row in rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
    {
        let entry: Entry = serde_json::from_str(&row.entry)
            .map_err(|_| ApiError::internal("stored audit entry does not parse"))?;
        items.push(item(row.chain_key, row.seq, &entry, hashes));
    }
    let next_cursor = if more {
        items.last().map(|i| format!("{}:{}", i.chain, i.seq))
    } else {
        None
    };
    Ok(axum::Json(AuditPage { items, next_cursor }))
}

/// `?orgId=` of verify.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyQuery {
    #[schemars(with = "Option<uuid::Uuid>")]
    org_id: Option<String>,
}

impl Validate for VerifyQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        if self.org_id.as_deref().is_some_and(|o| !is_uuid(o)) {
            vec![FieldIssue::new("orgId", "is not a valid id")]
        } else {
            Vec::new()
        }
    }
}

async fn verify(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<VerifyQuery>,
) -> Result<axum::Json<audit_jobs::VerifyReport>, ApiError> {
    let org = check_org(&authed, q.org_id.as_deref())?;
    let mut tx = authed.begin(&state).await?;
    let report = match audit_jobs::verify_visible(&mut tx, &state.audit_keys, org.map(Some)).await {
        // an accessible organization whose chain was never written: nothing to break
        Err(AuditJobError::NotFound) => audit_jobs::VerifyReport {
            ok: true,
            chains: Vec::new(),
        },
        other => other?,
    };
    drop(tx);
    Ok(axum::Json(report))
}

/// `?orgId=&fromSeq=&toSeq=` of export.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportQuery {
    #[schemars(with = "Option<uuid::Uuid>")]
    org_id: Option<String>,
    #[schemars(with = "Option<u64>")]
    from_seq: Option<String>,
    #[schemars(with = "Option<u64>")]
    to_seq: Option<String>,
}

impl Validate for ExportQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.org_id.as_deref().is_some_and(|o| !is_uuid(o)) {
            issues.push(FieldIssue::new("orgId", "is not a valid id"));
        }
        for (name, v) in [("fromSeq", &self.from_seq), ("toSeq", &self.to_seq)] {
            if v.as_deref().is_some_and(|s| s.parse::<u64>().is_err()) {
                issues.push(FieldIssue::new(name, "must be a sequence number"));
            }
        }
        issues
    }
}

async fn export(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let org = match check_org(&authed, q.org_id.as_deref())? {
        Some(o) => Some(o),
        None => match authed.ctx.scope() {
            Scope::System => None,
            Scope::Organization => Some(authed.ctx.org_id().ok_or(ApiError::NotFound)?),
            _ => return Err(ApiError::invalid("query.orgId", "is required")),
        },
    };
    let from_seq = q.from_seq.as_deref().and_then(|s| s.parse().ok());
    let to_seq = q.to_seq.as_deref().and_then(|s| s.parse().ok());
    let mut tx = authed.begin(&state).await?;
    let bytes = audit_jobs::export_chain(
        &mut tx,
        &state.audit_keys,
        org,
        from_seq,
        to_seq,
        MAX_EXPORT_BYTES,
        state.clock.now(),
    )
    .await?;
    let chain = store_audit::chain_key(org);
    let event = authed
        .event(&state, "audit.export", AuditResult::Success)?
        .resource_type("audit_chain")
        .resource_id(chain.clone())
        .details(&serde_json::json!({
            "fromSeq": from_seq,
            "toSeq": to_seq,
            "bytes": bytes.len(),
        }))
        .build()
        .map_err(ApiError::internal)?;
    store_audit::append(&mut tx, org, event).await?;
    tx.commit().await?;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"audit-{chain}.jsonl\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
