//! What the store tells metrics: the queue at a moment, the events it committed,
//! and whether a claimed delivery had reached its receiver before.

use serde_json::json;
use shophook_core::derive::ResourceKind;
use shophook_core::webhook::WebhookStatus;
use shophook_store::{NextState, QueueStats, SnapshotWrite};

use super::*;

fn stats(due: u64, scheduled: u64, oldest_due_at: Option<Timestamp>) -> QueueStats {
    QueueStats {
        due,
        scheduled,
        oldest_due_at,
    }
}

pub async fn queue_stats_count_due_and_scheduled_deliveries(store: Backend) {
    assert_eq!(
        store.queue_stats(t(0)).await.unwrap(),
        stats(0, 0, None),
        "an empty store"
    );
    given_account(&*store, "acme", "Acme").await;
    let plain = given_webhook(&*store, "acme", json!({"events": ["order.created"]})).await;
    given_webhook(
        &*store,
        "acme",
        json!({"events": ["order.created"], "delay_minutes": 30}),
    )
    .await;
    let paused = given_webhook(&*store, "acme", json!({"events": ["order.created"]})).await;
    deliveries_of(&*store, order_created("acme", "1", t(0))).await;
    assert_eq!(
        store.queue_stats(t(0)).await.unwrap(),
        stats(2, 1, Some(t(0))),
        "two due at once, one delayed by half an hour"
    );
    assert_eq!(
        store.queue_stats(t(10)).await.unwrap(),
        stats(2, 1, Some(t(0))),
        "the oldest due time stays while nobody sends"
    );
    set_status(&*store, &paused, WebhookStatus::Paused, false, t(10)).await;
    assert_eq!(
        store.queue_stats(t(10)).await.unwrap(),
        stats(1, 1, Some(t(0))),
        "a paused webhook's deliveries are held, not due"
    );

    let claimed = claim_ids(&*store, claim("node-a", t(10), 100)).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        store.queue_stats(t(10)).await.unwrap(),
        stats(0, 2, None),
        "a delivery being sent is due again only at its lease end"
    );
    record(
        &*store,
        &claimed[0],
        Some(attempt(1, t(10), Some(500))),
        NextState::Retry(t(20)),
        t(10),
    )
    .await;
    assert_eq!(
        store.queue_stats(t(15)).await.unwrap(),
        stats(0, 2, None),
        "a retry waits out its backoff"
    );
    assert_eq!(
        store.queue_stats(t(25)).await.unwrap(),
        stats(1, 1, Some(t(20))),
        "the retry is due from its retry time"
    );
    claim_only(&*store, &claimed[0], t(25)).await;
    record(
        &*store,
        &claimed[0],
        Some(attempt(2, t(25), Some(200))),
        NextState::Succeeded,
        t(25),
    )
    .await;
    assert_eq!(
        store.queue_stats(t(40)).await.unwrap(),
        stats(1, 0, Some(t(30))),
        "finished deliveries are gone; the delayed one is due"
    );
    assert_eq!(plain.account_id, "acme");

    // An `ordered` delivery behind an unfinished one has no due time yet.
    given_account(&*store, "globex", "Globex").await;
    given_webhook(&*store, "globex", json!({"ordered": true})).await;
    one_delivery(&*store, order_created("globex", "7", t(50))).await;
    one_delivery(&*store, order_created("globex", "7", t(51))).await;
    assert_eq!(
        store.queue_stats(t(60)).await.unwrap(),
        stats(2, 0, Some(t(30))),
        "the second delivery of an ordered subject waits uncounted behind the first"
    );
}

pub async fn events_stored_counts_committed_events(store: Backend) {
    assert_eq!(store.events_stored(), 0, "a fresh store handle");
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let out = store
        .ingest(vec![
            order_created("acme", "1", t(0)),
            order_created("acme", "2", t(0)),
            order_created("nobody", "3", t(0)),
        ])
        .await
        .unwrap();
    assert!(matches!(out[2], IngestOutcome::NoAccount), "{out:?}");
    assert_eq!(store.events_stored(), 2, "stored events, not refused ones");

    let mut keyed = order_created("acme", "4", t(1));
    keyed.idempotency_key = Some("k-4".into());
    ingest(&*store, keyed.clone()).await;
    assert_eq!(store.events_stored(), 3);
    let mut again = order_created("acme", "4", t(2));
    again.idempotency_key = Some("k-4".into());
    assert!(matches!(
        ingest(&*store, again).await,
        IngestOutcome::Replayed { .. }
    ));
    assert_eq!(store.events_stored(), 3, "a repeated key stores nothing");

    let order = |now| SnapshotWrite {
        account: "acme".into(),
        kind: ResourceKind::Order,
        id: "10".into(),
        doc: Some(json!({"id": "10", "status": "new", "paid": true})),
        version: None,
        now,
    };
    let derived = store.put_snapshot(order(t(3))).await.unwrap();
    assert_eq!(derived.events.len(), 2, "order.created and order.paid");
    assert_eq!(store.events_stored(), 5);
    let same = store.put_snapshot(order(t(4))).await.unwrap();
    assert!(same.events.is_empty());
    assert_eq!(
        store.events_stored(),
        5,
        "the same snapshot derives nothing"
    );

    store
        .put_snapshot(SnapshotWrite {
            account: "acme".into(),
            kind: ResourceKind::Checkout,
            id: "c1".into(),
            doc: Some(json!({"id": "c1", "status": "open", "created_at": t(0).to_string()})),
            version: None,
            now: t(5),
        })
        .await
        .unwrap();
    assert_eq!(store.events_stored(), 6, "checkout.created");
    // The abandoned-checkout timer fires inside a claim and stores an event too.
    store.claim_due(claim("node-a", t(120), 100)).await.unwrap();
    assert_eq!(store.events_stored(), 7, "checkout.abandoned");
}

pub async fn a_claim_says_whether_the_last_attempt_succeeded(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let first = claim_only(&*store, &id, t(0)).await;
    assert!(!first.succeeded_before, "never sent");
    record(
        &*store,
        &id,
        Some(attempt(1, t(0), Some(503))),
        NextState::Retry(t(1)),
        t(0),
    )
    .await;
    let second = claim_only(&*store, &id, t(1)).await;
    assert!(!second.succeeded_before, "its attempt failed");
    record(
        &*store,
        &id,
        Some(attempt(2, t(1), Some(200))),
        NextState::Succeeded,
        t(1),
    )
    .await;
    store.retry_delivery("acme", &id, t(2)).await.unwrap();
    let replayed = claim_only(&*store, &id, t(2)).await;
    assert!(
        replayed.succeeded_before,
        "retried by hand after it had succeeded"
    );
    assert_eq!(replayed.attempts, 2);
}

/// A webhook's stats as (id, succeeded, failed, last status and code).
type Seen = (String, u64, u64, Option<(String, Option<u16>)>);

/// Each webhook's stats, by id (webhooks made in one millisecond have no other
/// order).
async fn webhook_stats_of(store: &dyn Store, account: &str, since: Timestamp) -> Vec<Seen> {
    store
        .webhook_stats(account, since)
        .await
        .expect("reading webhook stats")
        .into_iter()
        .map(|s| {
            (
                s.webhook_id,
                s.succeeded,
                s.failed,
                s.last.map(|l| (l.status.to_string(), l.code)),
            )
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub async fn webhook_stats_count_attempts_per_hour_and_name_the_last(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let busy = given_webhook(&*store, "acme", json!({"events": ["order.created"]})).await;
    let quiet = given_webhook(&*store, "acme", json!({"events": ["order.paid"]})).await;
    let theirs = given_webhook(&*store, "globex", json!({"events": ["order.created"]})).await;
    assert_eq!(
        webhook_stats_of(&*store, "acme", t(0)).await,
        sorted(&[
            (busy.id.clone(), 0, 0, None),
            (quiet.id.clone(), 0, 0, None)
        ]),
        "every webhook of the account, none attempted yet"
    );

    // Day one: a failure, then its retry succeeds; a second delivery dies. One
    // record batch holds two outcomes, as the worker's recorder groups them.
    let day = 24 * 60;
    let first = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let second = one_delivery(&*store, order_created("acme", "2", t(0))).await;
    one_delivery(&*store, order_created("globex", "1", t(0))).await;
    record(
        &*store,
        &first,
        Some(attempt(1, t(1), Some(503))),
        NextState::Retry(t(5)),
        t(1),
    )
    .await;
    let update = |id: &str, a, next, now| DeliveryUpdate {
        delivery_id: id.to_string(),
        attempt: Some(a),
        next,
        now,
        claim: None,
    };
    store
        .record(vec![
            update(
                &first,
                attempt(2, t(6), Some(200)),
                NextState::Succeeded,
                t(6),
            ),
            update(
                &second,
                attempt(1, t(7), None),
                NextState::Dead("gave up".into()),
                t(7),
            ),
        ])
        .await
        .expect("recording a batch");
    // An outcome without an attempt (skipped) is no attempt.
    let third = one_delivery(&*store, order_created("acme", "3", t(8))).await;
    record(
        &*store,
        &third,
        None,
        NextState::Skipped("conditions no longer hold".into()),
        t(8),
    )
    .await;
    assert_eq!(
        webhook_stats_of(&*store, "acme", t(0)).await,
        sorted(&[
            (busy.id.clone(), 1, 2, Some(("dead".into(), None))),
            (quiet.id.clone(), 0, 0, None)
        ])
    );
    assert_eq!(
        webhook_stats_of(&*store, "globex", t(0)).await,
        [(theirs.id.clone(), 0, 0, None)],
        "another account's attempts are its own"
    );

    // A day later one more success: the window counts only the last 24 hours;
    // the last attempt is the newest whatever the window.
    let later = one_delivery(&*store, order_created("acme", "4", t(day + 60))).await;
    record(
        &*store,
        &later,
        Some(attempt(1, t(day + 61), Some(204))),
        NextState::Succeeded,
        t(day + 61),
    )
    .await;
    assert_eq!(
        webhook_stats_of(&*store, "acme", t(day + 61 - day)).await,
        sorted(&[
            (busy.id.clone(), 1, 0, Some(("succeeded".into(), Some(204)))),
            (quiet.id.clone(), 0, 0, None)
        ]),
        "since an hour after the first attempts"
    );
    let all = webhook_stats_of(&*store, "acme", t(0)).await;
    let of_busy = |all: &[Seen]| {
        all.iter()
            .find(|s| s.0 == busy.id)
            .cloned()
            .expect("the busy webhook")
    };
    assert_eq!(of_busy(&all).1, 2, "both successes since the start");
    let hours: Vec<_> = store
        .webhook_hours("acme", &busy.id, t(0))
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.hour, h.succeeded, h.failed))
        .collect();
    assert_eq!(
        hours,
        [(t(0), 1, 2), (t(day + 60), 1, 0)],
        "one row per hour with attempts, oldest first"
    );
    assert!(
        store
            .webhook_hours("globex", &busy.id, t(0))
            .await
            .unwrap()
            .is_empty(),
        "another account sees nothing of it"
    );

    // Retention purges the tallies with the history; a deleted webhook's
    // outcomes recorded late are not tallied.
    store.purge(t(day), 1000).await.expect("purging");
    assert_eq!(
        of_busy(&webhook_stats_of(&*store, "acme", t(0)).await),
        (busy.id.clone(), 1, 0, Some(("succeeded".into(), Some(204))))
    );
    let orphan = one_delivery(&*store, order_created("acme", "5", t(day + 70))).await;
    assert!(
        store
            .delete_webhook("acme", &busy.id, t(day + 71))
            .await
            .unwrap()
    );
    record(
        &*store,
        &orphan,
        Some(attempt(1, t(day + 72), Some(200))),
        NextState::Succeeded,
        t(day + 72),
    )
    .await;
    assert_eq!(
        webhook_stats_of(&*store, "acme", t(0)).await,
        [(quiet.id.clone(), 0, 0, None)]
    );
}
