//! The details sanitizer of SPEC 6.1: what must never reach the audit log verbatim.
//!
//! - A key that looks like a secret has its value replaced by `"[REDACTED]"`. Keys are
//!   compared after lowercasing and removing every character that is not a letter or digit
//!   (`apiKey`, `api_key`, `API-KEY` and `x-api-key` all become `apikey`/`xapikey`); a key is
//!   secret when that form contains `password`, `passwd`, `token`, `secret`,
//!   `authorization`, `cookie`, `credential`, `apikey`, `accesskey`, `privatekey`,
//!   `clientsecret` or `recoverykey`.
//! - A bulky key (normalized form `content`, `body`, `stdin`, `scriptcontent`,
//!   `filecontent`) has its value replaced by `{"redacted": true, "length": n, "sha256":
//!   "<hex>"}`, where the bytes measured and hashed are the UTF-8 of a string value, or the
//!   canonical JSON of any other value.
//! - Strings (values and keys) are cut to 2048 characters.
//! - An object or array nested deeper than 8 levels (the details object itself is level 1)
//!   is replaced by `"[REDACTED]"`.

use serde_json::{Map, Value};

use super::canonical_json;
use super::event::truncate_chars;
use super::hash::sha256;

/// Replacement for secret values and over-deep nesting.
pub const REDACTED: &str = "[REDACTED]";
/// Longest string kept, in characters.
pub const MAX_STRING_CHARS: usize = 2048;
/// Deepest container kept (the details object is depth 1).
pub const MAX_DEPTH: usize = 8;

const SECRET_MARKERS: &[&str] = &[
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "cookie",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "clientsecret",
    "recoverykey",
];

const BULKY_KEYS: &[&str] = &["content", "body", "stdin", "scriptcontent", "filecontent"];

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a details key names a secret (see the module docs).
#[must_use]
pub fn is_secret_key(key: &str) -> bool {
    let k = normalize_key(key);
    SECRET_MARKERS.iter().any(|m| k.contains(m))
}

/// Whether a details key names bulky content (see the module docs).
#[must_use]
pub fn is_bulky_key(key: &str) -> bool {
    let k = normalize_key(key);
    BULKY_KEYS.contains(&k.as_str())
}

/// `{"redacted": true, "length": n, "sha256": hex}` of a value.
pub(crate) fn digest_object(v: &Value) -> Value {
    let bytes = match v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => canonical_json::to_vec(other),
    };
    let mut m = Map::new();
    m.insert("redacted".to_owned(), Value::Bool(true));
    m.insert("length".to_owned(), Value::from(bytes.len()));
    m.insert("sha256".to_owned(), Value::String(sha256(&bytes).to_hex()));
    Value::Object(m)
}

/// Applies the SPEC 6.1 rules to a details value (normally an object) and returns the
/// sanitized copy. Pure and total: never fails, never panics, bounded recursion.
#[must_use]
pub fn sanitize_details(details: &Value) -> Value {
    sanitize_at(details, 0)
}

fn sanitize_at(v: &Value, depth: usize) -> Value {
    match v {
        Value::String(s) => Value::String(truncate_chars(s, MAX_STRING_CHARS).to_owned()),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Value::String(REDACTED.to_owned());
            }
            Value::Array(items.iter().map(|i| sanitize_at(i, depth + 1)).collect())
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Value::String(REDACTED.to_owned());
            }
            let mut out = Map::new();
            for (k, val) in map {
                let clean = if is_secret_key(k) {
                    Value::String(REDACTED.to_owned())
                } else if is_bulky_key(k) {
                    if canonical_json::depth(val, canonical_json::WRITER_MAX_DEPTH)
                        > canonical_json::WRITER_MAX_DEPTH
                    {
                        Value::String(REDACTED.to_owned())
                    } else {
                        digest_object(val)
                    }
                } else {
                    sanitize_at(val, depth + 1)
                };
                out.insert(truncate_chars(k, MAX_STRING_CHARS).to_owned(), clean);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_in_every_style() {
        for k in [
            "password",
            "newPassword",
            "API-KEY",
            "apiKey",
            "api_key",
            "x-api-key",
            "Authorization",
            "set-cookie",
            "refresh_token",
            "clientSecret",
            "private_key",
            "AccessKeyId",
            "recoveryKey",
            "credentials",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["username", "deviceId", "action", "apikeyless"] {
            assert_eq!(is_secret_key(k), k == "apikeyless", "{k}");
        }
    }

    #[test]
    fn redacts_hashes_caps_and_cuts_depth() {
        let long = "é".repeat(3000);
        let v = json!({
            "user": {"Password": "hunter2", "name": "bob"},
            "scriptContent": "echo hi",
            "body": {"a": 1},
            "note": long,
            "d1": {"d2": {"d3": {"d4": {"d5": {"d6": {"d7": {"d8": {"d9": 1}, "x": 1}}}}}}}
        });
        let s = sanitize_details(&v);
        assert_eq!(s["user"]["Password"], "[REDACTED]");
        assert_eq!(s["user"]["name"], "bob");
        assert_eq!(s["scriptContent"]["redacted"], true);
        assert_eq!(s["scriptContent"]["length"], 7);
        assert_eq!(s["scriptContent"]["sha256"], sha256(b"echo hi").to_hex());
        assert_eq!(s["body"]["sha256"], sha256(br#"{"a":1}"#).to_hex());
        assert_eq!(s["note"].as_str().unwrap().chars().count(), 2048);
        let d7 = &s["d1"]["d2"]["d3"]["d4"]["d5"]["d6"]["d7"];
        assert_eq!(d7["d8"], "[REDACTED]");
        assert_eq!(d7["x"], 1);
    }
}
