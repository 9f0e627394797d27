//! The PostgreSQL backend: several `serve` nodes on one database.
//!
//! Every trait call is one transaction on a pooled connection ([`store`]). Work is
//! claimed with `FOR UPDATE SKIP LOCKED` and leased: a claimed delivery's `due_at` is
//! its lease end, so the work of a node that died becomes due again by itself and
//! another node takes it. Commits that store due work `NOTIFY shophook_work`; each
//! store keeps one `LISTEN` connection that wakes the local workers and reconnects
//! after a PostgreSQL restart ([`signal`]). Nothing is cached between transactions:
//! another node may have changed any row. What SQLite gets from its single writer —
//! one `ordered` delivery per subject, one snapshot write at a time, one event per
//! idempotency key — is serialised here with transaction-scoped advisory locks,
//! always taken in one global order so they cannot deadlock ([`locks`]).

mod accounts;
mod deliveries;
mod events;
mod field_values;
mod history;
mod locks;
mod schema;
mod signal;
mod snapshots;
mod store;
mod ui_sessions;
mod webhooks;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{Result, StoreError};

/// How a [`PgStore`] connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this node opens (plus one for `LISTEN`).
    pub pool_size: u32,
    /// How long a call waits for a connection before it fails as `Unavailable`
    /// (the API then answers 503): short, so a database outage is reported, not hung on.
    pub acquire_timeout: Duration,
    /// Seals and opens webhook secrets (`--encryption-key`).
    pub sealer: crate::Sealer,
}

impl PgOptions {
    /// A pool sized for a node that keeps up to `concurrency` requests in flight:
    /// each finished request is one short transaction, so one connection serves
    /// many requests; a few more are kept for the API. With the default
    /// concurrency (1024) a node opens at most 20 connections, so three nodes stay
    /// well inside PostgreSQL's default `max_connections` (100).
    pub fn for_concurrency(concurrency: usize) -> PgOptions {
        let workers = u32::try_from(concurrency / 16)
            .unwrap_or(u32::MAX)
            .clamp(2, 16);
        PgOptions {
            pool_size: workers + 4,
            acquire_timeout: Duration::from_secs(3),
            sealer: crate::Sealer::none(),
        }
    }
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions::for_concurrency(1024)
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    signal: Arc<Notify>,
    /// Delivery ids: monotonic within this node (see [`Tx::delivery_id`]).
    ids: Arc<Mutex<ulid::Generator>>,
    listener: JoinHandle<()>,
    /// Events committed through this handle (see `Store::events_stored`).
    events_stored: AtomicU64,
    sealer: crate::Sealer,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .map(|o| o.application_name("shophook"))
        .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`), applies migrations and
    /// starts listening for other nodes' work notifications.
    pub async fn open(url: &str, options: PgOptions) -> Result<PgStore> {
        let connect = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.max(1))
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect.clone())
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        schema::migrate(&pool).await?;
        let signal = Arc::new(Notify::new());
        let listener = signal::spawn(connect, signal.clone());
        let store = PgStore {
            pool,
            signal,
            ids: Arc::new(Mutex::new(ulid::Generator::new())),
            listener,
            events_stored: AtomicU64::new(0),
            sealer: options.sealer,
        };
        let mut t = store.begin().await?;
        let sealed = webhooks::seal_existing(&mut t).await?;
        store.commit(t).await?;
        if sealed > 0 {
            tracing::info!(
                webhooks = sealed,
                "encrypted the secrets of webhooks stored before --encryption-key was set"
            );
        }
        Ok(store)
    }

    /// Applies migrations only (the `migrate` command); returns (from, to) versions.
    pub async fn migrate_only(url: &str) -> Result<(i64, i64)> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect_options(url)?)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let versions = schema::migrate(&pool).await;
        pool.close().await;
        versions.map_err(StoreError::from)
    }

    async fn begin(&self) -> R<Tx> {
        Ok(Tx {
            c: self.pool.begin().await?,
            woke: false,
            events: 0,
            ids: self.ids.clone(),
            sealer: self.sealer.clone(),
        })
    }

    /// Commits; a transaction that stored due work notifies every node first
    /// (NOTIFY is delivered on commit, so nobody is woken for a rollback).
    async fn commit(&self, mut t: Tx) -> R<()> {
        let (woke, events) = (t.woke, t.events);
        if woke {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(signal::CHANNEL)
                .execute(t.conn())
                .await?;
        }
        t.c.commit().await?;
        self.events_stored.fetch_add(events, Ordering::Relaxed);
        if woke {
            self.signal.notify_one();
        }
        Ok(())
    }
}

/// One open transaction and what the store learns while it runs.
pub(crate) struct Tx {
    c: sqlx::Transaction<'static, Postgres>,
    /// Set when due work was stored: every node is notified on commit.
    pub woke: bool,
    /// Events inserted in this transaction, counted once it commits.
    pub events: u64,
    ids: Arc<Mutex<ulid::Generator>>,
    /// Seals and opens webhook secrets.
    pub sealer: crate::Sealer,
}

impl Tx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.c
    }

    /// A new delivery id: `dlv_` + ULID from this node's monotonic generator, so
    /// ids sort in the order this node stored them, also within one millisecond.
    pub fn delivery_id(&self) -> String {
        let next = self.ids.lock().ok().and_then(|mut g| g.generate().ok());
        // Ulid::default() is the nil id: a fresh random one is the fallback.
        let id = match next {
            Some(id) => id,
            None => ulid::Ulid::new(),
        };
        format!("dlv_{id}")
    }
}

/// What a step inside a transaction can fail with: SQL (mapped and maybe retried
/// at the trait boundary) or a store outcome such as `NotFound`.
#[derive(Debug)]
pub(crate) enum Fail {
    Sql(sqlx::Error),
    Store(StoreError),
}

pub(crate) type R<T> = std::result::Result<T, Fail>;

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    /// A serialisation failure or a deadlock: running the transaction again helps.
    fn retryable(&self) -> bool {
        match self {
            Fail::Sql(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        }
    }
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Store(e) => e,
            Fail::Sql(
                e @ (sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::Decode(_)
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::ColumnIndexOutOfBounds { .. }
                | sqlx::Error::TypeNotFound { .. }),
            ) => StoreError::Corrupt(e.to_string()),
            // Connection refused or lost, pool timeouts, a restarting server, and
            // any refusal of the statement: nothing was committed; retrying may help.
            Fail::Sql(e) => StoreError::Unavailable(format!("PostgreSQL: {e}")),
        }
    }
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Fail {
    Fail::Store(StoreError::Corrupt(format!("{what}: {e}")))
}

/// A stored non-negative count (attempts, item index) as the model's `u32`.
pub(crate) fn count(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}
