//! Host facts for enrollment and heartbeat telemetry, from `sysinfo`.

use breeze_agent_proto::enrollment::{HardwareInfo, OsType};
use breeze_agent_proto::heartbeat::HeartbeatMetrics;
use breeze_agent_proto::limits::{MAX_FACT_CHARS, MAX_HOSTNAME_CHARS, MAX_VERSION_CHARS};
use breeze_agent_proto::{HeartbeatRequest, HeartbeatStatus, Informational};

/// This agent's version.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

fn bounded(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn non_empty(s: String, fallback: &str) -> String {
    if s.is_empty() { fallback.to_owned() } else { s }
}

/// The operating system family this agent was built for.
#[must_use]
pub const fn os_type() -> OsType {
    if cfg!(target_os = "windows") {
        OsType::Windows
    } else if cfg!(target_os = "macos") {
        OsType::Macos
    } else {
        OsType::Linux
    }
}

/// Host name (1 to 255 characters).
#[must_use]
pub fn hostname() -> String {
    non_empty(
        bounded(
            &sysinfo::System::host_name().unwrap_or_default(),
            MAX_HOSTNAME_CHARS,
        ),
        "unknown",
    )
}

/// OS version (1 to 255 characters).
#[must_use]
pub fn os_version() -> String {
    non_empty(
        bounded(
            &sysinfo::System::long_os_version().unwrap_or_default(),
            MAX_FACT_CHARS,
        ),
        "unknown",
    )
}

/// CPU architecture (1 to 64 characters).
#[must_use]
pub fn architecture() -> String {
    non_empty(
        bounded(&sysinfo::System::cpu_arch(), MAX_VERSION_CHARS),
        "unknown",
    )
}

/// Hardware facts for enrollment.
#[must_use]
pub fn hardware_info() -> HardwareInfo {
    let mut info = HardwareInfo::default();
    if let Ok(mut sys) = sysinfo::System::new() {
        sys.refresh_memory();
        sys.refresh_cpu_all();
        info.cpu_model = sys
            .cpus()
            .first()
            .map(|c| bounded(c.brand(), MAX_FACT_CHARS))
            .filter(|s| !s.is_empty());
        info.cpu_threads = u32::try_from(sys.cpus().len()).ok();
        info.ram_total_mb = Some(sys.total_memory() / (1024 * 1024));
    }
    info.cpu_cores = sysinfo::System::physical_core_count()
        .ok()
        .and_then(|n| u32::try_from(n).ok());
    if let Ok(disks) = sysinfo::Disks::new_with_refreshed_list() {
        let total: u64 = disks.iter().map(sysinfo::Disk::total_space).sum();
        info.disk_total_gb = Some(total / (1024 * 1024 * 1024));
    }
    info
}

/// Samples host metrics; keeps its `sysinfo` state so CPU usage is measured between
/// consecutive samples.
#[derive(Debug)]
pub struct Collector {
    sys: Option<sysinfo::System>,
}

impl Default for Collector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector {
    /// A collector (takes a first CPU sample).
    #[must_use]
    pub fn new() -> Self {
        let mut sys = sysinfo::System::new().ok();
        if let Some(sys) = &mut sys {
            sys.refresh_cpu_usage();
        }
        Self { sys }
    }

    /// A heartbeat with current telemetry. Values the protocol would drop (NaN, > 100 %) are
    /// clamped or left out.
    pub fn heartbeat(&mut self) -> HeartbeatRequest {
        let mut beat = HeartbeatRequest::new(HeartbeatStatus::Ok, AGENT_VERSION);
        let mut metrics = HeartbeatMetrics::default();
        if let Some(sys) = &mut self.sys {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            metrics.cpu_percent = percent(f64::from(sys.global_cpu_usage()));
            let total = sys.total_memory();
            let used = sys.used_memory();
            if total > 0 {
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "a percentage needs no exactness"
                )]
                let ram = used as f64 / total as f64 * 100.0;
                metrics.ram_percent = percent(ram);
            }
            metrics.ram_used_mb = Informational::Present(used / (1024 * 1024));
        }
        if let Ok(disks) = sysinfo::Disks::new_with_refreshed_list() {
            let (total, avail) = disks.iter().fold((0u64, 0u64), |(t, a), d| {
                (
                    t.saturating_add(d.total_space()),
                    a.saturating_add(d.available_space()),
                )
            });
            let used = total.saturating_sub(avail);
            if total > 0 {
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "a percentage needs no exactness"
                )]
                let disk = used as f64 / total as f64 * 100.0;
                metrics.disk_percent = percent(disk);
                #[expect(clippy::cast_precision_loss, reason = "gigabytes need no exactness")]
                let gb = used as f64 / (1024.0 * 1024.0 * 1024.0);
                metrics.disk_used_gb = Informational::Present((gb * 100.0).round() / 100.0);
            }
        }
        beat.metrics = Informational::Present(metrics);
        if let Ok(uptime) = sysinfo::System::uptime() {
            beat.uptime = Informational::Present(uptime);
        }
        beat.hostname = Informational::Present(hostname());
        beat.os_version = Informational::Present(os_version());
        beat
    }
}

fn percent(v: f64) -> Informational<f64> {
    if v.is_finite() {
        Informational::Present(((v.clamp(0.0, 100.0)) * 100.0).round() / 100.0)
    } else {
        Informational::Absent
    }
}
