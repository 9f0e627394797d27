//! Accounts, API keys and server settings.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use shophook_core::account::Account;

use super::writer::WriteCtx;
use super::{corrupt, ms};
use crate::{NewKey, Result, StoreError};

pub fn setting(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

pub fn init_setting(c: &Connection, key: &str, value: &str) -> Result<bool> {
    let n = c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        [key, value],
    )?;
    Ok(n == 1)
}

fn parse(doc: &str) -> Result<Account> {
    serde_json::from_str(doc).map_err(|e| corrupt("account", e))
}

fn to_doc(a: &Account) -> Result<String> {
    serde_json::to_string(a).map_err(|e| corrupt("account", e))
}

pub fn create(w: &mut WriteCtx<'_>, account: Account, now: Timestamp) -> Result<Account> {
    let doc = to_doc(&account)?;
    let n = w.conn.execute(
        "INSERT INTO accounts (id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (id) DO NOTHING",
        params![account.id, doc, ms(now)],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "account `{}` exists already",
            account.id
        )));
    }
    w.caches.forget_account(&account.id);
    Ok(account)
}

pub fn list(c: &Connection) -> Result<Vec<Account>> {
    let mut stmt = c.prepare_cached("SELECT doc FROM accounts ORDER BY id")?;
    let docs = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    docs.iter().map(|d| parse(d)).collect()
}

pub fn get(c: &Connection, id: &str) -> Result<Option<Account>> {
    let doc: Option<String> = c
        .prepare_cached("SELECT doc FROM accounts WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    doc.map(|d| parse(&d)).transpose()
}

/// The account through the writer's cache.
pub fn cached(w: &mut WriteCtx<'_>, id: &str) -> Result<Option<Arc<Account>>> {
    if let Some(a) = w.caches.accounts.get(id) {
        return Ok(Some(a.clone()));
    }
    let Some(a) = get(w.conn, id)? else {
        return Ok(None);
    };
    let a = Arc::new(a);
    w.caches.accounts.insert(id.to_string(), a.clone());
    Ok(Some(a))
}

pub fn update(w: &mut WriteCtx<'_>, account: Account, now: Timestamp) -> Result<Account> {
    let n = w.conn.execute(
        "UPDATE accounts SET doc = ?2, updated_at = ?3 WHERE id = ?1",
        params![account.id, to_doc(&account)?, ms(now)],
    )?;
    w.caches.forget_account(&account.id);
    if n == 0 {
        return Err(StoreError::NotFound("account"));
    }
    Ok(account)
}

pub fn delete(w: &mut WriteCtx<'_>, id: &str) -> Result<bool> {
    let c = w.conn;
    c.execute("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE account_id = ?1)", [id])?;
    c.execute("DELETE FROM deliveries WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM events WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM idempotency_keys WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM snapshots WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM timers WHERE account_id = ?1", [id])?;
    c.execute("DELETE FROM field_values WHERE account_id = ?1", [id])?;
    let n = c.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    w.caches.forget_account(id);
    Ok(n == 1)
}

pub fn create_key(c: &Connection, key: NewKey) -> Result<()> {
    let inserted = c.execute(
        "INSERT INTO api_keys (id, account_id, hash, created_at) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?2)",
        params![key.id, key.account_id, key.hash, ms(key.created_at)],
    );
    // The account exists (checked above), so a constraint can only be the unique id or hash.
    let n = match inserted {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            return Err(StoreError::Conflict("this API key exists already".into()));
        }
        other => other?,
    };
    if n == 0 {
        return Err(StoreError::NotFound("account"));
    }
    Ok(())
}

pub fn delete_key(c: &Connection, account: &str, key_id: &str) -> Result<bool> {
    Ok(c.execute(
        "DELETE FROM api_keys WHERE id = ?1 AND account_id = ?2",
        [key_id, account],
    )? == 1)
}

pub fn key_account(c: &Connection, hash: &str) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT account_id FROM api_keys WHERE hash = ?1")?
            .query_row([hash], |r| r.get(0))
            .optional()?,
    )
}
