//! The delivery queue: claiming due work, recording outcomes, releasing claims;
//! the history is in `history.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use shophook_core::plan::DeliveryStatus;

use super::writer::WriteCtx;
use super::{accounts, corrupt, events, field_values, from_ms, history, ms, webhooks};
use crate::queue::{Candidates, NextRow, due_webhooks, next_row};
use crate::rules::Tally;
use crate::{Attempt, Claim, ClaimedDelivery, DeliveryUpdate, Result, StoreError, StoredEvent};

const WAITING: &str = "('scheduled', 'pending', 'failed')";

/// The webhooks with waiting deliveries and the earliest due time of each (`None`:
/// only ordered deliveries waiting for their predecessor). A skip scan over
/// `deliveries_waiting`: one index seek per webhook, however long its queue.
fn waiting_webhooks(c: &Connection) -> Result<Vec<(String, Option<i64>)>> {
    Ok(c.prepare_cached(&format!(
        "WITH RECURSIVE hooks(w) AS (
                 SELECT MIN(webhook_id) FROM deliveries WHERE held = 0 AND status IN {WAITING}
                 UNION ALL
                 SELECT (SELECT MIN(webhook_id) FROM deliveries
                         WHERE held = 0 AND status IN {WAITING} AND webhook_id > hooks.w)
                 FROM hooks WHERE hooks.w IS NOT NULL)
             SELECT w, (SELECT MIN(due_at) FROM deliveries
                        WHERE held = 0 AND status IN {WAITING} AND webhook_id = hooks.w)
             FROM hooks WHERE w IS NOT NULL"
    ))?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect::<rusqlite::Result<_>>()?)
}

/// A claim candidate as read from `deliveries`.
struct ClaimRow {
    id: String,
    account_id: String,
    webhook_id: String,
    event_id: String,
    status: String,
    attempts: u32,
    part: Option<u32>,
    /// It reached its receiver before (an attempt without an error).
    succeeded_before: bool,
}

/// Claims the earliest due deliveries, each webhook within its room. Candidates
/// are read webhook by webhook, in the order of each one's earliest due delivery,
/// and merged by due time; a webhook whose earliest is later than every
/// candidate already found is not read at all. So a webhook at its limit costs
/// nothing however many deliveries it has waiting, and no claimed delivery has to
/// be given back for want of a slot.
pub fn claim(w: &mut WriteCtx<'_>, claim: Claim) -> Result<Vec<ClaimedDelivery>> {
    super::snapshots::fire_due(w, claim.now, 100)?;
    if claim.limit == 0 {
        return Ok(Vec::new());
    }
    let now = ms(claim.now);
    let mut candidates: Candidates<ClaimRow> = Candidates::new(claim.limit as usize);
    let mut stmt = w.conn.prepare_cached(&format!(
        "SELECT due_at, id, account_id, webhook_id, event_id, status, attempts, part,
                attempts > 0 AND last_error IS NULL
         FROM deliveries
         WHERE held = 0 AND status IN {WAITING} AND webhook_id = ?1 AND due_at <= ?2
         ORDER BY due_at LIMIT ?3"
    ))?;
    for (hook, head) in due_webhooks(waiting_webhooks(w.conn)?, now) {
        if !candidates.wants(head) {
            break;
        }
        let room = claim.room(&hook);
        if room == 0 {
            continue;
        }
        let found = stmt.query_map(params![hook, now, room], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ClaimRow {
                    id: r.get(1)?,
                    account_id: r.get(2)?,
                    webhook_id: r.get(3)?,
                    event_id: r.get(4)?,
                    status: r.get(5)?,
                    attempts: r.get(6)?,
                    part: r.get(7)?,
                    succeeded_before: r.get(8)?,
                },
            ))
        })?;
        for row in found {
            let (due, row): (i64, ClaimRow) = row?;
            candidates.push(due, row.id.clone(), row);
        }
    }
    drop(stmt);
    let rows: Vec<ClaimRow> = candidates
        .into_sorted()
        .into_iter()
        .map(|(_, row)| row)
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    let mut events_seen: HashMap<String, Arc<StoredEvent>> = HashMap::new();
    for ClaimRow {
        id,
        account_id,
        webhook_id,
        event_id,
        status,
        attempts,
        part,
        succeeded_before,
    } in rows
    {
        let hook = webhooks::entries(w, &account_id)?
            .iter()
            .find(|e| e.hook.id == webhook_id)
            .map(|e| e.hook.clone());
        let account = accounts::cached(w, &account_id)?;
        let (Some(hook), Some(account)) = (hook, account) else {
            w.conn.execute(
                "UPDATE deliveries SET status = 'skipped', due_at = NULL, reason = 'webhook deleted', updated_at = ?2 WHERE id = ?1",
                params![id, ms(claim.now)],
            )?;
            continue;
        };
        let event = match events_seen.get(&event_id) {
            Some(e) => e.clone(),
            None => {
                let e = Arc::new(
                    events::load(w.conn, &event_id)?
                        .ok_or_else(|| corrupt("delivery without event", &id))?,
                );
                events_seen.insert(event_id.clone(), e.clone());
                e
            }
        };
        w.conn
            .prepare_cached("UPDATE deliveries SET due_at = ?2, claimed_by = ?3 WHERE id = ?1")?
            .execute(params![id, ms(claim.lease_until), claim.node])?;
        let status =
            DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", &status))?;
        let latest = if status == DeliveryStatus::Scheduled && hook.config.delay_minutes > 0 {
            latest_of(w.conn, &account_id, event.event.subject.as_deref())?
        } else {
            None
        };
        let field_options = if crate::queue::need_field_options([&*hook]) {
            Some(field_values::options(w, &account_id)?)
        } else {
            None
        };
        out.push(ClaimedDelivery {
            field_options,
            status,
            latest,
            id,
            attempts,
            succeeded_before,
            account_name: account.name.clone(),
            account_timezone: account.timezone.clone(),
            account_max_in_flight: account.limits.max_in_flight,
            part,
            webhook: hook,
            event,
            lease_until: claim.lease_until,
        });
    }
    Ok(out)
}

/// The latest snapshot of a subject such as `order:1001`.
fn latest_of(
    c: &Connection,
    account: &str,
    subject: Option<&str>,
) -> Result<Option<serde_json::Value>> {
    let Some((kind, id)) = subject.and_then(|s| s.split_once(':')) else {
        return Ok(None);
    };
    let Some(kind) = shophook_core::derive::ResourceKind::parse(kind) else {
        return Ok(None);
    };
    Ok(super::snapshots::latest(c, account, kind, id)?.map(|(doc, _)| doc))
}

pub fn record(w: &mut WriteCtx<'_>, updates: Vec<DeliveryUpdate>) -> Result<()> {
    let mut tally = Tally::default();
    for u in updates {
        record_one(w, u, &mut tally)?;
    }
    history::add_stats(w.conn, tally)
}

fn record_one(w: &mut WriteCtx<'_>, u: DeliveryUpdate, tally: &mut Tally) -> Result<()> {
    let c = w.conn;
    // The webhook's status; `None` once it is deleted.
    let webhook_status = || -> Result<Option<String>> {
        Ok(c
            .prepare_cached("SELECT w.status FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?1")?
            .query_row([&u.delivery_id], |r| r.get(0))
            .optional()?)
    };
    let hook = if u.next.waits() {
        webhook_status()?
    } else {
        None
    };
    let NextRow {
        status,
        due_at: due,
        held,
        reason,
    } = next_row(&u.next, hook.as_deref());
    if due.is_some() && !held {
        w.woke = true;
    }
    let (made, code, error) = match &u.attempt {
        Some(a) => (1, a.response.as_ref().map(|r| r.status), a.error.clone()),
        None => (0, None, None),
    };
    let owner: Option<(String, String)> = c
        .prepare_cached(
            "UPDATE deliveries SET status = ?2, due_at = ?3, held = ?4, claimed_by = NULL, attempts = attempts + ?5,
                 last_status_code = CASE WHEN ?5 = 1 THEN ?6 ELSE last_status_code END,
                 last_error = CASE WHEN ?5 = 1 THEN ?7 ELSE last_error END,
                 reason = ?8, updated_at = ?9
             WHERE id = ?1 AND (?10 IS NULL OR (claimed_by = ?10 AND due_at = ?11))
             RETURNING account_id, webhook_id",
        )?
        .query_row(params![
            u.delivery_id,
            status.as_str(),
            due,
            held,
            made,
            code,
            error,
            reason,
            ms(u.now),
            u.claim.as_ref().map(|c| c.node.as_str()),
            u.claim.as_ref().map(|c| ms(c.until)),
        ], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((account, webhook)) = owner else {
        let exists = c
            .prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")?
            .query_row([&u.delivery_id], |_| Ok(()))
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound("delivery"));
        }
        // A late outcome of a claim that lost the delivery: keep the attempt (the
        // request was sent), leave the newer state alone.
        tracing::info!(delivery = %u.delivery_id, "outcome of an expired claim; the delivery was claimed again meanwhile, its state is kept");
        if let Some(a) = &u.attempt {
            insert_attempt(c, &u.delivery_id, a)?;
        }
        return Ok(());
    };
    if let Some(a) = &u.attempt {
        insert_attempt(c, &u.delivery_id, a)?;
        webhooks::note_attempt(w, &account, &webhook, a.error.is_some(), u.now)?;
        tally.add(
            &webhook,
            a.started_at,
            status,
            a.response.as_ref().map(|r| r.status),
        );
    }
    if status.is_final() {
        release_next_in_order(w, &u.delivery_id, u.now)?;
    }
    Ok(())
}

/// For an `ordered` webhook: the delivery after a finished one (same webhook and
/// subject, stored without a due time) becomes due now.
fn release_next_in_order(w: &mut WriteCtx<'_>, finished: &str, now: Timestamp) -> Result<()> {
    let n = w
        .conn
        .prepare_cached(
            "UPDATE deliveries SET due_at = ?2, updated_at = ?2 WHERE id = (
                 SELECT n.id FROM deliveries d JOIN deliveries n ON n.webhook_id = d.webhook_id AND n.subject = d.subject
                 WHERE d.id = ?1 AND n.id > d.id AND n.status IN ('scheduled', 'pending', 'failed')
                 ORDER BY n.id LIMIT 1)
             AND due_at IS NULL",
        )?
        .execute(params![finished, ms(now)])?;
    w.woke |= n > 0;
    Ok(())
}

fn insert_attempt(c: &Connection, delivery_id: &str, a: &Attempt) -> Result<()> {
    let request = serde_json::to_string(&a.request).map_err(|e| corrupt("attempt request", e))?;
    let response = a
        .response
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt("attempt response", e))?;
    c.prepare_cached(
        "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, request, response_status, response, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        a.id,
        delivery_id,
        a.number,
        ms(a.started_at),
        a.duration_ms,
        request,
        a.response.as_ref().map(|r| r.status),
        response,
        a.error
    ])?;
    Ok(())
}

pub fn release(w: &mut WriteCtx<'_>, node: Option<&str>, now: Timestamp) -> Result<u64> {
    let n = w.conn.execute(
        &format!("UPDATE deliveries SET due_at = ?1, claimed_by = NULL WHERE claimed_by IS NOT NULL AND (?2 IS NULL OR claimed_by = ?2) AND status IN {WAITING}"),
        params![ms(now), node],
    )?;
    w.woke |= n > 0;
    Ok(n as u64)
}

pub fn unclaim(w: &mut WriteCtx<'_>, node: &str, ids: &[String], now: Timestamp) -> Result<()> {
    let mut stmt = w.conn.prepare_cached(
        "UPDATE deliveries SET due_at = ?3, claimed_by = NULL WHERE id = ?1 AND claimed_by = ?2",
    )?;
    for id in ids {
        stmt.execute(params![id, node, ms(now)])?;
    }
    w.woke |= !ids.is_empty();
    Ok(())
}

pub fn next_due_at(c: &Connection) -> Result<Option<Timestamp>> {
    let v: Option<i64> = c
        .prepare_cached(&format!(
            "SELECT MIN(due_at) FROM deliveries WHERE held = 0 AND status IN {WAITING}"
        ))?
        .query_row([], |r| r.get(0))?;
    let t = super::snapshots::next_timer(c)?;
    Ok(match (v, t) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .map(from_ms))
}

/// Counted on the `deliveries_due` index alone (its partial condition is these
/// queries', so no table row is read): two range counts and a min lookup, cheap
/// with a million waiting deliveries.
pub fn queue_stats(c: &Connection, now: Timestamp) -> Result<crate::QueueStats> {
    let count = |range: &str| -> Result<u64> {
        let n: i64 = c
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM deliveries WHERE held = 0 AND status IN {WAITING} AND {range}"
            ))?
            .query_row([ms(now)], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let due = count("due_at <= ?1")?;
    let scheduled = count("due_at > ?1")?;
    let oldest: Option<i64> = c
        .prepare_cached(&format!(
            "SELECT MIN(due_at) FROM deliveries WHERE held = 0 AND status IN {WAITING} AND due_at <= ?1"
        ))?
        .query_row([ms(now)], |r| r.get(0))?;
    Ok(crate::QueueStats {
        due,
        scheduled,
        oldest_due_at: oldest.map(from_ms),
    })
}
