//! `enroll`: enrolls `count` agents with the keys of a keys file (agent `i` uses key
//! `i % keys`), from their own source addresses, a bounded number at a time, retrying a
//! 429 after its `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use breeze_agent::backoff::Backoff;
use breeze_agent_proto::Message as _;
use breeze_agent_proto::enrollment::{EnrollRequest, EnrollResponse, OsType};
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
}

fn request(index: usize, key: &KeyRecord) -> Result<String, SimError> {
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
        public_key: None,
    };
    req.encode()
        .map_err(|e| SimError::Local(format!("enroll request: {e}")))
}

async fn enroll_one(
    target: &Target,
    clients: &Clients,
    index: usize,
    key: &KeyRecord,
    errors: &Errors,
) -> Option<AgentRecord> {
    let body = request(index, key).ok()?;
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

/// Enrolls `count` agents, `concurrency` at a time.
///
/// # Errors
/// [`SimError::Argument`] for counts out of range or no keys.
pub async fn enroll(
    target: &Target,
    pool: &SourcePool,
    keys: &[KeyRecord],
    count: usize,
    concurrency: usize,
    progress: bool,
) -> Result<Enrolled, SimError> {
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
                let r = enroll_one(&target, &clients, i, &key, &errors).await;
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
    })
}
