//! The work signal: workers are woken after a commit that stored due work.

use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use super::*;

/// Waits for the work signal, or fails after a generous timeout.
async fn woken(signal: &Notify, after: &str) {
    tokio::time::timeout(Duration::from_secs(10), signal.notified())
        .await
        .unwrap_or_else(|_| panic!("workers are woken after {after}"));
}

pub async fn work_signal_wakes_a_waiting_worker_after_ingest(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let signal = store.work_signal();
    // A worker as the server runs one: wait for the signal, then claim.
    let worker = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                signal.notified().await;
                let claimed = store.claim_due(claim("node-a", t(0), 100)).await.unwrap();
                if !claimed.is_empty() {
                    return claimed.into_iter().map(|c| c.id).collect::<Vec<_>>();
                }
            }
        })
    };
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let claimed = tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker is woken")
        .unwrap();
    assert_eq!(claimed, [id]);
}

pub async fn work_signal_after_resume_release_and_retry(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let signal = store.work_signal();
    set_status(&*store, &hook, WebhookStatus::Paused, false, t(0)).await;
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;

    set_status(&*store, &hook, WebhookStatus::Active, false, t(1)).await;
    woken(&signal, "a resume released held deliveries").await;
    claim_only(&*store, &id, t(1)).await;
    assert_eq!(store.release_claims(None, t(1)).await.unwrap(), 1);
    woken(&signal, "claims were released").await;
    claim_only(&*store, &id, t(1)).await;
    record(
        &*store,
        &id,
        Some(attempt(1, t(1), Some(500))),
        NextState::Retry(t(2)),
        t(1),
    )
    .await;
    woken(&signal, "a retry was scheduled").await;
    claim_only(&*store, &id, t(2)).await;
    record(
        &*store,
        &id,
        Some(attempt(2, t(2), Some(410))),
        NextState::Dead("410 Gone".into()),
        t(2),
    )
    .await;
    store
        .retry_delivery("acme", &id, t(3))
        .await
        .unwrap()
        .expect("the delivery exists");
    woken(&signal, "a manual retry").await;
    claim_only(&*store, &id, t(3)).await;
}
