//! Command-line flags of the harness.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use shophook_core::retry::{RetrySchedule, parse_duration};

/// Runs `shophook serve` under load, SIGKILLs it at random moments, restarts it on
/// the same database and port, then checks that every event the API accepted
/// reached the receiver and nothing else did. Exits 1 on a loss or a phantom.
#[derive(Debug, Clone, Parser)]
#[command(name = "shophook-crash", version, about)]
pub struct Args {
    /// Where the events are stored.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// The base URL of a PostgreSQL server (a fresh database is created on it and
    /// dropped at the end).
    #[arg(
        long,
        env = "SHOPHOOK_TEST_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres: String,
    /// Server processes on one database (PostgreSQL only); each kill hits one of them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// How many times a server is SIGKILLed and restarted.
    #[arg(long, default_value_t = 20)]
    pub kills: u32,
    /// Shortest time a server runs under load before it is killed.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub kill_min: Duration,
    /// Longest time a server runs under load before it is killed.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub kill_max: Duration,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Share of client requests that are order snapshot PUTs (each derives two
    /// events); the rest are POST /events.
    #[arg(long, default_value_t = 0.2)]
    pub snapshot_share: f64,
    /// Share of deliveries the receiver answers with 500 (the server retries them).
    #[arg(long, default_value_t = 0.05)]
    pub fail_rate: f64,
    /// The receiver waits up to this long (uniformly random) before answering.
    #[arg(long, default_value = "20ms", value_parser = parse_duration)]
    pub receiver_delay: Duration,
    /// The server's `--lease`: how soon a killed node's claimed deliveries are due again.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub lease: Duration,
    /// The server's `--retry-schedule`.
    #[arg(
        long,
        default_value = "100ms,200ms,500ms,1s,1s,1s,1s,1s,1s,1s",
        value_parser = retry_schedule
    )]
    pub retry_schedule: String,
    /// The `shophook` binary (default: the one next to this executable).
    #[arg(long)]
    pub shophook: Option<PathBuf>,
    /// Seed of the random choices (kill moments, victims, request mix, receiver errors).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep the working directory (database file, server logs) even when the run passes.
    #[arg(long)]
    pub keep: bool,
}

/// A storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A temporary SQLite file, kept across restarts.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

impl Args {
    /// Checks what clap cannot; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 {
            return Err("--nodes must be at least 1".into());
        }
        if self.nodes > 1 && self.backend == Backend::Sqlite {
            return Err(
                "--nodes > 1 needs --backend postgres (an SQLite file has one node)".into(),
            );
        }
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.kill_min > self.kill_max {
            return Err(format!(
                "--kill-min ({:?}) is longer than --kill-max ({:?})",
                self.kill_min, self.kill_max
            ));
        }
        for (name, share) in [
            ("--snapshot-share", self.snapshot_share),
            ("--fail-rate", self.fail_rate),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} is a share from 0 to 1, got {share}"));
            }
        }
        if self.fail_rate >= 0.5 {
            return Err(
                "--fail-rate must stay below 0.5, or deliveries run out of retries and look lost"
                    .into(),
            );
        }
        Ok(())
    }

    /// The retry schedule's delays added up: the longest a delivery may keep
    /// retrying (before jitter).
    pub fn retry_total(&self) -> Duration {
        self.retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .filter_map(|p| parse_duration(p).ok())
            .sum()
    }
}

/// A schedule the server accepts, kept as given (it is passed on as a flag).
fn retry_schedule(text: &str) -> Result<String, String> {
    RetrySchedule::parse(text)?;
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Args, String> {
        let args = Args::try_parse_from(["shophook-crash"].iter().chain(extra))
            .map_err(|e| e.to_string())?;
        args.validate()?;
        Ok(args)
    }

    #[test]
    fn defaults_and_bad_combinations() {
        let a = parse(&[]).unwrap();
        assert_eq!((a.backend, a.kills, a.nodes), (Backend::Sqlite, 20, 1));
        assert_eq!(a.retry_total(), Duration::from_millis(7800));
        assert!(parse(&["--backend", "postgres", "--nodes", "2"]).is_ok());
        for bad in [
            &["--nodes", "2"][..],
            &["--nodes", "0"],
            &["--clients", "0"],
            &["--kill-min", "3s", "--kill-max", "1s"],
            &["--fail-rate", "0.7"],
            &["--snapshot-share", "2"],
            &["--kill-min", "soon"],
            &["--retry-schedule", "1s,later"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
