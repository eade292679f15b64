//! File operation routes (SPEC 12): read, write and list files on a device through its
//! agent. `devices:execute` for all three (a read on a root agent is as sensitive as a
//! write), from a user session that passed MFA. The rules live in `crate::remote::files`.
//!
//! Content is raw bytes (`application/octet-stream`) with its SHA-256 in `x-content-sha256`:
//! a download carries the digest the agent computed and the server checked; an upload must
//! send it, and the server checks it before anything is queued.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use breeze_agent_proto::file::{FileEntry, sha256_hex};
use breeze_agent_proto::limits::MAX_FILE_TRANSFER_BYTES;
use breeze_core::tenancy::DeviceId;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::error::{ApiError, FieldIssue};
use crate::http::authn::Authed;
use crate::http::extract;
use crate::http::route::{Access, Route, route};
use crate::remote::files::{self, FileOp, FileResult, PERMISSION};
use crate::state::AppState;

/// Header carrying a file's SHA-256 (lowercase hex).
pub const CONTENT_SHA256: &str = "x-content-sha256";

/// The routes of this module.
#[must_use]
pub fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/files/content",
            Access::Permission(PERMISSION),
            "read a file on a device (through its agent)",
            read,
        )
        .answers(
            200,
            Some("application/octet-stream"),
            "the file's bytes (`X-Content-SHA256`)",
        )
        .errors(&[409, 422, 504])
        .mfa_required(),
        route(
            Method::PUT,
            "/api/v1/devices/{deviceId}/files/content",
            Access::Permission(PERMISSION),
            "write a file on a device (through its agent)",
            write,
        )
        .ok::<WrittenOut>()
        .errors(&[409, 422, 504])
        .layer(DefaultBodyLimit::max(MAX_FILE_TRANSFER_BYTES))
        .mfa_required(),
        route(
            Method::GET,
            "/api/v1/devices/{deviceId}/files/list",
            Access::Permission(PERMISSION),
            "list a directory on a device (through its agent)",
            list,
        )
        .ok::<ListingOut>()
        .errors(&[409, 422, 504])
        .mfa_required(),
    ]
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DevicePath {
    device_id: DeviceId,
}

/// The `?path=` of every file route.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    /// Absolute path on the device.
    pub path: String,
}

impl extract::Validate for PathQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        match breeze_agent_proto::remote_path::check(&self.path) {
            Ok(()) => Vec::new(),
            Err(e) => vec![FieldIssue::new("path", e.code())],
        }
    }
}

async fn read(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Query(query): extract::Query<PathQuery>,
) -> Result<Response, ApiError> {
    let op = FileOp::Read(files::parse_path(&query.path)?);
    match files::run(&state, &authed, path.device_id, op).await? {
        FileResult::Content { bytes, sha256 } => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&sha256) {
                headers.insert(CONTENT_SHA256, v);
            }
            Ok(response)
        }
        _ => Err(ApiError::internal(
            "file_read answered with another outcome",
        )),
    }
}

/// A write's answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WrittenOut {
    path: String,
    size: u64,
    sha256: String,
}

async fn write(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Query(query): extract::Query<PathQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WrittenOut>, ApiError> {
    let remote = files::parse_path(&query.path)?;
    let declared = headers
        .get(CONTENT_SHA256)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::invalid(CONTENT_SHA256, "required: the body's sha-256"))?;
    let actual = sha256_hex(&body);
    if !bool::from(declared.as_bytes().ct_eq(actual.as_bytes())) {
        return Err(ApiError::invalid(CONTENT_SHA256, "digest_mismatch"));
    }
    let op = FileOp::Write(remote, body.to_vec());
    match files::run(&state, &authed, path.device_id, op).await? {
        FileResult::Written { size, sha256 } => Ok(Json(WrittenOut {
            path: query.path,
            size,
            sha256,
        })),
        _ => Err(ApiError::internal(
            "file_write answered with another outcome",
        )),
    }
}

/// A listing's answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ListingOut {
    path: String,
    entries: Vec<FileEntry>,
    truncated: bool,
}

async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    extract::Path(path): extract::Path<DevicePath>,
    extract::Query(query): extract::Query<PathQuery>,
) -> Result<Json<ListingOut>, ApiError> {
    let op = FileOp::List(files::parse_path(&query.path)?);
    match files::run(&state, &authed, path.device_id, op).await? {
        FileResult::Listing { entries, truncated } => Ok(Json(ListingOut {
            path: query.path,
            entries,
            truncated,
        })),
        _ => Err(ApiError::internal(
            "file_list answered with another outcome",
        )),
    }
}
