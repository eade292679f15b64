//! The SSRF-guarded client of the webhook workers, built from [`WebhookConfig`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use breeze_core::ssrf::{DnsResolver, GuardedClient, Lookup, SsrfError, SsrfPolicy};

use crate::config::WebhookConfig;

/// Builds the client: HTTPS only, every refused range refused (loopback allowed only by
/// the development switch), no redirects, the configured timeout, the operator's extra CA.
///
/// # Errors
/// [`SsrfError::Build`] when the CA file or the resolver is unusable.
pub fn build(config: &WebhookConfig) -> Result<GuardedClient, SsrfError> {
    let mut policy = SsrfPolicy::new().max_redirects(0);
    if config.allow_loopback {
        policy = policy.allow_entries(["127.0.0.0/8", "::1/128"])?;
    }
    let timeout = Duration::from_secs(config.timeout_secs);
    let mut builder = GuardedClient::builder()
        .policy(policy)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent("breeze-webhooks/1");
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|_| SsrfError::Build {
            reason: "BREEZE_WEBHOOK_CA_FILE cannot be read".to_owned(),
        })?;
        builder = builder.add_root_certificates_pem(&pem)?;
    }
    if let Some(path) = &config.test_hosts_file {
        builder = builder.resolver(Arc::new(FileResolver { path: path.clone() }));
    }
    builder.build()
}

/// TEST MODE ONLY: answers from a JSON file (`{"host": ["ip", ...]}`) read at every lookup,
/// so a test can make a name resolve differently at save time and at send time.
struct FileResolver {
    path: PathBuf,
}

impl DnsResolver for FileResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            let failed = || SsrfError::Resolve {
                host: host.chars().take(253).collect(),
            };
            let text = tokio::fs::read_to_string(&self.path)
                .await
                .map_err(|_| failed())?;
            let map: HashMap<String, Vec<IpAddr>> =
                serde_json::from_str(&text).map_err(|_| failed())?;
            map.get(host).cloned().ok_or_else(failed)
        })
    }
}
