//! Webhooks: CRUD, the plan limit, pause/resume and deletion.

use serde_json::json;
use shophook_core::webhook::WebhookInput;
use shophook_store::StoreError;

use super::*;

pub async fn webhooks_crud(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    // Created out of id order: the list is by creation time.
    let second = webhook(
        "acme",
        json!({"name": "Second", "events": ["order.paid"]}),
        t(1),
    );
    let first = webhook(
        "acme",
        json!({"name": "First", "conditions": [{"field": "order.status", "op": "in", "value": ["new"]}]}),
        t(0),
    );
    assert_eq!(
        store.create_webhook(second.clone(), 10).await.unwrap(),
        second
    );
    assert_eq!(
        store.create_webhook(first.clone(), 10).await.unwrap(),
        first
    );

    assert_eq!(
        store.list_webhooks("acme").await.unwrap(),
        [first.clone(), second.clone()],
        "oldest first, config intact"
    );
    assert_eq!(
        store.webhook("acme", &first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.webhook("globex", &first.id).await.unwrap(),
        None,
        "not visible from another account"
    );
    assert_eq!(store.webhook("acme", "wh_missing").await.unwrap(), None);
    assert!(store.list_webhooks("globex").await.unwrap().is_empty());

    // Update replaces config and secrets, never the status.
    let patch: WebhookInput = serde_json::from_value(
        json!({"name": "Renamed", "events": ["order.shipped"], "delay_minutes": 5}),
    )
    .unwrap();
    let mut changed = first.clone();
    changed.config = patch.apply_to(first.config.clone()).unwrap();
    changed.previous_secret = Some(first.secret.clone());
    changed.previous_secret_until = Some(t(60));
    changed.secret = "whsec_rotated".into();
    changed.updated_at = t(2);
    changed.status = WebhookStatus::Paused;
    let updated = store.update_webhook(changed.clone()).await.unwrap();
    let expected = StoredWebhook {
        status: WebhookStatus::Active,
        ..changed.clone()
    };
    assert_eq!(updated, expected, "the status is not changed by an update");
    assert_eq!(
        store.webhook("acme", &first.id).await.unwrap(),
        Some(expected.clone())
    );

    let foreign = store
        .update_webhook(StoredWebhook {
            account_id: "globex".into(),
            ..changed.clone()
        })
        .await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound(_))),
        "updating another account's webhook: {foreign:?}"
    );
    let missing = store
        .update_webhook(StoredWebhook {
            id: "wh_missing".into(),
            ..changed.clone()
        })
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "updating a missing webhook: {missing:?}"
    );
    assert_eq!(
        store.webhook("acme", &first.id).await.unwrap(),
        Some(expected),
        "failed updates changed nothing"
    );

    assert!(
        !store
            .delete_webhook("globex", &first.id, t(3))
            .await
            .unwrap(),
        "not deletable from another account"
    );
    assert!(store.webhook("acme", &first.id).await.unwrap().is_some());
    assert!(store.delete_webhook("acme", &first.id, t(3)).await.unwrap());
    assert!(
        !store.delete_webhook("acme", &first.id, t(3)).await.unwrap(),
        "deleting twice"
    );
    assert_eq!(store.webhook("acme", &first.id).await.unwrap(), None);
    assert_eq!(store.list_webhooks("acme").await.unwrap(), [second]);
}

pub async fn webhooks_respect_max_webhooks(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let one = store
        .create_webhook(webhook("acme", json!({}), t(0)), 2)
        .await
        .unwrap();
    store
        .create_webhook(webhook("acme", json!({}), t(1)), 2)
        .await
        .unwrap();
    let third = store
        .create_webhook(webhook("acme", json!({}), t(2)), 2)
        .await;
    assert!(
        matches!(third, Err(StoreError::LimitReached(_))),
        "a third webhook with max 2: {third:?}"
    );
    assert_eq!(
        store.list_webhooks("acme").await.unwrap().len(),
        2,
        "the refused webhook is not stored"
    );
    // The limit counts per account.
    store
        .create_webhook(webhook("globex", json!({}), t(2)), 2)
        .await
        .unwrap();
    // Deleting one makes room again.
    assert!(store.delete_webhook("acme", &one.id, t(3)).await.unwrap());
    store
        .create_webhook(webhook("acme", json!({}), t(4)), 2)
        .await
        .unwrap();
    assert_eq!(store.list_webhooks("acme").await.unwrap().len(), 2);
    let zero = store
        .create_webhook(webhook("globex", json!({}), t(5)), 0)
        .await;
    assert!(
        matches!(zero, Err(StoreError::LimitReached(_))),
        "max 0 allows none: {zero:?}"
    );
}

pub async fn pausing_holds_and_resuming_releases_in_order(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let first = one_delivery(&*store, order_created("acme", "1", t(0))).await;

    let paused = set_status(&*store, &hook, WebhookStatus::Paused, false, t(1)).await;
    assert_eq!(paused.status, WebhookStatus::Paused);
    assert_eq!(paused.updated_at, t(1));
    assert_eq!(
        store
            .webhook("acme", &hook.id)
            .await
            .unwrap()
            .map(|h| h.status),
        Some(WebhookStatus::Paused)
    );
    let held = delivery(&*store, "acme", &first).await;
    assert_eq!(
        (held.status.as_str(), held.held, held.next_attempt_at),
        ("scheduled", true, None),
        "a waiting delivery is held"
    );

    let second = one_delivery(&*store, order_created("acme", "2", t(2))).await;
    let held = delivery(&*store, "acme", &second).await;
    assert_eq!(
        (held.status.as_str(), held.held, held.next_attempt_at),
        ("scheduled", true, None),
        "a new delivery is held"
    );
    assert!(
        claim_ids(&*store, claim("node-a", t(3), 100))
            .await
            .is_empty(),
        "held deliveries are not claimed"
    );
    assert_eq!(
        store.next_due_at().await.unwrap(),
        None,
        "held deliveries are not due"
    );

    let resumed = set_status(&*store, &hook, WebhookStatus::Active, false, t(4)).await;
    assert_eq!(resumed.status, WebhookStatus::Active);
    for id in [&first, &second] {
        let d = delivery(&*store, "acme", id).await;
        assert!(!d.held, "released: {d:?}");
        assert!(
            d.next_attempt_at.is_some_and(|at| at <= t(4)),
            "due at once: {d:?}"
        );
    }
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(4), 100)).await,
        [first, second],
        "released in order"
    );
}

pub async fn resuming_with_discard_held_skips_held_deliveries(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    given_webhook(&*store, "acme", json!({})).await;
    set_status(&*store, &hook, WebhookStatus::Paused, false, t(1)).await;
    let ids = deliveries_of(&*store, order_created("acme", "1", t(2))).await;
    let (mut held, mut kept) = (Vec::new(), Vec::new());
    for id in ids {
        let d = delivery(&*store, "acme", &id).await;
        if d.webhook_id == hook.id {
            held.push(id)
        } else {
            kept.push(id)
        }
    }
    assert_eq!((held.len(), kept.len()), (1, 1));

    set_status(&*store, &hook, WebhookStatus::Active, true, t(3)).await;
    let d = delivery(&*store, "acme", &held[0]).await;
    assert_eq!(
        (d.status.as_str(), d.held, d.next_attempt_at),
        ("skipped", false, None),
        "discarded: {d:?}"
    );
    assert!(
        d.reason.as_deref().is_some_and(|r| !r.is_empty()),
        "a skipped delivery says why: {d:?}"
    );
    assert_eq!(
        delivery(&*store, "acme", &kept[0]).await.status,
        "pending",
        "another webhook's delivery is untouched"
    );
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(3), 100)).await,
        kept,
        "only the other webhook's delivery is sent"
    );
    record(
        &*store,
        &kept[0],
        Some(attempt(1, t(3), Some(200))),
        NextState::Succeeded,
        t(3),
    )
    .await;

    let fresh = deliveries_of(&*store, order_created("acme", "2", t(4))).await;
    assert_eq!(fresh.len(), 2, "new events reach the resumed webhook again");
    assert_eq!(
        sorted(&claim_ids(&*store, claim("node-a", t(4), 100)).await),
        sorted(&fresh)
    );
}

pub async fn status_change_of_a_missing_webhook_is_not_found(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let change = |account: &str, webhook: &str| StatusChange {
        account: account.into(),
        webhook: webhook.into(),
        status: WebhookStatus::Paused,
        discard_held: false,
        now: t(1),
    };
    let missing = store.set_webhook_status(change("acme", "wh_missing")).await;
    assert!(
        matches!(missing, Err(shophook_store::StoreError::NotFound(_))),
        "{missing:?}"
    );
    let foreign = store.set_webhook_status(change("globex", &hook.id)).await;
    assert!(
        matches!(foreign, Err(shophook_store::StoreError::NotFound(_))),
        "{foreign:?}"
    );
    assert_eq!(
        store
            .webhook("acme", &hook.id)
            .await
            .unwrap()
            .map(|h| h.status),
        Some(WebhookStatus::Active)
    );
}

pub async fn deleting_a_webhook_skips_its_unfinished_deliveries(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let doomed = given_webhook(&*store, "acme", json!({"events": ["order.created"]})).await;
    given_webhook(&*store, "acme", json!({"events": ["order.paid"]})).await;
    let paid = |id: &str, at| order_event("acme", EventType::OrderPaid, json!({"id": id}), at);
    let succeeded = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    claim_only(&*store, &succeeded, t(0)).await;
    record(
        &*store,
        &succeeded,
        Some(attempt(1, t(0), Some(200))),
        NextState::Succeeded,
        t(0),
    )
    .await;
    let failed = one_delivery(&*store, order_created("acme", "2", t(1))).await;
    claim_only(&*store, &failed, t(1)).await;
    record(
        &*store,
        &failed,
        Some(attempt(1, t(1), Some(503))),
        NextState::Retry(t(30)),
        t(1),
    )
    .await;
    let delayed = one_delivery(&*store, order_created("acme", "3", t(2))).await;
    claim_only(&*store, &delayed, t(2)).await;
    record(&*store, &delayed, None, NextState::Defer(t(40)), t(2)).await;
    let pending = one_delivery(&*store, order_created("acme", "4", t(3))).await;
    let others = one_delivery(&*store, paid("5", t(3))).await;

    assert!(
        store
            .delete_webhook("acme", &doomed.id, t(4))
            .await
            .unwrap()
    );

    for id in [&failed, &delayed, &pending] {
        let d = delivery(&*store, "acme", id).await;
        assert_eq!(
            (d.status.as_str(), d.next_attempt_at, d.held),
            ("skipped", None, false),
            "{d:?}"
        );
        assert!(
            d.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "a skipped delivery says why: {d:?}"
        );
    }
    let done = delivery(&*store, "acme", &succeeded).await;
    assert_eq!(
        (done.status.as_str(), done.reason),
        ("succeeded", None),
        "finished deliveries keep their state"
    );
    assert_eq!(
        delivery(&*store, "acme", &others).await.status,
        "pending",
        "another webhook's delivery is untouched"
    );
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(60), 100)).await,
        [others]
    );
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(t(61)),
        "only the other claim's lease is left"
    );
}

pub async fn deleting_a_webhook_mid_send_does_not_strand_the_delivery(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let retried = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let sent = one_delivery(&*store, order_created("acme", "2", t(0))).await;
    let claimed = claim_ids(&*store, claim("node-a", t(0), 100)).await;
    assert_eq!(sorted(&claimed), sorted(&[retried.clone(), sent.clone()]));

    assert!(store.delete_webhook("acme", &hook.id, t(1)).await.unwrap());
    // The requests in flight end: one failed, one went through.
    record(
        &*store,
        &retried,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(10)),
        t(1),
    )
    .await;
    record(
        &*store,
        &sent,
        Some(attempt(1, t(0), Some(200))),
        NextState::Succeeded,
        t(1),
    )
    .await;

    let d = delivery(&*store, "acme", &retried).await;
    assert_eq!(
        (d.status.as_str(), d.held, d.next_attempt_at),
        ("skipped", false, None),
        "it is not held for a webhook that is gone: {d:?}"
    );
    assert!(
        d.reason.as_deref().is_some_and(|r| !r.is_empty()),
        "a skipped delivery says why: {d:?}"
    );
    assert_eq!(d.attempts, 1, "its attempt is kept");
    assert_eq!(
        delivery(&*store, "acme", &sent).await.status,
        "succeeded",
        "what was sent says so"
    );
    assert!(
        claim_ids(&*store, claim("node-a", t(20), 100))
            .await
            .is_empty(),
        "nothing of the deleted webhook is sent"
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}
