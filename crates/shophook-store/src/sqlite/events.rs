//! Storing events together with the deliveries they cause.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use shophook_core::event::{Event, EventType};

use super::writer::WriteCtx;
use super::{accounts, corrupt, field_values, from_ms, ms, webhooks};
use crate::rules::{self, Planned, claim_for_dispatch};
use crate::{Dispatched, IngestOutcome, NewEvent, Result, StoredEvent, Target};

/// A new delivery id: `dlv_` + ULID from the writer's monotonic generator, so ids
/// sort in the order deliveries were stored, also within one millisecond (history
/// lists newest first by id and pages by it; a plain `Ulid::new()` is random within
/// a millisecond). The fallback is reached only after 2^80 ids in one millisecond.
pub fn delivery_id(ids: &mut ulid::Generator) -> String {
    format!(
        "dlv_{}",
        ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    )
}

pub fn ingest(w: &mut WriteCtx<'_>, events: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
    events.into_iter().map(|e| ingest_one(w, e)).collect()
}

pub(crate) fn ingest_one(w: &mut WriteCtx<'_>, new: NewEvent) -> Result<IngestOutcome> {
    let event = &new.event;
    let Some(account) = accounts::cached(w, &event.account)? else {
        return Ok(IngestOutcome::NoAccount);
    };
    if let Some(key) = &new.idempotency_key {
        let seen: Option<(String, u32)> = w
            .conn
            .prepare_cached("SELECT event_id, deliveries FROM idempotency_keys WHERE account_id = ?1 AND key = ?2")?
            .query_row([&event.account, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((event_id, deliveries)) = seen {
            return Ok(IngestOutcome::Replayed {
                event_id,
                deliveries,
            });
        }
    }
    let now = event.created_at;
    if let Target::Notify { url, secret } = &new.target {
        webhooks::upsert_notify(w, &event.account, url, secret, now)?;
    }
    let hooks = webhooks::entries(w, &event.account)?;
    let Some(reached) = rules::reached(&new, &account.name, &hooks) else {
        return Ok(IngestOutcome::NoWebhook);
    };
    let mut planned: Vec<Planned<'_>> = Vec::new();
    for r in reached {
        let blocked = match r.ordered_subject {
            Some(subject) => has_unfinished(w.conn, &r.hook.id, subject)?,
            None => false,
        };
        planned.extend(r.plan(event, blocked, now));
    }
    // Due at once and `dispatch` asked: claimed for the caller in this transaction.
    let dispatched = claim_for_dispatch(&mut planned, new.dispatch.as_ref());
    w.conn
        .prepare_cached("INSERT INTO events (id, account_id, type, subject, created_at, envelope) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![event.id, event.account, event.event_type.as_str(), event.subject, ms(now), &*new.envelope])?;
    w.events += 1;
    let mut ids = Vec::with_capacity(planned.len());
    {
        let mut insert = w.conn.prepare_cached(
            "INSERT INTO deliveries (id, account_id, webhook_id, event_id, event_type, subject, status, held, due_at, claimed_by, created_at, updated_at, part)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)",
        )?;
        for p in &planned {
            let id = delivery_id(&mut w.caches.ids);
            insert.execute(params![
                id,
                event.account,
                p.hook.id,
                event.id,
                event.event_type.as_str(),
                event.subject,
                p.status.as_str(),
                p.held,
                p.due_at,
                p.claimed_by,
                ms(now),
                p.part
            ])?;
            ids.push(id);
        }
    }
    if planned
        .iter()
        .any(|p| !p.held && p.claimed_by.is_none() && p.due_at.is_some())
    {
        w.woke = true;
    }
    if let Some(key) = &new.idempotency_key {
        w.conn
            .prepare_cached("INSERT INTO idempotency_keys (account_id, key, event_id, deliveries, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![event.account, key, event.id, ids.len() as i64, ms(now)])?;
    }
    let dispatched = match &new.dispatch {
        Some(d) => {
            let picked: Vec<_> = dispatched
                .into_iter()
                .map(|i| (ids[i].clone(), planned[i].part, planned[i].hook.clone()))
                .collect();
            let options = if crate::queue::need_field_options(picked.iter().map(|p| &*p.2)) {
                Some(field_values::options(w, &event.account)?)
            } else {
                None
            };
            crate::queue::dispatched(&new, &account, d.until, picked, options)
        }
        None => Vec::new(),
    };
    Ok(IngestOutcome::Stored {
        event_id: new.event.id.clone(),
        deliveries: ids,
        dispatched: Dispatched(dispatched),
    })
}

/// Whether the webhook has an unfinished delivery for `subject`.
pub fn has_unfinished(c: &Connection, webhook: &str, subject: &str) -> Result<bool> {
    Ok(c
        .prepare_cached("SELECT 1 FROM deliveries WHERE webhook_id = ?1 AND subject = ?2 AND status IN ('scheduled', 'pending', 'failed') LIMIT 1")?
        .query_row([webhook, subject], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Rebuilds an event from its stored row.
pub fn stored_event(
    id: String,
    account: String,
    event_type: &str,
    subject: Option<String>,
    created_at: i64,
    envelope: String,
) -> Result<StoredEvent> {
    let event_type =
        EventType::parse(event_type).ok_or_else(|| corrupt("event type", event_type))?;
    let mut parsed: serde_json::Value =
        serde_json::from_str(&envelope).map_err(|e| corrupt("event envelope", e))?;
    let data = parsed
        .get_mut("data")
        .map(serde_json::Value::take)
        .unwrap_or(serde_json::Value::Null);
    Ok(StoredEvent {
        event: Event {
            id,
            event_type,
            account,
            subject,
            created_at: from_ms(created_at),
            data,
        },
        envelope: Arc::from(envelope),
    })
}

pub fn load(c: &Connection, id: &str) -> Result<Option<StoredEvent>> {
    let row: Option<(String, String, String, Option<String>, i64, String)> = c
        .prepare_cached(
            "SELECT id, account_id, type, subject, created_at, envelope FROM events WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    row.map(|(id, account, t, subject, at, env)| stored_event(id, account, &t, subject, at, env))
        .transpose()
}

pub fn get(c: &Connection, account: &str, id: &str) -> Result<Option<(StoredEvent, Vec<String>)>> {
    let Some(ev) = load(c, id)? else {
        return Ok(None);
    };
    if ev.event.account != account {
        return Ok(None);
    }
    let mut stmt = c.prepare_cached("SELECT id FROM deliveries WHERE event_id = ?1 ORDER BY id")?;
    let ids = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Some((ev, ids)))
}
