//! The validation rules.

use std::net::IpAddr;

use breeze_crypto::keys::{self, KeyError};
use breeze_crypto::secrecy::{ExposeSecret, SecretString};

use super::input::{NamedSecret, SecurityConfig};
use super::report::{ConfigReport, Severity};
use crate::clientip::{ForwardedHeader, TrustedProxies};
use crate::ssrf::{RefusedRange, SsrfPolicy, refused_range};

/// Validates `config`. Secret weaknesses are errors in production and warnings elsewhere;
/// malformed settings are errors everywhere.
#[must_use]
pub fn validate(config: &SecurityConfig) -> ConfigReport {
    let mut report = ConfigReport::default();
    let weak = if config.environment.is_production() {
        Severity::Error
    } else {
        Severity::Warning
    };
    encryption_keys(config, weak, &mut report);
    jwt_secrets(config, weak, &mut report);
    peppers(config, weak, &mut report);
    distinct_secrets(config, weak, &mut report);
    cors(config, weak, &mut report);
    proxies(config, weak, &mut report);
    redis(config, &mut report);
    metrics(config, weak, &mut report);
    ssrf_allow_list(config, weak, &mut report);
    report
}

fn key_error(report: &mut ConfigReport, severity: Severity, field: &str, error: &KeyError) {
    report.push(severity, field, error.code(), error.to_string());
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Key ids are well formed and unique; the active id (if any) is in the ring.
fn ring_ids(ring: &[NamedSecret], active: Option<&str>, field: &str, report: &mut ConfigReport) {
    for (i, entry) in ring.iter().enumerate() {
        if !valid_key_id(&entry.name) {
            report.error(
                format!("{field}[{i}]"),
                "invalid_key_id",
                "key id must match ^[A-Za-z0-9._-]+$ (at most 64 characters)",
            );
        }
        if ring.iter().take(i).any(|other| other.name == entry.name) {
            report.error(
                format!("{field}.{}", entry.name),
                "duplicate_key_id",
                "key id appears twice",
            );
        }
    }
    match active {
        Some(id) if !ring.iter().any(|e| e.name == id) => {
            report.error(
                format!("{field}.active"),
                "unknown_active_key",
                format!("active key id `{id}` is not in the ring"),
            );
        }
        None if ring.len() > 1 => {
            report.error(
                format!("{field}.active"),
                "missing_active_key",
                "several keys configured but none is active",
            );
        }
        _ => {}
    }
}

fn encryption_keys(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    if config.app_encryption_keys.is_empty() {
        report.error(
            "app_encryption_keys",
            "missing",
            "no encryption key configured",
        );
    }
    ring_ids(
        &config.app_encryption_keys,
        config.active_encryption_key_id.as_deref(),
        "app_encryption_keys",
        report,
    );
    for key in &config.app_encryption_keys {
        if let Err(e) = keys::validate_encryption_key(key.value.expose_secret()) {
            key_error(
                report,
                weak,
                &format!("app_encryption_keys.{}", key.name),
                &e,
            );
        }
    }
    match &config.mfa_encryption_key {
        None => report.push(
            weak,
            "mfa_encryption_key",
            "missing",
            "no mfa encryption key configured",
        ),
        Some(key) => {
            if let Err(e) = keys::validate_encryption_key(key.expose_secret()) {
                key_error(report, weak, "mfa_encryption_key", &e);
            }
        }
    }
}

fn jwt_secrets(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    if config.jwt_secrets.is_empty() && config.jwt_legacy_secret.is_none() {
        report.error("jwt_secrets", "missing", "no jwt signing secret configured");
    }
    ring_ids(
        &config.jwt_secrets,
        config.active_jwt_kid.as_deref(),
        "jwt_secrets",
        report,
    );
    for secret in &config.jwt_secrets {
        if let Err(e) = keys::validate_jwt_secret(secret.value.expose_secret()) {
            key_error(report, weak, &format!("jwt_secrets.{}", secret.name), &e);
        }
    }
    if let Some(legacy) = &config.jwt_legacy_secret
        && let Err(e) = keys::validate_jwt_secret(legacy.expose_secret())
    {
        key_error(report, weak, "jwt_legacy_secret", &e);
    }
}

fn peppers(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    for pepper in &config.peppers {
        if let Err(e) = keys::validate_pepper(pepper.value.expose_secret()) {
            key_error(report, weak, &format!("peppers.{}", pepper.name), &e);
        }
    }
}

/// Which family a secret belongs to; secrets of different families must differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    AppKey,
    MfaKey,
    Jwt,
    Pepper,
    Metrics,
}

fn distinct_secrets(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    let mut all: Vec<(String, Family, &SecretString)> = Vec::new();
    all.extend(config.app_encryption_keys.iter().map(|k| {
        (
            format!("app_encryption_keys.{}", k.name),
            Family::AppKey,
            &k.value,
        )
    }));
    all.extend(
        config
            .mfa_encryption_key
            .iter()
            .map(|k| ("mfa_encryption_key".to_owned(), Family::MfaKey, k)),
    );
    all.extend(
        config
            .jwt_secrets
            .iter()
            .map(|k| (format!("jwt_secrets.{}", k.name), Family::Jwt, &k.value)),
    );
    all.extend(
        config
            .jwt_legacy_secret
            .iter()
            .map(|k| ("jwt_legacy_secret".to_owned(), Family::Jwt, k)),
    );
    all.extend(
        config
            .peppers
            .iter()
            .map(|k| (format!("peppers.{}", k.name), Family::Pepper, &k.value)),
    );
    all.extend(
        config
            .metrics_token
            .iter()
            .map(|k| ("metrics_token".to_owned(), Family::Metrics, k)),
    );
    all.extend(config.metrics_tokens_accepted.iter().map(|k| {
        (
            format!("metrics_token.{}", k.name),
            Family::Metrics,
            &k.value,
        )
    }));
    for (i, (field, family, value)) in all.iter().enumerate() {
        for (other_field, other_family, other) in all.iter().take(i) {
            if keys::validate_distinct_keys(value.expose_secret(), other.expose_secret()).is_ok() {
                continue;
            }
            // The same secret twice in one ring is odd but harmless; across purposes it is not.
            // (a rolled pepper or metrics token equal to the one it replaces rolls nothing)
            let severity = if family == other_family
                && *family != Family::Pepper
                && *family != Family::Metrics
            {
                Severity::Warning
            } else {
                weak
            };
            report.push(
                severity,
                field.clone(),
                "not_distinct",
                format!("must differ from `{other_field}`"),
            );
        }
    }
}

fn cors(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    let production = config.environment.is_production();
    if production && config.cors_origins.is_empty() {
        report.warning(
            "cors_origins",
            "cors_empty",
            "no cors origin allowed: browsers on other origins cannot call the api",
        );
    }
    for (i, origin) in config.cors_origins.iter().enumerate() {
        let field = format!("cors_origins[{i}]");
        let origin = origin.trim();
        if origin.contains('*') {
            report.push(
                weak,
                field,
                "cors_wildcard",
                "wildcard origins are refused in production",
            );
            continue;
        }
        if origin.eq_ignore_ascii_case("null") {
            report.push(
                weak,
                field,
                "cors_null_origin",
                "the `null` origin is refused in production",
            );
            continue;
        }
        let Some((scheme, host)) = parse_origin(origin) else {
            report.error(
                field,
                "cors_invalid_origin",
                format!("`{origin}` is not an origin (scheme://host[:port])"),
            );
            continue;
        };
        let local = is_local_host(host);
        if production && local {
            report.warning(
                field,
                "cors_localhost",
                format!("`{origin}` is a local origin"),
            );
        } else if production && scheme == "http" {
            report.warning(
                field,
                "cors_insecure_origin",
                format!("`{origin}` is not https"),
            );
        }
    }
}

/// `scheme://host[:port]` with nothing else; returns the scheme and the host.
fn parse_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    if !(scheme == "https" || scheme == "http") || rest.is_empty() {
        return None;
    }
    if rest.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let host = if let Some(v6) = rest.strip_prefix('[') {
        let (inner, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        inner
    } else {
        match rest.split_once(':') {
            Some((host, port)) if valid_port(port) => host,
            Some(_) => return None,
            None => rest,
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    host_ok.then_some((scheme, host))
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok_and(|p| p > 0)
}

fn is_local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| refused_range(ip) == Some(RefusedRange::Loopback))
}

fn proxies(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    for (i, entry) in config.trusted_proxies.iter().enumerate() {
        let field = format!("trusted_proxies[{i}]");
        match TrustedProxies::parse([entry], ForwardedHeader::XForwardedFor) {
            Err(e) => report.error(field, e.code(), e.to_string()),
            Ok(p) => {
                if p.networks().iter().any(|n| n.prefix_len() == 0) {
                    report.push(
                        weak,
                        field,
                        "proxy_trusts_everyone",
                        "trusting every address lets any client choose its ip",
                    );
                }
            }
        }
    }
}

fn redis(config: &SecurityConfig, report: &mut ConfigReport) {
    let production = config.environment.is_production();
    let Some(url) = &config.redis_url else {
        if production {
            report.warning(
                "redis_url",
                "redis_not_configured",
                "no redis: rate limits and revocation stay in this process (single node only)",
            );
        }
        return;
    };
    let url = url.expose_secret().trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        report.error(
            "redis_url",
            "redis_invalid_url",
            "redis url must start with redis://, rediss:// or unix://",
        );
        return;
    };
    if !matches!(scheme, "redis" | "rediss" | "unix" | "redis+unix") {
        report.error(
            "redis_url",
            "redis_invalid_url",
            "redis url must start with redis://, rediss:// or unix://",
        );
        return;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, host_port) = authority
        .rsplit_once('@')
        .map_or((None, authority), |(u, h)| (Some(u), h));
    let password = userinfo
        .and_then(|u| u.split_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty());
    let password = password.or_else(|| query_password(rest));
    if production {
        match password {
            None => report.warning(
                "redis_url",
                "redis_no_password",
                "redis url has no password",
            ),
            Some(p) if keys::is_known_placeholder(p) => {
                report.warning(
                    "redis_url",
                    "redis_weak_password",
                    "redis password is a known placeholder",
                );
            }
            Some(_) => {}
        }
        let host = host_port
            .rsplit_once(':')
            .map_or(host_port, |(h, _)| h)
            .trim_matches(['[', ']']);
        if scheme == "redis" && !is_local_host(host) {
            report.warning(
                "redis_url",
                "redis_plaintext",
                "redis traffic to a remote host is not encrypted (use rediss://)",
            );
        }
    }
}

/// `?password=...` (unix socket URLs carry it there).
fn query_password(rest: &str) -> Option<&str> {
    let (_, query) = rest.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("password="))
        .filter(|p| !p.is_empty())
}

fn metrics(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    match &config.metrics_token {
        None => report.warning(
            "metrics_token",
            "metrics_token_missing",
            "no metrics token: the metrics endpoint must stay disabled",
        ),
        Some(token) => {
            if let Err(e) = keys::validate_pepper(token.expose_secret()) {
                key_error(report, weak, "metrics_token", &e);
            }
        }
    }
    for token in &config.metrics_tokens_accepted {
        if let Err(e) = keys::validate_pepper(token.value.expose_secret()) {
            key_error(report, weak, &format!("metrics_token.{}", token.name), &e);
        }
    }
}

fn ssrf_allow_list(config: &SecurityConfig, weak: Severity, report: &mut ConfigReport) {
    let metadata: [IpAddr; 2] = [
        IpAddr::from([169, 254, 169, 254]),
        IpAddr::from([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254]),
    ];
    for (i, entry) in config.ssrf_allow_list.iter().enumerate() {
        let field = format!("ssrf_allow_list[{i}]");
        match SsrfPolicy::new().allow_entries([entry]) {
            Err(e) => report.error(field, e.code(), e.to_string()),
            Ok(policy) => {
                if metadata.iter().any(|ip| policy.is_allow_listed(*ip)) {
                    report.push(
                        weak,
                        field.clone(),
                        "ssrf_allows_metadata",
                        "allow-list reaches a cloud metadata endpoint",
                    );
                }
                let everything = entry
                    .trim()
                    .parse::<ipnet::IpNet>()
                    .is_ok_and(|n| n.prefix_len() == 0);
                if everything {
                    report.push(
                        weak,
                        field,
                        "ssrf_allows_everything",
                        "allow-list entry covers public and reserved space alike",
                    );
                }
            }
        }
    }
}
