//! The report: figures of one scenario, each rate also as a share of the
//! loopback limit, and pass/fail against the targets of issue 10. Printed as a
//! table, or as JSON with `--json`.

use std::fmt::Write;

use serde::Serialize;

use crate::drive::{Delivered, Ingest, ProbeResult};
use crate::loopback::Loopback;
use crate::procfs::ThreadCpu;
use crate::stats::Latency;

/// The machine the figures were taken on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// The kernel release.
    pub kernel: String,
    /// 1-minute load average when the run started (other users of the machine).
    pub load_at_start: f64,
}

impl Machine {
    /// Reads this machine.
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
                .unwrap_or_else(|| "unknown".into()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            load_at_start: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0.0),
        }
    }
}

/// What ran.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// `sqlite`, `postgres` or `external` (--target).
    pub database: String,
    /// Server processes.
    pub nodes: usize,
    /// Events posted.
    pub events: u64,
    /// Concurrent senders.
    pub senders: usize,
    /// Webhooks on the account.
    pub webhooks: u32,
    /// Pace, events/s (none = as fast as the API answers).
    pub rate: Option<f64>,
    /// The server binary.
    pub server_binary: Option<String>,
    /// Flags given to `serve` beyond the harness's own.
    pub server_flags: Vec<String>,
}

/// Machine use during the measured part.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// Wall time from the first send to the last arrival (or the harness giving up), s.
    pub wall_s: f64,
    /// Peak of the sampled server RSS (all nodes together) during the run, MiB.
    pub server_peak_rss_mib: f64,
    /// VmHWM of the server process(es) at the end (peak since start, summed), MiB.
    pub server_hwm_mib: f64,
    /// Server CPU seconds (user + system).
    pub server_cpu_s: f64,
    /// Server CPU per received delivery, µs.
    pub server_cpu_per_delivery_us: f64,
    /// This process's CPU seconds (senders, receiver, probes).
    pub bench_cpu_s: f64,
    /// CPU seconds of PostgreSQL processes (every database on the machine).
    pub postgres_cpu_s: f64,
    /// Busy CPU seconds of the whole machine; minus the above = other users.
    pub machine_cpu_s: f64,
    /// Server CPU by thread name.
    pub server_threads: Vec<ThreadCpu>,
}

/// Backlog figures.
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// `down` (receiver answers 503 while the backlog builds) or `paused`
    /// (webhook paused, deliveries held).
    pub mode: String,
    /// Deliveries waiting when the receiver came back.
    pub pending: u64,
    /// Sampled peak server RSS while the backlog was built, MiB.
    pub build_peak_rss_mib: f64,
    /// Sampled peak server RSS while it drained, MiB.
    pub drain_peak_rss_mib: f64,
    /// How long the backlog took to build, s.
    pub build_s: f64,
    /// Receiver back (or resume sent) → last delivery, s.
    pub drain_s: f64,
    /// Deliveries per second while draining.
    pub drain_rate_per_s: f64,
    /// The resume call's duration, ms (paused mode).
    pub resume_ms: Option<f64>,
    /// 503s answered while down (attempts that failed).
    pub refused: u64,
    /// API latency while the backlog drained.
    pub probe: ProbeResult,
}

/// One node against two on one PostgreSQL database.
#[derive(Debug, Clone, Serialize)]
pub struct Nodes {
    /// End-to-end deliveries/s with one node.
    pub one_node_rate_per_s: f64,
    /// End-to-end deliveries/s with two nodes.
    pub two_nodes_rate_per_s: f64,
    /// Two nodes ÷ one node.
    pub ratio: f64,
    /// The one-node run's full figures.
    pub one_node: Box<Report>,
}

/// One target of issue 10.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked.
    pub what: String,
    /// The measured value, in the unit of `target`.
    pub measured: f64,
    /// The target, in words.
    pub target: String,
    /// Whether it holds.
    pub pass: bool,
}

/// Everything one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// Where it ran.
    pub machine: Machine,
    /// What ran.
    pub setup: Setup,
    /// The loopback limit of this run.
    pub loopback: Loopback,
    /// Ingest.
    pub ingest: Ingest,
    /// Deliveries.
    pub delivery: Delivered,
    /// Server and bench CPU and memory.
    pub resources: Resources,
    /// Backlog scenario only.
    pub backlog: Option<Backlog>,
    /// postgres-2-nodes only.
    pub nodes: Option<Nodes>,
    /// Rates as percentages of the loopback limit.
    pub percent_of_loopback: Vec<(String, f64)>,
    /// Targets.
    pub checks: Vec<Check>,
}

impl Report {
    /// `rate` as a percentage of the loopback limit.
    pub fn pct(&self, rate: f64) -> f64 {
        percent(rate, self.loopback.requests_per_s)
    }

    /// Fills `percent_of_loopback` from the rates.
    pub fn with_percentages(mut self) -> Report {
        let mut p = vec![
            ("ingest_rate".to_string(), self.pct(self.ingest.rate_per_s)),
            (
                "delivery_rate".to_string(),
                self.pct(self.delivery.delivery_rate_per_s),
            ),
            (
                "end_to_end_rate".to_string(),
                self.pct(self.delivery.end_to_end_rate_per_s),
            ),
        ];
        if let Some(b) = &self.backlog {
            p.push(("drain_rate".to_string(), self.pct(b.drain_rate_per_s)));
        }
        self.percent_of_loopback = p;
        self
    }
}

/// `rate` as a percentage of `limit`.
pub fn percent(rate: f64, limit: f64) -> f64 {
    if limit > 0.0 {
        100.0 * rate / limit
    } else {
        0.0
    }
}

fn lat(l: &Option<Latency>) -> String {
    match l {
        Some(l) => format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.count
        ),
        None => "no values".into(),
    }
}

fn rate_line(out: &mut String, r: &Report, label: &str, rate: f64, note: &str) {
    let _ = writeln!(
        out,
        "{label:<24}{rate:>10.0} /s  {:>6.2}% of loopback  {note}",
        r.pct(rate)
    );
}

/// The human-readable table.
pub fn table(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.setup;
    let _ = writeln!(
        o,
        "== shophook-bench {} — {}, {} node(s), {} events, {} senders, {} webhook(s){}",
        r.scenario,
        s.database,
        s.nodes,
        s.events,
        s.senders,
        s.webhooks,
        s.rate
            .map_or(String::new(), |x| format!(", paced at {x}/s"))
    );
    let m = &r.machine;
    let _ = writeln!(
        o,
        "machine: {} CPUs, {}, kernel {}, load {:.2} at start",
        m.cpus, m.cpu_model, m.kernel, m.load_at_start
    );
    let _ = writeln!(
        o,
        "{:<24}{:>10.0} /s  (mean of {:?} before/after; {} connections, {:.1} s in all)",
        "loopback limit",
        r.loopback.requests_per_s,
        r.loopback
            .samples
            .iter()
            .map(|s| s.round() as u64)
            .collect::<Vec<_>>(),
        r.loopback.connections,
        r.loopback.seconds
    );
    let i = &r.ingest;
    rate_line(
        &mut o,
        r,
        "ingest",
        i.rate_per_s,
        &format!(
            "accepted {} rejected {} errors {}",
            i.accepted, i.rejected, i.errors
        ),
    );
    if let Some(p) = &i.first_problem {
        let _ = writeln!(o, "{:<24}{p}", "  first problem");
    }
    let _ = writeln!(o, "{:<24}{}", "POST /events (→202)", lat(&i.api_latency));
    let d = &r.delivery;
    let _ = writeln!(
        o,
        "{:<24}{} of {} received, {} duplicates, {} lost{}",
        "deliveries",
        d.received,
        d.expected,
        d.duplicates,
        d.lost,
        if d.lost > 0 {
            " (not received when the harness stopped waiting: --stall-seconds or --max-wait)"
        } else {
            ""
        }
    );
    if d.per_webhook.len() > 1 {
        let _ = writeln!(o, "{:<24}{:?}", "  per webhook", d.per_webhook);
    }
    rate_line(
        &mut o,
        r,
        "delivery rate",
        d.delivery_rate_per_s,
        "first arrival → last",
    );
    rate_line(
        &mut o,
        r,
        "end-to-end rate",
        d.end_to_end_rate_per_s,
        if r.backlog.is_some() {
            "receiver up → last arrival"
        } else {
            "first send → last arrival"
        },
    );
    let _ = writeln!(o, "{:<24}{}", "send → receive", lat(&d.send_to_receive));
    let _ = writeln!(o, "{:<24}{}", "202 → receive", lat(&d.accepted_to_receive));
    let _ = writeln!(
        o,
        "{:<24}{} arrived before their sender read the 202",
        "", d.arrived_before_202
    );
    let x = &r.resources;
    let _ = writeln!(
        o,
        "{:<24}peak RSS {:.1} MiB (VmHWM {:.1} MiB), CPU {:.2} s ({:.0} µs/delivery)",
        "server",
        x.server_peak_rss_mib,
        x.server_hwm_mib,
        x.server_cpu_s,
        x.server_cpu_per_delivery_us
    );
    let _ = writeln!(
        o,
        "{:<24}CPU {:.2} s; wall {:.2} s (2 CPUs = {:.2} CPU-s available)",
        "bench (this process)",
        x.bench_cpu_s,
        x.wall_s,
        x.wall_s * m.cpus as f64
    );
    let other = x.machine_cpu_s - x.server_cpu_s - x.bench_cpu_s - x.postgres_cpu_s;
    let _ = writeln!(
        o,
        "{:<24}{:.2} CPU-s busy: server {:.2}, bench {:.2}, postgres {:.2}, others {:.2}",
        "machine CPU",
        x.machine_cpu_s,
        x.server_cpu_s,
        x.bench_cpu_s,
        x.postgres_cpu_s,
        other.max(0.0)
    );
    let threads: Vec<String> = x
        .server_threads
        .iter()
        .take(6)
        .map(|t| format!("{}×{} {:.2} s", t.name, t.threads, t.cpu_s))
        .collect();
    let _ = writeln!(o, "{:<24}{}", "server threads", threads.join(", "));
    if let Some(b) = &r.backlog {
        let _ = writeln!(
            o,
            "{:<24}mode {}, {} pending, built in {:.1} s (peak RSS {:.1} MiB), drained in {:.1} s (peak RSS {:.1} MiB){}",
            "backlog",
            b.mode,
            b.pending,
            b.build_s,
            b.build_peak_rss_mib,
            b.drain_s,
            b.drain_peak_rss_mib,
            b.resume_ms
                .map_or(String::new(), |ms| format!(", resume call {ms:.0} ms"))
        );
        rate_line(&mut o, r, "drain rate", b.drain_rate_per_s, "");
        if b.refused > 0 {
            let _ = writeln!(o, "{:<24}{} attempts answered 503", "", b.refused);
        }
        let _ = writeln!(
            o,
            "{:<24}{}",
            "API while draining: GET",
            lat(&b.probe.list_webhooks)
        );
        let _ = writeln!(o, "{:<24}{}", "  POST /events", lat(&b.probe.post_event));
    }
    if let Some(n) = &r.nodes {
        let _ = writeln!(
            o,
            "{:<24}one node {:.0} /s, two nodes {:.0} /s, ratio {:.2}",
            "nodes", n.one_node_rate_per_s, n.two_nodes_rate_per_s, n.ratio
        );
    }
    let _ = writeln!(o, "targets (issue 10):");
    for c in &r.checks {
        let _ = writeln!(
            o,
            "  {}  {}: {:.2} (target {})",
            if c.pass { "PASS" } else { "FAIL" },
            c.what,
            c.measured,
            c.target
        );
    }
    o
}
