//! A webhook's health: `failing_since` follows its attempts, `disable_webhook`
//! disables one failing long enough, and `Target::Notify` sends `webhook.disabled`
//! to the account's notification webhook.

use serde_json::json;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::webhook::WebhookStatus;

use super::*;

async fn failing_since(store: &dyn Store, hook: &StoredWebhook) -> Option<Timestamp> {
    store
        .webhook(&hook.account_id, &hook.id)
        .await
        .unwrap()
        .expect("the webhook exists")
        .failing_since
}

/// Claims and records one attempt of a fresh delivery: `status` answered at `at`.
async fn attempt_at(store: &dyn Store, n: &str, at: Timestamp, status: u16, next: NextState) {
    let id = one_delivery(store, order_created("acme", n, at)).await;
    claim_only(store, &id, at).await;
    record(store, &id, Some(attempt(1, at, Some(status))), next, at).await;
}

pub async fn failing_since_follows_attempts(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    assert_eq!(failing_since(&*store, &hook).await, None);
    attempt_at(&*store, "1", t(1), 500, NextState::Retry(t(100))).await;
    assert_eq!(
        failing_since(&*store, &hook).await,
        Some(t(1)),
        "the first failure"
    );
    attempt_at(&*store, "2", t(2), 503, NextState::Dead("gave up".into())).await;
    assert_eq!(
        failing_since(&*store, &hook).await,
        Some(t(1)),
        "still since the first"
    );
    attempt_at(&*store, "3", t(3), 200, NextState::Succeeded).await;
    assert_eq!(
        failing_since(&*store, &hook).await,
        None,
        "a success clears it"
    );
    attempt_at(&*store, "4", t(4), 500, NextState::Retry(t(100))).await;
    assert_eq!(failing_since(&*store, &hook).await, Some(t(4)));
    // A deferral (no attempt) changes nothing.
    let id = one_delivery(&*store, order_created("acme", "5", t(5))).await;
    claim_only(&*store, &id, t(5)).await;
    record(&*store, &id, None, NextState::Defer(t(50)), t(5)).await;
    assert_eq!(failing_since(&*store, &hook).await, Some(t(4)));
}

pub async fn a_webhook_failing_long_enough_is_disabled_and_resume_starts_afresh(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let waiting = one_delivery(&*store, order_created("acme", "w", t(0))).await;
    let due_later = t(60 * 24 * 30);
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let claimed = store.claim_due(claim("node-a", t(10), 100)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for c in &claimed {
        let next = if c.id == id {
            NextState::Retry(due_later)
        } else {
            NextState::Defer(due_later)
        };
        let made = (c.id == id).then(|| attempt(1, t(10), Some(500)));
        record(&*store, &c.id, made, next, t(10)).await;
    }
    assert_eq!(failing_since(&*store, &hook).await, Some(t(10)));

    // Not failing long enough: nothing changes.
    let not_yet = store
        .disable_webhook("acme", &hook.id, t(9), t(20))
        .await
        .unwrap();
    assert!(not_yet.is_none());
    assert_eq!(
        store
            .disable_webhook("globex", &hook.id, t(10), t(20))
            .await
            .unwrap(),
        None,
        "another account's webhook is out of reach"
    );
    let disabled = store
        .disable_webhook("acme", &hook.id, t(10), t(20))
        .await
        .unwrap()
        .expect("disabled now");
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    assert_eq!(
        store
            .disable_webhook("acme", &hook.id, t(10), t(21))
            .await
            .unwrap(),
        None,
        "disabled once"
    );
    for d in [&id, &waiting] {
        let d = delivery(&*store, "acme", d).await;
        assert!(
            d.held,
            "its unfinished deliveries are held like a pause: {d:?}"
        );
    }
    // New events wait too.
    let later = one_delivery(&*store, order_created("acme", "2", t(30))).await;
    assert!(delivery(&*store, "acme", &later).await.held);

    // Resume re-enables, releases, and forgets the failures.
    set_status(&*store, &hook, WebhookStatus::Active, false, t(40)).await;
    let resumed = store.webhook("acme", &hook.id).await.unwrap().unwrap();
    assert_eq!(resumed.status, WebhookStatus::Active);
    assert_eq!(resumed.failing_since, None);
    for d in [&id, &waiting, &later] {
        assert!(!delivery(&*store, "acme", d).await.held);
    }
}

fn disabled_event(account: &str, at: Timestamp) -> Event {
    Event {
        id: format!("evt_{}", ulid::Ulid::new()),
        event_type: EventType::WebhookDisabled,
        account: account.to_string(),
        subject: Some("webhook:wh_x".to_string()),
        created_at: at,
        data: json!({"webhook": {"id": "wh_x", "name": "Warehouse"}}),
    }
}

async fn notify(store: &dyn Store, url: &str, secret: &str, at: Timestamp) -> IngestOutcome {
    let event = disabled_event("acme", at);
    let envelope = json_envelope(&event).into();
    store
        .ingest(vec![NewEvent {
            event,
            envelope,
            idempotency_key: None,
            target: Target::Notify {
                url: url.to_string(),
                secret: secret.to_string(),
            },
            dispatch: None,
        }])
        .await
        .unwrap()
        .remove(0)
}

pub async fn notifications_go_to_the_accounts_notification_webhook(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    // A merchant's catch-all webhook does not get the notification.
    given_webhook(&*store, "acme", json!({"events": ["*"]})).await;
    let IngestOutcome::Stored { deliveries, .. } = notify(
        &*store,
        "https://ops.example.com/a",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        t(1),
    )
    .await
    else {
        panic!("stored")
    };
    assert_eq!(deliveries.len(), 1);
    let id = shophook_store::notify_webhook_id("acme");
    let d = delivery(&*store, "acme", &deliveries[0]).await;
    assert_eq!(d.webhook_id, id);
    assert_eq!(d.event_type, "webhook.disabled");
    assert_eq!(d.status, "pending");
    let hook = store.webhook("acme", &id).await.unwrap().expect("created");
    assert_eq!(hook.config.url, "https://ops.example.com/a");
    assert_eq!(hook.config.events, ["webhook.disabled"]);
    assert_eq!(hook.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

    // notify_url changed: the same webhook (same secret) follows it.
    let IngestOutcome::Stored { deliveries, .. } =
        notify(&*store, "https://ops.example.com/b", "whsec_other", t(2)).await
    else {
        panic!("stored")
    };
    let hook = store.webhook("acme", &id).await.unwrap().unwrap();
    assert_eq!(hook.config.url, "https://ops.example.com/b");
    assert_eq!(
        hook.secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "kept"
    );
    assert_eq!(
        delivery(&*store, "acme", &deliveries[0]).await.webhook_id,
        id
    );
    assert_eq!(store.list_webhooks("acme").await.unwrap().len(), 2);
}
