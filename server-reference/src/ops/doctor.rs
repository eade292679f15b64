//! `breeze-server doctor`: the production checklist (seed 001) on this host. The facts are
//! gathered here (configuration, the runtime database role, PostgreSQL's listen
//! addresses, Redis, the secrets file's mode); `breeze_core::config::doctor` judges them.
//! Configuration errors and warnings (`config check`) come first, as the `configuration`
//! item. Exit status: 0 when nothing fails, 1 otherwise.

use std::path::Path;
use std::time::Duration;

use breeze_core::config::doctor::{Facts, Finding, Status, diagnose};
use secrecy::ExposeSecret;

use crate::config::{DevSecrets, Mode, ServerConfig};
use crate::store::admin;

/// Runs every check; the findings in order.
///
/// # Errors
/// Never for a failing check (that is a finding); only when the configuration file named
/// cannot be read.
pub async fn run(
    config_path: Option<&Path>,
    env_file: Option<&Path>,
) -> Result<Vec<Finding>, crate::config::ConfigError> {
    let report = crate::config::check(config_path)?;
    let mut out: Vec<Finding> = Vec::new();
    for e in &report.errors {
        out.push(Finding {
            item: "configuration",
            status: Status::Fail,
            detail: e.clone(),
            fix: "see `breeze-server config check` and the README's settings",
        });
    }
    for w in &report.warnings {
        out.push(Finding {
            item: "configuration",
            status: Status::Warn,
            detail: w.clone(),
            fix: "see `breeze-server config check` and the README's settings",
        });
    }
    let Ok(config) = ServerConfig::load(config_path, DevSecrets::ExistingOnly) else {
        // nothing else can be observed without a configuration
        return Ok(out);
    };
    if report.is_ok() {
        out.push(Finding {
            item: "configuration",
            status: Status::Pass,
            detail: format!("valid ({} warnings)", report.warnings.len()),
            fix: "",
        });
    }
    let mut facts = Facts {
        production: config.mode == Mode::Production,
        trusted_proxies: !config.trusted_proxies.is_empty(),
        server_tls: config.tls.as_ref().map(|files| {
            crate::http::tls::load(files)
                .map(|_| ())
                .map_err(|e| e.code())
        }),
        public_url_https: config
            .sso
            .public_url
            .as_ref()
            .map(|u| u.scheme() == "https"),
        secure_cookies: config.secure_cookies,
        metrics_token: config.metrics_token.is_some(),
        enrollment_secret: config.enrollment_secret.is_some(),
        rolls_in_progress: config.rotation.in_progress(),
        ..Facts::default()
    };
    if let Ok((role, listen)) = admin::doctor_facts(&config.database_url).await {
        facts.role = Some(role);
        facts.pg_listen_addresses = listen;
    }
    if let Some(url) = &config.redis_url {
        facts.redis_configured = true;
        facts.redis_password = url::Url::parse(url.expose_secret())
            .ok()
            .and_then(|u| u.password().map(|p| !p.is_empty()))
            .unwrap_or(false);
        let reached = breeze_core::ratelimit::RedisConnection::connect(
            url.expose_secret(),
            &config.redis_prefix,
            Duration::from_secs(2),
        )
        .await
        .is_ok();
        facts.redis_reachable = Some(reached);
    }
    if let Some(path) = env_file.or(config_path) {
        facts.secrets_file_mode = file_mode(path);
    }
    out.extend(diagnose(&facts));
    Ok(out)
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> Option<u32> {
    None
}

/// One line per finding: `pass|warn|fail  item  detail  (fix: ...)`.
#[must_use]
pub fn render(findings: &[Finding]) -> String {
    let mut text = String::new();
    for f in findings {
        text.push_str(&format!(
            "{:<5} {:<18} {}",
            f.status.as_str(),
            f.item,
            f.detail
        ));
        if !f.fix.is_empty() {
            text.push_str(&format!("  (fix: {})", f.fix));
        }
        text.push('\n');
    }
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    text.push_str(&format!(
        "{} passed, {} warnings, {} failed\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    ));
    text
}
