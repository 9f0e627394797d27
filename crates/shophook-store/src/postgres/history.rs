//! Delivery history (lists, details with attempts), manual retries and retention.

use std::sync::Arc;

use jiff::Timestamp;
use shophook_core::plan::DeliveryStatus;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{R, Tx, corrupt, count, events, from_ms, ms};
use crate::rules::{Tally, hour_of};
use crate::{
    Attempt, Delivery, DeliveryDetail, DeliveryFilter, HourStats, LastAttempt, StoreError,
    WebhookStats,
};

const COLUMNS: &str = "id, account_id, webhook_id, event_id, event_type, subject, status, held, attempts, due_at, claimed_by, created_at, updated_at, last_status_code, last_error, reason";

fn from_row(r: &PgRow) -> R<Delivery> {
    let text: String = r.try_get(6)?;
    let status = DeliveryStatus::parse(&text).ok_or_else(|| corrupt("delivery status", &text))?;
    let waiting = !status.is_final();
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
    sqlx::query("DELETE FROM webhook_stats WHERE hour < $1")
        .bind(hour_of(cutoff))
        .execute(t.conn())
        .await?;
    Ok(ids.len() as u64)
}

/// Adds a record batch's attempts to `webhook_stats` in one statement, rows in
/// (webhook, hour) order (webhooks deleted meanwhile are left out).
pub async fn add_stats(t: &mut Tx, tally: Tally) -> R<()> {
    let rows = tally.into_rows();
    if rows.is_empty() {
        return Ok(());
    }
    let mut cols = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for r in rows {
        cols.0.push(r.webhook);
        cols.1.push(r.hour);
        cols.2.push(r.succeeded);
        cols.3.push(r.failed);
        cols.4.push(r.last_at);
        cols.5.push(r.last_status.as_str());
        cols.6.push(r.last_code.map(i32::from));
    }
    sqlx::query(
        "INSERT INTO webhook_stats (webhook_id, hour, succeeded, failed, last_at, last_status, last_code)
         SELECT u.* FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::int[])
             AS u(webhook_id, hour, succeeded, failed, last_at, last_status, last_code)
         WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = u.webhook_id)
         ON CONFLICT (webhook_id, hour) DO UPDATE SET
             succeeded = webhook_stats.succeeded + EXCLUDED.succeeded,
             failed = webhook_stats.failed + EXCLUDED.failed,
             last_status = CASE WHEN EXCLUDED.last_at >= webhook_stats.last_at THEN EXCLUDED.last_status ELSE webhook_stats.last_status END,
             last_code = CASE WHEN EXCLUDED.last_at >= webhook_stats.last_at THEN EXCLUDED.last_code ELSE webhook_stats.last_code END,
             last_at = GREATEST(webhook_stats.last_at, EXCLUDED.last_at)",
    )
    .bind(cols.0)
    .bind(cols.1)
    .bind(cols.2)
    .bind(cols.3)
    .bind(cols.4)
    .bind(cols.5)
    .bind(cols.6)
    .execute(t.conn())
    .await?;
    Ok(())
}

/// One webhook's hours (see `Store::webhook_hours`).
pub async fn hours(
    t: &mut Tx,
    account: &str,
    webhook: &str,
    since: Timestamp,
) -> R<Vec<HourStats>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT s.hour, s.succeeded, s.failed FROM webhook_stats s JOIN webhooks w ON w.id = s.webhook_id
         WHERE w.account_id = $1 AND s.webhook_id = $2 AND s.hour >= $3 ORDER BY s.hour",
    )
    .bind(account)
    .bind(webhook)
    .bind(hour_of(since))
    .fetch_all(t.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(hour, ok, failed)| HourStats {
            hour: from_ms(hour),
            succeeded: ok.max(0) as u64,
            failed: failed.max(0) as u64,
        })
        .collect())
}

/// The account's webhooks with their attempts since the hour `since` is in and
/// their latest attempt (see `Store::webhook_stats`).
pub async fn stats(t: &mut Tx, account: &str, since: Timestamp) -> R<Vec<WebhookStats>> {
    type StatsRow = (String, i64, i64, Option<i64>, Option<String>, Option<i32>);
    let rows: Vec<StatsRow> = sqlx::query_as(
        "SELECT w.id,
             (SELECT coalesce(sum(s.succeeded), 0)::bigint FROM webhook_stats s WHERE s.webhook_id = w.id AND s.hour >= $2),
             (SELECT coalesce(sum(s.failed), 0)::bigint FROM webhook_stats s WHERE s.webhook_id = w.id AND s.hour >= $2),
             l.last_at, l.last_status, l.last_code
         FROM webhooks w LEFT JOIN webhook_stats l ON l.webhook_id = w.id
             AND l.hour = (SELECT max(m.hour) FROM webhook_stats m WHERE m.webhook_id = w.id)
         WHERE w.account_id = $1 ORDER BY w.created_at, w.id",
    )
    .bind(account)
    .bind(hour_of(since))
    .fetch_all(t.conn())
    .await?;
    rows.into_iter()
        .map(|(webhook_id, ok, failed, at, status, code)| {
            let last = match (at, status) {
                (Some(at), Some(status)) => Some(LastAttempt {
                    at: from_ms(at),
                    status: DeliveryStatus::parse(&status)
                        .ok_or_else(|| corrupt("webhook_stats status", &status))?,
                    code: code.and_then(|c| u16::try_from(c).ok()),
                }),
                _ => None,
            };
            Ok(WebhookStats {
                webhook_id,
                succeeded: ok.max(0) as u64,
                failed: failed.max(0) as u64,
                last,
            })
        })
        .collect()
}
