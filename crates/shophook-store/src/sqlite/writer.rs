//! The group-commit writer: one thread owns the only write connection.
//!
//! Callers send closures; the thread takes every closure that is waiting (up to
//! [`MAX_BATCH`]), runs each inside its own SAVEPOINT in one transaction, commits
//! once, and only then answers each caller. Under load hundreds of API writes and
//! delivery updates share one fsync; when idle a lone write commits at once. A
//! failing closure rolls back to its savepoint and fails alone; a failing commit
//! fails the whole batch and nobody is told "stored" for something that was not.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use shophook_core::account::Account;
use tokio::sync::{Notify, mpsc, oneshot};

pub(crate) use crate::rules::WebhookEntry;
use crate::{Result, StoreError};

/// Most closures committed together.
pub const MAX_BATCH: usize = 1024;

/// Caches only the writer may fill: every write goes through this thread, so they
/// are invalidated exactly when the data changes.
#[derive(Default)]
pub(crate) struct Caches {
    pub accounts: HashMap<String, Arc<Account>>,
    pub webhooks: HashMap<String, Arc<Vec<WebhookEntry>>>,
    /// Each account's option lists (`field_values`).
    pub field_options: HashMap<String, Arc<shophook_core::field_options::FieldOptions>>,
    /// Delivery ids: monotonic, as only this thread makes them.
    pub ids: ulid::Generator,
    /// Seals and opens webhook secrets.
    pub sealer: crate::Sealer,
}

impl Caches {
    pub fn forget_account(&mut self, id: &str) {
        self.accounts.remove(id);
        self.webhooks.remove(id);
        self.field_options.remove(id);
    }

    /// Forgets everything: after a rollback the caches may hold what it undid.
    pub fn clear(&mut self) {
        self.accounts.clear();
        self.webhooks.clear();
        self.field_options.clear();
    }
}

/// What a closure sees.
pub(crate) struct WriteCtx<'c> {
    pub conn: &'c Connection,
    pub caches: &'c mut Caches,
    /// Set when due work was stored: workers are woken after the commit.
    pub woke: bool,
    /// Events inserted in this transaction (undone with a job's savepoint).
    pub events: u64,
}

type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (bool, Reply) + Send>;

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread on `conn`; each commit adds the events it stored to
    /// `events_stored`.
    pub fn start(
        conn: Connection,
        signal: Arc<Notify>,
        events_stored: Arc<AtomicU64>,
        sealer: crate::Sealer,
    ) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>(8192);
        std::thread::Builder::new()
            .name("shophook-sqlite-writer".into())
            .spawn(move || run(conn, rx, signal, events_stored, sealer))
            .expect("spawning the writer thread");
        Writer { tx }
    }

    /// Runs `f` in the next group transaction and returns its result once committed.
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R>>();
        let job: Job = Box::new(move |ctx| {
            let result = f(ctx);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit_error| {
                let _ = tx.send(match commit_error {
                    Some(e) => Err(e),
                    None => result,
                });
            });
            (ok, reply)
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the SQLite writer dropped a write".into()))?
    }
}

fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    signal: Arc<Notify>,
    events_stored: Arc<AtomicU64>,
    sealer: crate::Sealer,
) {
    let mut caches = Caches {
        sealer,
        ..Caches::default()
    };
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = Vec::with_capacity(64);
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let err = StoreError::Unavailable(format!("cannot begin a transaction: {e}"));
            tracing::error!(error = %e, "SQLite refused to begin a transaction");
            fail_all(jobs, &conn, &mut caches, err);
            continue;
        }
        let mut ctx = WriteCtx {
            conn: &conn,
            caches: &mut caches,
            woke: false,
            events: 0,
        };
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            replies.push(run_one(&mut ctx, job));
        }
        let (woke, events) = (ctx.woke, ctx.events);
        let commit = conn.execute_batch("COMMIT");
        let error = match commit {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "SQLite commit failed; the batch is rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                caches.clear();
                Some(StoreError::Unavailable(format!("commit failed: {e}")))
            }
        };
        if error.is_none() {
            events_stored.fetch_add(events, Ordering::Relaxed);
            if woke {
                signal.notify_one();
            }
        }
        for reply in replies {
            reply(error.clone());
        }
    }
}

fn run_one(ctx: &mut WriteCtx<'_>, job: Job) -> Reply {
    // Prepared once: parsing these per job would cost more than running them.
    if let Err(e) = ctx
        .conn
        .prepare_cached("SAVEPOINT job")
        .and_then(|mut s| s.execute([]))
    {
        let err = StoreError::Unavailable(format!("savepoint: {e}"));
        return Box::new(move |_| drop(err));
    }
    let events_before = ctx.events;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(ctx)));
    match outcome {
        Ok((true, reply)) => {
            let _ = ctx
                .conn
                .prepare_cached("RELEASE job")
                .and_then(|mut s| s.execute([]));
            reply
        }
        Ok((false, reply)) => {
            let _ = ctx.conn.execute_batch("ROLLBACK TO job; RELEASE job");
            ctx.events = events_before;
            // A job that failed may have recorded option lists it rolled back.
            ctx.caches.field_options.clear();
            reply
        }
        Err(_) => {
            tracing::error!("a store write panicked; it was rolled back");
            let _ = ctx.conn.execute_batch("ROLLBACK TO job; RELEASE job");
            ctx.events = events_before;
            ctx.caches.clear();
            // The job's reply sender was dropped with the panic: the caller sees
            // "dropped a write" and nothing of it was stored.
            Box::new(|_| {})
        }
    }
}

fn fail_all(jobs: Vec<Job>, conn: &Connection, caches: &mut Caches, err: StoreError) {
    // Run nothing: drop each job, which drops its reply channel, so callers get an
    // error and nothing is half-written.
    let _ = (conn, caches);
    drop(jobs);
    tracing::warn!(error = %err, "a write batch was refused");
}
