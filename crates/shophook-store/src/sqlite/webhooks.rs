//! Webhooks, and holding/releasing their deliveries on pause and resume.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use shophook_core::webhook::WebhookStatus;

use super::writer::{WebhookEntry, WriteCtx};
use super::{corrupt, from_ms, ms};
use crate::{Result, StatusChange, StoreError, StoredWebhook};

const COLUMNS: &str = "id, account_id, status, config, secret, previous_secret, previous_secret_until, created_at, updated_at";

/// A webhook row before its JSON config is parsed (parsing happens outside the
/// rusqlite row callback so its errors keep their meaning).
struct Raw {
    id: String,
    account_id: String,
    status: String,
    config: String,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        id: r.get(0)?,
        account_id: r.get(1)?,
        status: r.get(2)?,
        config: r.get(3)?,
        secret: r.get(4)?,
        previous_secret: r.get(5)?,
        previous_secret_until: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn finish(raw: Raw) -> Result<StoredWebhook> {
    Ok(StoredWebhook {
        status: WebhookStatus::parse(&raw.status)
            .ok_or_else(|| corrupt("webhook status", &raw.status))?,
        config: serde_json::from_str(&raw.config).map_err(|e| corrupt("webhook config", e))?,
        id: raw.id,
        account_id: raw.account_id,
        secret: raw.secret,
        previous_secret: raw.previous_secret,
        previous_secret_until: raw.previous_secret_until.map(from_ms),
        created_at: from_ms(raw.created_at),
        updated_at: from_ms(raw.updated_at),
    })
}

pub fn list(c: &Connection, account: &str) -> Result<Vec<StoredWebhook>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE account_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([account], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(finish).collect()
}

pub fn get(c: &Connection, account: &str, id: &str) -> Result<Option<StoredWebhook>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row([id, account], from_row)
        .optional()?;
    row.map(finish).transpose()
}

/// An account's webhooks with compiled conditions, through the writer's cache.
pub fn entries(w: &mut WriteCtx<'_>, account: &str) -> Result<Arc<Vec<WebhookEntry>>> {
    if let Some(e) = w.caches.webhooks.get(account) {
        return Ok(e.clone());
    }
    let mut out = Vec::new();
    for hook in list(w.conn, account)? {
        let conditions = hook
            .config
            .compiled_conditions()
            .map_err(|e| corrupt("webhook conditions", e))?;
        out.push(WebhookEntry {
            hook: Arc::new(hook),
            conditions,
        });
    }
    let out = Arc::new(out);
    w.caches.webhooks.insert(account.to_string(), out.clone());
    Ok(out)
}

fn config_json(w: &StoredWebhook) -> Result<String> {
    serde_json::to_string(&w.config).map_err(|e| corrupt("webhook config", e))
}

pub fn create(w: &mut WriteCtx<'_>, hook: StoredWebhook, max: u32) -> Result<StoredWebhook> {
    let count: i64 = w.conn.query_row(
        "SELECT COUNT(*) FROM webhooks WHERE account_id = ?1",
        [&hook.account_id],
        |r| r.get(0),
    )?;
    if count >= i64::from(max) {
        return Err(StoreError::LimitReached(format!(
            "this account may have at most {max} webhooks (limits.max_webhooks)"
        )));
    }
    w.conn.execute(
        &format!("INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            hook.id,
            hook.account_id,
            hook.status.as_str(),
            config_json(&hook)?,
            hook.secret,
            hook.previous_secret,
            hook.previous_secret_until.map(ms),
            ms(hook.created_at),
            ms(hook.updated_at)
        ],
    )?;
    w.caches.webhooks.remove(&hook.account_id);
    Ok(hook)
}

pub fn update(w: &mut WriteCtx<'_>, hook: StoredWebhook) -> Result<StoredWebhook> {
    let n = w.conn.execute(
        "UPDATE webhooks SET config = ?3, secret = ?4, previous_secret = ?5, previous_secret_until = ?6, updated_at = ?7
         WHERE id = ?1 AND account_id = ?2",
        params![hook.id, hook.account_id, config_json(&hook)?, hook.secret, hook.previous_secret, hook.previous_secret_until.map(ms), ms(hook.updated_at)],
    )?;
    w.caches.webhooks.remove(&hook.account_id);
    if n == 0 {
        return Err(StoreError::NotFound("webhook"));
    }
    get(w.conn, &hook.account_id, &hook.id)?.ok_or(StoreError::NotFound("webhook"))
}

pub fn delete(w: &mut WriteCtx<'_>, account: &str, id: &str, now: Timestamp) -> Result<bool> {
    let n = w.conn.execute(
        "DELETE FROM webhooks WHERE id = ?1 AND account_id = ?2",
        [id, account],
    )?;
    if n == 1 {
        w.conn.execute(
            "UPDATE deliveries SET status = 'skipped', held = 0, due_at = NULL, reason = 'webhook deleted', updated_at = ?2
             WHERE webhook_id = ?1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
            params![id, ms(now)],
        )?;
    }
    w.caches.webhooks.remove(account);
    Ok(n == 1)
}

pub fn set_status(w: &mut WriteCtx<'_>, change: StatusChange) -> Result<StoredWebhook> {
    let StatusChange {
        account,
        webhook,
        status,
        discard_held,
        now,
    } = change;
    let n = w.conn.execute(
        "UPDATE webhooks SET status = ?3, updated_at = ?4 WHERE id = ?1 AND account_id = ?2",
        params![webhook, account, status.as_str(), ms(now)],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound("webhook"));
    }
    if status == WebhookStatus::Active {
        if discard_held {
            w.conn.execute(
                "UPDATE deliveries SET status = 'skipped', held = 0, due_at = NULL, reason = 'discarded when the webhook was resumed', updated_at = ?2
                 WHERE webhook_id = ?1 AND held = 1",
                params![webhook, ms(now)],
            )?;
        } else {
            let released = w.conn.execute("UPDATE deliveries SET held = 0, updated_at = ?2 WHERE webhook_id = ?1 AND held = 1", params![webhook, ms(now)])?;
            w.woke |= released > 0;
        }
    } else {
        // Hold everything not yet finished and not in flight; in-flight ones are
        // held when their outcome is recorded.
        w.conn.execute(
            "UPDATE deliveries SET held = 1, status = 'scheduled', updated_at = ?2
             WHERE webhook_id = ?1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
            params![webhook, ms(now)],
        )?;
    }
    w.caches.webhooks.remove(&account);
    get(w.conn, &account, &webhook)?.ok_or(StoreError::NotFound("webhook"))
}
