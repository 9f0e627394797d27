//! Who used the machine: server processes' RSS (sampled) and CPU, and the
//! bench process's own CPU, between two points of a run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::procfs::{self, ThreadCpu, Threads};

/// Samples the resident set of some processes every 50 ms and keeps the peak
/// of their sum since the last [`RssSampler::take_peak`].
pub struct RssSampler {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pids`.
    pub fn start(pids: Vec<u32>) -> RssSampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak_kib.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let sum: u64 = pids
                        .iter()
                        .filter_map(|pid| procfs::sample(&pid.to_string()).ok())
                        .map(|x| x.rss_kib)
                        .sum();
                    p.fetch_max(sum, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .ok();
        RssSampler {
            peak_kib,
            stop,
            thread,
        }
    }

    /// The peak since the start or the last call, in KiB; starts a new period.
    pub fn take_peak(&self) -> u64 {
        self.peak_kib.swap(0, Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// CPU readings of the server processes and of the bench at one moment.
pub struct CpuMark {
    servers: Vec<(u32, u64, Threads)>,
    bench_ticks: u64,
    postgres_ticks: u64,
    machine_ticks: u64,
}

/// CPU used between two marks.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    /// Server CPU seconds (user + system, all server processes).
    pub server_cpu_s: f64,
    /// Bench CPU seconds (senders, receiver, probes — this process).
    pub bench_cpu_s: f64,
    /// CPU seconds of the PostgreSQL processes on this machine (all of them).
    pub postgres_cpu_s: f64,
    /// Busy CPU seconds of the whole machine (every process, every CPU): what
    /// is left after server, PostgreSQL and bench was used by someone else.
    pub machine_cpu_s: f64,
    /// Server CPU by thread name, busiest first.
    pub server_threads: Vec<ThreadCpu>,
}

/// Reads CPU of `pids` (with per-thread detail) and of this process.
pub fn cpu_mark(pids: &[u32]) -> CpuMark {
    let servers = pids
        .iter()
        .map(|pid| {
            let p = pid.to_string();
            let ticks = procfs::sample(&p).map_or(0, |s| s.cpu_ticks);
            (*pid, ticks, procfs::threads(&p))
        })
        .collect();
    CpuMark {
        servers,
        bench_ticks: procfs::sample("self").map_or(0, |s| s.cpu_ticks),
        postgres_ticks: procfs::ticks_of_processes_named("postgres"),
        machine_ticks: std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| procfs::machine_busy_ticks(&s))
            .unwrap_or(0),
    }
}

/// CPU used from `start` to now.
pub fn cpu_since(start: &CpuMark) -> CpuUse {
    let tps = procfs::ticks_per_second();
    let now = cpu_mark(&start.servers.iter().map(|s| s.0).collect::<Vec<_>>());
    let mut server_ticks = 0;
    let mut before_all = BTreeMap::new();
    let mut after_all = BTreeMap::new();
    for ((_, t0, th0), (_, t1, th1)) in start.servers.iter().zip(&now.servers) {
        server_ticks += t1.saturating_sub(*t0);
        before_all.extend(th0.clone());
        after_all.extend(th1.clone());
    }
    CpuUse {
        server_cpu_s: server_ticks as f64 / tps,
        bench_cpu_s: now.bench_ticks.saturating_sub(start.bench_ticks) as f64 / tps,
        postgres_cpu_s: now.postgres_ticks.saturating_sub(start.postgres_ticks) as f64 / tps,
        machine_cpu_s: now.machine_ticks.saturating_sub(start.machine_ticks) as f64 / tps,
        server_threads: procfs::thread_cpu(&before_all, &after_all, tps),
    }
}

/// Peak resident set of `pids` since each started (`VmHWM`), summed, KiB.
pub fn hwm_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| procfs::sample(&pid.to_string()).ok())
        .map(|s| s.hwm_kib)
        .sum()
}
