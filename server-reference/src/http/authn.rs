//! The guard: authentication and authorization of every route, in the order of SPEC 2.2.
//!
//! The guard runs before every handler (it is layered onto each route by
//! [`super::router`]) and enforces the route's declared [`Access`]. For users:
//! bearer present -> signature / iss / aud / exp / alg -> `type = access` -> revocation
//! (user-wide cut-off, family) -> user exists and is active -> `aep` / `mep` equal the live
//! epochs -> `system` scope needs a live platform admin -> token not issued before the last
//! password change -> tenant active (access resolution) -> partner IP allow-list
//! ([`super::ip_allow`]) -> force-MFA gate -> access context -> the route's permission. API
//! keys (`X-API-Key: brzk_...`): format -> hash lookup (constant-time compare) -> status and
//! expiry -> partner IP allow-list -> per-key hourly limit -> tenant active -> scope covers
//! the route's permission.
//!
//! The lookups run in one short system-scope read transaction that is closed before the
//! handler opens the request's own transaction.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use breeze_authz::access::{AccessContext, Principal, resolve};
use breeze_authz::api_key::{ApiKeyRecord, ApiKeyScopes, ApiKeyStatus};
use breeze_authz::cache::{CacheKey, Lookup};
use breeze_authz::mfa::MfaGate;
use breeze_authz::permission::{Grant, Permission};
use breeze_authz::registry::PermissionSet;
use breeze_authz::role::{Role, RoleScope};
use breeze_authz::session::{TokenFacts, check_password_and_mfa, check_user_and_epochs};
use breeze_core::audit::{Actor, AuditEventBuilder, AuditResult};
use breeze_core::tenancy::{ApiKeyId, UserId};
use breeze_crypto::credentials::{ApiKey, TokenHash};
use breeze_crypto::jwt::{Claims, JwtError, TokenScope, TokenType};
use secrecy::ExposeSecret;

use super::ip_allow;
use super::route::{Access, RouteMeta};
use crate::error::ApiError;
use crate::permissions::{Granted, ResolvedAccess};
use crate::state::AppState;
use crate::store::principal::{self, AuthUser, RoleRecord};
use crate::store::{ScopedTx, StoreError};

pub use crate::audit::events::{ClientMeta, MAX_USER_AGENT, event_builder};
pub use crate::error::rate_limited;

/// An authenticated user's session facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The user.
    pub user: AuthUser,
    /// The verified access-token claims.
    pub claims: Claims,
    /// The role that won resolution.
    pub role: Option<RoleRecord>,
}

/// Who authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// A user with an access token.
    User(Box<UserSession>),
    /// An API key.
    ApiKey {
        /// Key id.
        id: ApiKeyId,
        /// Its scopes.
        scopes: ApiKeyScopes,
    },
}

/// What a handler receives for a protected route (request extension).
#[derive(Debug, Clone)]
pub struct Authed {
    /// The access context: pass it to [`crate::store::PgStore::begin`].
    pub ctx: AccessContext,
    /// Who.
    pub who: Authenticated,
    /// The compiled permissions of a user's role.
    pub permissions: Option<Arc<PermissionSet>>,
    /// Client address and user agent.
    pub client: ClientMeta,
}

impl Authed {
    /// The user id, when a user acts.
    #[must_use]
    pub fn user_id(&self) -> Option<UserId> {
        match &self.who {
            Authenticated::User(s) => Some(s.user.id),
            Authenticated::ApiKey { .. } => None,
        }
    }

    /// The user session, when a user acts.
    #[must_use]
    pub fn session(&self) -> Option<&UserSession> {
        match &self.who {
            Authenticated::User(s) => Some(s),
            Authenticated::ApiKey { .. } => None,
        }
    }

    /// Opens the request's scoped transaction in this caller's access context: the one way
    /// a handler gets its transaction (row-level security sees exactly this context).
    ///
    /// # Errors
    /// [`StoreError`] when PostgreSQL is unreachable or the context cannot be set.
    pub async fn begin(&self, state: &AppState) -> Result<ScopedTx, StoreError> {
        state.store.begin(&self.ctx).await
    }

    /// The audit actor.
    #[must_use]
    pub fn actor(&self) -> Actor {
        match &self.who {
            Authenticated::User(s) => Actor::User(s.user.id),
            Authenticated::ApiKey { id, .. } => Actor::ApiKey(*id),
        }
    }

    /// Whether the caller holds `permission` (`resource:action`).
    #[must_use]
    pub fn allows(&self, state: &AppState, permission: &str) -> bool {
        let Ok(wanted) = permission.parse::<Permission>() else {
            return false;
        };
        match &self.who {
            Authenticated::ApiKey { scopes, .. } => scopes.allows(&wanted),
            Authenticated::User(_) => self
                .permissions
                .as_ref()
                .is_some_and(|set| set.allows_permission(&state.registry, &wanted)),
        }
    }

    /// Starts an audit event by this caller: actor, IP, user agent, manual, now.
    ///
    /// # Errors
    /// [`ApiError::Internal`] for an invalid action name (a programming error).
    pub fn event(
        &self,
        state: &AppState,
        action: &str,
        result: AuditResult,
    ) -> Result<AuditEventBuilder, ApiError> {
        event_builder(state, self.actor(), &self.client, action, result)
    }
}

/// The client of a request: forwarded headers only from trusted proxies.
#[must_use]
pub fn client_meta(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> ClientMeta {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let ip = state.proxies.client_ip(peer, forwarded);
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(MAX_USER_AGENT).collect());
    ClientMeta { ip, user_agent }
}

/// The guard middleware (see the module docs).
pub async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(meta) = req.extensions().get::<RouteMeta>().copied() else {
        // a route registered without metadata: refuse (fail closed)
        return ApiError::internal("route without declared access").into_response();
    };
    if meta.access == Access::Agent {
        return super::agent_auth::guard(State(state), ConnectInfo(peer), req, next).await;
    }
    let client = client_meta(&state, peer.ip(), req.headers());
    req.extensions_mut().insert(client.clone());
    let outcome = match meta.access {
        // a ticketed socket is authenticated by its handler (`crate::remote::ticket`); the
        // MCP endpoint authenticates its API key itself, to answer in JSON-RPC (`crate::mcp`)
        Access::Public | Access::Ticket(_) | Access::AiKey => Ok(None),
        // handled above by the agent guard; fail closed if ever reached
        Access::Agent => Err(ApiError::internal("agent route reached the user guard")),
        Access::Metrics => check_metrics_token(&state, req.headers()).map(|()| None),
        Access::Authenticated | Access::Permission(_) | Access::PlatformAdmin => {
            authenticate(&state, &meta, req.uri().path(), req.headers(), client)
                .await
                .map(Some)
        }
    };
    match outcome {
        Ok(Some(authed)) => {
            req.extensions_mut().insert(authed);
            next.run(req).await
        }
        Ok(None) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn check_metrics_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.config.metrics_token else {
        return Err(ApiError::NotFound);
    };
    let presented = bearer(headers).ok_or(ApiError::Unauthorized("missing_token"))?;
    // the current token, and during a roll the staged or previous one (each compared in
    // constant time, all of them every time)
    let accepted: Vec<&[u8]> = std::iter::once(expected)
        .chain(
            state
                .config
                .rotation
                .metrics_tokens
                .iter()
                .map(|k| &k.value),
        )
        .map(|t| t.expose_secret().as_bytes())
        .collect();
    let ok = breeze_crypto::ct::constant_time_eq_any(presented.as_bytes(), &accepted);
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("invalid_token"))
    }
}

async fn authenticate(
    state: &AppState,
    meta: &RouteMeta,
    path: &str,
    headers: &HeaderMap,
    client: ClientMeta,
) -> Result<Authed, ApiError> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key
            .to_str()
            .map_err(|_| ApiError::Unauthorized("invalid_api_key"))?;
        return authenticate_api_key(state, meta, key, client).await;
    }
    let token = bearer(headers).ok_or(ApiError::Unauthorized("missing_token"))?;
    authenticate_user(state, meta, path, token, client).await
}

const fn jwt_code(e: &JwtError) -> &'static str {
    match e {
        JwtError::Expired => "token_expired",
        _ => "invalid_token",
    }
}

/// Compiles a stored role into a permission set.
///
/// # Errors
/// [`ApiError::Internal`] when a stored grant does not parse or the role is invalid.
pub fn compile_role(state: &AppState, role: &RoleRecord) -> Result<PermissionSet, ApiError> {
    let grants = role
        .permissions
        .iter()
        .map(|g| g.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Role::new(&role.name, role.scope, grants, role.requires_mfa)
        .and_then(|r| r.compile(&state.registry))
        .map_err(ApiError::internal)
}

/// The token's facts the session rules judge ([`breeze_authz::session::check_session`]).
#[must_use]
pub const fn token_facts(claims: &Claims) -> TokenFacts {
    TokenFacts {
        aep: claims.aep,
        mep: claims.mep,
        iat: claims.iat,
        mfa: claims.mfa,
    }
}

async fn authenticate_user(
    state: &AppState,
    meta: &RouteMeta,
    path: &str,
    token: &str,
    client: ClientMeta,
) -> Result<Authed, ApiError> {
    let now = state.clock.unix();
    let claims = state
        .jwt
        .verify(token, TokenType::Access, now)
        .map_err(|e| ApiError::Unauthorized(jwt_code(&e)))?;
    authenticate_claims(state, meta, path, claims, client).await
}

/// Judges verified access-token claims as [`guard`] does after the signature and expiry:
/// revocation of the token, its login session and the user's epochs, the user's state, the
/// resolved access, MFA, then the route's declared access. A remote-session socket
/// (`crate::remote`) calls it on every ping tick with the claims its ticket was issued
/// under, so the socket lives exactly as long as the login session that opened it.
///
/// # Errors
/// [`ApiError::Unauthorized`] / [`ApiError::Forbidden`] with the same codes as a request.
pub(crate) async fn authenticate_claims(
    state: &AppState,
    meta: &RouteMeta,
    path: &str,
    claims: Claims,
    client: ClientMeta,
) -> Result<Authed, ApiError> {
    let user_id = UserId::from_uuid(claims.sub);
    if state.revocation.is_token_revoked(user_id, claims.iat).await {
        return Err(ApiError::Unauthorized("token_revoked"));
    }
    let family = claims.sid.ok_or(ApiError::Unauthorized("invalid_token"))?;
    if state.revocation.is_family_revoked(family).await {
        return Err(ApiError::Unauthorized("session_revoked"));
    }

    let mut tx = state.store.begin_system("authenticate user").await?;
    // the user's row (with the permission versions) is read fresh on every request
    let user = principal::user_by_id(&mut tx, user_id)
        .await?
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    let session = (user.session_facts(), token_facts(&claims));
    check_user_and_epochs(&session.0, &session.1).map_err(|e| ApiError::Unauthorized(e.code()))?;
    if principal::family_is_revoked(&mut tx, family, user_id).await? {
        return Err(ApiError::Unauthorized("session_revoked"));
    }
    let resolved = resolved_access(state, &mut tx, &user).await?;
    drop(tx);
    if claims.scope == TokenScope::System && !resolved.platform_admin {
        return Err(ApiError::Unauthorized("not_platform_admin"));
    }
    check_password_and_mfa(&session.0, &session.1).map_err(|e| ApiError::Unauthorized(e.code()))?;
    let granted = resolved
        .access
        .as_ref()
        .map_err(|code| ApiError::Unauthorized(code))?;
    ip_allow::admit_user(state, &client, &user, ip_allow::Stage::AccessToken).await?;

    let requires_mfa = granted.role.as_ref().is_some_and(|r| r.requires_mfa);
    if state
        .mfa_policy
        .decide(requires_mfa, user.mfa_enabled, path)
        == MfaGate::EnrollmentRequired
    {
        return Err(ApiError::MfaEnrollmentRequired);
    }
    let authed = Authed {
        ctx: granted.ctx.clone(),
        who: Authenticated::User(Box::new(UserSession {
            user,
            claims,
            role: granted.role.clone(),
        })),
        permissions: granted.permissions.clone(),
        client,
    };
    authorize(state, meta, &authed)?;
    Ok(authed)
}

/// The user's resolved access: from the permission cache when the versions read with the
/// user's row still match, else read (memberships, organizations, role), compiled and
/// cached (`crate::permissions`).
pub(crate) async fn resolved_access(
    state: &AppState,
    tx: &mut ScopedTx,
    user: &AuthUser,
) -> Result<Arc<ResolvedAccess>, ApiError> {
    let cache = &state.permission_cache;
    let key = CacheKey {
        user: user.id,
        partner: user.partner_id,
        org: user.org_id,
    };
    let ticket = match cache.as_ref() {
        Some(cache) => {
            cache.versions().observe(user.id, user.permission_versions);
            match cache.lookup(&key) {
                Lookup::Hit(hit) => return Ok(hit),
                Lookup::Miss(ticket) => Some(ticket),
            }
        }
        None => None,
    };
    let memberships = principal::memberships(tx, user.id).await?;
    let platform_admin = memberships
        .system
        .as_ref()
        .is_some_and(|m| m.state == breeze_authz::access::MembershipState::Active);
    let orgs = principal::org_records(tx, &memberships).await?;
    let access = match resolve(
        &Principal::User {
            user_id: user.id,
            memberships,
        },
        &orgs,
    ) {
        Err(e) => Err(e.code()),
        Ok(ctx) => {
            let role = match ctx.role_id() {
                Some(id) => principal::role(tx, id).await?,
                None => None,
            };
            let permissions = match &role {
                Some(r) => Some(Arc::new(compile_role(state, r)?)),
                None => None,
            };
            Ok(Granted {
                ctx,
                role,
                permissions,
            })
        }
    };
    let resolved = Arc::new(ResolvedAccess {
        platform_admin,
        access,
    });
    if let (Some(cache), Some(ticket)) = (cache.as_ref(), ticket) {
        cache.store(ticket, Arc::clone(&resolved));
    }
    Ok(resolved)
}

/// An API key that passed the checks every key use shares: format, hash lookup
/// (constant-time compare), status and expiry, the partner's IP allow-list, the per-key
/// hourly limit, and a serviceable organization.
pub(crate) struct CheckedApiKey {
    /// The stored row.
    pub row: principal::ApiKeyRow,
    /// The usable key.
    pub usable: breeze_authz::api_key::UsableApiKey,
    /// Its parsed scopes.
    pub scopes: ApiKeyScopes,
    /// The key's organization record (with its partner) for access resolution.
    pub orgs: Vec<breeze_authz::access::OrgRecord>,
}

/// Runs the shared API-key checks on a raw `X-API-Key` value.
///
/// # Errors
/// [`ApiError::Unauthorized`] (`invalid_api_key`, `api_key_revoked`, `api_key_expired`),
/// a 429 from the hourly limit, or a store failure.
pub(crate) async fn check_api_key(
    state: &AppState,
    raw: &str,
    client: &ClientMeta,
) -> Result<CheckedApiKey, ApiError> {
    let key = ApiKey::parse(raw).map_err(|_| ApiError::Unauthorized("invalid_api_key"))?;
    let hash = key.hash();
    let mut tx = state.store.begin_system("authenticate api key").await?;
    let row = principal::api_key_by_hash(&mut tx, &hash.to_hex())
        .await?
        .ok_or(ApiError::Unauthorized("invalid_api_key"))?;
    let stored: TokenHash = row
        .key_hash
        .parse()
        .map_err(|_| ApiError::Unauthorized("invalid_api_key"))?;
    if !key.verify(&stored) {
        return Err(ApiError::Unauthorized("invalid_api_key"));
    }
    let status = match row.status.as_str() {
        "active" => ApiKeyStatus::Active,
        "revoked" => ApiKeyStatus::Revoked,
        _ => ApiKeyStatus::Expired,
    };
    let scopes = ApiKeyScopes::parse(&row.scopes).map_err(ApiError::internal)?;
    let usable = ApiKeyRecord {
        id: row.id,
        org_id: row.org_id,
        status,
        expires_at: row.expires_at,
        scopes: scopes.clone(),
    }
    .check(state.clock.now())
    .map_err(|r| ApiError::Unauthorized(r.code()))?;
    let orgs = principal::org_records_for(&mut tx, None, Some(*row.org_id.as_uuid())).await?;
    drop(tx);
    let subject = ip_allow::Subject {
        actor: Actor::ApiKey(row.id),
        org: Some(row.org_id),
        partner: row.partner_id,
    };
    let list = row.ip_allowlist.as_ref();
    ip_allow::admit(state, client, list, subject, ip_allow::Stage::ApiKey).await?;

    let per_hour = u32::try_from(row.rate_limit_per_hour.max(1)).unwrap_or(1);
    let decision = state.limiter.api_key_hourly(row.id, per_hour).await;
    if !decision.is_allowed() {
        return Err(rate_limited(&decision));
    }
    Ok(CheckedApiKey {
        row,
        usable,
        scopes,
        orgs,
    })
}

/// Records one use of a key (`last_used_at`, `usage_count`) in `authed`'s context.
///
/// # Errors
/// A store failure.
async fn touch_api_key(state: &AppState, authed: &Authed, id: ApiKeyId) -> Result<(), ApiError> {
    let mut tx = authed.begin(state).await?;
    principal::touch_api_key(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn authenticate_api_key(
    state: &AppState,
    meta: &RouteMeta,
    raw: &str,
    client: ClientMeta,
) -> Result<Authed, ApiError> {
    let checked = check_api_key(state, raw, &client).await?;
    let ctx = resolve(&Principal::ApiKey(checked.usable), &checked.orgs)
        .map_err(|e| ApiError::Unauthorized(e.code()))?;
    let authed = Authed {
        ctx,
        who: Authenticated::ApiKey {
            id: checked.row.id,
            scopes: checked.scopes,
        },
        permissions: None,
        client,
    };
    authorize(state, meta, &authed)?;
    touch_api_key(state, &authed, checked.row.id).await?;
    Ok(authed)
}

fn authorize(state: &AppState, meta: &RouteMeta, authed: &Authed) -> Result<(), ApiError> {
    authorize_access(state, meta, authed)?;
    if meta.mfa {
        match &authed.who {
            Authenticated::User(s) if s.claims.mfa => {}
            _ => return Err(ApiError::Forbidden("mfa_required")),
        }
    }
    Ok(())
}

fn authorize_access(state: &AppState, meta: &RouteMeta, authed: &Authed) -> Result<(), ApiError> {
    match meta.access {
        Access::Public | Access::Metrics => Ok(()),
        Access::Agent => Err(ApiError::Forbidden("agents_only")),
        // a ticketed socket authenticates in its handler; a request never reaches here
        Access::Ticket(_) => Err(ApiError::Forbidden("ticket_required")),
        Access::AiKey => Err(ApiError::Forbidden("mcp_only")),
        Access::Authenticated => match authed.who {
            Authenticated::User(_) => Ok(()),
            Authenticated::ApiKey { .. } => Err(ApiError::Forbidden("users_only")),
        },
        Access::PlatformAdmin => {
            if authed.ctx.scope() == RoleScope::System && authed.user_id().is_some() {
                Ok(())
            } else {
                Err(ApiError::Forbidden("platform_admin_required"))
            }
        }
        Access::Permission(p) => {
            if authed.allows(state, p) {
                Ok(())
            } else {
                Err(ApiError::Forbidden("permission_denied"))
            }
        }
    }
}
