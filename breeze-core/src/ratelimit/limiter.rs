//! The fail-closed front over a backend, with one method per SPEC 7 policy.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::backend::RateLimitBackend;
use super::decision::{Quota, RateDecision, RateLimitError, Verdict};
use super::policy::{self, AgentRequestClass, Policy};
use crate::clientip::ClientKey;
use crate::tenancy::{ApiKeyId, DeviceId, OrgId, UserId};

/// Rate limiting for a server: every answer is a [`RateDecision`]; a backend error or a
/// missed deadline becomes a refusal ([`Verdict::Unavailable`](super::Verdict::Unavailable)),
/// never an allow.
#[derive(Debug, Clone)]
pub struct RateLimiter<B> {
    backend: B,
}

/// The key of an e-mail address: SHA-256 of the trimmed, lower-cased address (hex, 32
/// characters), so no address is stored in the limiter.
fn email_key(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let mut out = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl<B: RateLimitBackend> RateLimiter<B> {
    /// A limiter over `backend`.
    #[must_use]
    pub const fn new(backend: B) -> Self {
        Self { backend }
    }

    /// The backend.
    #[must_use]
    pub const fn backend(&self) -> &B {
        &self.backend
    }

    /// Counts a request against `quota` on `key`; errors refuse.
    pub async fn check_quota(&self, key: &str, quota: Quota) -> RateDecision {
        match self.backend.hit(key, quota).await {
            Ok(decision) => decision,
            Err(_) => RateDecision::unavailable(quota, self.backend.now_ms()),
        }
    }

    /// Counts a request against `policy` for `subject` (key `"<policy name>:<subject>"`).
    pub async fn check(&self, policy: Policy, subject: &str) -> RateDecision {
        let key = format!("{}:{subject}", policy.name);
        self.check_quota(&key, policy.quota).await
    }

    /// Login attempts per client IP (10 / 5 min).
    pub async fn login_per_ip(&self, ip: ClientKey) -> RateDecision {
        self.check(policy::LOGIN_PER_IP, &ip.to_string()).await
    }

    /// Login attempts per client IP and e-mail (5 / 5 min).
    pub async fn login_per_ip_email(&self, ip: ClientKey, email: &str) -> RateDecision {
        self.check(
            policy::LOGIN_PER_IP_EMAIL,
            &format!("{ip}:{}", email_key(email)),
        )
        .await
    }

    /// Whether the account of `email` is locked (5 failures within 15 min), without counting.
    /// Allowed = not locked; a backend error answers "locked".
    pub async fn login_lockout(&self, email: &str) -> RateDecision {
        let policy = policy::LOGIN_FAILURES_PER_ACCOUNT;
        let key = format!("{}:{}", policy.name, email_key(email));
        match self.backend.peek(&key, policy.quota).await {
            Ok(decision) => decision,
            Err(_) => RateDecision::unavailable(policy.quota, self.backend.now_ms()),
        }
    }

    /// Records a failed login for `email`; the answer says whether the account is now locked
    /// (refused = locked).
    pub async fn record_login_failure(&self, email: &str) -> RateDecision {
        let counted = self
            .check(policy::LOGIN_FAILURES_PER_ACCOUNT, &email_key(email))
            .await;
        if counted.verdict == Verdict::Unavailable {
            return counted;
        }
        self.login_lockout(email).await
    }

    /// Forgets the failures of `email` (after a successful login).
    ///
    /// # Errors
    /// The backend error, when it could not clear.
    pub async fn clear_login_failures(&self, email: &str) -> Result<(), RateLimitError> {
        let key = format!(
            "{}:{}",
            policy::LOGIN_FAILURES_PER_ACCOUNT.name,
            email_key(email)
        );
        self.backend.clear(&key).await
    }

    /// Token refreshes per user (10 / 1 min).
    pub async fn refresh_per_user(&self, user: UserId) -> RateDecision {
        self.check(policy::REFRESH_PER_USER, &user.to_string())
            .await
    }

    /// MFA verifications per user (5 / 5 min).
    pub async fn mfa_per_user(&self, user: UserId) -> RateDecision {
        self.check(policy::MFA_PER_USER, &user.to_string()).await
    }

    /// Password-reset requests per e-mail (3 / 1 h).
    pub async fn password_reset_per_email(&self, email: &str) -> RateDecision {
        self.check(policy::PASSWORD_RESET_PER_EMAIL, &email_key(email))
            .await
    }

    /// Enrollments per client IP (10 / 1 min).
    pub async fn enrollment_per_ip(&self, ip: ClientKey) -> RateDecision {
        self.check(policy::ENROLLMENT_PER_IP, &ip.to_string()).await
    }

    /// Agent requests per agent (120 / 1 min); `agent_id` is the public agent id.
    pub async fn agent_per_agent(&self, agent_id: &str) -> RateDecision {
        self.check(policy::AGENT_PER_AGENT, agent_id).await
    }

    /// Agent requests per device and client IP (30 / 1 min).
    pub async fn agent_per_device_ip(&self, device: DeviceId, ip: ClientKey) -> RateDecision {
        self.check(policy::AGENT_PER_DEVICE_IP, &format!("{device}:{ip}"))
            .await
    }

    /// Agent requests per organization: `clamp(12 x devices, 600, 20000)` / 1 min, general
    /// requests limited to 80 % so 20 % stays for inventory uploads.
    pub async fn agent_per_org(
        &self,
        org: OrgId,
        devices: u32,
        class: AgentRequestClass,
    ) -> RateDecision {
        self.check(policy::agent_per_org(devices, class), &org.to_string())
            .await
    }

    /// Agent WebSocket connects per agent (6 / 1 min).
    pub async fn ws_connect_per_agent(&self, agent_id: &str) -> RateDecision {
        self.check(policy::WS_CONNECT_PER_AGENT, agent_id).await
    }

    /// Requests per API key per hour, with the key's own limit.
    pub async fn api_key_hourly(&self, key: ApiKeyId, per_hour: u32) -> RateDecision {
        self.check(policy::api_key_hourly(per_hour), &key.to_string())
            .await
    }

    /// Everything else per client IP (300 / 1 min).
    pub async fn global_per_ip(&self, ip: ClientKey) -> RateDecision {
        self.check(policy::GLOBAL_PER_IP, &ip.to_string()).await
    }
}
