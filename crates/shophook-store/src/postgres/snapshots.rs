//! Versioned snapshots of orders, checkouts and products, the events derived from
//! each change, and the abandoned-checkout timers (rows, so a restart or a dead
//! node loses none; each fires on exactly one node).

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use shophook_core::derive::{self, DerivedEvent, ResourceKind};
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;

use super::{R, Tx, accounts, corrupt, events, field_values, locks, ms};
use crate::{IngestOutcome, NewEvent, SnapshotOutcome, SnapshotWrite, StoreError, Target};

use crate::rules::{ABANDON, AbandonTimer, abandon_timer};

/// (doc, version, deleted)
async fn current(
    t: &mut Tx,
    account: &str,
    kind: ResourceKind,
    id: &str,
) -> R<Option<(Value, i64, bool)>> {
    let row: Option<(String, i64, bool)> = sqlx::query_as(
        "SELECT doc, version, deleted FROM snapshots WHERE account_id = $1 AND kind = $2 AND id = $3",
    )
    .bind(account)
    .bind(kind.as_str())
    .bind(id)
    .fetch_optional(t.conn())
    .await?;
    row.map(|(doc, v, d)| {
        Ok((
            serde_json::from_str(&doc).map_err(|e| corrupt("snapshot", e))?,
            v,
            d,
        ))
    })
    .transpose()
}

pub async fn latest(
    t: &mut Tx,
    account: &str,
    kind: ResourceKind,
    id: &str,
) -> R<Option<(Value, i64)>> {
    Ok(current(t, account, kind, id)
        .await?
        .filter(|(_, _, deleted)| !deleted)
        .map(|(doc, v, _)| (doc, v)))
}

/// A derived event of `subject`, ready to ingest.
fn new_event(account: &str, subject: &str, d: DerivedEvent, now: Timestamp) -> NewEvent {
    let event = Event {
        id: format!("evt_{}", ulid::Ulid::new()),
        event_type: d.event_type,
        account: account.to_string(),
        subject: Some(subject.to_string()),
        created_at: now,
        data: d.data,
    };
    let envelope: Arc<str> = json_envelope(&event).into();
    NewEvent {
        event,
        envelope,
        idempotency_key: None,
        target: Target::Matching,
        dispatch: None,
    }
}

/// Stores derived events (and their deliveries) for `subject`; returns (id, type).
async fn store_events(
    t: &mut Tx,
    account: &str,
    subject: &str,
    derived: Vec<DerivedEvent>,
    now: Timestamp,
) -> R<Vec<(String, EventType)>> {
    let batch: Vec<NewEvent> = derived
        .into_iter()
        .map(|d| new_event(account, subject, d, now))
        .collect();
    let types: Vec<EventType> = batch.iter().map(|e| e.event.event_type).collect();
    let mut out = Vec::with_capacity(batch.len());
    for (outcome, t) in events::ingest(t, batch).await?.into_iter().zip(types) {
        match outcome {
            IngestOutcome::Stored { event_id, .. } => out.push((event_id, t)),
            IngestOutcome::NoAccount => return Err(StoreError::NotFound("account").into()),
            other => {
                return Err(
                    StoreError::Corrupt(format!("unexpected ingest outcome {other:?}")).into(),
                );
            }
        }
    }
    Ok(out)
}

pub async fn put(t: &mut Tx, write: SnapshotWrite) -> R<SnapshotOutcome> {
    let SnapshotWrite {
        account,
        kind,
        id,
        doc,
        version,
        now,
    } = write;
    // One write of this resource at a time, on any node: the first of two new
    // orders derives `order.created`, the second sees it stored.
    locks::take(t, vec![locks::snapshot(&account, kind.as_str(), &id)]).await?;
    let Some(acc) = accounts::get_for_write(t, &account).await? else {
        return Err(StoreError::NotFound("account").into());
    };
    let existing = current(t, &account, kind, &id).await?;
    let stored_version = existing.as_ref().map_or(0, |(_, v, _)| *v);
    if let Some(v) = version
        && v < stored_version
    {
        return Err(StoreError::Conflict(format!(
            "version {v} is older than the stored version {stored_version} of {}:{id}; send the latest snapshot",
            kind.as_str()
        ))
        .into());
    }
    let live = existing
        .as_ref()
        .filter(|(_, _, deleted)| !deleted)
        .map(|(d, _, _)| d.clone());
    let subject = format!("{}:{id}", kind.as_str());
    let new_version = version
        .unwrap_or(stored_version + 1)
        .max(stored_version + 1);
    let Some(after) = doc else {
        // deletion (products)
        let Some(last) = live else {
            return Err(StoreError::NotFound("product").into());
        };
        sqlx::query("UPDATE snapshots SET deleted = true, version = $4, updated_at = $5 WHERE account_id = $1 AND kind = $2 AND id = $3")
            .bind(&account)
            .bind(kind.as_str())
            .bind(&id)
            .bind(new_version)
            .bind(ms(now))
            .execute(t.conn())
            .await?;
        let mut deleted = vec![derive::deleted_event(&last)];
        derive::stamp_version(&mut deleted, kind, new_version);
        let events = store_events(t, &account, &subject, deleted, now).await?;
        return Ok(SnapshotOutcome {
            version: new_version,
            events,
        });
    };
    let mut derived = derive::derive_events(kind, live.as_ref(), &after);
    if derived.is_empty() {
        return Ok(SnapshotOutcome {
            version: stored_version,
            events: Vec::new(),
        });
    }
    derive::stamp_version(&mut derived, kind, new_version);
    field_values::record(t, &account, kind, &after).await?;
    let text = serde_json::to_string(&after).map_err(|e| corrupt("snapshot", e))?;
    sqlx::query(
        "INSERT INTO snapshots (account_id, kind, id, version, doc, deleted, updated_at) VALUES ($1, $2, $3, $4, $5, false, $6)
         ON CONFLICT (account_id, kind, id) DO UPDATE SET version = $4, doc = $5, deleted = false, updated_at = $6",
    )
    .bind(&account)
    .bind(kind.as_str())
    .bind(&id)
    .bind(new_version)
    .bind(&text)
    .bind(ms(now))
    .execute(t.conn())
    .await?;
    if kind == ResourceKind::Checkout {
        match abandon_timer(live.is_some(), &after, acc.abandon_after_minutes, now) {
            AbandonTimer::Set(due) => {
                sqlx::query(
                    "INSERT INTO timers (account_id, kind, subject_id, due_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (account_id, kind, subject_id) DO UPDATE SET due_at = $4",
                )
                .bind(&account)
                .bind(ABANDON)
                .bind(&id)
                .bind(ms(due))
                .execute(t.conn())
                .await?;
                t.woke = true;
            }
            AbandonTimer::Clear => {
                sqlx::query(
                    "DELETE FROM timers WHERE account_id = $1 AND kind = $2 AND subject_id = $3",
                )
                .bind(&account)
                .bind(ABANDON)
                .bind(&id)
                .execute(t.conn())
                .await?;
            }
            AbandonTimer::Keep => {}
        }
    }
    let events = store_events(t, &account, &subject, derived, now).await?;
    Ok(SnapshotOutcome {
        version: new_version,
        events,
    })
}

/// Fires timers due at `now` (at most `limit`): each still-open checkout derives
/// `checkout.abandoned` once. Runs inside the claim transaction; a timer is
/// deleted as it is taken and rows another node is taking are skipped, so no
/// timer fires twice.
pub async fn fire_due(t: &mut Tx, now: Timestamp, limit: u32) -> R<u32> {
    let due: Vec<(String, String, String)> = sqlx::query_as(
        "DELETE FROM timers WHERE (account_id, kind, subject_id) IN (
             SELECT account_id, kind, subject_id FROM timers WHERE due_at <= $1
             ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING account_id, kind, subject_id",
    )
    .bind(ms(now))
    .bind(i64::from(limit))
    .fetch_all(t.conn())
    .await?;
    let mut batch = Vec::new();
    for (account, kind, id) in due {
        if kind != ABANDON {
            continue;
        }
        if let Some((doc, version)) = latest(t, &account, ResourceKind::Checkout, &id).await?
            && derive::checkout_open(&doc)
        {
            let subject = format!("checkout:{id}");
            let mut abandoned = vec![derive::abandoned_event(&doc)];
            derive::stamp_version(&mut abandoned, ResourceKind::Checkout, version);
            for d in abandoned {
                batch.push(new_event(&account, &subject, d, now));
            }
        }
    }
    if batch.is_empty() {
        return Ok(0);
    }
    // One batch: its locks are taken in one sorted step. A deleted account's
    // checkout derives nothing (`NoAccount`).
    let outcomes = events::ingest(t, batch).await?;
    Ok(outcomes
        .iter()
        .filter(|o| matches!(o, IngestOutcome::Stored { .. }))
        .count() as u32)
}

/// The earliest timer.
pub async fn next_timer(t: &mut Tx) -> R<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT MIN(due_at) FROM timers")
        .fetch_one(t.conn())
        .await?)
}
