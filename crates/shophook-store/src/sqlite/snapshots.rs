//! Versioned snapshots of orders, checkouts and products, the events derived from
//! each change, and the abandoned-checkout timers (kept in the database, so a
//! restart does not lose them).

use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use shophook_core::derive::{self, DerivedEvent, ResourceKind};
use shophook_core::event::Event;
use shophook_core::render::json_envelope;

use super::writer::WriteCtx;
use super::{accounts, corrupt, events, field_values, ms};
use crate::{IngestOutcome, NewEvent, Result, SnapshotOutcome, SnapshotWrite, StoreError, Target};

use crate::rules::{ABANDON, AbandonTimer, abandon_timer};

/// (doc, version, deleted)
fn current(
    c: &Connection,
    account: &str,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<(Value, i64, bool)>> {
    let row: Option<(String, i64, bool)> = c
        .prepare_cached("SELECT doc, version, deleted FROM snapshots WHERE account_id = ?1 AND kind = ?2 AND id = ?3")?
        .query_row(params![account, kind.as_str(), id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(doc, v, d)| {
        Ok((
            serde_json::from_str(&doc).map_err(|e| corrupt("snapshot", e))?,
            v,
            d,
        ))
    })
    .transpose()
}

pub fn latest(
    c: &Connection,
    account: &str,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<(Value, i64)>> {
    Ok(current(c, account, kind, id)?
        .filter(|(_, _, deleted)| !deleted)
        .map(|(doc, v, _)| (doc, v)))
}

/// Stores derived events (and their deliveries) for `subject`; returns (id, type).
fn store_events(
    w: &mut WriteCtx<'_>,
    account: &str,
    subject: &str,
    derived: Vec<DerivedEvent>,
    now: Timestamp,
) -> Result<Vec<(String, shophook_core::event::EventType)>> {
    let mut out = Vec::with_capacity(derived.len());
    for d in derived {
        let event = Event {
            id: format!("evt_{}", ulid::Ulid::new()),
            event_type: d.event_type,
            account: account.to_string(),
            subject: Some(subject.to_string()),
            created_at: now,
            data: d.data,
        };
        let envelope: Arc<str> = json_envelope(&event).into();
        let t = event.event_type;
        match events::ingest_one(
            w,
            NewEvent {
                event,
                envelope,
                idempotency_key: None,
                target: Target::Matching,
                dispatch: None,
            },
        )? {
            IngestOutcome::Stored { event_id, .. } => out.push((event_id, t)),
            IngestOutcome::NoAccount => return Err(StoreError::NotFound("account")),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unexpected ingest outcome {other:?}"
                )));
            }
        }
    }
    Ok(out)
}

pub fn put(w: &mut WriteCtx<'_>, write: SnapshotWrite) -> Result<SnapshotOutcome> {
    let SnapshotWrite {
        account,
        kind,
        id,
        doc,
        version,
        now,
    } = write;
    let Some(acc) = accounts::cached(w, &account)? else {
        return Err(StoreError::NotFound("account"));
    };
    let existing = current(w.conn, &account, kind, &id)?;
    let stored_version = existing.as_ref().map_or(0, |(_, v, _)| *v);
    if let Some(v) = version
        && v < stored_version
    {
        return Err(StoreError::Conflict(format!(
            "version {v} is older than the stored version {stored_version} of {}:{id}; send the latest snapshot",
            kind.as_str()
        )));
    }
    let live = existing
        .as_ref()
        .filter(|(_, _, deleted)| !deleted)
        .map(|(d, _, _)| d);
    let subject = format!("{}:{id}", kind.as_str());
    let Some(after) = doc else {
        // deletion (products)
        let Some(last) = live.cloned() else {
            return Err(StoreError::NotFound("product"));
        };
        let new_version = version
            .unwrap_or(stored_version + 1)
            .max(stored_version + 1);
        w.conn.execute(
            "UPDATE snapshots SET deleted = 1, version = ?4, updated_at = ?5 WHERE account_id = ?1 AND kind = ?2 AND id = ?3",
            params![account, kind.as_str(), id, new_version, ms(now)],
        )?;
        let mut deleted = vec![derive::deleted_event(&last)];
        derive::stamp_version(&mut deleted, kind, new_version);
        let events = store_events(w, &account, &subject, deleted, now)?;
        return Ok(SnapshotOutcome {
            version: new_version,
            events,
        });
    };
    let mut derived = derive::derive_events(kind, live, &after);
    if derived.is_empty() {
        return Ok(SnapshotOutcome {
            version: stored_version,
            events: Vec::new(),
        });
    }
    let new_version = version
        .unwrap_or(stored_version + 1)
        .max(stored_version + 1);
    derive::stamp_version(&mut derived, kind, new_version);
    field_values::record(w, &account, kind, &after)?;
    let text = serde_json::to_string(&after).map_err(|e| corrupt("snapshot", e))?;
    w.conn
        .prepare_cached(
            "INSERT INTO snapshots (account_id, kind, id, version, doc, deleted, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
             ON CONFLICT (account_id, kind, id) DO UPDATE SET version = ?4, doc = ?5, deleted = 0, updated_at = ?6",
        )?
        .execute(params![account, kind.as_str(), id, new_version, text, ms(now)])?;
    if kind == ResourceKind::Checkout {
        match abandon_timer(live.is_some(), &after, acc.abandon_after_minutes, now) {
            AbandonTimer::Set(due) => {
                w.conn.execute(
                    "INSERT INTO timers (account_id, kind, subject_id, due_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (account_id, kind, subject_id) DO UPDATE SET due_at = ?4",
                    params![account, ABANDON, id, ms(due)],
                )?;
                w.woke = true;
            }
            AbandonTimer::Clear => {
                w.conn.execute(
                    "DELETE FROM timers WHERE account_id = ?1 AND kind = ?2 AND subject_id = ?3",
                    params![account, ABANDON, id],
                )?;
            }
            AbandonTimer::Keep => {}
        }
    }
    let events = store_events(w, &account, &subject, derived, now)?;
    Ok(SnapshotOutcome {
        version: new_version,
        events,
    })
}

/// Fires timers due at `now` (at most `limit`): each still-open checkout derives
/// `checkout.abandoned` once. Runs inside the claim transaction, so the deliveries
/// it creates are claimable in the same step.
pub fn fire_due(w: &mut WriteCtx<'_>, now: Timestamp, limit: u32) -> Result<u32> {
    let due: Vec<(String, String, String)> = w
        .conn
        .prepare_cached("SELECT account_id, kind, subject_id FROM timers WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2")?
        .query_map(params![ms(now), limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut fired = 0;
    for (account, kind, id) in due {
        w.conn.execute(
            "DELETE FROM timers WHERE account_id = ?1 AND kind = ?2 AND subject_id = ?3",
            params![account, kind, id],
        )?;
        if kind != ABANDON {
            continue;
        }
        if let Some((doc, version)) = latest(w.conn, &account, ResourceKind::Checkout, &id)?
            && derive::checkout_open(&doc)
            && accounts::cached(w, &account)?.is_some()
        {
            let mut abandoned = vec![derive::abandoned_event(&doc)];
            derive::stamp_version(&mut abandoned, ResourceKind::Checkout, version);
            store_events(w, &account, &format!("checkout:{id}"), abandoned, now)?;
            fired += 1;
        }
    }
    Ok(fired)
}

/// The earliest timer.
pub fn next_timer(c: &Connection) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT MIN(due_at) FROM timers")?
        .query_row([], |r| r.get(0))?)
}
