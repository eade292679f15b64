//! The route table: every route with its method, path and declared access.
//!
//! A route cannot be registered without an [`Access`]; the guard middleware enforces it
//! before the handler runs (the handler cannot forget). The table also feeds the OpenAPI
//! document and the cross-tenant denial matrix test, which fails when a route is missing
//! from the matrix.

use axum::http::Method;
use axum::routing::MethodRouter;

use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication (explicit public list: login, health, enrollment, ...).
    Public,
    /// Any authenticated user, whatever their permissions (logout, `users/me`, MFA setup).
    Authenticated,
    /// A user or API key holding this permission (`devices:read`).
    Permission(&'static str),
    /// A live platform admin (system scope).
    PlatformAdmin,
    /// The metrics bearer token.
    Metrics,
    /// An enrolled agent's `brz_` token (SPEC 8.2; path carries `{agentId}`).
    Agent,
    /// A one-time remote-session ticket (SPEC 12) in `Sec-WebSocket-Protocol`, issued to a
    /// user holding this permission and re-checked against it on every ping tick.
    Ticket(&'static str),
    /// An API key (`X-API-Key`) naming at least one `ai:*` scope, capped by its creator's
    /// current permissions (SPEC 14). The MCP handler authenticates it itself, so refusals
    /// are JSON-RPC errors, and checks each tool's scope and permission per call.
    AiKey,
}

impl Access {
    /// The permission string, when the access is a permission.
    #[must_use]
    pub const fn permission(&self) -> Option<&'static str> {
        match self {
            Self::Permission(p) | Self::Ticket(p) => Some(p),
            _ => None,
        }
    }
}

/// Route metadata, available to middleware through request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMeta {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern in axum syntax (`/api/v1/orgs/{orgId}`).
    pub path: &'static str,
    /// Declared access.
    pub access: Access,
    /// One-line summary (OpenAPI).
    pub summary: &'static str,
    /// The caller must be a user whose session passed MFA (API keys are refused):
    /// declared with [`Route::mfa_required`].
    pub mfa: bool,
}

/// One route: metadata plus the handler.
pub struct Route {
    /// Metadata.
    pub meta: RouteMeta,
    /// The handler for exactly this method.
    pub handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meta.fmt(f)
    }
}

/// Builds a [`Route`]; `handler` must be a `MethodRouter` for `method` only
/// (`axum::routing::get(h)` for `GET`).
#[must_use]
pub fn route(
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
    handler: MethodRouter<AppState>,
) -> Route {
    let method: &'static str = match method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    };
    Route {
        meta: RouteMeta {
            method,
            path,
            access,
            summary,
            mfa: false,
        },
        handler,
    }
}

impl Route {
    /// Declares that the route needs a user session that passed MFA (sensitive reviews
    /// such as lifting a device suspension); the guard refuses anyone else with 403
    /// `mfa_required`, and the OpenAPI document says so (`x-breeze-mfa`).
    #[must_use]
    pub const fn mfa_required(mut self) -> Self {
        self.meta.mfa = true;
        self
    }
}
