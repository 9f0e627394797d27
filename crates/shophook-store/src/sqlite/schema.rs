//! Versioned migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

/// Migration scripts, in order. Never edit a released one; append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE accounts (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL) STRICT;
CREATE INDEX api_keys_by_account ON api_keys(account_id);
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL, config TEXT NOT NULL,
    secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until INTEGER,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE INDEX webhooks_by_account ON webhooks(account_id);
CREATE TABLE events (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, type TEXT NOT NULL, subject TEXT,
    created_at INTEGER NOT NULL, envelope TEXT NOT NULL) STRICT;
CREATE INDEX events_by_account ON events(account_id, created_at);
CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL, key TEXT NOT NULL, event_id TEXT NOT NULL,
    deliveries INTEGER NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)) STRICT, WITHOUT ROWID;
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL, event_type TEXT NOT NULL, subject TEXT,
    status TEXT NOT NULL, held INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER, claimed_by TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    last_status_code INTEGER, last_error TEXT, reason TEXT) STRICT;
CREATE INDEX deliveries_due ON deliveries(due_at)
    WHERE held = 0 AND status IN ('scheduled', 'pending', 'failed');
CREATE INDEX deliveries_by_account ON deliveries(account_id, id);
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_by_event ON deliveries(event_id);
CREATE INDEX deliveries_finished ON deliveries(updated_at)
    WHERE status IN ('succeeded', 'dead', 'skipped');
CREATE TABLE attempts (
    id TEXT PRIMARY KEY, delivery_id TEXT NOT NULL, number INTEGER NOT NULL,
    started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
    request TEXT NOT NULL, response_status INTEGER, response TEXT, error TEXT) STRICT;
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);
"#,
    r#"
CREATE TABLE snapshots (
    account_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, doc TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, id)) STRICT;
CREATE TABLE timers (
    account_id TEXT NOT NULL, kind TEXT NOT NULL, subject_id TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, subject_id)) STRICT;
CREATE INDEX timers_due ON timers(due_at);
CREATE INDEX deliveries_by_subject ON deliveries(webhook_id, subject, id);
ALTER TABLE deliveries ADD COLUMN part INTEGER;
"#,
    r#"
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;
"#,
    // Claims go webhook by webhook (a skip scan), each in due order.
    r#"
CREATE INDEX deliveries_waiting ON deliveries(webhook_id, due_at)
    WHERE held = 0 AND status IN ('scheduled', 'pending', 'failed');
"#,
    // The values an account's orders used for status, payment and shipping method
    // (core::field_options): SalesDrive's `meta.fields` option lists.
    r#"
CREATE TABLE field_values (
    account_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (account_id, field, value)) STRICT, WITHOUT ROWID;
"#,
    // Web UI sessions (Store::create_ui_session): the hash of the id in the cookie;
    // the operator's have no account.
    r#"
CREATE TABLE ui_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    portal INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) STRICT;
CREATE INDEX ui_sessions_by_account ON ui_sessions(account_id);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions(expires_at);
"#,
    // Attempts per webhook and hour (Store::webhook_stats): one upsert per webhook
    // and hour of each record batch; purged with the history.
    r#"
CREATE TABLE webhook_stats (
    webhook_id TEXT NOT NULL, hour INTEGER NOT NULL,
    succeeded INTEGER NOT NULL, failed INTEGER NOT NULL,
    last_at INTEGER NOT NULL, last_status TEXT NOT NULL, last_code INTEGER,
    PRIMARY KEY (webhook_id, hour)) STRICT, WITHOUT ROWID;
"#,
];

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies every migration newer than the database; returns (from, to).
pub fn migrate(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {version}; COMMIT;"
        ))?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok((current, latest().max(current)))
}
