//! Enrollment (SPEC 8.1): `POST /api/v1/agents/enroll`.

use breeze_core::tenancy::{DeviceId, OrgId, SiteId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, UuidSchema};
use crate::limits::{
    DEFAULT_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_METRICS_INTERVAL_SECONDS, MAX_FACT_CHARS,
    MAX_HOSTNAME_CHARS, MAX_INTERFACE_NAME_CHARS, MAX_INTERVAL_SECONDS, MAX_IP_CHARS,
    MAX_MAC_CHARS, MAX_NETWORK_INTERFACES, MAX_VERSION_CHARS, MIN_INTERVAL_SECONDS,
};
use crate::secret::{EnrollmentKey, EnrollmentSecret, WireToken};
use crate::validate::{
    Path, Report, Validate, check_list, check_opt_text, check_range, check_text,
};
use crate::version::ProtocolVersion;

/// HTTP header an agent may use instead of the `enrollmentSecret` field.
pub const ENROLLMENT_SECRET_HEADER: &str = "x-agent-enrollment-secret";

/// Operating system family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OsType {
    /// Microsoft Windows.
    Windows,
    /// Apple macOS.
    Macos,
    /// Linux.
    Linux,
}

/// The enrollment request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// The raw enrollment key (looked up by its peppered hash).
    pub enrollment_key: EnrollmentKey,
    /// The enrollment secret, unless sent in [`ENROLLMENT_SECRET_HEADER`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_secret: Option<EnrollmentSecret>,
    /// Host name (1 to 255 characters).
    #[schemars(length(min = 1, max = 255))]
    pub hostname: String,
    /// Operating system family.
    pub os_type: OsType,
    /// Operating system version (1 to 255 characters).
    #[schemars(length(min = 1, max = 255))]
    pub os_version: String,
    /// CPU architecture (1 to 64 characters).
    #[schemars(length(min = 1, max = 64))]
    pub architecture: String,
    /// Agent version (1 to 64 characters).
    #[schemars(length(min = 1, max = 64))]
    pub agent_version: String,
    /// Highest protocol version the agent speaks (absent: legacy, version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
    /// Lowest protocol version the agent speaks (absent: same as `protocolVersion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<ProtocolVersion>,
    /// Optional hardware facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_info: Option<HardwareInfo>,
    /// Optional network interfaces (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub network_info: Option<Vec<NetworkInterface>>,
    /// The device's Ed25519 public key (unpadded base64url, SPEC 17): when present, the
    /// device is bound to it and every later request must be signed with its private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 43, max = 43))]
    pub public_key: Option<String>,
}

/// Hardware facts sent at enrollment (every string at most 255 characters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardwareInfo {
    /// CPU model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub cpu_model: Option<String>,
    /// Physical cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<u32>,
    /// Logical threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_threads: Option<u32>,
    /// Total RAM in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_total_mb: Option<u64>,
    /// Total disk in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_total_gb: Option<u64>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub serial_number: Option<String>,
    /// Manufacturer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub manufacturer: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub model: Option<String>,
    /// BIOS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub bios_version: Option<String>,
    /// GPU model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub gpu_model: Option<String>,
}

/// One network interface sent at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkInterface {
    /// Interface name (1 to 100 characters).
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// MAC address (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub mac: Option<String>,
    /// IP address (a valid IPv4 or IPv6 address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub ip: Option<String>,
    /// Whether this is the primary interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
}

/// The enrollment response (HTTP 201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollResponse {
    /// The public agent id.
    pub agent_id: AgentId,
    /// The device created or updated.
    #[schemars(with = "UuidSchema")]
    pub device_id: DeviceId,
    /// Agent-role token (shown once).
    pub auth_token: WireToken,
    /// Watchdog-role token (shown once).
    pub watchdog_auth_token: WireToken,
    /// Helper-role token (shown once).
    pub helper_auth_token: WireToken,
    /// The device's organization.
    #[schemars(with = "UuidSchema")]
    pub org_id: OrgId,
    /// The device's site.
    #[schemars(with = "UuidSchema")]
    pub site_id: SiteId,
    /// Agent configuration.
    pub config: AgentConfig,
    /// The protocol version the server will speak (absent: legacy, version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
}

/// Agent configuration (enrollment `config`, heartbeat `configUpdate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// Seconds between heartbeats (5 to 86,400; default 60).
    #[schemars(range(min = 5, max = 86400))]
    pub heartbeat_interval_seconds: u32,
    /// Seconds between metric samples (5 to 86,400; default 30).
    #[schemars(range(min = 5, max = 86400))]
    pub metrics_collection_interval_seconds: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_seconds: DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
            metrics_collection_interval_seconds: DEFAULT_METRICS_INTERVAL_SECONDS,
        }
    }
}

impl Validate for EnrollRequest {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_text(
            &self.hostname,
            1,
            MAX_HOSTNAME_CHARS,
            &path.field("hostname"),
            report,
        );
        check_text(
            &self.os_version,
            1,
            MAX_FACT_CHARS,
            &path.field("osVersion"),
            report,
        );
        check_text(
            &self.architecture,
            1,
            MAX_VERSION_CHARS,
            &path.field("architecture"),
            report,
        );
        check_text(
            &self.agent_version,
            1,
            MAX_VERSION_CHARS,
            &path.field("agentVersion"),
            report,
        );
        self.hardware_info
            .validate(&path.field("hardwareInfo"), report);
        crate::signing::check_public_key(
            self.public_key.as_deref(),
            &path.field("publicKey"),
            report,
        );
        if let Some(list) = &mut self.network_info {
            check_list(
                list,
                MAX_NETWORK_INTERFACES,
                &path.field("networkInfo"),
                report,
            );
        }
    }
}

impl Validate for HardwareInfo {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        for (name, value) in [
            ("cpuModel", &self.cpu_model),
            ("serialNumber", &self.serial_number),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
            ("biosVersion", &self.bios_version),
            ("gpuModel", &self.gpu_model),
        ] {
            check_opt_text(
                value.as_deref(),
                0,
                MAX_FACT_CHARS,
                &path.field(name),
                report,
            );
        }
    }
}

impl Validate for NetworkInterface {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_text(
            &self.name,
            1,
            MAX_INTERFACE_NAME_CHARS,
            &path.field("name"),
            report,
        );
        check_opt_text(
            self.mac.as_deref(),
            0,
            MAX_MAC_CHARS,
            &path.field("mac"),
            report,
        );
        if let Some(ip) = &self.ip
            && crate::net::parse_ip(ip, MAX_IP_CHARS).is_none()
        {
            report.issue(
                &path.field("ip"),
                crate::issue::IssueCode::InvalidFormat,
                "expected an ipv4 or ipv6 address",
            );
        }
    }
}

impl Validate for EnrollResponse {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        self.config.validate(&path.field("config"), report);
    }
}

impl Validate for AgentConfig {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_range(
            self.heartbeat_interval_seconds,
            MIN_INTERVAL_SECONDS,
            MAX_INTERVAL_SECONDS,
            &path.field("heartbeatIntervalSeconds"),
            report,
        );
        check_range(
            self.metrics_collection_interval_seconds,
            MIN_INTERVAL_SECONDS,
            MAX_INTERVAL_SECONDS,
            &path.field("metricsCollectionIntervalSeconds"),
            report,
        );
    }
}
