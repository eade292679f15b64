//! Heartbeat (SPEC 8.4): `POST /api/v1/agents/:agentId/heartbeat` and the `heartbeat` frame.
//!
//! `status` and `agentVersion` (and the protocol version fields) are protocol fields, decoded
//! strictly. Everything else is informational: an invalid value is dropped and noted in
//! [`crate::Decoded::dropped`], never fatal. Unknown fields are refused (a newer agent speaks
//! the version the server negotiated, see [`crate::version`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::enrollment::AgentConfig;
use crate::ids::Timestamp;
use crate::informational::Informational;
use crate::limits::{
    MAX_FACT_CHARS, MAX_HEARTBEAT_COMMANDS, MAX_HOSTNAME_CHARS, MAX_INTERFACE_NAME_CHARS,
    MAX_IP_CHARS, MAX_IP_ENTRIES, MAX_MAC_CHARS, MAX_USER_CHARS, MAX_VERSION_CHARS,
};
use crate::validate::{Path, Report, Validate, check_list, check_text, text_in};
use crate::version::ProtocolVersion;

/// The agent's self-reported health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatStatus {
    /// Healthy.
    Ok,
    /// Degraded.
    Warning,
    /// Failing.
    Error,
}

/// The heartbeat request body (also the body of the `heartbeat` frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// Agent health (required).
    pub status: HeartbeatStatus,
    /// Agent version (required, 1 to 64 characters).
    #[schemars(length(min = 1, max = 64))]
    pub agent_version: String,
    /// Highest protocol version the agent speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
    /// Lowest protocol version the agent speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<ProtocolVersion>,
    /// Resource metrics.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub metrics: Informational<HeartbeatMetrics>,
    /// Seconds since boot.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub uptime: Informational<u64>,
    /// Host name (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(length(min = 1, max = 255))]
    pub hostname: Informational<String>,
    /// OS version (1 to 255 characters).
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(length(min = 1, max = 255))]
    pub os_version: Informational<String>,
    /// Last logged-in user (at most 255 characters).
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(length(max = 255))]
    pub last_user: Informational<String>,
    /// Whether a reboot is pending.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub pending_reboot: Informational<bool>,
    /// IP address history update (bounded lists).
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub ip_history_update: Informational<IpHistoryUpdate>,
}

impl HeartbeatRequest {
    /// A heartbeat with only the required fields.
    #[must_use]
    pub fn new(status: HeartbeatStatus, agent_version: &str) -> Self {
        Self {
            status,
            agent_version: agent_version.to_owned(),
            protocol_version: Some(ProtocolVersion::CURRENT),
            min_protocol_version: None,
            metrics: Informational::Absent,
            uptime: Informational::Absent,
            hostname: Informational::Absent,
            os_version: Informational::Absent,
            last_user: Informational::Absent,
            pending_reboot: Informational::Absent,
            ip_history_update: Informational::Absent,
        }
    }
}

/// Resource metrics; each value is informational on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatMetrics {
    /// CPU use, 0 to 100 percent.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(range(min = 0, max = 100))]
    pub cpu_percent: Informational<f64>,
    /// RAM use, 0 to 100 percent.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(range(min = 0, max = 100))]
    pub ram_percent: Informational<f64>,
    /// RAM used, in MB.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub ram_used_mb: Informational<u64>,
    /// Disk use, 0 to 100 percent.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(range(min = 0, max = 100))]
    pub disk_percent: Informational<f64>,
    /// Disk used, in GB (finite, not negative).
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    #[schemars(range(min = 0))]
    pub disk_used_gb: Informational<f64>,
    /// Running processes.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub process_count: Informational<u64>,
    /// Bytes received since boot.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub network_in_bytes: Informational<u64>,
    /// Bytes sent since boot.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub network_out_bytes: Informational<u64>,
    /// Bytes read from disk since boot.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub disk_read_bytes: Informational<u64>,
    /// Bytes written to disk since boot.
    #[serde(default, skip_serializing_if = "Informational::is_unset")]
    pub disk_write_bytes: Informational<u64>,
}

/// IP address history: the current, changed and removed addresses (each at most 100).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpHistoryUpdate {
    /// Addresses now assigned.
    #[serde(
        default,
        rename = "currentIPs",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 100))]
    pub current_ips: Option<Vec<IpEntry>>,
    /// Addresses that changed since the last report.
    #[serde(
        default,
        rename = "changedIPs",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 100))]
    pub changed_ips: Option<Vec<IpEntry>>,
    /// Addresses no longer assigned.
    #[serde(
        default,
        rename = "removedIPs",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 100))]
    pub removed_ips: Option<Vec<IpEntry>>,
    /// When the agent observed the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Timestamp>,
}

/// Address family of an [`IpEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpType {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// One address of an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpEntry {
    /// Interface name (1 to 100 characters).
    #[schemars(length(min = 1, max = 100))]
    pub interface_name: String,
    /// The address (IPv4 or IPv6, optionally with a zone).
    #[schemars(length(min = 1, max = 64))]
    pub ip_address: String,
    /// Address family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_type: Option<IpType>,
    /// MAC address (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub mac_address: Option<String>,
}

/// The heartbeat response (also the body of the `heartbeat_ack` frame).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatResponse {
    /// Commands claimed for this agent (at most 10).
    #[serde(default)]
    #[schemars(length(max = 10))]
    pub commands: Vec<Command>,
    /// New configuration, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_update: Option<AgentConfig>,
    /// The agent's tokens are due: start a rotation (SPEC 8.3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate_token: bool,
    /// This heartbeat used the pending token and confirmed the staged rotation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_token_rotation: bool,
    /// The protocol version the server speaks with this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
}

fn percent(v: &f64) -> Result<(), String> {
    if v.is_finite() && (0.0..=100.0).contains(v) {
        Ok(())
    } else {
        Err("must be between 0 and 100".to_owned())
    }
}

fn non_negative(v: &f64) -> Result<(), String> {
    if v.is_finite() && *v >= 0.0 {
        Ok(())
    } else {
        Err("must be a finite number, not negative".to_owned())
    }
}

fn any<T>(_: &T) -> Result<(), String> {
    Ok(())
}

/// The length rule that also drops a value with control characters (it would reach logs).
fn text(min: usize, max: usize) -> impl Fn(&String) -> Result<(), String> {
    move |s: &String| text_in(s, min, max).map_err(|(_, message)| message)
}

impl Validate for HeartbeatRequest {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_text(
            &self.agent_version,
            1,
            MAX_VERSION_CHARS,
            &path.field("agentVersion"),
            report,
        );
        self.metrics
            .check_nested(&path.field("metrics"), report, |m, path, report| {
                m.check(path, report);
                Ok(())
            });
        self.uptime.check(&path.field("uptime"), report, any);
        self.hostname
            .check(&path.field("hostname"), report, text(1, MAX_HOSTNAME_CHARS));
        self.os_version
            .check(&path.field("osVersion"), report, text(1, MAX_FACT_CHARS));
        self.last_user
            .check(&path.field("lastUser"), report, text(0, MAX_USER_CHARS));
        self.pending_reboot
            .check(&path.field("pendingReboot"), report, any);
        self.ip_history_update.check_nested(
            &path.field("ipHistoryUpdate"),
            report,
            |update, path, _| update.check(path),
        );
    }
}

impl HeartbeatMetrics {
    fn check(&mut self, path: &Path<'_>, report: &mut Report) {
        self.cpu_percent
            .check(&path.field("cpuPercent"), report, percent);
        self.ram_percent
            .check(&path.field("ramPercent"), report, percent);
        self.ram_used_mb
            .check(&path.field("ramUsedMb"), report, any);
        self.disk_percent
            .check(&path.field("diskPercent"), report, percent);
        self.disk_used_gb
            .check(&path.field("diskUsedGb"), report, non_negative);
        self.process_count
            .check(&path.field("processCount"), report, any);
        self.network_in_bytes
            .check(&path.field("networkInBytes"), report, any);
        self.network_out_bytes
            .check(&path.field("networkOutBytes"), report, any);
        self.disk_read_bytes
            .check(&path.field("diskReadBytes"), report, any);
        self.disk_write_bytes
            .check(&path.field("diskWriteBytes"), report, any);
    }
}

impl IpHistoryUpdate {
    /// One bad entry drops the whole update: the server reads an absent update as "no
    /// change this beat", which is safe; a partial list is not.
    fn check(&self, _path: &Path<'_>) -> Result<(), String> {
        for (name, list) in [
            ("currentIPs", &self.current_ips),
            ("changedIPs", &self.changed_ips),
            ("removedIPs", &self.removed_ips),
        ] {
            let Some(list) = list else { continue };
            if list.len() > MAX_IP_ENTRIES {
                return Err(format!("`{name}` has more than {MAX_IP_ENTRIES} entries"));
            }
            for (i, entry) in list.iter().enumerate() {
                entry
                    .check()
                    .map_err(|reason| format!("`{name}[{i}]` {reason}"))?;
            }
        }
        Ok(())
    }
}

impl IpEntry {
    fn check(&self) -> Result<(), String> {
        text_in(&self.interface_name, 1, MAX_INTERFACE_NAME_CHARS)
            .map_err(|(_, m)| format!("interfaceName: {m}"))?;
        if crate::net::parse_ip(&self.ip_address, MAX_IP_CHARS).is_none() {
            return Err("ipAddress: expected an ipv4 or ipv6 address".to_owned());
        }
        if let Some(mac) = &self.mac_address {
            text_in(mac, 0, MAX_MAC_CHARS).map_err(|(_, m)| format!("macAddress: {m}"))?;
        }
        Ok(())
    }
}

impl Validate for HeartbeatResponse {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        check_list(
            &mut self.commands,
            MAX_HEARTBEAT_COMMANDS,
            &path.field("commands"),
            report,
        );
        self.config_update
            .validate(&path.field("configUpdate"), report);
    }
}
