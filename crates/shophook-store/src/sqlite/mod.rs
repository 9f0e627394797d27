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
mod ui_sessions;
mod webhooks;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use shophook_core::account::Account;
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

#[async_trait]
impl Store for SqliteStore {
    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    fn single_node(&self) -> bool {
        true
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.readers.read(move |c| accounts::setting(c, &key)).await
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<bool> {
        let (key, value) = (key.to_string(), value.to_string());
        self.writer
            .write(move |w| accounts::init_setting(w.conn, &key, &value))
            .await
    }

    async fn create_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        self.writer
            .write(move |w| accounts::create(w, account, now))
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.readers.read(accounts::list).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let id = id.to_string();
        self.readers.read(move |c| accounts::get(c, &id)).await
    }

    async fn update_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        self.writer
            .write(move |w| accounts::update(w, account, now))
            .await
    }

    async fn delete_account(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.writer.write(move |w| accounts::delete(w, &id)).await
    }

    async fn create_key(&self, key: NewKey) -> Result<()> {
        self.writer
            .write(move |w| accounts::create_key(w.conn, key))
            .await
    }

    async fn delete_key(&self, account: &str, key_id: &str) -> Result<bool> {
        let (account, key_id) = (account.to_string(), key_id.to_string());
        self.writer
            .write(move |w| accounts::delete_key(w.conn, &account, &key_id))
            .await
    }

    async fn key_account(&self, hash: &str) -> Result<Option<String>> {
        let hash = hash.to_string();
        self.readers
            .read(move |c| accounts::key_account(c, &hash))
            .await
    }

    async fn create_ui_session(&self, session: UiSession) -> Result<()> {
        self.writer
            .write(move |w| ui_sessions::create(w.conn, session))
            .await
    }

    async fn ui_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>> {
        let id_hash = id_hash.to_string();
        self.readers
            .read(move |c| ui_sessions::get(c, &id_hash, now))
            .await
    }

    async fn end_ui_session(&self, id_hash: &str) -> Result<bool> {
        let id_hash = id_hash.to_string();
        self.writer
            .write(move |w| ui_sessions::end(w.conn, &id_hash))
            .await
    }

    async fn end_portal_sessions(&self, account: &str) -> Result<u64> {
        let account = account.to_string();
        self.writer
            .write(move |w| ui_sessions::end_portal(w.conn, &account))
            .await
    }

    async fn create_webhook(
        &self,
        webhook: StoredWebhook,
        max_webhooks: u32,
    ) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::create(w, webhook, max_webhooks))
            .await
    }

    async fn list_webhooks(&self, account: &str) -> Result<Vec<StoredWebhook>> {
        let (account, sealer) = (account.to_string(), self.sealer.clone());
        self.readers
            .read(move |c| webhooks::list(c, &sealer, &account))
            .await
    }

    async fn webhook(&self, account: &str, id: &str) -> Result<Option<StoredWebhook>> {
        let (account, id, sealer) = (account.to_string(), id.to_string(), self.sealer.clone());
        self.readers
            .read(move |c| webhooks::get(c, &sealer, &account, &id))
            .await
    }

    async fn update_webhook(&self, webhook: StoredWebhook) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::update(w, webhook))
            .await
    }

    async fn delete_webhook(&self, account: &str, id: &str, now: Timestamp) -> Result<bool> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| webhooks::delete(w, &account, &id, now))
            .await
    }

    async fn set_webhook_status(&self, change: StatusChange) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::set_status(w, change))
            .await
    }

    async fn disable_webhook(
        &self,
        account: &str,
        id: &str,
        failing_before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<StoredWebhook>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| webhooks::disable(w, &account, &id, failing_before, now))
            .await
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        self.writer.write(move |w| events::ingest(w, events)).await
    }

    async fn put_snapshot(&self, write: SnapshotWrite) -> Result<SnapshotOutcome> {
        self.writer.write(move |w| snapshots::put(w, write)).await
    }

    async fn snapshot(
        &self,
        account: &str,
        kind: shophook_core::derive::ResourceKind,
        id: &str,
    ) -> Result<Option<(serde_json::Value, i64)>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| snapshots::latest(c, &account, kind, &id))
            .await
    }

    async fn field_options(
        &self,
        account: &str,
    ) -> Result<shophook_core::field_options::FieldOptions> {
        let account = account.to_string();
        self.readers
            .read(move |c| field_values::load(c, &account))
            .await
    }

    async fn event(&self, account: &str, id: &str) -> Result<Option<(StoredEvent, Vec<String>)>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| events::get(c, &account, &id))
            .await
    }

    async fn claim_due(&self, claim: Claim) -> Result<Vec<ClaimedDelivery>> {
        self.writer
            .write(move |w| deliveries::claim(w, claim))
            .await
    }

    async fn record(&self, updates: Vec<DeliveryUpdate>) -> Result<()> {
        self.writer
            .write(move |w| deliveries::record(w, updates))
            .await
    }

    async fn release_claims(&self, node: Option<&str>, now: Timestamp) -> Result<u64> {
        let node = node.map(str::to_string);
        self.writer
            .write(move |w| deliveries::release(w, node.as_deref(), now))
            .await
    }

    async fn unclaim(&self, node: &str, ids: Vec<String>, now: Timestamp) -> Result<()> {
        let node = node.to_string();
        self.writer
            .write(move |w| deliveries::unclaim(w, &node, &ids, now))
            .await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>> {
        self.readers.read(deliveries::next_due_at).await
    }

    async fn queue_stats(&self, now: Timestamp) -> Result<QueueStats> {
        self.readers
            .read(move |c| deliveries::queue_stats(c, now))
            .await
    }

    fn events_stored(&self) -> u64 {
        self.events_stored.load(Ordering::Relaxed)
    }

    async fn list_deliveries(
        &self,
        account: &str,
        filter: DeliveryFilter,
    ) -> Result<Vec<Delivery>> {
        let account = account.to_string();
        self.readers
            .read(move |c| history::list(c, &account, &filter))
            .await
    }

    async fn delivery(&self, account: &str, id: &str) -> Result<Option<DeliveryDetail>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| history::detail(c, &account, &id))
            .await
    }

    async fn retry_delivery(
        &self,
        account: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| history::retry(w, &account, &id, now))
            .await
    }

    async fn purge(&self, cutoff: Timestamp, batch: u32) -> Result<u64> {
        self.writer
            .write(move |w| history::purge(w.conn, cutoff, batch))
            .await
    }
}
