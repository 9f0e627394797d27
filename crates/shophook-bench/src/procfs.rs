//! Memory and CPU of a process (and of each of its threads) from `/proc`.

use std::collections::BTreeMap;
use std::fs;

use serde::Serialize;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// Resident set size now, KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since the process started, KiB (`VmHWM`).
    pub hwm_kib: u64,
    /// User + system CPU time, clock ticks (`utime + stime` of `/proc/PID/stat`,
    /// which counts every thread of the process).
    pub cpu_ticks: u64,
}

/// A `kB` field of `/proc/PID/status`, e.g. `VmRSS:    51234 kB`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The thread/process name and `utime + stime` from a `/proc/PID/stat` line.
/// The name is in parentheses and may itself hold spaces and parentheses, so
/// the fields are counted from the last `)`.
pub fn stat_name_and_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // After ")": state(3) ppid(4) … utime(14) stime(15); index 0 here is field 3.
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Busy CPU ticks of the whole machine, all CPUs (`user + nice + system + irq
/// + softirq + steal` of the `cpu` line of `/proc/stat`).
pub fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    Some([0, 1, 2, 5, 6, 7].iter().filter_map(|i| v.get(*i)).sum())
}

/// CPU ticks of every process named `name` (e.g. the PostgreSQL backends).
pub fn ticks_of_processes_named(name: &str) -> u64 {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|s| stat_name_and_ticks(&s))
        .filter(|(n, _)| n == name)
        .map(|(_, t)| t)
        .sum()
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Reads memory and CPU of `pid` (`"self"` for this process).
pub fn sample(pid: &str) -> std::io::Result<ProcSample> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = || std::io::Error::other(format!("unexpected /proc/{pid} contents"));
    Ok(ProcSample {
        rss_kib: status_kib(&status, "VmRSS").ok_or_else(bad)?,
        hwm_kib: status_kib(&status, "VmHWM").ok_or_else(bad)?,
        cpu_ticks: stat_name_and_ticks(&stat).ok_or_else(bad)?.1,
    })
}

/// Thread id → (thread name, CPU ticks).
pub type Threads = BTreeMap<u64, (String, u64)>;

/// CPU ticks of each thread of `pid`, by thread id, with the thread's name.
pub fn threads(pid: &str) -> Threads {
    let mut out = BTreeMap::new();
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(stat) = fs::read_to_string(entry.path().join("stat"))
            && let Some(v) = stat_name_and_ticks(&stat)
        {
            out.insert(tid, v);
        }
    }
    out
}

/// CPU used by one kind of thread (same name) between two readings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThreadCpu {
    /// The thread name (at most 15 characters, as the kernel keeps it).
    pub name: String,
    /// How many threads of that name ran.
    pub threads: usize,
    /// CPU seconds they used together.
    pub cpu_s: f64,
}

/// Per-name CPU between `before` and `after` (threads born in between count
/// from zero), busiest first, idle names left out.
pub fn thread_cpu(before: &Threads, after: &Threads, ticks_per_s: f64) -> Vec<ThreadCpu> {
    let mut by_name: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for (tid, (name, ticks)) in after {
        let start = before.get(tid).map_or(0, |(_, t)| *t);
        let used = ticks.saturating_sub(start);
        if used > 0 {
            let e = by_name.entry(name).or_default();
            e.0 += 1;
            e.1 += used;
        }
    }
    let mut out: Vec<ThreadCpu> = by_name
        .into_iter()
        .map(|(name, (threads, ticks))| ThreadCpu {
            name: name.to_string(),
            threads,
            cpu_s: ticks as f64 / ticks_per_s,
        })
        .collect();
    out.sort_by(|a, b| b.cpu_s.total_cmp(&a.cpu_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tshophook\nVmPeak:\t  300000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n";

    #[test]
    fn status_fields() {
        assert_eq!(status_kib(STATUS, "VmRSS"), Some(51234));
        assert_eq!(status_kib(STATUS, "VmHWM"), Some(61234));
        assert_eq!(status_kib(STATUS, "VmSwap"), None);
        assert_eq!(
            status_kib("VmRSSx: 1 kB", "VmRSS"),
            None,
            "whole field name only"
        );
    }

    #[test]
    fn stat_with_awkward_names() {
        let plain = "1234 (shophook) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 40 0 0 20 0 9 0 5000 1000 500";
        assert_eq!(
            stat_name_and_ticks(plain),
            Some(("shophook".to_string(), 290))
        );
        let odd = "77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1";
        assert_eq!(stat_name_and_ticks(odd), Some(("a) b (c".to_string(), 10)));
        assert_eq!(stat_name_and_ticks("1 (x) S 1 2"), None, "too short");
    }

    #[test]
    fn machine_busy_time() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        assert_eq!(
            machine_busy_ticks(stat),
            Some(161),
            "idle and iowait left out"
        );
        assert_eq!(machine_busy_ticks("intr 1 2"), None);
    }

    #[test]
    fn reads_this_process() {
        let s = sample("self").unwrap();
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
        assert!(!threads("self").is_empty());
    }

    #[test]
    fn thread_cpu_groups_by_name_and_counts_new_threads_from_zero() {
        let before = BTreeMap::from([
            (1, ("main".to_string(), 10)),
            (2, ("tokio-runtime-w".to_string(), 100)),
            (3, ("tokio-runtime-w".to_string(), 50)),
        ]);
        let after = BTreeMap::from([
            (1, ("main".to_string(), 10)),
            (2, ("tokio-runtime-w".to_string(), 300)),
            (3, ("tokio-runtime-w".to_string(), 150)),
            (4, ("shophook-sqlite".to_string(), 500)),
        ]);
        let got = thread_cpu(&before, &after, 100.0);
        assert_eq!(
            got,
            vec![
                ThreadCpu {
                    name: "shophook-sqlite".into(),
                    threads: 1,
                    cpu_s: 5.0
                },
                ThreadCpu {
                    name: "tokio-runtime-w".into(),
                    threads: 2,
                    cpu_s: 3.0
                },
            ]
        );
    }
}
