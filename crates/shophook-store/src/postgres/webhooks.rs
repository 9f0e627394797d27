//! Webhooks, and holding/releasing their deliveries on pause and resume.

use std::sync::Arc;

use jiff::Timestamp;
use shophook_core::condition::CompiledCondition;
use shophook_core::webhook::WebhookStatus;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{R, Tx, corrupt, from_ms, ms};
use crate::{StatusChange, StoreError, StoredWebhook};

const COLUMNS: &str = "id, account_id, status, config, secret, previous_secret, previous_secret_until, created_at, updated_at";

/// A webhook with its conditions compiled, loaded for one transaction (another
/// node may change it at any time, so it is not kept longer).
pub struct Entry {
    pub hook: Arc<StoredWebhook>,
    pub conditions: Vec<CompiledCondition>,
}

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
    })
}

pub async fn list(t: &mut Tx, account: &str) -> R<Vec<StoredWebhook>> {
    let sql =
        format!("SELECT {COLUMNS} FROM webhooks WHERE account_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account)
        .fetch_all(t.conn())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(t: &mut Tx, account: &str, id: &str) -> R<Option<StoredWebhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND account_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(account)
        .fetch_optional(t.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The webhooks with these ids that still exist.
pub async fn by_ids(t: &mut Tx, ids: &[String]) -> R<Vec<StoredWebhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = ANY($1)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(t.conn())
        .await?;
    rows.iter().map(from_row).collect()
}

/// An account's webhooks with compiled conditions, oldest first.
pub async fn entries(t: &mut Tx, account: &str) -> R<Vec<Entry>> {
    let mut out = Vec::new();
    for hook in list(t, account).await? {
        let conditions = hook
            .config
            .compiled_conditions()
            .map_err(|e| corrupt("webhook conditions", e))?;
        out.push(Entry {
            hook: Arc::new(hook),
            conditions,
        });
    }
    Ok(out)
}

fn config_json(w: &StoredWebhook) -> R<String> {
    serde_json::to_string(&w.config).map_err(|e| corrupt("webhook config", e))
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
    let sql =
        format!("INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&hook.id)
        .bind(&hook.account_id)
        .bind(hook.status.as_str())
        .bind(config_json(&hook)?)
        .bind(&hook.secret)
        .bind(&hook.previous_secret)
        .bind(hook.previous_secret_until.map(ms))
        .bind(ms(hook.created_at))
        .bind(ms(hook.updated_at))
        .execute(t.conn())
        .await?;
    Ok(hook)
}

pub async fn update(t: &mut Tx, hook: StoredWebhook) -> R<StoredWebhook> {
    let n = sqlx::query(
        "UPDATE webhooks SET config = $3, secret = $4, previous_secret = $5, previous_secret_until = $6, updated_at = $7
         WHERE id = $1 AND account_id = $2",
    )
    .bind(&hook.id)
    .bind(&hook.account_id)
    .bind(config_json(&hook)?)
    .bind(&hook.secret)
    .bind(&hook.previous_secret)
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
    let n = sqlx::query(
        "UPDATE webhooks SET status = $3, updated_at = $4 WHERE id = $1 AND account_id = $2",
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
        // Hold everything not yet finished and not in flight; in-flight ones are
        // held when their outcome is recorded.
        sqlx::query(
            "UPDATE deliveries SET held = true, status = 'scheduled', updated_at = $2
             WHERE webhook_id = $1 AND status IN ('scheduled', 'pending', 'failed') AND claimed_by IS NULL",
        )
        .bind(&webhook)
        .bind(ms(now))
        .execute(t.conn())
        .await?;
    }
    Ok(get(t, &account, &webhook)
        .await?
        .ok_or(StoreError::NotFound("webhook"))?)
}
