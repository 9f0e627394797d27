//! Webhooks, and holding/releasing their deliveries on pause and resume.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use shophook_core::webhook::WebhookStatus;

use super::writer::{WebhookEntry, WriteCtx};
use super::{corrupt, from_ms, ms};
use crate::{Result, Sealer, StatusChange, StoreError, StoredWebhook};

const COLUMNS: &str = "id, account_id, status, config, secret, previous_secret, previous_secret_until, created_at, updated_at, failing_since";

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
    failing_since: Option<i64>,
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
        failing_since: r.get(9)?,
    })
}

/// The webhook a row holds, its secrets opened.
fn finish(raw: Raw, sealer: &Sealer) -> Result<StoredWebhook> {
    sealer.open_webhook(stored(raw)?)
}

/// The webhook a row holds, secrets as stored.
fn stored(raw: Raw) -> Result<StoredWebhook> {
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
        failing_since: raw.failing_since.map(from_ms),
    })
}

pub fn list(c: &Connection, sealer: &Sealer, account: &str) -> Result<Vec<StoredWebhook>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE account_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([account], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|r| finish(r, sealer)).collect()
}

pub fn get(
    c: &Connection,
    sealer: &Sealer,
    account: &str,
    id: &str,
) -> Result<Option<StoredWebhook>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row([id, account], from_row)
        .optional()?;
    row.map(|r| finish(r, sealer)).transpose()
}

/// At start-up: checks every stored secret opens with this sealer (a missing or
/// wrong `--encryption-key` stops the start with a clear error instead of failing
/// each request), and with a key seals every secret still stored as plain text
/// (written before the key was set). Returns how many webhooks it sealed.
pub fn seal_existing(c: &Connection, sealer: &Sealer) -> Result<usize> {
    let rows = c
        .prepare(&format!("SELECT {COLUMNS} FROM webhooks"))?
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut sealed = 0;
    for raw in rows {
        let stored = stored(raw)?;
        let needs_sealing = sealer.webhook_needs_sealing(&stored);
        let plain = sealer.open_webhook(stored)?;
        if !needs_sealing {
            continue;
        }
        let s = sealer.seal_webhook(&plain)?;
        c.execute(
            "UPDATE webhooks SET config = ?2, secret = ?3, previous_secret = ?4 WHERE id = ?1",
            params![plain.id, s.config, s.secret, s.previous_secret],
        )?;
        sealed += 1;
    }
    Ok(sealed)
}

/// An account's webhooks with compiled conditions, through the writer's cache.
pub fn entries(w: &mut WriteCtx<'_>, account: &str) -> Result<Arc<Vec<WebhookEntry>>> {
    if let Some(e) = w.caches.webhooks.get(account) {
        return Ok(e.clone());
    }
    let mut out = Vec::new();
    for hook in list(w.conn, &w.caches.sealer, account)? {
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
    insert(w, &hook)?;
    Ok(hook)
}

fn insert(w: &mut WriteCtx<'_>, hook: &StoredWebhook) -> Result<()> {
    let s = w.caches.sealer.seal_webhook(hook)?;
    w.conn.execute(
        &format!(
            "INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            hook.id,
            hook.account_id,
            hook.status.as_str(),
            s.config,
            s.secret,
            s.previous_secret,
            hook.previous_secret_until.map(ms),
            ms(hook.created_at),
            ms(hook.updated_at),
            hook.failing_since.map(ms),
        ],
    )?;
    w.caches.webhooks.remove(&hook.account_id);
    Ok(())
}

pub fn update(w: &mut WriteCtx<'_>, hook: StoredWebhook) -> Result<StoredWebhook> {
    let s = w.caches.sealer.seal_webhook(&hook)?;
    let n = w.conn.execute(
        "UPDATE webhooks SET config = ?3, secret = ?4, previous_secret = ?5, previous_secret_until = ?6, updated_at = ?7
         WHERE id = ?1 AND account_id = ?2",
        params![hook.id, hook.account_id, s.config, s.secret, s.previous_secret, hook.previous_secret_until.map(ms), ms(hook.updated_at)],
    )?;
    w.caches.webhooks.remove(&hook.account_id);
    if n == 0 {
        return Err(StoreError::NotFound("webhook"));
    }
    get(w.conn, &w.caches.sealer, &hook.account_id, &hook.id)?
        .ok_or(StoreError::NotFound("webhook"))
}

/// The account's notification webhook, created with `secret` if missing and
/// pointed at `url`; returns its id.
pub fn upsert_notify(
    w: &mut WriteCtx<'_>,
    account: &str,
    url: &str,
    secret: &str,
    now: Timestamp,
) -> Result<String> {
    let id = crate::notify_webhook_id(account);
    match get(w.conn, &w.caches.sealer, account, &id)? {
        Some(mut hook) if hook.config.url != url => {
            hook.config.url = url.to_string();
            hook.updated_at = now;
            update(w, hook)?;
        }
        Some(_) => {}
        None => {
            insert(w, &crate::new_notify_webhook(account, url, secret, now)?)?;
        }
    }
    Ok(id)
}

/// Notes an attempt's outcome on its webhook: the first failure after a success
/// sets `failing_since`, a success clears it. The writer's cache says whether
/// anything changes, so a healthy webhook's success writes nothing.
pub fn note_attempt(
    w: &mut WriteCtx<'_>,
    account: &str,
    webhook: &str,
    failed: bool,
    now: Timestamp,
) -> Result<()> {
    if let Some(entries) = w.caches.webhooks.get(account)
        && let Some(e) = entries.iter().find(|e| e.hook.id == webhook)
        && e.hook.failing_since.is_some() == failed
    {
        return Ok(());
    }
    let n = if failed {
        w.conn
            .prepare_cached(
                "UPDATE webhooks SET failing_since = ?2 WHERE id = ?1 AND failing_since IS NULL",
            )?
            .execute(params![webhook, ms(now)])?
    } else {
        w.conn
            .prepare_cached("UPDATE webhooks SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL")?
            .execute([webhook])?
    };
    if n > 0 {
        w.caches.webhooks.remove(account);
    }
    Ok(())
}

/// Disables a webhook failing since `failing_before` or earlier (see `Store::disable_webhook`).
pub fn disable(
    w: &mut WriteCtx<'_>,
    account: &str,
    id: &str,
    failing_before: Timestamp,
    now: Timestamp,
) -> Result<Option<StoredWebhook>> {
    let n = w.conn.execute(
        "UPDATE webhooks SET status = 'disabled', updated_at = ?4
         WHERE id = ?1 AND account_id = ?2 AND status = 'active'
           AND failing_since IS NOT NULL AND failing_since <= ?3",
        params![id, account, ms(failing_before), ms(now)],
    )?;
    if n == 0 {
        return Ok(None);
    }
    hold_unfinished(w.conn, id, now)?;
    w.caches.webhooks.remove(account);
    get(w.conn, &w.caches.sealer, account, id)
}

/// Holds everything of a webhook not yet finished and not in flight; in-flight
/// deliveries are held when their outcome is recorded.
fn hold_unfinished(c: &Connection, webhook: &str, now: Timestamp) -> Result<()> {
    c.execute(
        "UPDATE deliveries SET held = 1, status = 'scheduled', updated_at = ?2
         WHERE webhook_id = ?1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
        params![webhook, ms(now)],
    )?;
    Ok(())
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
    // Resuming starts afresh: past failures no longer count toward disabling.
    let n = w.conn.execute(
        "UPDATE webhooks SET status = ?3, updated_at = ?4,
             failing_since = CASE WHEN ?3 = 'active' THEN NULL ELSE failing_since END
         WHERE id = ?1 AND account_id = ?2",
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
        hold_unfinished(w.conn, &webhook, now)?;
    }
    w.caches.webhooks.remove(&account);
    get(w.conn, &w.caches.sealer, &account, &webhook)?.ok_or(StoreError::NotFound("webhook"))
}
