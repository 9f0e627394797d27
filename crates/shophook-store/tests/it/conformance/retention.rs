//! Retention: purging old finished deliveries, their attempts, orphaned events
//! and old idempotency keys.

use serde_json::json;

use super::*;

pub async fn purge_deletes_old_finished_deliveries_in_batches(store: Backend) {
    purge_scenario(store).await;
}

/// Old and new, finished and waiting deliveries, purged with a cutoff between them
/// in batches of 2. Returns how many attempts the kept deliveries have.
pub async fn purge_scenario(store: Backend) -> u32 {
    let store = &*store;
    given_account(store, "acme", "Acme").await;
    given_webhook(store, "acme", json!({"events": ["order.created"]})).await;
    let keyed = |order: &str, at, key: &str| NewEvent {
        idempotency_key: Some(key.into()),
        ..order_created("acme", order, at)
    };
    let shipped =
        |order: &str, at| order_event("acme", EventType::OrderShipped, json!({"id": order}), at);
    let cutoff = t(10);

    let old_ok_event = keyed("1", t(0), "old-key");
    let old_ok_event_id = old_ok_event.event.id.clone();
    let old_ok = one_delivery(store, old_ok_event).await;
    claim_only(store, &old_ok, t(0)).await;
    record(
        store,
        &old_ok,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(1)),
        t(0),
    )
    .await;
    claim_only(store, &old_ok, t(1)).await;
    record(
        store,
        &old_ok,
        Some(attempt(2, t(1), Some(200))),
        NextState::Succeeded,
        t(1),
    )
    .await;
    let old_dead = one_delivery(store, order_created("acme", "2", t(0))).await;
    claim_only(store, &old_dead, t(2)).await;
    record(
        store,
        &old_dead,
        Some(attempt(1, t(2), Some(410))),
        NextState::Dead("410 Gone".into()),
        t(2),
    )
    .await;
    let old_skipped = one_delivery(store, order_created("acme", "3", t(0))).await;
    claim_only(store, &old_skipped, t(3)).await;
    record(
        store,
        &old_skipped,
        None,
        NextState::Skipped("conditions no longer hold".into()),
        t(3),
    )
    .await;
    let waiting_event = order_created("acme", "4", t(0));
    let waiting_event_id = waiting_event.event.id.clone();
    let old_waiting = one_delivery(store, waiting_event).await;
    claim_only(store, &old_waiting, t(4)).await;
    record(
        store,
        &old_waiting,
        Some(attempt(1, t(4), None)),
        NextState::Retry(t(100)),
        t(4),
    )
    .await;
    let new_event = keyed("5", t(20), "new-key");
    let new_event_id = new_event.event.id.clone();
    let new_ok = one_delivery(store, new_event).await;
    claim_only(store, &new_ok, t(20)).await;
    record(
        store,
        &new_ok,
        Some(attempt(1, t(20), Some(200))),
        NextState::Succeeded,
        t(20),
    )
    .await;
    let old_quiet = shipped("6", t(0));
    let old_quiet_id = old_quiet.event.id.clone();
    assert!(deliveries_of(store, old_quiet).await.is_empty());
    let new_quiet = shipped("7", t(20));
    let new_quiet_id = new_quiet.event.id.clone();
    assert!(deliveries_of(store, new_quiet).await.is_empty());

    assert_eq!(
        store.purge(t(1), 100).await.unwrap(),
        0,
        "nothing finished before t(1)"
    );
    assert_eq!(store.purge(cutoff, 2).await.unwrap(), 2, "a full batch");
    let gone = [&old_ok, &old_dead, &old_skipped];
    let mut left = 0;
    for id in gone {
        left += usize::from(store.delivery("acme", id).await.unwrap().is_some());
    }
    assert_eq!(
        left, 1,
        "one old finished delivery is left for the next batch"
    );
    assert_eq!(store.purge(cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.purge(cutoff, 2).await.unwrap(), 0, "done");

    for id in gone {
        assert!(
            store.delivery("acme", id).await.unwrap().is_none(),
            "{id} is purged"
        );
    }
    let waiting = store
        .delivery("acme", &old_waiting)
        .await
        .unwrap()
        .expect("unfinished deliveries are kept, however old");
    assert_eq!(
        (waiting.delivery.status.as_str(), waiting.attempts.len()),
        ("failed", 1)
    );
    let new = store
        .delivery("acme", &new_ok)
        .await
        .unwrap()
        .expect("recent deliveries are kept");
    assert_eq!(new.attempts.len(), 1, "with their attempts");
    assert_eq!(all_deliveries(store, "acme").await.len(), 2);

    assert!(
        store
            .event("acme", &old_ok_event_id)
            .await
            .unwrap()
            .is_none(),
        "an old event without deliveries is purged"
    );
    assert!(
        store.event("acme", &old_quiet_id).await.unwrap().is_none(),
        "an old event that reached nothing is purged"
    );
    assert!(
        store
            .event("acme", &waiting_event_id)
            .await
            .unwrap()
            .is_some(),
        "an event with a kept delivery is kept"
    );
    assert!(store.event("acme", &new_event_id).await.unwrap().is_some());
    assert!(
        store.event("acme", &new_quiet_id).await.unwrap().is_some(),
        "a recent event is kept"
    );

    let again = keyed("1", t(30), "old-key");
    let again_id = again.event.id.clone();
    assert!(
        matches!(ingest(store, again).await, IngestOutcome::Stored { event_id, .. } if event_id == again_id),
        "old idempotency keys are purged"
    );
    let repeat = ingest(store, keyed("5", t(30), "new-key")).await;
    assert_eq!(
        repeat,
        IngestOutcome::Replayed {
            event_id: new_event_id,
            deliveries: 1
        },
        "recent keys are kept"
    );
    2
}
