//! The SPEC 7 rate-limit catalogue as named policies.

use super::decision::Quota;

/// A named quota: the name prefixes every key counted under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Stable name, used as the key prefix (`login_ip`, ...).
    pub name: &'static str,
    /// The limit and window.
    pub quota: Quota,
}

impl Policy {
    /// A policy named `name` with `quota`.
    #[must_use]
    pub const fn new(name: &'static str, quota: Quota) -> Self {
        Self { name, quota }
    }
}

/// Login attempts per client IP: 10 / 5 min.
pub const LOGIN_PER_IP: Policy = Policy::new("login_ip", Quota::per_secs(10, 5 * 60));
/// Login attempts per client IP and e-mail: 5 / 5 min.
pub const LOGIN_PER_IP_EMAIL: Policy = Policy::new("login_ip_email", Quota::per_secs(5, 5 * 60));
/// Failed logins per account: locked once 5 failures fall within 15 min, until the oldest of
/// them is 15 min old.
pub const LOGIN_FAILURES_PER_ACCOUNT: Policy =
    Policy::new("login_fail", Quota::per_secs(5, 15 * 60));
/// Token refreshes per user: 10 / 1 min.
pub const REFRESH_PER_USER: Policy = Policy::new("refresh_user", Quota::per_secs(10, 60));
/// MFA verifications per user: 5 / 5 min.
pub const MFA_PER_USER: Policy = Policy::new("mfa_user", Quota::per_secs(5, 5 * 60));
/// Password-reset requests per e-mail: 3 / 1 h.
pub const PASSWORD_RESET_PER_EMAIL: Policy =
    Policy::new("reset_email", Quota::per_secs(3, 60 * 60));
/// Agent enrollments per client IP: 10 / 1 min.
pub const ENROLLMENT_PER_IP: Policy = Policy::new("enroll_ip", Quota::per_secs(10, 60));
/// Agent requests per agent: 120 / 1 min.
pub const AGENT_PER_AGENT: Policy = Policy::new("agent", Quota::per_secs(120, 60));
/// Agent requests per device and client IP: 30 / 1 min.
pub const AGENT_PER_DEVICE_IP: Policy = Policy::new("agent_device_ip", Quota::per_secs(30, 60));
/// Agent WebSocket connects per agent: 6 / 1 min.
pub const WS_CONNECT_PER_AGENT: Policy = Policy::new("agent_ws", Quota::per_secs(6, 60));
/// Everything else, per client IP: 300 / 1 min.
pub const GLOBAL_PER_IP: Policy = Policy::new("global_ip", Quota::per_secs(300, 60));

/// Name of the per-organization agent budget.
pub const AGENT_PER_ORG_NAME: &str = "agent_org";
/// Name of the per-API-key hourly quota.
pub const API_KEY_HOURLY_NAME: &str = "api_key";

/// The lower bound of the organization agent budget.
pub const AGENT_ORG_MIN: u32 = 600;
/// The upper bound of the organization agent budget.
pub const AGENT_ORG_MAX: u32 = 20_000;
/// Requests per device per minute in the organization agent budget.
pub const AGENT_ORG_PER_DEVICE: u32 = 12;
/// Percent of the organization budget reserved for inventory uploads.
pub const INVENTORY_RESERVE_PERCENT: u32 = 20;

/// The kind of an agent request, for the organization budget's inventory reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRequestClass {
    /// Heartbeats, command results, everything but inventory: may use 80 % of the budget.
    General,
    /// Inventory uploads: may use the whole budget (including the 20 % reserve).
    Inventory,
}

/// `clamp(12 x devices, 600, 20000)` requests per minute.
#[must_use]
pub const fn agent_org_limit(devices: u32) -> u32 {
    let scaled = devices.saturating_mul(AGENT_ORG_PER_DEVICE);
    if scaled < AGENT_ORG_MIN {
        AGENT_ORG_MIN
    } else if scaled > AGENT_ORG_MAX {
        AGENT_ORG_MAX
    } else {
        scaled
    }
}

/// The organization agent policy for `devices` enrolled devices and this request class.
///
/// Both classes count on one key; general requests stop at 80 % of the budget so the
/// remaining 20 % stays available to inventory uploads. Every quota retains the full budget
/// so each class sees the exact count.
#[must_use]
pub const fn agent_per_org(devices: u32, class: AgentRequestClass) -> Policy {
    let full = agent_org_limit(devices);
    let limit = match class {
        AgentRequestClass::Inventory => full,
        AgentRequestClass::General => full - full * INVENTORY_RESERVE_PERCENT / 100,
    };
    Policy::new(
        AGENT_PER_ORG_NAME,
        Quota::per_secs(limit, 60).retaining(full),
    )
}

/// The per-hour quota of an API key with `per_hour` requests (at least 1).
#[must_use]
pub const fn api_key_hourly(per_hour: u32) -> Policy {
    Policy::new(API_KEY_HOURLY_NAME, Quota::per_secs(per_hour, 60 * 60))
}
