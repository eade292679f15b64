//! `probe`: the latency of read endpoints as one caller sees them, one request at a time
//! (the scale run, `scripts/perf scale`).
//!
//! A probe is a name and a path. The path may hold placeholders, filled afresh for every
//! request so that pages are read from everywhere in a table, not from one cached spot:
//! `{uuid}` (a random UUID, e.g. a device-list cursor) and `{n:MAX}` (a random integer below
//! `MAX`, e.g. an audit cursor's sequence). Every answer must be a 200 with an `items`
//! array (a page) or a JSON object; anything else fails the probe, so a figure is never
//! the latency of an error.
//!
//! Requests leave from a pool of loopback source addresses in turn (as the agents of a run
//! do), so the server's per-address request limit (300 a minute) does not bound a probe of
//! thousands of requests: what is timed is the read path, not the limiter.
//!
//! ```
//! use breeze_fleet_sim::probe::{expand, parse_probes};
//!
//! let probes = parse_probes("# comment\ndevices /api/v1/devices?limit=50&cursor={uuid}\n").unwrap();
//! assert_eq!(probes[0].name, "devices");
//! let path = expand(&probes[0].path, &mut |_| 7).unwrap();
//! assert!(path.starts_with("/api/v1/devices?limit=50&cursor="));
//! assert_eq!(expand("/a?c=x:{n:100}", &mut |_| 42).unwrap(), "/a?c=x:42");
//! assert!(parse_probes("only-a-name\n").is_err());
//! ```

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::Value;

use crate::SimError;
use crate::addrs::SourcePool;
use crate::stats::{Latency, Percentiles};
use crate::target::Target;

/// One endpoint to time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Name in the report.
    pub name: String,
    /// Path and query, with placeholders.
    pub path: String,
}

/// Parses a probes file: one `name path` per line; blank lines and `#` comments skipped.
///
/// # Errors
/// [`SimError::Argument`] for a line without a path or a path not starting with `/`.
pub fn parse_probes(text: &str) -> Result<Vec<ProbeSpec>, SimError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, path) = line
            .split_once(char::is_whitespace)
            .map(|(n, p)| (n, p.trim()))
            .filter(|(_, p)| p.starts_with('/'))
            .ok_or_else(|| SimError::Argument("--probes", format!("not `name /path`: {line}")))?;
        out.push(ProbeSpec {
            name: name.to_owned(),
            path: path.to_owned(),
        });
    }
    if out.is_empty() {
        return Err(SimError::Argument("--probes", "no probes".into()));
    }
    Ok(out)
}

/// Fills the placeholders of `path`; `random(max)` gives an integer below `max` (`u64::MAX`
/// for a UUID's bits, called twice).
///
/// # Errors
/// [`SimError::Argument`] for an unknown or malformed placeholder.
pub fn expand(path: &str, random: &mut dyn FnMut(u64) -> u64) -> Result<String, SimError> {
    let mut out = String::with_capacity(path.len() + 36);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| SimError::Argument("--probes", format!("unclosed `{{` in {path}")))?;
        let token = &rest[open + 1..open + close];
        if token == "uuid" {
            let bits = (u128::from(random(u64::MAX)) << 64) | u128::from(random(u64::MAX));
            out.push_str(
                &uuid::Builder::from_random_bytes(bits.to_be_bytes())
                    .into_uuid()
                    .to_string(),
            );
        } else if let Some(max) = token.strip_prefix("n:").and_then(|m| m.parse::<u64>().ok()) {
            if max == 0 {
                return Err(SimError::Argument(
                    "--probes",
                    format!("`{{n:0}}` in {path}"),
                ));
            }
            out.push_str(&random(max).to_string());
        } else {
            return Err(SimError::Argument(
                "--probes",
                format!("unknown placeholder `{{{token}}}` in {path}"),
            ));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn os_random(max: u64) -> u64 {
    let mut b = [0u8; 8];
    // a failing OS random source only makes the positions less spread, never the figures wrong
    if getrandom::fill(&mut b).is_err() {
        return 0;
    }
    let v = u64::from_le_bytes(b);
    if max == u64::MAX { v } else { v % max }
}

/// How the caller authenticates.
pub enum Credential {
    /// `Authorization: Bearer ...` (a user's access token).
    Bearer(SecretString),
    /// `X-API-Key: ...`.
    ApiKey(SecretString),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Bearer(_) => "Bearer(..)",
            Self::ApiKey(_) => "ApiKey(..)",
        })
    }
}

impl Credential {
    fn header(&self) -> Result<(HeaderName, HeaderValue), SimError> {
        let (name, value) = match self {
            Self::Bearer(v) => (AUTHORIZATION, v.expose_secret()),
            Self::ApiKey(v) => (HeaderName::from_static("x-api-key"), v.expose_secret()),
        };
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| SimError::Argument("credential", "not a header value".into()))?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// One probe's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// Name.
    pub name: String,
    /// Path as given (placeholders unfilled).
    pub path: String,
    /// Latency of the measured requests (warm-up excluded).
    pub latency: Percentiles,
    /// Items in the last page answered (`null` for an answer that is not a page).
    pub items: Option<usize>,
}

/// One HTTP client per loopback source address of a pool of `count`.
///
/// # Errors
/// [`SimError::Argument`] for a pool size out of range, [`SimError::Local`] when a client
/// cannot be built.
pub fn clients(count: usize) -> Result<Vec<reqwest::Client>, SimError> {
    crate::http_agent::ensure_crypto_provider();
    let pool = SourcePool::new(count)?;
    (0..pool.len())
        .map(|i| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .local_address(pool.for_agent(i))
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| SimError::Local(format!("http client: {e}")))
        })
        .collect()
}

/// Times every probe: `warmup` requests unrecorded, then `iterations` recorded, one at a
/// time, each from the next client of `clients` in turn.
///
/// # Errors
/// [`SimError::Server`] for any answer that is not a 200 JSON object, [`SimError::Local`]
/// for a transport failure.
pub async fn run(
    clients: &[reqwest::Client],
    target: &Target,
    credential: &Credential,
    probes: &[ProbeSpec],
    warmup: u32,
    iterations: u32,
) -> Result<Vec<ProbeResult>, SimError> {
    let (name, value) = credential.header()?;
    if clients.is_empty() {
        return Err(SimError::Argument("clients", "none".into()));
    }
    let mut turn = clients.iter().cycle();
    let mut results = Vec::with_capacity(probes.len());
    for probe in probes {
        let latency = Latency::default();
        let mut items = None;
        for i in 0..warmup + iterations {
            let url = target.http_url(&expand(&probe.path, &mut os_random)?);
            let client = turn
                .next()
                .ok_or_else(|| SimError::Argument("clients", "none".into()))?;
            let t0 = Instant::now();
            let resp = client
                .get(&url)
                .header(name.clone(), value.clone())
                .send()
                .await
                .map_err(|e| SimError::Local(format!("{}: {e}", probe.name)))?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .map_err(|e| SimError::Local(format!("{}: {e}", probe.name)))?;
            let elapsed: Duration = t0.elapsed();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status != 200 || !v.is_object() {
                let code = v.get("code").and_then(Value::as_str).unwrap_or("");
                return Err(SimError::Server(format!(
                    "{}: status {status} {code}",
                    probe.name
                )));
            }
            if i >= warmup {
                latency.record(elapsed);
            }
            items = v.get("items").and_then(Value::as_array).map(Vec::len);
        }
        results.push(ProbeResult {
            name: probe.name.clone(),
            path: probe.path.clone(),
            latency: latency.percentiles(),
            items,
        });
    }
    Ok(results)
}

/// The results as a table.
#[must_use]
pub fn render(results: &[ProbeResult]) -> String {
    let mut out = format!(
        "{:<28} {:>7} {:>9} {:>9} {:>9} {:>6}\n",
        "probe", "n", "p50 ms", "p99 ms", "max ms", "items"
    );
    for r in results {
        out.push_str(&format!(
            "{:<28} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>6}\n",
            r.name,
            r.latency.count,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            r.items.map_or_else(|| "-".to_owned(), |n| n.to_string())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_bad_ones_refused() {
        let mut r = |max: u64| {
            if max == u64::MAX {
                0xdead_beef
            } else {
                max - 1
            }
        };
        let p = expand("/x?c={uuid}&s=k:{n:10}", &mut r).unwrap();
        let (head, seq) = p.rsplit_once(":").unwrap();
        assert_eq!(seq, "9");
        let id: uuid::Uuid = head
            .trim_start_matches("/x?c=")
            .trim_end_matches("&s=k")
            .parse()
            .unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert!(expand("/x?{n:0}", &mut r).is_err());
        assert!(expand("/x?{n:abc}", &mut r).is_err());
        assert!(expand("/x?{what}", &mut r).is_err());
        assert!(expand("/x?{uuid", &mut r).is_err());
        assert_eq!(expand("/plain", &mut r).unwrap(), "/plain");
    }

    #[test]
    fn probe_files_need_a_name_and_an_absolute_path() {
        assert!(parse_probes("\n# nothing\n").is_err());
        assert!(parse_probes("a relative/path\n").is_err());
        let p = parse_probes("a  /one\nb\t/two?x=1\n").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].path, "/two?x=1");
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let c = Credential::ApiKey(SecretString::from("brz_secret".to_owned()));
        assert!(!format!("{c:?}").contains("secret"));
        let (_, v) = c.header().unwrap();
        assert!(v.is_sensitive());
    }
}
