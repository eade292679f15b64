//! `enroll`: enrolls `count` agents with the keys of a keys file (agent `i` uses key
//! `i % keys`), from their own source addresses, a bounded number at a time, retrying a
//! 429 after its `Retry-After`. With `bind_keys` each agent generates an Ed25519 key and
//! sends its public half (`publicKey`, SPEC 17), as `breeze-agent` does; the key is kept
//! with its credentials and signs everything the agent sends afterwards.

use std::sync::Arc;
use std::time::Duration;

use breeze_agent::backoff::Backoff;
use breeze_agent_proto::Message as _;
use breeze_agent_proto::enrollment::{EnrollRequest, EnrollResponse, OsType};
use breeze_crypto::httpsig::DeviceSigningKey;
use futures::StreamExt as _;
use reqwest::header::CONTENT_TYPE;

use crate::SimError;
use crate::addrs::SourcePool;
use crate::creds::{AgentRecord, KeyRecord};
use crate::http_agent::{Clients, Outcome, exchange};
use crate::stats::Errors;
use crate::target::Target;

/// Most agents one enrollment run creates.
pub const MAX_AGENTS: usize = 100_000;
/// Attempts per agent before it counts as failed.
pub const MAX_ATTEMPTS: u32 = 12;

/// What an enrollment run did.
#[derive(Debug)]
pub struct Enrolled {
    /// The agents enrolled, in index order.
    pub agents: Vec<AgentRecord>,
    /// Agents that could not be enrolled.
    pub failed: u64,
    /// Errors met on the way (429s apart).
    pub errors: crate::stats::ErrorCounts,
    /// Wall time.
    pub elapsed: Duration,
    /// Whether the agents were enrolled with device keys.
    pub keys_bound: bool,
}

/// The enrollment body of agent `index` with enrollment key `key`, carrying the device's
/// public key when it has one.
///
/// # Errors
/// [`SimError::Local`] when the request does not encode.
pub fn request(
    index: usize,
    key: &KeyRecord,
    device_key: Option<&DeviceSigningKey>,
) -> Result<String, SimError> {
    let req = EnrollRequest {
        enrollment_key: key.enrollment_key.clone(),
        enrollment_secret: Some(key.enrollment_secret.clone()),
        hostname: format!("sim-{index:06}"),
        os_type: OsType::Linux,
        os_version: "Debian 12".into(),
        architecture: "x86_64".into(),
        agent_version: crate::run::AGENT_VERSION.into(),
        protocol_version: None,
        min_protocol_version: None,
        hardware_info: None,
        network_info: None,
        public_key: device_key.map(|k| k.public_key().to_base64url()),
    };
    req.encode()
        .map_err(|e| SimError::Local(format!("enroll request: {e}")))
}

async fn enroll_one(
    target: &Target,
    clients: &Clients,
    index: usize,
    key: &KeyRecord,
    bind_keys: bool,
    errors: &Errors,
) -> Option<AgentRecord> {
    let device_key = if bind_keys {
        match DeviceSigningKey::generate() {
            Ok(k) => Some(Arc::new(k)),
            Err(e) => {
                errors.count(&format!("enroll_{}", e.code()));
                return None;
            }
        }
    } else {
        None
    };
    let body = request(index, key, device_key.as_deref()).ok()?;
    let client = clients.for_agent(index)?;
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    for _ in 0..MAX_ATTEMPTS {
        let req = client
            .post(target.http_url(breeze_agent::paths::ENROLL))
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        let delay = match exchange::<EnrollResponse>(req).await {
            Outcome::Ok(r) => {
                return Some(AgentRecord {
                    agent_id: r.agent_id,
                    device_id: *r.device_id.as_uuid(),
                    org_id: *r.org_id.as_uuid(),
                    auth_token: r.auth_token,
                    signing_key: device_key,
                });
            }
            Outcome::RateLimited(ra) => {
                errors.rate_limited(ra.is_some());
                backoff.next_delay_honouring(ra)
            }
            Outcome::Failed(kind) => {
                errors.count(&format!("enroll_{kind}"));
                // a refusal (4xx other than 429) will not change on retry
                if kind.starts_with("http_4") {
                    return None;
                }
                backoff.next_delay()
            }
        };
        tokio::time::sleep(delay).await;
    }
    None
}

/// How to enroll.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Agents to enroll.
    pub count: usize,
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// Each agent generates a device key and sends its public half.
    pub bind_keys: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// Enrolls `count` agents, `concurrency` at a time, with bearer tokens only (no device
/// keys): [`enroll_with`] and `bind_keys: false`.
///
/// # Errors
/// As [`enroll_with`].
pub async fn enroll(
    target: &Target,
    pool: &SourcePool,
    keys: &[KeyRecord],
    count: usize,
    concurrency: usize,
    progress: bool,
) -> Result<Enrolled, SimError> {
    let plan = Plan {
        count,
        concurrency,
        bind_keys: false,
        progress,
    };
    enroll_with(target, pool, keys, plan).await
}

/// Enrolls `plan.count` agents, `plan.concurrency` at a time, each with a device key when
/// `plan.bind_keys`.
///
/// # Errors
/// [`SimError::Argument`] for counts out of range or no keys.
pub async fn enroll_with(
    target: &Target,
    pool: &SourcePool,
    keys: &[KeyRecord],
    plan: Plan,
) -> Result<Enrolled, SimError> {
    let Plan {
        count,
        concurrency,
        bind_keys,
        progress,
    } = plan;
    if count == 0 || count > MAX_AGENTS {
        return Err(SimError::Argument(
            "--agents",
            format!("must be 1 to {MAX_AGENTS}"),
        ));
    }
    if keys.is_empty() {
        return Err(SimError::Argument(
            "--keys",
            "the keys file is empty".into(),
        ));
    }
    if concurrency == 0 || concurrency > 1024 {
        return Err(SimError::Argument(
            "--concurrency",
            "must be 1 to 1024".into(),
        ));
    }
    let clients = Arc::new(Clients::new(target, pool)?);
    let errors = Arc::new(Errors::default());
    let bar = crate::run::bar(progress, count, "enrolling");
    let started = std::time::Instant::now();
    let results: Vec<Option<AgentRecord>> = futures::stream::iter(0..count)
        .map(|i| {
            let key = keys.get(i % keys.len()).cloned();
            let (clients, errors, bar) = (Arc::clone(&clients), Arc::clone(&errors), bar.clone());
            let target = target.clone();
            async move {
                let key = key?;
                let r = enroll_one(&target, &clients, i, &key, bind_keys, &errors).await;
                bar.inc(1);
                r
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    bar.finish_and_clear();
    let failed = results.iter().filter(|r| r.is_none()).count();
    Ok(Enrolled {
        agents: results.into_iter().flatten().collect(),
        failed: u64::try_from(failed).unwrap_or(u64::MAX),
        errors: errors.snapshot(),
        elapsed: started.elapsed(),
        keys_bound: bind_keys,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    use breeze_agent_proto::{EnrollmentKey, EnrollmentSecret};

    fn key() -> KeyRecord {
        KeyRecord {
            enrollment_key: EnrollmentKey::parse(&"e".repeat(64)).unwrap(),
            enrollment_secret: EnrollmentSecret::parse("sim-secret").unwrap(),
            org_id: uuid::Uuid::new_v4(),
            site_id: uuid::Uuid::new_v4(),
        }
    }

    #[test]
    fn a_bound_enrollment_carries_the_public_key_only() {
        use secrecy::ExposeSecret as _;
        let device = DeviceSigningKey::generate().unwrap();
        let body = request(3, &key(), Some(&device)).unwrap();
        let req = EnrollRequest::decode(body.as_bytes())
            .map(|d| d.into_message())
            .unwrap();
        assert_eq!(
            req.public_key.as_deref(),
            Some(device.public_key().to_base64url().as_str())
        );
        assert!(!body.contains(device.to_base64url().expose_secret()));
        let unbound = request(3, &key(), None).unwrap();
        assert!(!unbound.contains("publicKey"), "{unbound}");
    }
}
