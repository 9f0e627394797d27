//! Delivery history (lists, details with attempts), manual retries and retention.

use std::sync::Arc;

use jiff::Timestamp;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{R, Tx, corrupt, count, events, from_ms, ms};
use crate::{Attempt, Delivery, DeliveryDetail, DeliveryFilter, StoreError};

const COLUMNS: &str = "id, account_id, webhook_id, event_id, event_type, subject, status, held, attempts, due_at, claimed_by, created_at, updated_at, last_status_code, last_error, reason";

fn from_row(r: &PgRow) -> R<Delivery> {
    let status: String = r.try_get(6)?;
    let waiting = matches!(status.as_str(), "scheduled" | "pending" | "failed");
    let held: bool = r.try_get(7)?;
    let claimed: Option<String> = r.try_get(10)?;
    let due: Option<i64> = r.try_get(9)?;
    Ok(Delivery {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        webhook_id: r.try_get(2)?,
        event_id: r.try_get(3)?,
        event_type: r.try_get(4)?,
        subject: r.try_get(5)?,
        status,
        held,
        attempts: count(r.try_get(8)?),
        // While claimed, due_at is the lease end, not a planned attempt time.
        next_attempt_at: if waiting && !held && claimed.is_none() {
            due.map(from_ms)
        } else {
            None
        },
        created_at: from_ms(r.try_get(11)?),
        updated_at: from_ms(r.try_get(12)?),
        last_status_code: r
            .try_get::<Option<i32>, _>(13)?
            .and_then(|c| u16::try_from(c).ok()),
        last_error: r.try_get(14)?,
        reason: r.try_get(15)?,
    })
}

pub async fn list(t: &mut Tx, account: &str, f: &DeliveryFilter) -> R<Vec<Delivery>> {
    let mut sql = format!("SELECT {COLUMNS} FROM deliveries WHERE account_id = $1");
    let mut args: Vec<String> = vec![account.to_string()];
    let mut add = |clause: &str, v: Option<String>| {
        if let Some(v) = v {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        }
    };
    add("webhook_id =", f.webhook.clone());
    add("status =", f.status.map(|s| s.as_str().to_string()));
    add("event_type =", f.event_type.clone());
    add("subject =", f.subject.clone());
    add("id <", f.before.clone());
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in &args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(t.conn()).await?;
    rows.iter().map(from_row).collect()
}

async fn get(t: &mut Tx, account: &str, id: &str) -> R<Option<Delivery>> {
    let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE id = $1 AND account_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(account)
        .fetch_optional(t.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// An attempt row: (id, number, started_at, duration_ms, request, response, error).
type AttemptRow = (
    String,
    i32,
    i64,
    i32,
    String,
    Option<String>,
    Option<String>,
);

pub async fn detail(t: &mut Tx, account: &str, id: &str) -> R<Option<DeliveryDetail>> {
    let Some(delivery) = get(t, account, id).await? else {
        return Ok(None);
    };
    let raw: Vec<AttemptRow> = sqlx::query_as(
        "SELECT id, number, started_at, duration_ms, request, response, error FROM attempts WHERE delivery_id = $1 ORDER BY number, started_at",
    )
    .bind(id)
    .fetch_all(t.conn())
    .await?;
    let mut attempts = Vec::with_capacity(raw.len());
    for (aid, number, started, duration, request, response, error) in raw {
        attempts.push(Attempt {
            id: aid,
            number: count(number),
            started_at: from_ms(started),
            duration_ms: count(duration),
            request: serde_json::from_str(&request).map_err(|e| corrupt("attempt request", e))?,
            response: response
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| corrupt("attempt response", e))?,
            error,
        });
    }
    let envelope = events::load(t, &delivery.event_id)
        .await?
        .map(|e| e.envelope)
        .unwrap_or_else(|| Arc::from(""));
    Ok(Some(DeliveryDetail {
        delivery,
        attempts,
        envelope,
    }))
}

pub async fn retry(t: &mut Tx, account: &str, id: &str, now: Timestamp) -> R<Option<Delivery>> {
    // Locked: a node claiming it right now finishes first, and then it is in flight.
    let row: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT claimed_by, webhook_id FROM deliveries WHERE id = $1 AND account_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(account)
    .fetch_optional(t.conn())
    .await?;
    let Some((claimed, webhook)) = row else {
        return Ok(None);
    };
    if claimed.is_some() {
        return Err(StoreError::Conflict(format!(
            "delivery {id} is being sent right now; retry it after this attempt"
        ))
        .into());
    }
    // Without its webhook it would be held forever (and never purged).
    let hook: Option<String> = sqlx::query_scalar("SELECT status FROM webhooks WHERE id = $1")
        .bind(&webhook)
        .fetch_optional(t.conn())
        .await?;
    let Some(hook) = hook else {
        return Err(StoreError::Conflict(format!(
            "the webhook of delivery {id} was deleted; there is nowhere to send it"
        ))
        .into());
    };
    let active = hook == "active";
    sqlx::query(
        "UPDATE deliveries SET held = $3, status = $4, due_at = $2, reason = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(ms(now))
    .bind(!active)
    .bind(if active { "pending" } else { "scheduled" })
    .execute(t.conn())
    .await?;
    t.woke = true;
    get(t, account, id).await
}

pub async fn purge(t: &mut Tx, cutoff: Timestamp, batch: u32) -> R<u64> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE status IN ('succeeded', 'dead', 'skipped') AND updated_at < $1
         ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(ms(cutoff))
    .bind(i64::from(batch))
    .fetch_all(t.conn())
    .await?;
    sqlx::query("DELETE FROM attempts WHERE delivery_id = ANY($1)")
        .bind(&ids)
        .execute(t.conn())
        .await?;
    sqlx::query("DELETE FROM deliveries WHERE id = ANY($1)")
        .bind(&ids)
        .execute(t.conn())
        .await?;
    sqlx::query(
        "DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE created_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT $2)",
    )
    .bind(ms(cutoff))
    .bind(i64::from(batch))
    .execute(t.conn())
    .await?;
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(ms(cutoff))
        .execute(t.conn())
        .await?;
    Ok(ids.len() as u64)
}
