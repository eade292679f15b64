//! `breeze-server doctor`: the production checklist (seed 001) judged on what a server can
//! observe where it runs. The server gathers the facts (its configuration, the database
//! role it connects as, PostgreSQL's listen addresses, Redis, the secrets file); the
//! judgments are here, so they are tested without a database and read the same everywhere.
//!
//! Every finding names a checklist item, a status and, unless it passed, the fix. No finding
//! carries a secret value.

/// A finding's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The item holds.
    Pass,
    /// Acceptable for development, or not observable from here: look at it.
    Warn,
    /// The item fails: fix it before going live.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One checklist item's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The item (`database_role`, `redis_auth`, ...).
    pub item: &'static str,
    /// Its status.
    pub status: Status,
    /// What was observed (never a secret).
    pub detail: String,
    /// How to fix it (empty when it passed).
    pub fix: &'static str,
}

/// The database role the server connects as, as PostgreSQL reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFacts {
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolbypassrls`.
    pub bypass_rls: bool,
    /// The role owns tables of the schema (policies do not bind an owner that is not forced,
    /// and an owner can drop them).
    pub owns_tables: bool,
}

/// What the server observed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// `BREEZE_MODE=production`.
    pub production: bool,
    /// The runtime role, or `None` when the database could not be reached.
    pub role: Option<RoleFacts>,
    /// PostgreSQL's `listen_addresses`, when readable.
    pub pg_listen_addresses: Option<String>,
    /// `REDIS_URL` is set.
    pub redis_configured: bool,
    /// `REDIS_URL` carries a password.
    pub redis_password: bool,
    /// Redis answered (`None` when not configured).
    pub redis_reachable: Option<bool>,
    /// The unix permission bits of the secrets file, when one was named.
    pub secrets_file_mode: Option<u32>,
    /// `BREEZE_TRUSTED_PROXIES` is set (TLS terminated by a listed proxy).
    pub trusted_proxies: bool,
    /// TLS served by the server itself (`BREEZE_TLS_CERT_FILE`): `None` when not configured,
    /// `Some(Ok(()))` when the certificate and key load and match, `Some(Err(code))` when
    /// they do not.
    pub server_tls: Option<Result<(), &'static str>>,
    /// `BREEZE_PUBLIC_URL` is set and HTTPS.
    pub public_url_https: Option<bool>,
    /// `BREEZE_SECURE_COOKIES` in effect.
    pub secure_cookies: bool,
    /// `BREEZE_METRICS_TOKEN` is set.
    pub metrics_token: bool,
    /// `BREEZE_ENROLLMENT_SECRET` is set.
    pub enrollment_secret: bool,
    /// Secret rolls left between two phases (`secrets rotate`), with where each is.
    pub rolls_in_progress: Vec<(super::rotation::SecretKind, super::rotation::RollState)>,
}

fn finding(
    item: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: &'static str,
) -> Finding {
    Finding {
        item,
        status,
        detail: detail.into(),
        fix: if status == Status::Pass { "" } else { fix },
    }
}

/// Whether every entry of a `listen_addresses` value is a loopback address.
fn loopback_only(value: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .all(|a| {
            a == "localhost"
                || a.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

/// Judges `facts`. In development mode, items that only matter in production are warnings
/// at most.
#[must_use]
pub fn diagnose(facts: &Facts) -> Vec<Finding> {
    let strict = if facts.production {
        Status::Fail
    } else {
        Status::Warn
    };
    let mut out = Vec::new();

    out.push(match facts.role {
        None => finding(
            "database_role",
            Status::Fail,
            "the database could not be reached with DATABASE_URL",
            "check DATABASE_URL and that PostgreSQL accepts the runtime role",
        ),
        Some(r) if r.superuser || r.bypass_rls || r.owns_tables => finding(
            "database_role",
            Status::Fail,
            format!(
                "the runtime role is{}{}{}",
                if r.superuser { " a superuser" } else { "" },
                if r.bypass_rls { " BYPASSRLS" } else { "" },
                if r.owns_tables { " the owner of tables" } else { "" }
            ),
            "connect as breeze_app (NOSUPERUSER NOBYPASSRLS, owns nothing); migrations use DATABASE_OWNER_URL",
        ),
        Some(_) => finding(
            "database_role",
            Status::Pass,
            "runtime role: no superuser, no BYPASSRLS, owns no table",
            "",
        ),
    });

    out.push(match facts.pg_listen_addresses.as_deref() {
        None => finding(
            "database_bind",
            Status::Warn,
            "PostgreSQL's listen_addresses could not be read",
            "make sure PostgreSQL listens on loopback or a private interface behind a firewall",
        ),
        Some(v) if loopback_only(v) => finding(
            "database_bind",
            Status::Pass,
            format!("listen_addresses = {v}"),
            "",
        ),
        Some(v) => finding(
            "database_bind",
            Status::Warn,
            format!("listen_addresses = {v} (not loopback only)"),
            "bind PostgreSQL to 127.0.0.1 or a private interface and firewall port 5432",
        ),
    });

    out.push(if !facts.redis_configured {
        finding(
            "redis",
            strict,
            "REDIS_URL is not set: rate limits, revocation and replay caches are per process",
            "set REDIS_URL (required with more than one replica)",
        )
    } else if facts.redis_reachable == Some(false) {
        finding(
            "redis",
            Status::Fail,
            "Redis did not answer",
            "check REDIS_URL and that Redis runs",
        )
    } else if !facts.redis_password {
        finding(
            "redis",
            strict,
            "REDIS_URL has no password",
            "enable requirepass (or an ACL user) and put the password in REDIS_URL",
        )
    } else {
        finding(
            "redis",
            Status::Pass,
            "configured, authenticated, answering",
            "",
        )
    });

    out.push(match facts.secrets_file_mode {
        None => finding(
            "secrets_file",
            Status::Warn,
            "no secrets file named (pass --env-file with the unit's EnvironmentFile)",
            "keep secrets in a file readable by the service only (0600 or 0640 root:breeze)",
        ),
        Some(mode) if mode & 0o007 != 0 => finding(
            "secrets_file",
            Status::Fail,
            format!("mode {mode:04o}: readable by every user"),
            "chmod 0600 (or 0640 with the service's group)",
        ),
        Some(mode) if mode & 0o022 != 0 => finding(
            "secrets_file",
            Status::Fail,
            format!("mode {mode:04o}: writable by others than its owner"),
            "chmod 0600 (or 0640 with the service's group)",
        ),
        Some(mode) => finding("secrets_file", Status::Pass, format!("mode {mode:04o}"), ""),
    });

    out.push(match (facts.server_tls, facts.trusted_proxies, facts.public_url_https) {
        (Some(Err(code)), _, _) => finding(
            "tls",
            Status::Fail,
            format!("BREEZE_TLS_CERT_FILE / BREEZE_TLS_KEY_FILE do not load: {code}"),
            "install a PEM chain (leaf first) and its private key; the server reads them at start and on SIGHUP",
        ),
        (Some(Ok(())), _, Some(false)) => finding(
            "tls",
            strict,
            "BREEZE_PUBLIC_URL is not HTTPS",
            "serve Breeze over HTTPS only",
        ),
        (Some(Ok(())), _, _) => finding(
            "tls",
            Status::Pass,
            "TLS served by breeze-server (certificate and key load and match)",
            "",
        ),
        (None, true, Some(true)) => finding(
            "tls",
            Status::Pass,
            "HTTPS public URL, TLS terminated by a listed proxy",
            "",
        ),
        (None, _, Some(false)) => finding(
            "tls",
            strict,
            "BREEZE_PUBLIC_URL is not HTTPS",
            "serve Breeze over HTTPS only",
        ),
        (None, false, _) => finding(
            "tls",
            strict,
            "no TLS: the server serves plain HTTP and no trusted proxy is listed",
            "set BREEZE_TLS_CERT_FILE and BREEZE_TLS_KEY_FILE, or put a TLS reverse proxy in front and list it in BREEZE_TRUSTED_PROXIES",
        ),
        (None, true, None) => finding(
            "tls",
            Status::Warn,
            "a proxy is listed but BREEZE_PUBLIC_URL is not set",
            "set BREEZE_PUBLIC_URL to the https:// origin users reach",
        ),
    });

    out.push(if facts.secure_cookies {
        finding(
            "secure_cookies",
            Status::Pass,
            "session cookies are Secure",
            "",
        )
    } else {
        finding(
            "secure_cookies",
            strict,
            "session cookies are sent over plain HTTP",
            "set BREEZE_SECURE_COOKIES=true (the production default)",
        )
    });

    out.push(if facts.metrics_token {
        finding(
            "metrics_token",
            Status::Pass,
            "metrics need their bearer token",
            "",
        )
    } else {
        finding(
            "metrics_token",
            Status::Warn,
            "BREEZE_METRICS_TOKEN is not set: /metrics is not served",
            "set BREEZE_METRICS_TOKEN to scrape metrics",
        )
    });

    out.push(if facts.enrollment_secret {
        finding(
            "enrollment_secret",
            Status::Pass,
            "enrollment needs the shared secret as well as a key",
            "",
        )
    } else {
        finding(
            "enrollment_secret",
            Status::Warn,
            "BREEZE_ENROLLMENT_SECRET is not set: an enrollment key alone enrolls a device",
            "set BREEZE_ENROLLMENT_SECRET and roll it after the first enrollment batch",
        )
    });

    out.push(if facts.rolls_in_progress.is_empty() {
        finding(
            "secret_rotation",
            Status::Pass,
            "no secret roll in progress",
            "",
        )
    } else {
        // a staged value already works, a previous one still does: both widen what a
        // leaked secret opens until the roll is finished
        let list = facts
            .rolls_in_progress
            .iter()
            .map(|(kind, state)| {
                let next = state.next_phase().map_or("fix the file", |p| p.as_str());
                format!("{} {} (next: {next})", kind.as_str(), state.as_str())
            })
            .collect::<Vec<_>>()
            .join(", ");
        finding(
            "secret_rotation",
            Status::Warn,
            format!("rolls in progress: {list}"),
            "finish each roll with `breeze-server secrets rotate <kind> <next phase> --env-file FILE` (docs/OPERATIONS.md, Rotate secrets)",
        )
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    fn good() -> Facts {
        Facts {
            production: true,
            role: Some(RoleFacts {
                superuser: false,
                bypass_rls: false,
                owns_tables: false,
            }),
            pg_listen_addresses: Some("127.0.0.1".into()),
            redis_configured: true,
            redis_password: true,
            redis_reachable: Some(true),
            secrets_file_mode: Some(0o640),
            trusted_proxies: true,
            server_tls: None,
            public_url_https: Some(true),
            secure_cookies: true,
            metrics_token: true,
            enrollment_secret: true,
            rolls_in_progress: Vec::new(),
        }
    }

    #[test]
    fn a_roll_left_between_phases_is_a_warning_naming_the_next_phase() {
        use crate::config::rotation::{RollState, SecretKind};
        let mut facts = good();
        facts.rolls_in_progress = vec![
            (SecretKind::Jwt, RollState::Activated),
            (SecretKind::Pepper, RollState::Staged),
        ];
        let f = diagnose(&facts)
            .into_iter()
            .find(|f| f.item == "secret_rotation")
            .unwrap();
        assert_eq!(f.status, Status::Warn);
        assert_eq!(
            f.detail,
            "rolls in progress: jwt activated (next: retire), pepper staged (next: activate)"
        );
        assert!(f.fix.contains("secrets rotate"));
    }

    fn status(facts: &Facts, item: &str) -> Status {
        diagnose(facts)
            .into_iter()
            .find(|f| f.item == item)
            .unwrap()
            .status
    }

    #[test]
    fn a_good_production_host_passes_everything() {
        let all = diagnose(&good());
        assert!(
            all.iter()
                .all(|f| f.status == Status::Pass && f.fix.is_empty()),
            "{all:?}"
        );
    }

    #[test]
    fn each_rule_fails_or_warns_on_its_own() {
        type Change = Box<dyn Fn(&mut Facts)>;
        let cases: Vec<(&str, Change, Status)> = vec![
            ("database_role", Box::new(|f| f.role = None), Status::Fail),
            (
                "database_role",
                Box::new(|f| {
                    f.role = Some(RoleFacts {
                        superuser: true,
                        bypass_rls: false,
                        owns_tables: false,
                    })
                }),
                Status::Fail,
            ),
            (
                "database_role",
                Box::new(|f| {
                    f.role = Some(RoleFacts {
                        superuser: false,
                        bypass_rls: true,
                        owns_tables: false,
                    })
                }),
                Status::Fail,
            ),
            (
                "database_role",
                Box::new(|f| {
                    f.role = Some(RoleFacts {
                        superuser: false,
                        bypass_rls: false,
                        owns_tables: true,
                    })
                }),
                Status::Fail,
            ),
            (
                "database_bind",
                Box::new(|f| f.pg_listen_addresses = Some("*".into())),
                Status::Warn,
            ),
            (
                "database_bind",
                Box::new(|f| f.pg_listen_addresses = Some("localhost, ::1".into())),
                Status::Pass,
            ),
            (
                "redis",
                Box::new(|f| f.redis_configured = false),
                Status::Fail,
            ),
            (
                "redis",
                Box::new(|f| f.redis_password = false),
                Status::Fail,
            ),
            (
                "redis",
                Box::new(|f| f.redis_reachable = Some(false)),
                Status::Fail,
            ),
            (
                "secrets_file",
                Box::new(|f| f.secrets_file_mode = Some(0o644)),
                Status::Fail,
            ),
            (
                "secrets_file",
                Box::new(|f| f.secrets_file_mode = Some(0o660)),
                Status::Fail,
            ),
            (
                "secrets_file",
                Box::new(|f| f.secrets_file_mode = Some(0o600)),
                Status::Pass,
            ),
            (
                "secrets_file",
                Box::new(|f| f.secrets_file_mode = None),
                Status::Warn,
            ),
            ("tls", Box::new(|f| f.trusted_proxies = false), Status::Fail),
            (
                "tls",
                Box::new(|f| f.public_url_https = Some(false)),
                Status::Fail,
            ),
            ("tls", Box::new(|f| f.public_url_https = None), Status::Warn),
            (
                "tls",
                Box::new(|f| f.server_tls = Some(Err("tls_key_mismatch"))),
                Status::Fail,
            ),
            (
                "secure_cookies",
                Box::new(|f| f.secure_cookies = false),
                Status::Fail,
            ),
            (
                "metrics_token",
                Box::new(|f| f.metrics_token = false),
                Status::Warn,
            ),
            (
                "enrollment_secret",
                Box::new(|f| f.enrollment_secret = false),
                Status::Warn,
            ),
        ];
        for (item, change, expected) in cases {
            let mut facts = good();
            change(&mut facts);
            assert_eq!(status(&facts, item), expected, "{item}");
            // every other item still passes: one fact moves one finding
            let others = diagnose(&facts).into_iter().filter(|f| f.item != item);
            assert!(
                others.into_iter().all(|f| f.status == Status::Pass),
                "{item}"
            );
        }
    }

    #[test]
    fn tls_served_by_the_server_needs_no_proxy() {
        let mut facts = good();
        facts.trusted_proxies = false;
        facts.server_tls = Some(Ok(()));
        assert_eq!(status(&facts, "tls"), Status::Pass);
        facts.public_url_https = None;
        assert_eq!(status(&facts, "tls"), Status::Pass);
        facts.public_url_https = Some(false);
        assert_eq!(status(&facts, "tls"), Status::Fail);
        facts.server_tls = Some(Err("tls_no_key"));
        assert_eq!(status(&facts, "tls"), Status::Fail);
        facts.production = false;
        assert_eq!(
            status(&facts, "tls"),
            Status::Fail,
            "a broken file fails anywhere"
        );
    }

    #[test]
    fn development_downgrades_production_only_items_to_warnings() {
        let mut facts = good();
        facts.production = false;
        facts.redis_configured = false;
        facts.trusted_proxies = false;
        facts.secure_cookies = false;
        assert_eq!(status(&facts, "redis"), Status::Warn);
        assert_eq!(status(&facts, "tls"), Status::Warn);
        assert_eq!(status(&facts, "secure_cookies"), Status::Warn);
        // a superuser runtime role is wrong everywhere
        facts.role = Some(RoleFacts {
            superuser: true,
            bypass_rls: false,
            owns_tables: false,
        });
        assert_eq!(status(&facts, "database_role"), Status::Fail);
    }
}
