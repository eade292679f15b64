//! What the OpenAPI document says of one operation, taken from the handler's own types.
//!
//! A route is registered with its handler function ([`crate::http::route::route`]); the
//! [`DocHandler`] bound reads the handler's argument types, so a validated JSON body
//! ([`Json<T>`]) documents `T` as the request body and a validated query ([`Query<T>`]) its
//! fields as query parameters: the document describes exactly what the handler parses.
//! Responses are declared next to the route ([`crate::http::route::Route::ok`] and friends)
//! and checked against what the server really answers by the conformance check every
//! integration test runs (`tests/it/common/contract.rs`) and by schemathesis.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::http::extract;

/// A function giving the schema of one type (a `$ref` to a component for named types).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`.
#[must_use]
pub fn schema_of<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum BodyDoc {
    /// `application/json` with this schema.
    Json(SchemaFn),
    /// Raw bytes (`application/octet-stream`).
    Bytes,
}

/// What the handler's arguments say of the operation.
#[derive(Debug, Clone, Default)]
pub struct InputDoc {
    /// The request body, when an argument reads one.
    pub body: Option<BodyDoc>,
    /// The query parameters' type, when an argument reads the query string.
    pub query: Option<SchemaFn>,
}

/// An extractor's contribution to the operation's documentation.
pub trait DocArg {
    /// Adds what this extractor reads; most read nothing a client sends as data.
    fn describe(_input: &mut InputDoc) {}
}

impl<T: JsonSchema> DocArg for extract::Json<T> {
    fn describe(input: &mut InputDoc) {
        input.body = Some(BodyDoc::Json(schema_of::<T>));
    }
}

impl<T: JsonSchema> DocArg for axum::Json<T> {
    fn describe(input: &mut InputDoc) {
        input.body = Some(BodyDoc::Json(schema_of::<T>));
    }
}

impl<T: JsonSchema> DocArg for extract::Query<T> {
    fn describe(input: &mut InputDoc) {
        input.query = Some(schema_of::<T>);
    }
}

impl DocArg for Bytes {
    fn describe(input: &mut InputDoc) {
        // a route that decodes the bytes itself declares the type with `Route::body`
        if input.body.is_none() {
            input.body = Some(BodyDoc::Bytes);
        }
    }
}

// path parameters come from the path pattern (UUIDs, the hex agent id, the console's asset names)
impl<T> DocArg for extract::Path<T> {}
impl<T, E> DocArg for Result<extract::Path<T>, E> {}
impl<T> DocArg for State<T> {}
impl<T> DocArg for Extension<T> {}
impl<T> DocArg for ConnectInfo<T> {}
impl DocArg for HeaderMap {}
impl DocArg for Uri {}
impl DocArg for WebSocketUpgrade {}
impl<E> DocArg for Result<WebSocketUpgrade, E> {}
// a raw body the handler reads itself (the MCP endpoint, JSON-RPC): declared with `Route::body`
impl DocArg for axum::body::Body {}

/// A handler function whose arguments are all [`DocArg`]s; `T` is the tuple of argument
/// types (inferred, like axum's `Handler`).
pub trait DocHandler<T> {
    /// What the arguments read.
    fn input() -> InputDoc;
}

macro_rules! doc_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> DocHandler<($($arg,)*)> for F
        where
            F: FnOnce($($arg,)*) -> Fut,
            $($arg: DocArg,)*
        {
            fn input() -> InputDoc {
                #[allow(unused_mut, reason = "a handler without arguments changes nothing")]
                let mut input = InputDoc::default();
                $(<$arg as DocArg>::describe(&mut input);)*
                input
            }
        }
    };
}

doc_handler!();
doc_handler!(A1);
doc_handler!(A1, A2);
doc_handler!(A1, A2, A3);
doc_handler!(A1, A2, A3, A4);
doc_handler!(A1, A2, A3, A4, A5);
doc_handler!(A1, A2, A3, A4, A5, A6);
doc_handler!(A1, A2, A3, A4, A5, A6, A7);
doc_handler!(A1, A2, A3, A4, A5, A6, A7, A8);

/// One documented success (or declared non-error) response.
#[derive(Debug, Clone, Copy)]
pub struct ResponseDoc {
    /// The status.
    pub status: u16,
    /// The JSON body's schema, or none (204, a redirect, a WebSocket upgrade).
    pub body: Option<SchemaFn>,
    /// The content type when the body is not JSON (an export bundle is JSON Lines).
    pub content_type: Option<&'static str>,
    /// What the response means.
    pub description: &'static str,
}

/// The documentation of one route besides its metadata.
#[derive(Debug, Clone, Default)]
pub struct RouteDoc {
    /// What the handler's arguments read.
    pub input: InputDoc,
    /// Success responses.
    pub responses: Vec<ResponseDoc>,
    /// Error statuses the route can answer beyond those its access and inputs imply.
    pub errors: Vec<u16>,
    /// The error body, when the route does not answer the API's `Error` (the MCP endpoint
    /// answers JSON-RPC errors).
    pub error_body: Option<SchemaFn>,
    /// A longer description.
    pub description: Option<&'static str>,
}

/// The schema of an RFC 3339 timestamp (`time::serde::rfc3339` fields).
pub struct Rfc3339;

impl JsonSchema for Rfc3339 {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rfc3339".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

/// The schema of a page size (`?limit=`; parsed from text, 1 to 100).
pub struct PageLimit;

impl JsonSchema for PageLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PageLimit".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": 100, "default": 50})
    }
}
