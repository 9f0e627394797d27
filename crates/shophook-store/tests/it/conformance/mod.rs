//! The store conformance suite: what every [`Store`] backend must do, written
//! against the trait only. Each check takes a fresh, empty store. Time is always a
//! fixed value passed in ([`t`]), never the wall clock, so nothing here sleeps.

mod accounts;
mod claims;
mod health;
mod history;
mod ingest;
mod outcomes;
mod retention;
mod signal;
mod snapshots;
mod stats;
mod ui_sessions;
mod webhooks;

pub use accounts::*;
pub use claims::*;
pub use health::*;
pub use history::*;
pub use ingest::*;
pub use outcomes::*;
pub use retention::*;
pub use signal::*;
pub use snapshots::*;
pub use stats::*;
pub use ui_sessions::*;
pub use webhooks::*;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use shophook_core::account::Account;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::webhook::{WebhookInput, WebhookStatus};
use shophook_store::{
    Attempt, Claim, ClaimedDelivery, Delivery, DeliveryFilter, DeliveryUpdate, IngestOutcome,
    NewEvent, NextState, RequestRecord, ResponseRecord, StatusChange, Store, StoredWebhook, Target,
};

/// `minutes` after a fixed Monday morning (2026-03-02 10:00 UTC).
pub fn t(minutes: i64) -> Timestamp {
    let base: Timestamp = "2026-03-02T10:00:00Z".parse().expect("a valid timestamp");
    base.checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// Creates an account `id` named `name`.
pub async fn given_account(store: &dyn Store, id: &str, name: &str) -> Account {
    let account: Account =
        serde_json::from_value(json!({"id": id, "name": name})).expect("a valid account");
    store
        .create_account(account, t(0))
        .await
        .expect("creating an account")
}

/// A webhook of `account` built from API input (`url` and `events` are filled in
/// when absent), created at `at`; not yet stored.
pub fn webhook(account: &str, input: Value, at: Timestamp) -> StoredWebhook {
    let mut input = input;
    let fields = input.as_object_mut().expect("webhook input is an object");
    fields
        .entry("url")
        .or_insert(json!("https://hooks.example.com/in"));
    fields.entry("events").or_insert(json!(["*"]));
    let (config, status, _) = serde_json::from_value::<WebhookInput>(input)
        .expect("webhook input parses")
        .into_new_config()
        .expect("webhook input is valid");
    StoredWebhook {
        id: format!("wh_{}", ulid::Ulid::new()),
        account_id: account.to_string(),
        status: status.unwrap_or(WebhookStatus::Active),
        config,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
        previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: at,
        updated_at: at,
    }
}

/// Stores a webhook (see [`webhook`]) with a generous limit.
pub async fn given_webhook(store: &dyn Store, account: &str, input: Value) -> StoredWebhook {
    given_webhook_at(store, account, input, t(0)).await
}

/// Stores a webhook created at `at`.
pub async fn given_webhook_at(
    store: &dyn Store,
    account: &str,
    input: Value,
    at: Timestamp,
) -> StoredWebhook {
    store
        .create_webhook(webhook(account, input, at), 100)
        .await
        .expect("creating a webhook")
}

/// An event about `order` (which must have an `id`), accepted at `at`, going to
/// every webhook it reaches.
pub fn order_event(account: &str, event_type: EventType, order: Value, at: Timestamp) -> NewEvent {
    let subject = format!(
        "order:{}",
        order["id"].as_str().expect("the order has a string id")
    );
    let event = Event {
        id: format!("evt_{}", ulid::Ulid::new()),
        event_type,
        account: account.to_string(),
        subject: Some(subject),
        created_at: at,
        data: json!({ "order": order }),
    };
    new_event(event)
}

/// An event with its JSON envelope, no idempotency key, to matching webhooks.
pub fn new_event(event: Event) -> NewEvent {
    let envelope = json_envelope(&event).into();
    NewEvent {
        event,
        envelope,
        idempotency_key: None,
        target: Target::Matching,
        dispatch: None,
    }
}

/// A plain `order.created` of order `id`, accepted at `at`.
pub fn order_created(account: &str, id: &str, at: Timestamp) -> NewEvent {
    order_event(
        account,
        EventType::OrderCreated,
        json!({"id": id, "status": "new"}),
        at,
    )
}

/// Ingests one event and returns its outcome.
pub async fn ingest(store: &dyn Store, event: NewEvent) -> IngestOutcome {
    let mut out = store.ingest(vec![event]).await.expect("ingesting");
    assert_eq!(out.len(), 1, "one outcome per event");
    out.remove(0)
}

/// Ingests one event that must be stored; returns its delivery ids.
pub async fn deliveries_of(store: &dyn Store, event: NewEvent) -> Vec<String> {
    match ingest(store, event).await {
        IngestOutcome::Stored { deliveries, .. } => deliveries,
        other => panic!("expected the event to be stored, got {other:?}"),
    }
}

/// Ingests one event that must create exactly one delivery; returns its id.
pub async fn one_delivery(store: &dyn Store, event: NewEvent) -> String {
    let mut ids = deliveries_of(store, event).await;
    assert_eq!(ids.len(), 1, "expected exactly one delivery");
    ids.remove(0)
}

/// A claim by `node` at `now`, leased for one minute.
pub fn claim(node: &str, now: Timestamp, limit: u32) -> Claim {
    Claim {
        node: node.to_string(),
        now,
        lease_until: now
            .checked_add(SignedDuration::from_mins(1))
            .expect("in range"),
        limit,
        skip_webhooks: Vec::new(),
        per_webhook: 0,
        busy_webhooks: Vec::new(),
    }
}

/// Claims (up to 100) and returns the claimed ids, in claim order.
pub async fn claim_ids(store: &dyn Store, claim: Claim) -> Vec<String> {
    store
        .claim_due(claim)
        .await
        .expect("claiming")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Claims exactly the delivery `id` (it must be the only due one) at `now`.
pub async fn claim_only(store: &dyn Store, id: &str, now: Timestamp) -> ClaimedDelivery {
    let mut claimed = store
        .claim_due(claim("node-a", now, 100))
        .await
        .expect("claiming");
    assert_eq!(
        claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [id],
        "exactly this delivery is due"
    );
    claimed.remove(0)
}

/// An attempt numbered `number` that started at `at`: `status` is the response
/// status, or `None` for a connection error.
pub fn attempt(number: u32, at: Timestamp, status: Option<u16>) -> Attempt {
    Attempt {
        id: format!("att_{}", ulid::Ulid::new()),
        number,
        started_at: at,
        duration_ms: 40 + number,
        request: RequestRecord {
            method: "POST".to_string(),
            url: "https://hooks.example.com/in".to_string(),
            headers: vec![
                ("webhook-id".to_string(), "x".to_string()),
                ("webhook-signature".to_string(), "v1,***".to_string()),
            ],
            body: None,
            sent: true,
        },
        response: status.map(|status| ResponseRecord {
            status,
            headers: vec![("content-type".to_string(), "text/plain".to_string())],
            body: format!("status {status}"),
        }),
        error: match status {
            None => Some("connection refused".to_string()),
            Some(s) if !(200..300).contains(&s) => Some(format!("unexpected status {s}")),
            Some(_) => None,
        },
    }
}

/// Records one update.
pub async fn record(
    store: &dyn Store,
    id: &str,
    attempt: Option<Attempt>,
    next: NextState,
    now: Timestamp,
) {
    store
        .record(vec![DeliveryUpdate {
            delivery_id: id.to_string(),
            attempt,
            next,
            now,
            claim: None,
        }])
        .await
        .expect("recording");
}

/// The delivery `id` of `account`, which must exist.
pub async fn delivery(store: &dyn Store, account: &str, id: &str) -> Delivery {
    store
        .delivery(account, id)
        .await
        .expect("reading a delivery")
        .unwrap_or_else(|| panic!("delivery {id} exists"))
        .delivery
}

/// Pauses (`Paused`) or resumes (`Active`) a webhook.
pub async fn set_status(
    store: &dyn Store,
    hook: &StoredWebhook,
    status: WebhookStatus,
    discard_held: bool,
    now: Timestamp,
) -> StoredWebhook {
    store
        .set_webhook_status(StatusChange {
            account: hook.account_id.clone(),
            webhook: hook.id.clone(),
            status,
            discard_held,
            now,
        })
        .await
        .expect("changing a webhook's status")
}

/// Every delivery of `account`, newest first.
pub async fn all_deliveries(store: &dyn Store, account: &str) -> Vec<Delivery> {
    store
        .list_deliveries(
            account,
            DeliveryFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("listing deliveries")
}

/// Sorted copy, for comparing sets of ids.
pub fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort();
    v
}

/// What every check takes: a fresh, empty store of the backend under test.
pub type Backend = Arc<dyn Store>;
