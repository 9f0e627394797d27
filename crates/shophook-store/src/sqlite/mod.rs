//! The embedded SQLite backend: zero set-up, one file, durable commits.
//!
//! One writer thread with group commit ([`writer`]) and a small pool of readers
//! ([`readers`]). WAL mode with `synchronous=FULL`: a write is on disk before its
//! caller is answered.

mod accounts;
mod deliveries;
mod events;
mod field_values;
mod history;
mod readers;
mod schema;
mod snapshots;
mod store;
mod ui_sessions;
mod webhooks;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

use crate::*;
use readers::Readers;
use writer::Writer;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn from_ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// The SQLite store.
pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    signal: Arc<Notify>,
    events_stored: Arc<AtomicU64>,
    sealer: Sealer,
}

/// How many read connections to open.
const READERS: usize = 4;

/// SQLite keeps memory statistics behind a process-wide mutex taken on every
/// allocation; shophook never reads them. Process-wide by nature, so set once,
/// before the first connection initialises SQLite (later it is refused, harmlessly).
fn skip_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config before sqlite3_initialize, with the one int
        // argument SQLITE_CONFIG_MEMSTATUS takes; it only sets a global flag.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised already; memory statistics stay on"
            );
        }
    });
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32000;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, Sealer::none())
    }

    /// [`SqliteStore::open`] with secrets sealed by `sealer`; secrets stored
    /// before a key was set are sealed now.
    pub fn open_with(path: &Path, sealer: Sealer) -> Result<SqliteStore> {
        skip_memory_statistics();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn)?;
        schema::migrate(&conn)?;
        let sealed = webhooks::seal_existing(&conn, &sealer)?;
        if sealed > 0 {
            tracing::info!(
                webhooks = sealed,
                "encrypted the secrets of webhooks stored before --encryption-key was set"
            );
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(5))?;
            r.set_prepared_statement_cache_capacity(64);
            readers.push(r);
        }
        let signal = Arc::new(Notify::new());
        let events_stored = Arc::new(AtomicU64::new(0));
        Ok(SqliteStore {
            writer: Writer::start(conn, signal.clone(), events_stored.clone(), sealer.clone()),
            readers: Readers::new(readers),
            signal,
            events_stored,
            sealer,
        })
    }

    /// Applies migrations only (the `migrate` command); returns (from, to) versions.
    pub fn migrate_only(path: &Path) -> Result<(i64, i64)> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn)?;
        Ok(schema::migrate(&conn)?)
    }
}
