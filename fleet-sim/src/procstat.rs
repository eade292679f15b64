//! Resident memory and CPU time of a process, read from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (Linux).

use std::time::Instant;

use serde::Serialize;

use crate::SimError;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Resident set size, KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since start, KiB (`VmHWM`).
    pub hwm_kib: u64,
    /// Threads.
    pub threads: u64,
    /// User + system CPU time, clock ticks.
    pub cpu_ticks: u64,
}

/// `VmRSS`, `VmHWM` and `Threads` of a `/proc/<pid>/status` text.
#[must_use]
pub fn parse_status(text: &str) -> (u64, u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"), field("Threads:"))
}

/// `utime + stime` (clock ticks) of a `/proc/<pid>/stat` line. The command name may hold
/// spaces and parentheses, so fields are counted after the last `)`.
#[must_use]
pub fn parse_stat(text: &str) -> Option<u64> {
    let after = text.get(text.rfind(')')?.checked_add(1)?..)?;
    let mut fields = after.split_whitespace();
    // after the name: state is field 3, utime field 14, stime field 15
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Reads `pid` now.
///
/// # Errors
/// [`SimError::File`] when the process is gone or `/proc` is unreadable.
pub fn sample(pid: u32) -> Result<Sample, SimError> {
    let base = std::path::PathBuf::from(format!("/proc/{pid}"));
    let status_path = base.join("status");
    let stat_path = base.join("stat");
    let status =
        std::fs::read_to_string(&status_path).map_err(|e| SimError::file(&status_path, e))?;
    let stat = std::fs::read_to_string(&stat_path).map_err(|e| SimError::file(&stat_path, e))?;
    let (rss_kib, hwm_kib, threads) = parse_status(&status);
    let cpu_ticks = parse_stat(&stat).ok_or_else(|| SimError::file(&stat_path, "unparsable"))?;
    Ok(Sample {
        rss_kib,
        hwm_kib,
        threads,
        cpu_ticks,
    })
}

/// What a process used over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
    /// Largest resident memory seen by the sampler, MiB.
    pub rss_peak_mib: f64,
    /// Kernel's peak resident memory since the process started (`VmHWM`), MiB.
    pub hwm_mib: f64,
    /// Threads at the end.
    pub threads: u64,
    /// CPU seconds used in the window.
    pub cpu_seconds: f64,
    /// Average CPU over the window, percent of one core (200 = both cores of two).
    pub cpu_percent: f64,
}

/// Watches one process: a start reading, a running peak, and the usage since start.
#[derive(Debug, Clone)]
pub struct Watch {
    pid: u32,
    start: Sample,
    started: Instant,
    peak_rss_kib: u64,
}

#[allow(
    clippy::cast_precision_loss,
    reason = "KiB and tick counts far below 2^52 shown as floats"
)]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Watch {
    /// Starts watching `pid`.
    ///
    /// # Errors
    /// As [`sample`].
    pub fn start(pid: u32) -> Result<Self, SimError> {
        let start = sample(pid)?;
        Ok(Self {
            pid,
            start,
            started: Instant::now(),
            peak_rss_kib: start.rss_kib,
        })
    }

    /// The process watched.
    #[must_use]
    pub const fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes a reading for the running peak (call it every second or so).
    pub fn tick(&mut self) {
        if let Ok(s) = sample(self.pid) {
            self.peak_rss_kib = self.peak_rss_kib.max(s.rss_kib);
        }
    }

    /// Usage from start to now.
    ///
    /// # Errors
    /// As [`sample`].
    #[allow(
        clippy::cast_precision_loss,
        reason = "tick counts far below 2^52 shown as floats"
    )]
    pub fn usage(&mut self) -> Result<Usage, SimError> {
        let now = sample(self.pid)?;
        self.peak_rss_kib = self.peak_rss_kib.max(now.rss_kib);
        let ticks_per_sec = rustix::param::clock_ticks_per_second().max(1);
        let cpu_seconds =
            now.cpu_ticks.saturating_sub(self.start.cpu_ticks) as f64 / ticks_per_sec as f64;
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        Ok(Usage {
            rss_mib: mib(now.rss_kib),
            rss_peak_mib: mib(self.peak_rss_kib),
            hwm_mib: mib(now.hwm_kib),
            threads: now.threads,
            cpu_seconds,
            cpu_percent: cpu_seconds / wall * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status =
            "Name:\tbreeze-server\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t5\n";
        assert_eq!(parse_status(status), (102_400, 204_800, 5));
        assert_eq!(parse_status("garbage"), (0, 0, 0));
        // a name with spaces and a parenthesis
        let stat =
            "4242 (breeze) server) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 5 0";
        assert_eq!(parse_stat(stat), Some(325));
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn watches_its_own_process() {
        let mut w = Watch::start(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        w.tick();
        let u = w.usage().unwrap();
        assert!(u.rss_mib > 0.0 && u.rss_peak_mib >= u.rss_mib && u.hwm_mib > 0.0);
        assert!(u.threads >= 1 && u.cpu_seconds >= 0.0);
        assert!(Watch::start(u32::MAX).is_err());
    }
}
