//! The command line: `serve` and `migrate` here; the tools for receiver developers
//! in their own modules — `listen` (a local receiver that prints what it gets),
//! `verify` (check a signature) and `replay` (re-send a time range, with progress).

pub mod listen;
pub mod replay;
pub mod server;
pub mod verify;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shophook_store::postgres::PgStore;
use shophook_store::sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::config::{Database, LogFormat};

/// shophook: reliable, signed webhooks for shops and sales CRMs.
#[derive(Debug, Parser)]
#[command(name = "shophook", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and the delivery workers.
    Serve(crate::config::ServeArgs),
    /// Apply database schema migrations and exit (serve does this too).
    Migrate(crate::config::MigrateArgs),
    /// A local receiver for receiver developers: prints each webhook it gets and whether its signature holds.
    Listen(listen::ListenArgs),
    /// Check a Standard Webhooks signature: headers as flags, the body on stdin.
    Verify(verify::VerifyArgs),
    /// Re-send a webhook's deliveries from a time range and follow them to the end.
    Replay(replay::ReplayArgs),
}

/// Runs a parsed command line; the exit code is the command's verdict (`verify`
/// and `replay` have more than one).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            init_logs(args.log_format);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(serve(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Listen(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(listen::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify::run(args),
        Command::Replay(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(replay::run(args))
        }
        Command::Migrate(args) => {
            init_logs(LogFormat::Pretty);
            match Database::parse(&args.database).map_err(anyhow::Error::msg)? {
                Database::Sqlite(path) => {
                    let (from, to) = SqliteStore::migrate_only(&path)
                        .with_context(|| format!("migrating {}", path.display()))?;
                    println!("{}: schema version {from} -> {to}", path.display());
                }
                Database::Postgres(url) => {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let (from, to) = rt
                        .block_on(PgStore::migrate_only(&url))
                        .context("migrating the PostgreSQL database")?;
                    println!("PostgreSQL: schema version {from} -> {to}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SHOPHOOK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Open files a node needs beyond its delivery and API connections: database
/// files, the PostgreSQL pool, the listener.
const SPARE_FILES: u64 = 256;

/// Raises the soft limit of open files towards what `concurrency` delivery
/// connections and `max_connections` API connections need (it is often 1,024 by
/// default, and the hard limit much higher). Where the limit stays lower, the API
/// gets fewer connections, so it never runs out of files before the bound.
fn raise_open_file_limit(args: &mut crate::config::ServeArgs) {
    let wanted = (args.concurrency + args.max_connections) as u64 + SPARE_FILES;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => {
            let fits = got
                .saturating_sub(args.concurrency as u64 + SPARE_FILES)
                .max(32) as usize;
            args.max_connections = args.max_connections.min(fits);
            tracing::warn!(
                limit = got,
                wanted,
                max_connections = args.max_connections,
                "the open-file limit is below what --concurrency and --max-connections need; API connections lowered to fit (raise `ulimit -n` or lower --concurrency)"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read or raise the open-file limit"),
    }
}

async fn serve(mut args: crate::config::ServeArgs) -> anyhow::Result<()> {
    raise_open_file_limit(&mut args);
    let database = Database::parse(&args.database)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let app = App::build(args).await?;
    if let Some(key) = app.generated_admin_key() {
        println!(
            "Generated operator key (shown once, stored hashed; set SHOPHOOK_ADMIN_KEY to choose your own):\n\n    {key}\n"
        );
    }
    let addr = app.addr();
    tracing::info!(%database, "storage ready");
    tracing::info!(
        "web UI at http://{addr}/ — API at http://{addr}/v1 (reference at http://{addr}/docs) — metrics at http://{addr}/metrics — health at http://{addr}/healthz"
    );
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutdown requested: no new work is claimed; in-flight deliveries finish or are released"
        );
        signals.cancel();
    });
    app.run(shutdown).await
}

/// Returns on SIGTERM or SIGINT (Ctrl-C).
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
