//! The delivery queue: claiming due work with `FOR UPDATE SKIP LOCKED` under a
//! lease, recording outcomes, releasing `ordered` successors, giving claims back.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use shophook_core::account::Account;
use shophook_core::plan::DeliveryStatus;

use super::{
    R, Tx, accounts, corrupt, count, events, field_values, from_ms, history, locks, ms, snapshots,
    webhooks,
};
use crate::queue::{Candidates, due_webhooks};
use crate::rules::Tally;
use crate::{
    Attempt, Claim, ClaimedDelivery, DeliveryUpdate, NextState, StoreError, StoredWebhook,
};

/// A claimed row: (id, account, webhook, event, status, attempts, part, due_at
/// before the claim, whether the last attempt succeeded).
type ClaimedRow = (
    String,
    String,
    String,
    String,
    String,
    i32,
    Option<i32>,
    i64,
    bool,
);

/// The webhooks with waiting deliveries and the earliest due time of each: a skip
/// scan over `deliveries_waiting`, one index seek per webhook.
async fn waiting_webhooks(t: &mut Tx) -> R<Vec<(String, Option<i64>)>> {
    Ok(sqlx::query_as(
        "WITH RECURSIVE hooks(w) AS (
             (SELECT webhook_id FROM deliveries
              WHERE NOT held AND status IN ('scheduled', 'pending', 'failed')
              ORDER BY webhook_id LIMIT 1)
             UNION ALL
             SELECT (SELECT webhook_id FROM deliveries
                     WHERE NOT held AND status IN ('scheduled', 'pending', 'failed')
                       AND webhook_id > hooks.w
                     ORDER BY webhook_id LIMIT 1)
             FROM hooks WHERE hooks.w IS NOT NULL)
         SELECT w, (SELECT MIN(due_at) FROM deliveries
                    WHERE NOT held AND status IN ('scheduled', 'pending', 'failed')
                      AND webhook_id = hooks.w)
         FROM hooks WHERE w IS NOT NULL",
    )
    .fetch_all(t.conn())
    .await?)
}

/// Claims the earliest due deliveries, each webhook within its room: candidates
/// are read webhook by webhook and merged by due time (see the SQLite backend),
/// then claimed in one statement.
pub async fn claim(t: &mut Tx, claim: Claim) -> R<Vec<ClaimedDelivery>> {
    snapshots::fire_due(t, claim.now, 100).await?;
    if claim.limit == 0 {
        return Ok(Vec::new());
    }
    let now = ms(claim.now);
    let mut candidates: Candidates<()> = Candidates::new(claim.limit as usize);
    for (hook, head) in due_webhooks(waiting_webhooks(t).await?, now) {
        if !candidates.wants(head) {
            break;
        }
        let room = claim.room(&hook);
        if room == 0 {
            continue;
        }
        let found: Vec<(i64, String)> = sqlx::query_as(
            "SELECT due_at, id FROM deliveries
             WHERE NOT held AND status IN ('scheduled', 'pending', 'failed')
               AND webhook_id = $2 AND due_at <= $1
             ORDER BY due_at, id LIMIT $3",
        )
        .bind(now)
        .bind(&hook)
        .bind(i64::from(room))
        .fetch_all(t.conn())
        .await?;
        for (due, id) in found {
            candidates.push(due, id, ());
        }
    }
    let ids: Vec<String> = candidates
        .into_sorted()
        .into_iter()
        .map(|(id, ())| id)
        .collect();
    // Rows another node is claiming right now are skipped, not waited for (and
    // rows it claimed since they were read no longer match); the claimed ones
    // are due again at the lease end unless recorded before.
    let mut rows: Vec<ClaimedRow> = sqlx::query_as(
        "WITH due AS (
             SELECT id, due_at FROM deliveries
             WHERE id = ANY($2) AND NOT held AND status IN ('scheduled', 'pending', 'failed')
               AND due_at <= $1
             FOR UPDATE SKIP LOCKED)
         UPDATE deliveries d SET due_at = $3, claimed_by = $4 FROM due WHERE d.id = due.id
         RETURNING d.id, d.account_id, d.webhook_id, d.event_id, d.status, d.attempts, d.part, due.due_at,
                   d.attempts > 0 AND d.last_error IS NULL",
    )
    .bind(now)
    .bind(&ids)
    .bind(ms(claim.lease_until))
    .bind(&claim.node)
    .fetch_all(t.conn())
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    rows.sort_by(|a, b| (a.7, &a.0).cmp(&(b.7, &b.0)));
    let hooks = loaded_webhooks(t, &rows).await?;
    let accounts = loaded_accounts(t, &rows).await?;
    let mut event_ids: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    event_ids.sort();
    event_ids.dedup();
    let events = events::load_many(t, &event_ids).await?;
    let mut option_accounts: Vec<String> = rows
        .iter()
        .filter(|r| {
            hooks
                .get(&r.2)
                .is_some_and(|h| crate::queue::need_field_options([&**h]))
        })
        .map(|r| r.1.clone())
        .collect();
    option_accounts.sort();
    option_accounts.dedup();
    let options = field_values::options(t, &option_accounts).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, account_id, webhook_id, event_id, status, attempts, part, _, succeeded_before) in rows
    {
        let (Some(hook), Some(account)) = (hooks.get(&webhook_id), accounts.get(&account_id))
        else {
            sqlx::query("UPDATE deliveries SET status = 'skipped', due_at = NULL, claimed_by = NULL, reason = 'webhook deleted', updated_at = $2 WHERE id = $1")
                .bind(&id)
                .bind(ms(claim.now))
                .execute(t.conn())
                .await?;
            continue;
        };
        let event = events
            .get(&event_id)
            .cloned()
            .ok_or_else(|| corrupt("delivery without event", &id))?;
        let status =
            DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", &status))?;
        let latest = if status == DeliveryStatus::Scheduled && hook.config.delay_minutes > 0 {
            latest_of(t, &account_id, event.event.subject.as_deref()).await?
        } else {
            None
        };
        out.push(ClaimedDelivery {
            field_options: crate::queue::field_options_for(hook, options.get(&account_id)),
            status,
            latest,
            id,
            attempts: count(attempts),
            succeeded_before,
            account_name: account.name.clone(),
            account_timezone: account.timezone.clone(),
            account_max_in_flight: account.limits.max_in_flight,
            part: part.map(count),
            webhook: hook.clone(),
            event,
            lease_until: claim.lease_until,
        });
    }
    Ok(out)
}

async fn loaded_webhooks(
    t: &mut Tx,
    rows: &[ClaimedRow],
) -> R<HashMap<String, Arc<StoredWebhook>>> {
    let mut ids: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    ids.sort();
    ids.dedup();
    Ok(webhooks::by_ids(t, &ids)
        .await?
        .into_iter()
        .map(|h| (h.id.clone(), Arc::new(h)))
        .collect())
}

async fn loaded_accounts(t: &mut Tx, rows: &[ClaimedRow]) -> R<HashMap<String, Account>> {
    let mut out = HashMap::new();
    for r in rows {
        if !out.contains_key(&r.1)
            && let Some(a) = accounts::get(t, &r.1).await?
        {
            out.insert(r.1.clone(), a);
        }
    }
    Ok(out)
}

/// The latest snapshot of a subject such as `order:1001`.
async fn latest_of(
    t: &mut Tx,
    account: &str,
    subject: Option<&str>,
) -> R<Option<serde_json::Value>> {
    let Some((kind, id)) = subject.and_then(|s| s.split_once(':')) else {
        return Ok(None);
    };
    let Some(kind) = shophook_core::derive::ResourceKind::parse(kind) else {
        return Ok(None);
    };
    Ok(snapshots::latest(t, account, kind, id)
        .await?
        .map(|(doc, _)| doc))
}

fn finishes(next: &NextState) -> bool {
    matches!(
        next,
        NextState::Succeeded | NextState::Dead(_) | NextState::Skipped(_)
    )
}

pub async fn record(t: &mut Tx, updates: Vec<DeliveryUpdate>) -> R<()> {
    // A finishing delivery may release the next of its subject: take those
    // subjects' locks first, all at once, in the global order.
    let finishing: Vec<String> = updates
        .iter()
        .filter(|u| finishes(&u.next))
        .map(|u| u.delivery_id.clone())
        .collect();
    if !finishing.is_empty() {
        let subjects: Vec<(String, String)> = sqlx::query_as(
            "SELECT webhook_id, subject FROM deliveries WHERE id = ANY($1) AND subject IS NOT NULL",
        )
        .bind(&finishing)
        .fetch_all(t.conn())
        .await?;
        let keys = subjects.iter().map(|(w, s)| locks::subject(w, s)).collect();
        locks::take(t, keys).await?;
    }
    let mut tally = Tally::default();
    for u in updates {
        record_one(t, u, &mut tally).await?;
    }
    history::add_stats(t, tally).await
}

async fn record_one(t: &mut Tx, u: DeliveryUpdate, tally: &mut Tally) -> R<()> {
    let hook: Option<String> = if u.next.waits() {
        sqlx::query_scalar(
            "SELECT w.status FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
        )
        .bind(&u.delivery_id)
        .fetch_optional(t.conn())
        .await?
    } else {
        None
    };
    let crate::queue::NextRow {
        status,
        due_at: due,
        held,
        reason,
    } = crate::queue::next_row(&u.next, hook.as_deref());
    if due.is_some() && !held {
        t.woke = true;
    }
    let (made, code, error) = match &u.attempt {
        Some(a) => (
            1,
            a.response.as_ref().map(|r| i32::from(r.status)),
            a.error.clone(),
        ),
        None => (0, None, None),
    };
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "UPDATE deliveries SET status = $2, due_at = $3, held = $4, claimed_by = NULL, attempts = attempts + $5,
             last_status_code = CASE WHEN $5 = 1 THEN $6 ELSE last_status_code END,
             last_error = CASE WHEN $5 = 1 THEN $7 ELSE last_error END,
             reason = $8, updated_at = $9
         WHERE id = $1 AND ($10::text IS NULL OR (claimed_by = $10 AND due_at = $11))
         RETURNING webhook_id, subject",
    )
    .bind(&u.delivery_id)
    .bind(status.as_str())
    .bind(due)
    .bind(held)
    .bind(made)
    .bind(code)
    .bind(&error)
    .bind(&reason)
    .bind(ms(u.now))
    .bind(u.claim.as_ref().map(|c| c.node.as_str()))
    .bind(u.claim.as_ref().map(|c| ms(c.until)))
    .fetch_optional(t.conn())
    .await?;
    let Some((webhook, subject)) = row else {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM deliveries WHERE id = $1")
            .bind(&u.delivery_id)
            .fetch_optional(t.conn())
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("delivery").into());
        }
        // A late outcome of a claim that lost the delivery: keep the attempt
        // (the request was sent), leave the newer state alone.
        tracing::info!(delivery = %u.delivery_id, "outcome of an expired claim; the delivery was claimed again meanwhile, its state is kept");
        if let Some(a) = &u.attempt {
            insert_attempt(t, &u.delivery_id, a).await?;
        }
        return Ok(());
    };
    if let Some(a) = &u.attempt {
        insert_attempt(t, &u.delivery_id, a).await?;
        webhooks::note_attempt(t, &webhook, a.error.is_some(), u.now).await?;
        tally.add(
            &webhook,
            a.started_at,
            status,
            a.response.as_ref().map(|r| r.status),
        );
    }
    if status.is_final()
        && let Some(subject) = subject
    {
        release_next_in_order(t, &webhook, &subject, u.now).await?;
    }
    Ok(())
}

/// For an `ordered` webhook: when nothing of the subject is in flight or due any
/// more, the earliest delivery stored without a due time becomes due now. (The
/// subject's lock is held, so an ingest cannot slip a new one in between.)
async fn release_next_in_order(t: &mut Tx, webhook: &str, subject: &str, now: Timestamp) -> R<()> {
    let n = sqlx::query(
        "UPDATE deliveries SET due_at = $3, updated_at = $3 WHERE id = (
             SELECT id FROM deliveries
             WHERE webhook_id = $1 AND subject = $2 AND status IN ('scheduled', 'pending', 'failed') AND due_at IS NULL
             ORDER BY id LIMIT 1)
         AND NOT EXISTS (
             SELECT 1 FROM deliveries
             WHERE webhook_id = $1 AND subject = $2 AND status IN ('scheduled', 'pending', 'failed') AND due_at IS NOT NULL)",
    )
    .bind(webhook)
    .bind(subject)
    .bind(ms(now))
    .execute(t.conn())
    .await?
    .rows_affected();
    t.woke |= n > 0;
    Ok(())
}

async fn insert_attempt(t: &mut Tx, delivery_id: &str, a: &Attempt) -> R<()> {
    let request = serde_json::to_string(&a.request).map_err(|e| corrupt("attempt request", e))?;
    let response = a
        .response
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt("attempt response", e))?;
    sqlx::query(
        "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, request, response_status, response, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.id)
    .bind(delivery_id)
    .bind(i32::try_from(a.number).unwrap_or(i32::MAX))
    .bind(ms(a.started_at))
    .bind(i32::try_from(a.duration_ms).unwrap_or(i32::MAX))
    .bind(&request)
    .bind(a.response.as_ref().map(|r| i32::from(r.status)))
    .bind(&response)
    .bind(&a.error)
    .execute(t.conn())
    .await?;
    Ok(())
}

/// Gives claims back, due now: one node's (at its shutdown), or everyone's.
pub async fn release(t: &mut Tx, node: Option<&str>, now: Timestamp) -> R<u64> {
    let n = sqlx::query(
        "UPDATE deliveries SET due_at = $1, claimed_by = NULL
         WHERE claimed_by IS NOT NULL AND ($2::text IS NULL OR claimed_by = $2)
           AND status IN ('scheduled', 'pending', 'failed')",
    )
    .bind(ms(now))
    .bind(node)
    .execute(t.conn())
    .await?
    .rows_affected();
    t.woke |= n > 0;
    Ok(n)
}

pub async fn unclaim(t: &mut Tx, node: &str, ids: &[String], now: Timestamp) -> R<()> {
    sqlx::query("UPDATE deliveries SET due_at = $3, claimed_by = NULL WHERE id = ANY($1) AND claimed_by = $2")
        .bind(ids)
        .bind(node)
        .bind(ms(now))
        .execute(t.conn())
        .await?;
    t.woke |= !ids.is_empty();
    Ok(())
}

/// Counted on the `deliveries_due` index (same partial condition): two range
/// counts, answered from the index alone while the visibility map is current, and
/// a min lookup.
pub async fn queue_stats(t: &mut Tx, now: Timestamp) -> R<crate::QueueStats> {
    let due: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries
         WHERE NOT held AND status IN ('scheduled', 'pending', 'failed') AND due_at <= $1",
    )
    .bind(ms(now))
    .fetch_one(t.conn())
    .await?;
    let scheduled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries
         WHERE NOT held AND status IN ('scheduled', 'pending', 'failed') AND due_at > $1",
    )
    .bind(ms(now))
    .fetch_one(t.conn())
    .await?;
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(due_at) FROM deliveries
         WHERE NOT held AND status IN ('scheduled', 'pending', 'failed') AND due_at <= $1",
    )
    .bind(ms(now))
    .fetch_one(t.conn())
    .await?;
    Ok(crate::QueueStats {
        due: u64::try_from(due).unwrap_or(0),
        scheduled: u64::try_from(scheduled).unwrap_or(0),
        oldest_due_at: oldest.map(from_ms),
    })
}

pub async fn next_due_at(t: &mut Tx) -> R<Option<Timestamp>> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(due_at) FROM deliveries WHERE NOT held AND status IN ('scheduled', 'pending', 'failed')",
    )
    .fetch_one(t.conn())
    .await?;
    let timer = snapshots::next_timer(t).await?;
    Ok(match (v, timer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .map(from_ms))
}
