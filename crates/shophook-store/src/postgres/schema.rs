//! Versioned migrations, tracked in `shophook_migrations`. The tables and their
//! meaning are those of the SQLite schema; times are BIGINT epoch milliseconds,
//! JSON is kept as TEXT (byte-exact envelopes, key order kept), and ids compare
//! bytewise (`COLLATE "C"`) so paging by id works as in SQLite whatever the
//! database's locale.

use sqlx::PgPool;

use super::R;

/// Migration scripts, in order. Never edit a released one; append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
    id TEXT COLLATE "C" PRIMARY KEY, doc TEXT NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
CREATE INDEX api_keys_by_account ON api_keys(account_id);
CREATE TABLE webhooks (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL, config TEXT NOT NULL,
    secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until BIGINT,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE INDEX webhooks_by_account ON webhooks(account_id);
CREATE TABLE events (
    id TEXT COLLATE "C" PRIMARY KEY, account_id TEXT COLLATE "C" NOT NULL,
    type TEXT NOT NULL, subject TEXT COLLATE "C",
    created_at BIGINT NOT NULL, envelope TEXT NOT NULL);
CREATE INDEX events_by_account ON events(account_id, created_at);
CREATE INDEX events_by_time ON events(created_at);
CREATE TABLE idempotency_keys (
    account_id TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
    event_id TEXT NOT NULL, deliveries INTEGER NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, key));
CREATE INDEX idempotency_keys_by_time ON idempotency_keys(created_at);
CREATE TABLE deliveries (
    id TEXT COLLATE "C" PRIMARY KEY, account_id TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT COLLATE "C" NOT NULL, event_id TEXT COLLATE "C" NOT NULL,
    event_type TEXT NOT NULL, subject TEXT COLLATE "C",
    status TEXT NOT NULL, held BOOLEAN NOT NULL DEFAULT false,
    attempts INTEGER NOT NULL DEFAULT 0, due_at BIGINT, claimed_by TEXT,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    last_status_code INTEGER, last_error TEXT, reason TEXT, part INTEGER);
-- What claims scan: only deliverable rows, by due time.
CREATE INDEX deliveries_due ON deliveries(due_at, id)
    WHERE NOT held AND status IN ('scheduled', 'pending', 'failed');
CREATE INDEX deliveries_by_account ON deliveries(account_id, id);
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_by_event ON deliveries(event_id);
CREATE INDEX deliveries_by_subject ON deliveries(webhook_id, subject, id);
CREATE INDEX deliveries_claimed ON deliveries(claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX deliveries_finished ON deliveries(updated_at)
    WHERE status IN ('succeeded', 'dead', 'skipped');
CREATE TABLE attempts (
    id TEXT COLLATE "C" PRIMARY KEY, delivery_id TEXT COLLATE "C" NOT NULL,
    number INTEGER NOT NULL, started_at BIGINT NOT NULL, duration_ms INTEGER NOT NULL,
    request TEXT NOT NULL, response_status INTEGER, response TEXT, error TEXT);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);
CREATE TABLE snapshots (
    account_id TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL, doc TEXT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT false,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, id));
CREATE TABLE timers (
    account_id TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL, due_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, subject_id));
CREATE INDEX timers_due ON timers(due_at);
"#,
    r#"
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
"#,
    // Claims go webhook by webhook (a skip scan), each in due order.
    r#"
CREATE INDEX deliveries_waiting ON deliveries(webhook_id, due_at, id)
    WHERE NOT held AND status IN ('scheduled', 'pending', 'failed');
"#,
    // The values an account's orders used for status, payment and shipping method
    // (core::field_options): SalesDrive's `meta.fields` option lists.
    r#"
CREATE TABLE field_values (
    account_id TEXT COLLATE "C" NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (account_id, field, value));
"#,
    // Web UI sessions (Store::create_ui_session): the hash of the id in the cookie;
    // the operator's have no account.
    r#"
CREATE TABLE ui_sessions (
    id_hash TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" REFERENCES accounts(id) ON DELETE CASCADE,
    portal BOOLEAN NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE INDEX ui_sessions_by_account ON ui_sessions(account_id);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions(expires_at);
"#,
    // Attempts per webhook and hour (Store::webhook_stats): one upsert per record
    // batch; purged with the history.
    r#"
CREATE TABLE webhook_stats (
    webhook_id TEXT COLLATE "C" NOT NULL, hour BIGINT NOT NULL,
    succeeded BIGINT NOT NULL, failed BIGINT NOT NULL,
    last_at BIGINT NOT NULL, last_status TEXT NOT NULL, last_code INTEGER,
    PRIMARY KEY (webhook_id, hour));
"#,
];

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Any fixed number: the advisory lock that makes nodes starting together
/// migrate one after the other.
const MIGRATION_LOCK: i64 = 0x7368_6f70_686f_6f6b; // "shophook"

/// Applies every migration newer than the database, in one transaction; returns
/// (from, to).
pub async fn migrate(pool: &PgPool) -> R<(i64, i64)> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS shophook_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM shophook_migrations")
            .fetch_one(&mut *tx)
            .await?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO shophook_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await?;
    Ok((current, latest().max(current)))
}
