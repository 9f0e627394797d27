//! Webhooks, and holding/releasing their deliveries on pause and resume.

use std::sync::Arc;

use jiff::Timestamp;
use shophook_core::webhook::WebhookStatus;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{R, Tx, corrupt, from_ms, ms};
use crate::rules::WebhookEntry;
use crate::{StatusChange, StoreError, StoredWebhook};

const COLUMNS: &str = "id, account_id, status, config, secret, previous_secret, previous_secret_until, created_at, updated_at, failing_since";

/// A webhook row, its secrets as stored.
fn from_row(r: &PgRow) -> R<StoredWebhook> {
    let status: String = r.try_get(2)?;
    let config: String = r.try_get(3)?;
    Ok(StoredWebhook {
        status: WebhookStatus::parse(&status).ok_or_else(|| corrupt("webhook status", &status))?,
        config: serde_json::from_str(&config).map_err(|e| corrupt("webhook config", e))?,
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        secret: r.try_get(4)?,
        previous_secret: r.try_get(5)?,
        previous_secret_until: r.try_get::<Option<i64>, _>(6)?.map(from_ms),
        created_at: from_ms(r.try_get(7)?),
        updated_at: from_ms(r.try_get(8)?),
        failing_since: r.try_get::<Option<i64>, _>(9)?.map(from_ms),
    })
}

/// A webhook row, its secrets opened.
fn opened(t: &Tx, r: &PgRow) -> R<StoredWebhook> {
    Ok(t.sealer.open_webhook(from_row(r)?)?)
}

/// At start-up: checks every stored secret opens with this sealer (a missing or
/// wrong `--encryption-key` stops the start with a clear error instead of failing
/// each request), and with a key seals every secret still stored as plain text
/// (written before the key was set). Returns how many webhooks it sealed.
pub async fn seal_existing(t: &mut Tx) -> R<usize> {
    let lock = if t.sealer.encrypts() {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!("SELECT {COLUMNS} FROM webhooks{lock}");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(t.conn())
        .await?;
    let mut sealed = 0;
    for row in &rows {
        let stored = from_row(row)?;
        let needs_sealing = t.sealer.webhook_needs_sealing(&stored);
        let plain = t.sealer.open_webhook(stored)?;
        if !needs_sealing {
            continue;
        }
        let s = t.sealer.seal_webhook(&plain)?;
        sqlx::query(
            "UPDATE webhooks SET config = $2, secret = $3, previous_secret = $4 WHERE id = $1",
        )
        .bind(&plain.id)
        .bind(s.config)
        .bind(s.secret)
        .bind(s.previous_secret)
        .execute(t.conn())
        .await?;
        sealed += 1;
    }
    Ok(sealed)
}

pub async fn list(t: &mut Tx, account: &str) -> R<Vec<StoredWebhook>> {
    let sql =
        format!("SELECT {COLUMNS} FROM webhooks WHERE account_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account)
        .fetch_all(t.conn())
        .await?;
    rows.iter().map(|r| opened(t, r)).collect()
}

pub async fn get(t: &mut Tx, account: &str, id: &str) -> R<Option<StoredWebhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND account_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(account)
        .fetch_optional(t.conn())
        .await?;
    row.as_ref().map(|r| opened(t, r)).transpose()
}

/// The webhooks with these ids that still exist.
pub async fn by_ids(t: &mut Tx, ids: &[String]) -> R<Vec<StoredWebhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = ANY($1)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(t.conn())
        .await?;
    rows.iter().map(|r| opened(t, r)).collect()
}

/// An account's webhooks with compiled conditions, oldest first, loaded for one
/// transaction (another node may change them at any time, so they are not kept).
pub async fn entries(t: &mut Tx, account: &str) -> R<Vec<WebhookEntry>> {
    let mut out = Vec::new();
    for hook in list(t, account).await? {
        let conditions = hook
            .config
            .compiled_conditions()
            .map_err(|e| corrupt("webhook conditions", e))?;
        out.push(WebhookEntry {
            hook: Arc::new(hook),
            conditions,
        });
    }
    Ok(out)
}

pub async fn create(t: &mut Tx, hook: StoredWebhook, max: u32) -> R<StoredWebhook> {
    // One webhook creation per account at a time, so two nodes cannot both pass
    // the limit check (ingests, which only key-share lock the account, go on).
    let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&hook.account_id)
        .fetch_optional(t.conn())
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound("account").into());
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE account_id = $1")
        .bind(&hook.account_id)
        .fetch_one(t.conn())
        .await?;
    if count >= i64::from(max) {
        return Err(StoreError::LimitReached(format!(
            "this account may have at most {max} webhooks (limits.max_webhooks)"
        ))
        .into());
    }
    insert(t, &hook).await?;
    Ok(hook)
}

async fn insert(t: &mut Tx, hook: &StoredWebhook) -> R<()> {
    let s = t.sealer.seal_webhook(hook)?;
    let sql = format!(
        "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&hook.id)
        .bind(&hook.account_id)
        .bind(hook.status.as_str())
        .bind(s.config)
        .bind(s.secret)
        .bind(s.previous_secret)
        .bind(hook.previous_secret_until.map(ms))
        .bind(ms(hook.created_at))
        .bind(ms(hook.updated_at))
        .bind(hook.failing_since.map(ms))
        .execute(t.conn())
        .await?;
    Ok(())
}

pub async fn update(t: &mut Tx, hook: StoredWebhook) -> R<StoredWebhook> {
    let s = t.sealer.seal_webhook(&hook)?;
    let n = sqlx::query(
        "UPDATE webhooks SET config = $3, secret = $4, previous_secret = $5, previous_secret_until = $6, updated_at = $7
         WHERE id = $1 AND account_id = $2",
    )
    .bind(&hook.id)
    .bind(&hook.account_id)
    .bind(s.config)
    .bind(s.secret)
    .bind(s.previous_secret)
    .bind(hook.previous_secret_until.map(ms))
    .bind(ms(hook.updated_at))
    .execute(t.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound("webhook").into());
    }
    Ok(get(t, &hook.account_id, &hook.id)
        .await?
        .ok_or(StoreError::NotFound("webhook"))?)
}

pub async fn delete(t: &mut Tx, account: &str, id: &str, now: Timestamp) -> R<bool> {
    let n = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account)
        .execute(t.conn())
        .await?
        .rows_affected();
    if n == 1 {
        sqlx::query(
            "UPDATE deliveries SET status = 'skipped', held = false, due_at = NULL, reason = 'webhook deleted', updated_at = $2
             WHERE webhook_id = $1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
        )
        .bind(id)
        .bind(ms(now))
        .execute(t.conn())
        .await?;
    }
    Ok(n == 1)
}

pub async fn set_status(t: &mut Tx, change: StatusChange) -> R<StoredWebhook> {
    let StatusChange {
        account,
        webhook,
        status,
        discard_held,
        now,
    } = change;
    // Resuming starts afresh: past failures no longer count toward disabling.
    let n = sqlx::query(
        "UPDATE webhooks SET status = $3, updated_at = $4,
             failing_since = CASE WHEN $3 = 'active' THEN NULL ELSE failing_since END
         WHERE id = $1 AND account_id = $2",
    )
    .bind(&webhook)
    .bind(&account)
    .bind(status.as_str())
    .bind(ms(now))
    .execute(t.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound("webhook").into());
    }
    if status == WebhookStatus::Active {
        if discard_held {
            sqlx::query(
                "UPDATE deliveries SET status = 'skipped', held = false, due_at = NULL, reason = 'discarded when the webhook was resumed', updated_at = $2
                 WHERE webhook_id = $1 AND held",
            )
            .bind(&webhook)
            .bind(ms(now))
            .execute(t.conn())
            .await?;
        } else {
            let released = sqlx::query(
                "UPDATE deliveries SET held = false, updated_at = $2 WHERE webhook_id = $1 AND held",
            )
            .bind(&webhook)
            .bind(ms(now))
            .execute(t.conn())
            .await?
            .rows_affected();
            t.woke |= released > 0;
        }
    } else {
        hold_unfinished(t, &webhook, now).await?;
    }
    Ok(get(t, &account, &webhook)
        .await?
        .ok_or(StoreError::NotFound("webhook"))?)
}

/// Holds everything of a webhook not yet finished and not in flight; in-flight
/// deliveries are held when their outcome is recorded.
async fn hold_unfinished(t: &mut Tx, webhook: &str, now: Timestamp) -> R<()> {
    sqlx::query(
        "UPDATE deliveries SET held = true, status = 'scheduled', updated_at = $2
         WHERE webhook_id = $1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
    )
    .bind(webhook)
    .bind(ms(now))
    .execute(t.conn())
    .await?;
    Ok(())
}

/// Disables a webhook failing since `failing_before` or earlier (see `Store::disable_webhook`).
pub async fn disable(
    t: &mut Tx,
    account: &str,
    id: &str,
    failing_before: Timestamp,
    now: Timestamp,
) -> R<Option<StoredWebhook>> {
    let n = sqlx::query(
        "UPDATE webhooks SET status = 'disabled', updated_at = $4
         WHERE id = $1 AND account_id = $2 AND status = 'active'
           AND failing_since IS NOT NULL AND failing_since <= $3",
    )
    .bind(id)
    .bind(account)
    .bind(ms(failing_before))
    .bind(ms(now))
    .execute(t.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    hold_unfinished(t, id, now).await?;
    get(t, account, id).await
}

/// Notes an attempt's outcome on its webhook: the first failure after a success
/// sets `failing_since`, a success clears it (no write when nothing changes).
pub async fn note_attempt(t: &mut Tx, webhook: &str, failed: bool, now: Timestamp) -> R<()> {
    if failed {
        sqlx::query(
            "UPDATE webhooks SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
        )
        .bind(webhook)
        .bind(ms(now))
        .execute(t.conn())
        .await?;
    } else {
        sqlx::query(
            "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
        )
        .bind(webhook)
        .execute(t.conn())
        .await?;
    }
    Ok(())
}

/// The account's notification webhook, created with `secret` if missing and
/// pointed at `url`.
pub async fn upsert_notify(
    t: &mut Tx,
    account: &str,
    url: &str,
    secret: &str,
    now: Timestamp,
) -> R<()> {
    let id = crate::notify_webhook_id(account);
    match get(t, account, &id).await? {
        Some(mut hook) if hook.config.url != url => {
            hook.config.url = url.to_string();
            hook.updated_at = now;
            update(t, hook).await?;
        }
        Some(_) => {}
        None => {
            insert(t, &crate::new_notify_webhook(account, url, secret, now)?).await?;
        }
    }
    Ok(())
}
