//! Facts about the machine a benchmark ran on, the process's peak memory, and the open-files
//! limit that thousands of waiting logins need.
//!
//! Everything is read from `/proc` and from `rustc --version`; a fact that cannot be read is
//! reported as `unknown` rather than failing the benchmark. Linux only, as the product is.

use std::process::Command;

use hwa_core::Clock;
use hwa_core::clock::SystemClock;
use serde::Serialize;

/// What a reader needs to compare a report with one from another machine.
#[derive(Clone, Debug, Serialize)]
pub struct MachineFacts {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total: String,
    pub rustc: String,
    /// `/proc/loadavg` when the benchmark started: the machine is shared, so this says how
    /// quiet it was.
    pub load_at_start: String,
    /// UTC, RFC 3339.
    pub date: String,
}

impl MachineFacts {
    pub fn read() -> MachineFacts {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        MachineFacts {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(unknown),
            mem_total: field(&meminfo, "MemTotal").unwrap_or_else(unknown),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(unknown),
            load_at_start: load_average(),
            date: now_rfc3339(),
        }
    }
}

/// `/proc/loadavg`, trimmed.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| unknown(), |s| s.trim().to_owned())
}

/// The current UTC time from the real clock seam, RFC 3339.
pub fn now_rfc3339() -> String {
    let millis = SystemClock.now().0;
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(unknown)
}

/// The peak resident set size of this process so far (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmHWM")
}

/// The peak resident set size of process `pid` (a helper process), in KiB.
pub fn peak_rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmHWM")
}

/// The open-files limit before and after [`raise_open_files`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OpenFiles {
    pub soft_before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft open-files limit to the hard limit; the hard limit itself needs privileges
/// a benchmark should not ask for.
pub fn raise_open_files() -> std::io::Result<OpenFiles> {
    let (soft_before, hard) = rlimit::Resource::NOFILE.get()?;
    let soft = rlimit::increase_nofile_limit(hard)?;
    Ok(OpenFiles { soft_before, soft, hard })
}

fn unknown() -> String {
    "unknown".to_owned()
}

/// The value of the first `name: value` line in a `/proc` file.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    field(text, name)?.trim_end_matches("kB").trim().parse().ok()
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_found_by_name() {
        let text = "model name\t: AMD EPYC\nVmHWM:\t  12345 kB\n";
        assert_eq!(field(text, "model name").as_deref(), Some("AMD EPYC"));
        assert_eq!(kib_field(text, "VmHWM"), Some(12345));
        assert_eq!(field(text, "absent"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
    }
}
