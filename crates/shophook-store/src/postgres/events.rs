//! Storing events together with the deliveries they cause.

use std::collections::HashMap;
use std::sync::Arc;

use shophook_core::account::Account;
use shophook_core::event::{Event, EventType};

use super::webhooks;
use super::{R, Tx, accounts, corrupt, field_values, from_ms, locks, ms};
use crate::rules::{self, Planned, WebhookEntry, claim_for_dispatch};
use crate::{Dispatched, IngestOutcome, NewEvent, StoredEvent, Target};

/// An account and its webhooks, as this transaction sees them.
type Loaded = HashMap<String, Option<(Account, Vec<WebhookEntry>)>>;

/// Stores events and their deliveries. Every lock the batch needs (idempotency
/// keys, the subjects of `ordered` webhooks) is taken first, in one sorted step.
pub async fn ingest(t: &mut Tx, events: Vec<NewEvent>) -> R<Vec<IngestOutcome>> {
    // Notification webhooks first, so the webhooks loaded below include them.
    for e in &events {
        if let Target::Notify { url, secret } = &e.target
            && accounts::get_for_write(t, &e.event.account)
                .await?
                .is_some()
        {
            webhooks::upsert_notify(t, &e.event.account, url, secret, e.event.created_at).await?;
        }
    }
    let mut loaded: Loaded = HashMap::new();
    for e in &events {
        if !loaded.contains_key(&e.event.account) {
            let account = match accounts::get_for_write(t, &e.event.account).await? {
                Some(a) => Some((a, webhooks::entries(t, &e.event.account).await?)),
                None => None,
            };
            loaded.insert(e.event.account.clone(), account);
        }
    }
    let mut keys = Vec::new();
    for e in &events {
        let Some(Some((_, hooks))) = loaded.get(&e.event.account) else {
            continue;
        };
        if let Some(k) = &e.idempotency_key {
            keys.push(locks::idempotency(&e.event.account, k));
        }
        if let Some(subject) = &e.event.subject {
            for h in hooks.iter().filter(|h| h.hook.config.ordered) {
                keys.push(locks::subject(&h.hook.id, subject));
            }
        }
    }
    locks::take(t, keys).await?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let outcome = match loaded.get(&e.event.account) {
            Some(Some((account, hooks))) => ingest_one(t, e, account, hooks).await?,
            _ => IngestOutcome::NoAccount,
        };
        out.push(outcome);
    }
    Ok(out)
}

async fn ingest_one(
    t: &mut Tx,
    new: NewEvent,
    account: &Account,
    hooks: &[WebhookEntry],
) -> R<IngestOutcome> {
    let event = &new.event;
    if let Some(key) = &new.idempotency_key {
        let seen: Option<(String, i32)> = sqlx::query_as(
            "SELECT event_id, deliveries FROM idempotency_keys WHERE account_id = $1 AND key = $2",
        )
        .bind(&event.account)
        .bind(key)
        .fetch_optional(t.conn())
        .await?;
        if let Some((event_id, deliveries)) = seen {
            return Ok(IngestOutcome::Replayed {
                event_id,
                deliveries: super::count(deliveries),
            });
        }
    }
    let now = event.created_at;
    let Some(reached) = rules::reached(&new, &account.name, hooks) else {
        return Ok(IngestOutcome::NoWebhook);
    };
    let mut planned: Vec<Planned<'_>> = Vec::new();
    for r in reached {
        let blocked = match r.ordered_subject {
            Some(subject) => has_unfinished(t, &r.hook.id, subject).await?,
            None => false,
        };
        planned.extend(r.plan(event, blocked, now));
    }
    // Due at once and `dispatch` asked: claimed for the caller in this transaction.
    let dispatched = claim_for_dispatch(&mut planned, new.dispatch.as_ref());
    sqlx::query("INSERT INTO events (id, account_id, type, subject, created_at, envelope) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&event.id)
        .bind(&event.account)
        .bind(event.event_type.as_str())
        .bind(&event.subject)
        .bind(ms(now))
        .bind(&*new.envelope)
        .execute(t.conn())
        .await?;
    t.events += 1;
    let mut ids = Vec::with_capacity(planned.len());
    for p in &planned {
        let id = t.delivery_id();
        sqlx::query(
            "INSERT INTO deliveries (id, account_id, webhook_id, event_id, event_type, subject, status, held, due_at, claimed_by, created_at, updated_at, part)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
        )
        .bind(&id)
        .bind(&event.account)
        .bind(&p.hook.id)
        .bind(&event.id)
        .bind(event.event_type.as_str())
        .bind(&event.subject)
        .bind(p.status.as_str())
        .bind(p.held)
        .bind(p.due_at)
        .bind(p.claimed_by)
        .bind(ms(now))
        .bind(p.part.map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
        .execute(t.conn())
        .await?;
        ids.push(id);
    }
    if planned
        .iter()
        .any(|p| !p.held && p.claimed_by.is_none() && p.due_at.is_some())
    {
        t.woke = true;
    }
    if let Some(key) = &new.idempotency_key {
        sqlx::query("INSERT INTO idempotency_keys (account_id, key, event_id, deliveries, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&event.account)
            .bind(key)
            .bind(&event.id)
            .bind(i32::try_from(ids.len()).unwrap_or(i32::MAX))
            .bind(ms(now))
            .execute(t.conn())
            .await?;
    }
    let dispatched = match &new.dispatch {
        Some(d) => {
            let picked: Vec<_> = dispatched
                .into_iter()
                .map(|i| (ids[i].clone(), planned[i].part, planned[i].hook.clone()))
                .collect();
            let options = if crate::queue::need_field_options(picked.iter().map(|p| &*p.2)) {
                field_values::options(t, std::slice::from_ref(&event.account))
                    .await?
                    .remove(&event.account)
            } else {
                None
            };
            crate::queue::dispatched(&new, account, d.until, picked, options)
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
async fn has_unfinished(t: &mut Tx, webhook: &str, subject: &str) -> R<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM deliveries WHERE webhook_id = $1 AND subject = $2 AND status IN ('scheduled', 'pending', 'failed') LIMIT 1",
    )
    .bind(webhook)
    .bind(subject)
    .fetch_optional(t.conn())
    .await?
    .is_some())
}

/// A stored event row: (id, account, type, subject, created_at, envelope).
type EventRow = (String, String, String, Option<String>, i64, String);

/// Rebuilds an event from its stored row.
fn stored_event(row: EventRow) -> R<StoredEvent> {
    let (id, account, event_type, subject, created_at, envelope) = row;
    let event_type =
        EventType::parse(&event_type).ok_or_else(|| corrupt("event type", &event_type))?;
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

pub async fn load(t: &mut Tx, id: &str) -> R<Option<StoredEvent>> {
    let row: Option<EventRow> = sqlx::query_as(
        "SELECT id, account_id, type, subject, created_at, envelope FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(t.conn())
    .await?;
    row.map(stored_event).transpose()
}

/// The events with these ids, by id.
pub async fn load_many(t: &mut Tx, ids: &[String]) -> R<HashMap<String, Arc<StoredEvent>>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, account_id, type, subject, created_at, envelope FROM events WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(t.conn())
    .await?;
    rows.into_iter()
        .map(|r| stored_event(r).map(|e| (e.event.id.clone(), Arc::new(e))))
        .collect()
}

pub async fn get(t: &mut Tx, account: &str, id: &str) -> R<Option<(StoredEvent, Vec<String>)>> {
    let Some(ev) = load(t, id).await? else {
        return Ok(None);
    };
    if ev.event.account != account {
        return Ok(None);
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM deliveries WHERE event_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(t.conn())
            .await?;
    Ok(Some((ev, ids)))
}
