//! Accounts, API keys and server settings.

use jiff::Timestamp;
use shophook_core::account::Account;

use super::{R, Tx, corrupt, locks, ms};
use crate::{NewKey, StoreError};

pub async fn setting(t: &mut Tx, key: &str) -> R<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(t.conn())
            .await?,
    )
}

pub async fn init_setting(t: &mut Tx, key: &str, value: &str) -> R<bool> {
    let n = sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .execute(t.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

fn parse(doc: &str) -> R<Account> {
    serde_json::from_str(doc).map_err(|e| corrupt("account", e))
}

fn to_doc(a: &Account) -> R<String> {
    serde_json::to_string(a).map_err(|e| corrupt("account", e))
}

pub async fn create(t: &mut Tx, account: Account, now: Timestamp) -> R<Account> {
    let n = sqlx::query(
        "INSERT INTO accounts (id, doc, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&account.id)
    .bind(to_doc(&account)?)
    .bind(ms(now))
    .execute(t.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(
            StoreError::Conflict(format!("account `{}` exists already", account.id)).into(),
        );
    }
    Ok(account)
}

pub async fn list(t: &mut Tx) -> R<Vec<Account>> {
    let docs: Vec<String> = sqlx::query_scalar("SELECT doc FROM accounts ORDER BY id")
        .fetch_all(t.conn())
        .await?;
    docs.iter().map(|d| parse(d)).collect()
}

pub async fn get(t: &mut Tx, id: &str) -> R<Option<Account>> {
    let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(t.conn())
        .await?;
    doc.map(|d| parse(&d)).transpose()
}

/// The account, for a write that adds to it (events, deliveries): its lock taken
/// shared, so another node cannot delete it before this transaction ends and
/// leave what it adds behind.
pub async fn get_for_write(t: &mut Tx, id: &str) -> R<Option<Account>> {
    locks::account_shared(t, id).await?;
    let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(t.conn())
        .await?;
    doc.map(|d| parse(&d)).transpose()
}

pub async fn update(t: &mut Tx, account: Account, now: Timestamp) -> R<Account> {
    let n = sqlx::query("UPDATE accounts SET doc = $2, updated_at = $3 WHERE id = $1")
        .bind(&account.id)
        .bind(to_doc(&account)?)
        .bind(ms(now))
        .execute(t.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound("account").into());
    }
    Ok(account)
}

pub async fn delete(t: &mut Tx, id: &str) -> R<bool> {
    // Waits for ingests in flight on other nodes (they hold the account's lock
    // shared), and keeps new ones out until the account is gone.
    locks::account_exclusive(t, id).await?;
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(t.conn())
        .await?;
    for sql in [
        "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE account_id = $1)",
        "DELETE FROM deliveries WHERE account_id = $1",
        "DELETE FROM events WHERE account_id = $1",
        "DELETE FROM idempotency_keys WHERE account_id = $1",
        "DELETE FROM snapshots WHERE account_id = $1",
        "DELETE FROM timers WHERE account_id = $1",
        "DELETE FROM field_values WHERE account_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(t.conn()).await?;
    }
    let n = sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(id)
        .execute(t.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn create_key(t: &mut Tx, key: NewKey) -> R<()> {
    let n = sqlx::query(
        "INSERT INTO api_keys (id, account_id, hash, created_at)
         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(&key.id)
    .bind(&key.account_id)
    .bind(&key.hash)
    .bind(ms(key.created_at))
    .execute(t.conn())
    .await?
    .rows_affected();
    if n == 1 {
        return Ok(());
    }
    if get(t, &key.account_id).await?.is_none() {
        return Err(StoreError::NotFound("account").into());
    }
    Err(StoreError::Conflict("this API key exists already".into()).into())
}

pub async fn delete_key(t: &mut Tx, account: &str, key_id: &str) -> R<bool> {
    let n = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND account_id = $2")
        .bind(key_id)
        .bind(account)
        .execute(t.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn key_account(t: &mut Tx, hash: &str) -> R<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT account_id FROM api_keys WHERE hash = $1")
            .bind(hash)
            .fetch_optional(t.conn())
            .await?,
    )
}
