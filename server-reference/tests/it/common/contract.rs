//! The API contract, checked on every answer of every integration test: the server's own
//! OpenAPI document must list the status each route answered, and a JSON body must validate
//! against the schema the document gives for that status. A violation fails the test that
//! provoked it (when its `TestServer` is dropped), so a route cannot answer what its
//! document does not say.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use serde_json::Value;

/// Bodies larger than this are not buffered for validation (export bundles, files).
const MAX_CHECKED_BODY: usize = 4 * 1024 * 1024;

/// The server's document, built once per process.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(breeze_server::http::openapi::server_document)
}

type Validators = HashMap<String, Arc<jsonschema::Validator>>;

/// What the check found, shared by the layer and the test's server.
#[derive(Clone, Default)]
pub struct Contract {
    violations: Arc<Mutex<Vec<String>>>,
    validators: Arc<Mutex<Validators>>,
}

impl Contract {
    /// The violations so far.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().clone()
    }

    fn record(&self, text: String) {
        self.violations.lock().push(text);
    }

    /// A validator for the schema at `pointer` in the document (cached).
    fn validator(&self, pointer: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.validators.lock().get(pointer) {
            return Ok(v.clone());
        }
        let doc = document();
        let schema = doc
            .pointer(pointer)
            .ok_or_else(|| format!("no schema at {pointer}"))?;
        let mut root = schema.clone();
        if let Value::Object(map) = &mut root {
            map.insert("components".into(), doc["components"].clone());
        } else {
            // a boolean schema
            root = serde_json::json!({"allOf": [schema], "components": doc["components"]});
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("schema at {pointer} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .insert(pointer.to_owned(), validator.clone());
        Ok(validator)
    }
}

/// `~` and `/` escaped for a JSON pointer.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The layer: checks the answer of every routed request.
pub async fn check(State(contract): State<Contract>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(request).await;
    let Some(path) = path else {
        // the fallback (an unknown path): nothing is documented
        return response;
    };
    if method == Method::OPTIONS || method == Method::HEAD {
        return response;
    }
    let status = response.status().as_u16();
    let doc = document();
    let op_pointer = format!(
        "/paths/{}/{}",
        escape(&path),
        method.as_str().to_ascii_lowercase()
    );
    let Some(op) = doc.pointer(&op_pointer) else {
        // a method the path does not have: 405, or what the outer layers and the guard
        // answer first (the guard authenticates before the method is looked at, so an
        // unauthenticated caller learns nothing of a route's methods)
        if !matches!(status, 401 | 403 | 405 | 413 | 429) {
            contract.record(format!(
                "{method} {path}: answered {status} for a method the document does not list"
            ));
        }
        return response;
    };
    let Some(documented) = op["responses"].get(status.to_string()) else {
        contract.record(format!(
            "{method} {path}: answered {status}, which its document does not list"
        ));
        return response;
    };
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let json_schema = documented
        .pointer("/content/application~1json/schema")
        .is_some();
    if !is_json {
        if json_schema && status != 101 && response.headers().contains_key("content-type") {
            contract.record(format!(
                "{method} {path}: {status} is documented as JSON but answered another type"
            ));
        }
        return response;
    }
    if !json_schema {
        contract.record(format!(
            "{method} {path}: {status} answered JSON the document does not describe"
        ));
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_CHECKED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            contract.record(format!("{method} {path}: {status} body could not be read"));
            return Response::from_parts(parts, Body::empty());
        }
    };
    let pointer = format!("{op_pointer}/responses/{status}/content/application~1json/schema");
    match (
        serde_json::from_slice::<Value>(&bytes),
        contract.validator(&pointer),
    ) {
        (Ok(value), Ok(validator)) => {
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .take(3)
                // the instance is never echoed (a body can hold a token): where and which rule
                .map(|e| format!("at '{}' (rule {})", e.instance_path(), e.schema_path()))
                .collect();
            if !errors.is_empty() {
                contract.record(format!(
                    "{method} {path}: {status} body does not match its schema: {}",
                    errors.join("; ")
                ));
            }
        }
        (Err(_), _) => contract.record(format!(
            "{method} {path}: {status} is application/json but not JSON"
        )),
        (_, Err(e)) => contract.record(format!("{method} {path}: {e}")),
    }
    Response::from_parts(parts, Body::from(bytes))
}
