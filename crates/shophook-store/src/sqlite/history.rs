//! Delivery history (lists, details with attempts), manual retries and retention.

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use shophook_core::plan::DeliveryStatus;

use super::writer::WriteCtx;
use super::{corrupt, events, from_ms, ms};
use crate::rules::{Tally, hour_of};
use crate::{
    Attempt, Delivery, DeliveryDetail, DeliveryFilter, HourStats, LastAttempt, Result, StoreError,
    WebhookStats,
};

const COLUMNS: &str = "id, account_id, webhook_id, event_id, event_type, subject, status, held, attempts, due_at, claimed_by, created_at, updated_at, last_status_code, last_error, reason";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let text: String = r.get(6)?;
    let status = DeliveryStatus::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            6,
            rusqlite::types::Type::Text,
            format!("unknown delivery status `{text}`").into(),
        )
    })?;
    let waiting = !status.is_final();
    let held: bool = r.get(7)?;
    let claimed: Option<String> = r.get(10)?;
    Ok(Delivery {
        id: r.get(0)?,
        account_id: r.get(1)?,
        webhook_id: r.get(2)?,
        event_id: r.get(3)?,
        event_type: r.get(4)?,
        subject: r.get(5)?,
        status,
        held,
        attempts: r.get(8)?,
        // While claimed, due_at is the lease end, not a planned attempt time.
        next_attempt_at: if waiting && !held && claimed.is_none() {
            r.get::<_, Option<i64>>(9)?.map(from_ms)
        } else {
            None
        },
        created_at: from_ms(r.get(11)?),
        updated_at: from_ms(r.get(12)?),
        last_status_code: r.get(13)?,
        last_error: r.get(14)?,
        reason: r.get(15)?,
    })
}

pub fn list(c: &Connection, account: &str, f: &DeliveryFilter) -> Result<Vec<Delivery>> {
    let mut sql = format!("SELECT {COLUMNS} FROM deliveries WHERE account_id = ?1");
    let mut args: Vec<String> = vec![account.to_string()];
    let mut add = |clause: &str, v: &Option<String>| {
        if let Some(v) = v {
            args.push(v.clone());
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        }
    };
    add("webhook_id =", &f.webhook);
    add("status =", &f.status.map(|s| s.as_str().to_string()));
    add("event_type =", &f.event_type);
    add("subject =", &f.subject);
    add("id <", &f.before);
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn get(c: &Connection, account: &str, id: &str) -> Result<Option<Delivery>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE id = ?1 AND account_id = ?2"
    ))?
    .query_row([id, account], from_row)
    .optional()?)
}

pub fn detail(c: &Connection, account: &str, id: &str) -> Result<Option<DeliveryDetail>> {
    let Some(delivery) = get(c, account, id)? else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT id, number, started_at, duration_ms, request, response, error FROM attempts WHERE delivery_id = ?1 ORDER BY number, started_at",
    )?;
    let raw = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut attempts = Vec::with_capacity(raw.len());
    for (aid, number, started, duration, request, response, error) in raw {
        attempts.push(Attempt {
            id: aid,
            number,
            started_at: from_ms(started),
            duration_ms: duration,
            request: serde_json::from_str(&request).map_err(|e| corrupt("attempt request", e))?,
            response: response
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| corrupt("attempt response", e))?,
            error,
        });
    }
    let envelope = events::load(c, &delivery.event_id)?
        .map(|e| e.envelope)
        .unwrap_or_else(|| Arc::from(""));
    Ok(Some(DeliveryDetail {
        delivery,
        attempts,
        envelope,
    }))
}

pub fn retry(
    w: &mut WriteCtx<'_>,
    account: &str,
    id: &str,
    now: Timestamp,
) -> Result<Option<Delivery>> {
    let Some(current) = get(w.conn, account, id)? else {
        return Ok(None);
    };
    let claimed: Option<String> = w.conn.query_row(
        "SELECT claimed_by FROM deliveries WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if claimed.is_some() {
        return Err(StoreError::Conflict(format!(
            "delivery {} is being sent right now; retry it after this attempt",
            current.id
        )));
    }
    // Without its webhook it would be held forever (and never purged).
    let hook: Option<String> = w
        .conn
        .query_row(
            "SELECT status FROM webhooks WHERE id = ?1",
            [&current.webhook_id],
            |r| r.get(0),
        )
        .optional()?;
    if hook.is_none() {
        return Err(StoreError::Conflict(format!(
            "the webhook of delivery {} was deleted; there is nowhere to send it",
            current.id
        )));
    }
    w.conn.execute(
        "UPDATE deliveries SET
             held = CASE WHEN (SELECT status FROM webhooks WHERE id = deliveries.webhook_id) = 'active' THEN 0 ELSE 1 END,
             status = CASE WHEN (SELECT status FROM webhooks WHERE id = deliveries.webhook_id) = 'active' THEN 'pending' ELSE 'scheduled' END,
             due_at = ?2, reason = NULL, updated_at = ?2
         WHERE id = ?1",
        params![id, ms(now)],
    )?;
    w.woke = true;
    get(w.conn, account, id)
}

/// Adds a record batch's attempts to `webhook_stats` (webhooks deleted meanwhile
/// are left out).
pub fn add_stats(c: &Connection, tally: Tally) -> Result<()> {
    let mut upsert = c.prepare_cached(
        "INSERT INTO webhook_stats (webhook_id, hour, succeeded, failed, last_at, last_status, last_code)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)
         ON CONFLICT (webhook_id, hour) DO UPDATE SET
             succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed,
             last_status = CASE WHEN excluded.last_at >= last_at THEN excluded.last_status ELSE last_status END,
             last_code = CASE WHEN excluded.last_at >= last_at THEN excluded.last_code ELSE last_code END,
             last_at = max(last_at, excluded.last_at)",
    )?;
    for r in tally.into_rows() {
        upsert.execute(params![
            r.webhook,
            r.hour,
            r.succeeded,
            r.failed,
            r.last_at,
            r.last_status.as_str(),
            r.last_code
        ])?;
    }
    Ok(())
}

/// The account's webhooks with their attempts since the hour `since` is in and
/// their latest attempt (see `Store::webhook_stats`).
pub fn stats(c: &Connection, account: &str, since: Timestamp) -> Result<Vec<WebhookStats>> {
    let mut stmt = c.prepare_cached(
        "SELECT w.id,
             (SELECT coalesce(sum(s.succeeded), 0) FROM webhook_stats s WHERE s.webhook_id = w.id AND s.hour >= ?2),
             (SELECT coalesce(sum(s.failed), 0) FROM webhook_stats s WHERE s.webhook_id = w.id AND s.hour >= ?2),
             l.last_at, l.last_status, l.last_code
         FROM webhooks w LEFT JOIN webhook_stats l ON l.webhook_id = w.id
             AND l.hour = (SELECT max(m.hour) FROM webhook_stats m WHERE m.webhook_id = w.id)
         WHERE w.account_id = ?1 ORDER BY w.created_at, w.id",
    )?;
    let rows = stmt
        .query_map(params![account, hour_of(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<u16>>(5)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(webhook_id, ok, failed, at, status, code)| {
            let last = match (at, status) {
                (Some(at), Some(status)) => Some(LastAttempt {
                    at: from_ms(at),
                    status: DeliveryStatus::parse(&status)
                        .ok_or_else(|| corrupt("webhook_stats status", &status))?,
                    code,
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

/// One webhook's hours (see `Store::webhook_hours`).
pub fn hours(
    c: &Connection,
    account: &str,
    webhook: &str,
    since: Timestamp,
) -> Result<Vec<HourStats>> {
    let mut stmt = c.prepare_cached(
        "SELECT s.hour, s.succeeded, s.failed FROM webhook_stats s JOIN webhooks w ON w.id = s.webhook_id
         WHERE w.account_id = ?1 AND s.webhook_id = ?2 AND s.hour >= ?3 ORDER BY s.hour",
    )?;
    let rows = stmt
        .query_map(params![account, webhook, hour_of(since)], |r| {
            Ok(HourStats {
                hour: from_ms(r.get(0)?),
                succeeded: r.get::<_, i64>(1)?.max(0) as u64,
                failed: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn purge(c: &Connection, cutoff: Timestamp, batch: u32) -> Result<u64> {
    let ids: Vec<String> = c
        .prepare_cached("SELECT id FROM deliveries WHERE status IN ('succeeded', 'dead', 'skipped') AND updated_at < ?1 ORDER BY updated_at LIMIT ?2")?
        .query_map(params![ms(cutoff), batch], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        c.prepare_cached("DELETE FROM attempts WHERE delivery_id = ?1")?
            .execute([id])?;
        c.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
            .execute([id])?;
    }
    c.execute(
        "DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE created_at < ?1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT ?2)",
        params![ms(cutoff), batch],
    )?;
    c.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ?1",
        params![ms(cutoff)],
    )?;
    c.prepare_cached("DELETE FROM webhook_stats WHERE hour < ?1")?
        .execute([hour_of(cutoff)])?;
    Ok(ids.len() as u64)
}
