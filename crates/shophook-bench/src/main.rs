//! `shophook-bench`: the load harness of shophook.
//!
//! Starts its own fast receiver on 127.0.0.1, starts (or targets) shophook
//! servers, drives them through the public API and reports ingest rate,
//! delivery rate, end-to-end latency, duplicates, losses, RSS and CPU — each
//! rate also as a share of the loopback limit measured in the same run.
//!
//! ```sh
//! cargo build --release -p shophook -p shophook-bench
//! target/release/shophook-bench single
//! ```

mod backlog;
mod client;
mod deploy;
mod drive;
mod loopback;
mod procfs;
mod receiver;
mod report;
mod scenarios;
mod server;
mod stats;
mod usage;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// One webhook, 20,000 events from 32 concurrent senders (SQLite).
    Single,
    /// Ten webhooks on one account, every event reaching all of them (SQLite).
    FanOut,
    /// 500 events/s for 10 s; latency.
    Paced,
    /// A backlog of pending deliveries while the receiver is down, then drained.
    Backlog,
    /// `single` on PostgreSQL.
    Postgres,
    /// One node, then two nodes on one PostgreSQL database; the ratio.
    #[value(name = "postgres-2-nodes")]
    Postgres2Nodes,
    /// Only the loopback limit.
    Loopback,
}

/// How the backlog is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BacklogMode {
    /// The receiver answers 503 while events are ingested; the server retries
    /// on `--retry-schedule`; then the receiver answers 200.
    Down,
    /// The webhook is paused (deliveries held), then resumed.
    Paused,
}

/// shophook-bench: measures a shophook server through its public API.
#[derive(Debug, Clone, Parser)]
#[command(name = "shophook-bench", version, about)]
pub struct Opts {
    /// The scenario.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Events to post (default: 20,000; fan-out 5,000; paced rate × duration; backlog 1,000,000).
    #[arg(long)]
    pub events: Option<u64>,
    /// Concurrent senders, each with a keep-alive connection.
    #[arg(long, default_value_t = 32)]
    pub senders: usize,
    /// Webhooks on the account (default: fan-out 10, others 1).
    #[arg(long)]
    pub webhooks: Option<u32>,
    /// Paced scenario: events per second.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Paced scenario: seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Backlog scenario: how the receiver is "down".
    #[arg(long, value_enum, default_value = "down")]
    pub backlog_mode: BacklogMode,
    /// Backlog scenario, `down` mode: the server's `--retry-schedule` (short, so
    /// the backlog is due again soon after the receiver is back; 50 retries so
    /// none goes dead while the backlog builds).
    #[arg(long)]
    pub retry_schedule: Option<String>,
    /// The shophook binary (default: `shophook` next to this executable).
    #[arg(long)]
    pub shophook: Option<PathBuf>,
    /// PostgreSQL server for the postgres scenarios; the harness creates and
    /// drops its own database there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres: String,
    /// Drive an already running server at this URL (127.0.0.1 only) instead of starting one.
    #[arg(long, requires = "key")]
    pub target: Option<String>,
    /// The operator key of the --target server.
    #[arg(long)]
    pub key: Option<String>,
    /// With --target: the server's process id, for RSS and CPU.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Extra flag for `shophook serve` (repeatable), e.g. --server-arg=--concurrency=512.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// `SHOPHOOK_LOG` of the servers started.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Loopback measurement: seconds.
    #[arg(long, default_value_t = 3.0)]
    pub loopback_seconds: f64,
    /// Loopback measurement: connections.
    #[arg(long, default_value_t = 32)]
    pub loopback_connections: usize,
    /// Stop waiting for deliveries when none arrived for this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub stall_seconds: f64,
    /// Stop waiting for deliveries this many seconds after the sending ended
    /// (e.g. to bound a large backlog's drain); what has not arrived by then is
    /// counted as lost and the drain rate is what was reached.
    #[arg(long)]
    pub max_wait: Option<f64>,
    /// Print the report as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
}

fn main() -> anyhow::Result<()> {
    let opts = Opts::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if opts.scenario == Scenario::Loopback {
        let l = rt.block_on(scenarios::loopback_only(&opts))?;
        if opts.json {
            println!("{}", serde_json::to_string_pretty(&l)?);
        } else {
            println!(
                "loopback limit: {:.0} requests/s ({} connections, {:.1} s)",
                l.requests_per_s, l.connections, l.seconds
            );
        }
        return Ok(());
    }
    let report = rt.block_on(scenarios::run(&opts))?;
    let table = report::table(&report);
    if opts.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}
