//! The route table: every route with its method, path and declared access.
//!
//! A route cannot be registered without an [`Access`]; the guard middleware enforces it
//! before the handler runs (the handler cannot forget). The table also feeds the OpenAPI
//! document and the cross-tenant denial matrix test, which fails when a route is missing
//! from the matrix.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use schemars::JsonSchema;

use super::doc::{BodyDoc, DocHandler, ResponseDoc, RouteDoc, SchemaFn, schema_of};
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

/// One route: metadata, its documentation and the handler.
pub struct Route {
    /// Metadata.
    pub meta: RouteMeta,
    /// What the OpenAPI document says beyond the metadata.
    pub doc: RouteDoc,
    /// The handler for exactly this method.
    pub handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meta.fmt(f)
    }
}

/// Builds a [`Route`] for `handler` on exactly `method`. The handler's argument types
/// document the request ([`DocHandler`]); responses are declared with [`Route::ok`] and its
/// siblings.
#[must_use]
pub fn route<H, T, D>(
    method: Method,
    path: &'static str,
    access: Access,
    summary: &'static str,
    handler: H,
) -> Route
where
    H: Handler<T, AppState> + DocHandler<D>,
    T: 'static,
{
    let (name, filter): (&'static str, MethodFilter) = match method {
        Method::GET => ("GET", MethodFilter::GET),
        Method::POST => ("POST", MethodFilter::POST),
        Method::PUT => ("PUT", MethodFilter::PUT),
        Method::PATCH => ("PATCH", MethodFilter::PATCH),
        Method::DELETE => ("DELETE", MethodFilter::DELETE),
        _ => ("OTHER", MethodFilter::TRACE),
    };
    Route {
        meta: RouteMeta {
            method: name,
            path,
            access,
            summary,
            mfa: false,
        },
        doc: RouteDoc {
            input: <H as DocHandler<D>>::input(),
            ..RouteDoc::default()
        },
        handler: axum::routing::on(filter, handler),
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

    /// Wraps the handler in `layer` (a body limit, an extension).
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.handler = self.handler.layer(layer);
        self
    }

    fn respond(
        mut self,
        status: u16,
        body: Option<SchemaFn>,
        content_type: Option<&'static str>,
        description: &'static str,
    ) -> Self {
        self.doc.responses.push(ResponseDoc {
            status,
            body,
            content_type,
            description,
        });
        self
    }

    /// Answers 200 with a JSON `T`.
    #[must_use]
    pub fn ok<T: JsonSchema>(self) -> Self {
        self.respond(200, Some(schema_of::<T>), None, "success")
    }

    /// Answers 201 with the created `T`.
    #[must_use]
    pub fn created<T: JsonSchema>(self) -> Self {
        self.respond(201, Some(schema_of::<T>), None, "created")
    }

    /// Answers 202 with a JSON `T` (accepted, completed later).
    #[must_use]
    pub fn accepted<T: JsonSchema>(self) -> Self {
        self.respond(202, Some(schema_of::<T>), None, "accepted")
    }

    /// Answers 204 without a body.
    #[must_use]
    pub fn no_content(self) -> Self {
        self.respond(204, None, None, "done; no body")
    }

    /// Answers `status` with a body that is not JSON (`content_type`), or none.
    #[must_use]
    pub fn answers(
        self,
        status: u16,
        content_type: Option<&'static str>,
        description: &'static str,
    ) -> Self {
        self.respond(status, None, content_type, description)
    }

    /// The request body is a JSON `T` the handler decodes itself (it reads raw bytes, as the
    /// agent routes do to decode with the protocol's strict decoder).
    #[must_use]
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.doc.input.body = Some(BodyDoc::Json(schema_of::<T>));
        self
    }

    /// Error statuses this route answers beyond those of its access and inputs (404 for a
    /// resource by id is implied by a path parameter).
    #[must_use]
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.doc.errors.extend_from_slice(statuses);
        self
    }

    /// Errors are answered as `T` rather than the API's `Error`.
    #[must_use]
    pub fn errors_as<T: JsonSchema>(mut self) -> Self {
        self.doc.error_body = Some(schema_of::<T>);
        self
    }

    /// A longer description for the document.
    #[must_use]
    pub fn describe(mut self, text: &'static str) -> Self {
        self.doc.description = Some(text);
        self
    }
}
