//! The OpenAPI 3.1 document, generated from the route table ([`crate::http::routes::all`]).
//!
//! Every route appears with its method, summary, security requirement (`bearer`, `apiKey`,
//! `metricsToken` or none) and the `x-breeze-permission` / `x-breeze-access` extensions
//! naming the declared access. Path parameters (`{orgId}`) are documented as UUID strings.

use serde_json::{Map, Value, json};

use super::route::{Access, RouteMeta};

/// The path parameters of an axum path pattern (`/a/{orgId}/b/{id}` -> `orgId`, `id`).
#[must_use]
pub fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

fn access_name(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::Authenticated => "authenticated",
        Access::Permission(_) => "permission",
        Access::PlatformAdmin => "platform_admin",
        Access::Metrics => "metrics",
        Access::Agent => "agent",
        Access::Ticket(_) => "ticket",
        Access::AiKey => "ai_key",
    }
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::Metrics => json!([{"metricsToken": []}]),
        Access::Agent => json!([{"agentToken": []}]),
        // a one-time ticket offered as the `breeze.ticket.<ticket>` WebSocket subprotocol
        Access::Ticket(_) => json!([{"remoteTicket": []}]),
        Access::AiKey => json!([{"apiKey": []}]),
        // users only
        Access::Authenticated | Access::PlatformAdmin => json!([{"bearer": []}]),
        // a user or an API key holding the permission
        Access::Permission(_) => json!([{"bearer": []}, {"apiKey": []}]),
    }
}

fn operation(meta: &RouteMeta) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), json!(meta.summary));
    op.insert(
        "operationId".into(),
        json!(format!(
            "{}_{}",
            meta.method.to_lowercase(),
            meta.path
                .trim_start_matches('/')
                .replace(['/', '{', '}', '-', '.'], "_")
        )),
    );
    if meta.mfa {
        // a user session that passed MFA; API keys cannot
        op.insert("security".into(), json!([{"bearer": []}]));
        op.insert("x-breeze-mfa".into(), json!(true));
    } else {
        op.insert("security".into(), security(meta.access));
    }
    op.insert("x-breeze-access".into(), json!(access_name(meta.access)));
    if let Some(p) = meta.access.permission() {
        op.insert("x-breeze-permission".into(), json!(p));
    }
    let params: Vec<Value> = path_parameters(meta.path)
        .into_iter()
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": {"type": "string", "format": "uuid"}
            })
        })
        .collect();
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let mut responses = Map::new();
    responses.insert("200".into(), json!({"description": "success"}));
    responses.insert(
        "400".into(),
        json!({"$ref": "#/components/responses/Error"}),
    );
    if meta.access != Access::Public {
        responses.insert(
            "401".into(),
            json!({"$ref": "#/components/responses/Error"}),
        );
        responses.insert(
            "403".into(),
            json!({"$ref": "#/components/responses/Error"}),
        );
    }
    responses.insert(
        "429".into(),
        json!({"$ref": "#/components/responses/Error"}),
    );
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The document for `routes`.
#[must_use]
pub fn document(routes: &[RouteMeta]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for meta in routes {
        let item = paths
            .entry(meta.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(meta.method.to_lowercase(), operation(meta));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Breeze reference server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Generated from the route table: every route with its declared access."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "metricsToken": {"type": "http", "scheme": "bearer"},
                "agentToken": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "brz_ agent token",
                    "description": "the agent's token; for a device bound to a key (SPEC 17) also an RFC 9421 HTTP message signature: `Signature-Input` / `Signature` (label sig1, ed25519) over @method, @target-uri and, with a body, `Content-Digest` (sha-256), with created, nonce and keyid = the agent id"
                },
                "remoteTicket": {
                    "type": "apiKey", "in": "header", "name": "Sec-WebSocket-Protocol",
                    "description": "a one-time remote-session ticket (POST /api/v1/remote-sessions/{sessionId}/ticket), offered as the subprotocol `breeze.ticket.<ticket>` next to `breeze.terminal.v1`"
                }
            },
            "responses": {
                "Error": {
                    "description": "an error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "stable machine code"},
                        "message": {"type": "string"},
                        "issues": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"path": {"type": "string"}, "message": {"type": "string"}}
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The document of the server's route table.
#[must_use]
pub fn server_document() -> Value {
    let metas: Vec<RouteMeta> = super::routes::all().iter().map(|r| r.meta).collect();
    document(&metas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_found() {
        assert_eq!(
            path_parameters("/api/v1/orgs/{orgId}/sites/{siteId}"),
            vec!["orgId", "siteId"]
        );
        assert!(path_parameters("/health").is_empty());
    }

    #[test]
    fn permission_extension_and_security() {
        let doc = document(&[RouteMeta {
            method: "GET",
            path: "/api/v1/orgs/{orgId}/devices",
            access: Access::Permission("devices:read"),
            summary: "list devices",
            mfa: false,
        }]);
        let op = &doc["paths"]["/api/v1/orgs/{orgId}/devices"]["get"];
        assert_eq!(op["x-breeze-permission"], "devices:read");
        assert_eq!(op["parameters"][0]["schema"]["format"], "uuid");
        assert_eq!(op["security"][1]["apiKey"], json!([]));
        assert!(op.get("x-breeze-mfa").is_none());
    }

    #[test]
    fn mfa_routes_say_so_and_take_no_api_key() {
        let doc = document(&[RouteMeta {
            method: "POST",
            path: "/api/v1/devices/{deviceId}/unsuspend",
            access: Access::Permission("devices:write"),
            summary: "lift",
            mfa: true,
        }]);
        let op = &doc["paths"]["/api/v1/devices/{deviceId}/unsuspend"]["post"];
        assert_eq!(op["x-breeze-mfa"], json!(true));
        assert_eq!(op["x-breeze-permission"], "devices:write");
        assert_eq!(op["security"], json!([{"bearer": []}]));
    }
}
