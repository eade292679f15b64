//! Validating extractors: JSON bodies, query strings and path ids with field-path errors.
//!
//! Every body, path and query parameter is validated (SPEC 9). Shape errors name the field
//! (`body.email`, `query.limit`, `path.orgId`) and never echo the value; semantic checks
//! come from [`Validate`], which every request type implements.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldIssue};

/// Semantic validation of a request value; returns every issue found.
pub trait Validate {
    /// The issues, with paths relative to the value (`email`, `items[2].name`).
    fn validate(&self) -> Vec<FieldIssue> {
        Vec::new()
    }
}

fn prefix(area: &str, path: &str) -> String {
    if path.is_empty() || path == "." {
        area.to_owned()
    } else {
        format!("{area}.{path}")
    }
}

fn finish<T: Validate>(area: &str, value: T) -> Result<T, ApiError> {
    let issues: Vec<FieldIssue> = value
        .validate()
        .into_iter()
        .map(|i| FieldIssue::new(prefix(area, &i.path), i.message))
        .collect();
    if issues.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::Validation(issues))
    }
}

/// Describes a serde error without echoing input: serde messages may quote the value, so
/// only the category is kept.
fn shape_message(e: &serde_json::Error) -> &'static str {
    let text = e.to_string();
    if text.starts_with("missing field") {
        "is required"
    } else if text.starts_with("unknown field") {
        "is not allowed"
    } else if text.starts_with("invalid type") {
        "has the wrong type"
    } else if text.starts_with("invalid length") {
        "has the wrong length"
    } else if e.is_syntax() || e.is_eof() {
        "is not valid JSON"
    } else {
        "is invalid"
    }
}

/// A JSON body: must be `application/json`, parse into `T` and pass [`Validate`].
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::invalid("body", "must be application/json"));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::invalid("body", "could not be read")
                }
            })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ApiError::Validation(vec![FieldIssue::new(
                prefix("body", &path),
                shape_message(e.inner()),
            )])
        })?;
        // one JSON value and nothing after it but whitespace (`{..} garbage` and two
        // objects back to back are refused, as the agent protocol does)
        de.end().map_err(|_| {
            ApiError::invalid("body", "must be a single JSON value without trailing data")
        })?;
        finish("body", value).map(Json)
    }
}

/// A query string parsed into `T` and validated.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let value: T = serde_urlencoded_like(query)?;
        finish("query", value).map(Query)
    }
}

/// Parses `a=1&b=x` into `T` through a JSON object of strings (numbers are parsed by the
/// target type with `serde_with`-free helpers: fields that need numbers use [`Limit`]).
fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let mut map = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k).ok_or_else(|| ApiError::invalid("query", "bad encoding"))?;
        let v = percent_decode(v).ok_or_else(|| ApiError::invalid("query", "bad encoding"))?;
        if map
            .insert(k.clone(), serde_json::Value::String(v))
            .is_some()
        {
            return Err(ApiError::invalid(prefix("query", &k), "is repeated"));
        }
    }
    let value = serde_json::Value::Object(map);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(vec![FieldIssue::new(
            prefix("query", &path),
            shape_message(e.inner()),
        )])
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes
                    .get(i.saturating_add(1))
                    .and_then(|c| (*c as char).to_digit(16))?;
                let lo = bytes
                    .get(i.saturating_add(2))
                    .and_then(|c| (*c as char).to_digit(16))?;
                out.push(u8::try_from(hi.checked_mul(16)?.checked_add(lo)?).ok()?);
                i = i.saturating_add(2);
            }
            _ => out.push(b),
        }
        i = i.saturating_add(1);
    }
    String::from_utf8(out).ok()
}

/// Path parameters parsed into `T` (a struct of typed ids); a malformed id is a 400 naming
/// `path.<name>`.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw =
            axum::extract::Path::<std::collections::BTreeMap<String, String>>::from_request_parts(
                parts, state,
            )
            .await
            .map_err(|_| ApiError::invalid("path", "is malformed"))?;
        let value = serde_json::Value::Object(
            raw.0
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        );
        serde_path_to_error::deserialize(value)
            .map(Path)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::invalid(prefix("path", &path), "is not a valid id")
            })
    }
}

pub use crate::store::page::{DEFAULT_PAGE, MAX_PAGE, Page};

/// Cursor pagination: `?limit=1..100&cursor=<opaque>`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size (1 to 100, default 50).
    #[schemars(with = "Option<crate::http::doc::PageLimit>")]
    pub limit: Option<String>,
    /// The `nextCursor` of the previous page.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Validates into a [`Page`].
    ///
    /// # Errors
    /// [`ApiError::Validation`] for a limit outside 1..=100 or a malformed cursor.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match &self.limit {
            None => DEFAULT_PAGE,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .ok_or_else(|| ApiError::invalid("query.limit", "must be 1 to 100"))?,
        };
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(
                c.parse::<uuid::Uuid>()
                    .map_err(|_| ApiError::invalid("query.cursor", "is malformed"))?,
            ),
        };
        Ok(Page { limit, after })
    }
}

impl Validate for PageQuery {
    fn validate(&self) -> Vec<FieldIssue> {
        match self.page() {
            Ok(_) => Vec::new(),
            Err(ApiError::Validation(issues)) => issues
                .into_iter()
                .map(|i| FieldIssue::new(i.path.trim_start_matches("query.").to_owned(), i.message))
                .collect(),
            Err(_) => vec![FieldIssue::new("", "is invalid")],
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct PageOf<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> PageOf<T> {
    /// Builds a page from `limit + 1` fetched items ordered by id: the extra item only
    /// signals that there is a next page.
    pub fn from_fetched<I: Into<uuid::Uuid>>(
        mut items: Vec<T>,
        page: Page,
        id_of: impl Fn(&T) -> I,
    ) -> Self {
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|last| id_of(last).into().to_string())
        } else {
            None
        };
        Self { items, next_cursor }
    }

    /// The same page with every item converted (a store row into its API shape).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PageOf<U> {
        PageOf {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// Checks an e-mail address: 3..=254 characters, one `@`, a dotted domain, no spaces or
/// control characters.
#[must_use]
pub fn is_valid_email(email: &str) -> bool {
    let len = email.chars().count();
    if !(3..=254).contains(&len) || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Checks a display name: 1..=`max` characters after trimming, no C0/C1 control
/// character anywhere, leading and trailing ones included (`breeze_core::text`).
#[must_use]
pub fn is_valid_name(name: &str, max: usize) -> bool {
    breeze_core::text::check_name(name, max).is_ok()
}
