//! Recording outcomes (attempts and next states) and manual retries.

use serde_json::json;
use shophook_core::plan::DeliveryStatus;
use shophook_store::StoreError;

use super::*;

pub async fn record_moves_deliveries_to_their_next_state(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    // (attempt status, next state, expected status, expected next_attempt_at, expected reason)
    let table = [
        (
            Some(Some(200)),
            NextState::Succeeded,
            "succeeded",
            None,
            None,
        ),
        (
            Some(Some(500)),
            NextState::Retry(t(30)),
            "failed",
            Some(t(30)),
            None,
        ),
        (
            Some(None),
            NextState::Retry(t(31)),
            "failed",
            Some(t(31)),
            None,
        ),
        (
            Some(Some(404)),
            NextState::Dead("gave up after 1 attempt".into()),
            "dead",
            None,
            Some("gave up after 1 attempt"),
        ),
        (
            None,
            NextState::Skipped("conditions no longer hold".into()),
            "skipped",
            None,
            Some("conditions no longer hold"),
        ),
        (
            None,
            NextState::Defer(t(120)),
            "scheduled",
            Some(t(120)),
            None,
        ),
    ];
    for (i, (response, next, status, next_at, reason)) in table.into_iter().enumerate() {
        let id = one_delivery(&*store, order_created("acme", &i.to_string(), t(0))).await;
        claim_only(&*store, &id, t(0)).await;
        let made = response.map(|status| attempt(1, t(0), status));
        record(&*store, &id, made.clone(), next.clone(), t(1)).await;
        let d = delivery(&*store, "acme", &id).await;
        let case = format!("{next:?}: {d:?}");
        assert_eq!(
            (
                d.status.as_str(),
                d.next_attempt_at,
                d.reason.as_deref(),
                d.held
            ),
            (status, next_at, reason, false),
            "{case}"
        );
        assert_eq!(d.attempts, u32::from(made.is_some()), "{case}");
        assert_eq!(
            d.last_status_code,
            made.as_ref()
                .and_then(|a| a.response.as_ref().map(|r| r.status)),
            "{case}"
        );
        assert_eq!(
            d.last_error,
            made.as_ref().and_then(|a| a.error.clone()),
            "{case}"
        );
        assert_eq!(d.updated_at, t(1), "{case}");
        let detail = store.delivery("acme", &id).await.unwrap().unwrap();
        assert_eq!(
            detail.attempts,
            made.into_iter().collect::<Vec<_>>(),
            "{case}"
        );
        match next_at {
            Some(at) => {
                let before = at - SignedDuration::from_millis(1);
                assert!(
                    claim_ids(&*store, claim("node-a", before, 100))
                        .await
                        .is_empty(),
                    "{case}: not due before {at}"
                );
                let again = claim_only(&*store, &id, at).await;
                assert_eq!(
                    again.status,
                    DeliveryStatus::parse(status).unwrap(),
                    "{case}"
                );
                record(
                    &*store,
                    &id,
                    None,
                    NextState::Skipped("done with this case".into()),
                    at,
                )
                .await;
            }
            None => assert!(
                claim_ids(&*store, claim("node-a", t(1000), 100))
                    .await
                    .is_empty(),
                "{case}: finished"
            ),
        }
    }
}

pub async fn record_keeps_attempts_in_order(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let new = order_created("acme", "1", t(0));
    let envelope = new.envelope.clone();
    let id = one_delivery(&*store, new).await;
    let first = attempt(1, t(0), Some(500));
    let mut second = attempt(2, t(5), None);
    second.request.body = Some("custom body".into());
    let third = attempt(3, t(15), Some(200));

    claim_only(&*store, &id, t(0)).await;
    record(
        &*store,
        &id,
        Some(first.clone()),
        NextState::Retry(t(5)),
        t(0),
    )
    .await;
    assert_eq!(claim_only(&*store, &id, t(5)).await.attempts, 1);
    record(
        &*store,
        &id,
        Some(second.clone()),
        NextState::Retry(t(15)),
        t(5),
    )
    .await;
    let d = delivery(&*store, "acme", &id).await;
    assert_eq!(
        (d.attempts, d.last_status_code, d.last_error.as_deref()),
        (2, None, Some("connection refused"))
    );
    assert_eq!(claim_only(&*store, &id, t(15)).await.attempts, 2);
    record(
        &*store,
        &id,
        Some(third.clone()),
        NextState::Succeeded,
        t(15),
    )
    .await;

    let detail = store
        .delivery("acme", &id)
        .await
        .unwrap()
        .expect("the delivery exists");
    assert_eq!(
        detail.attempts,
        [first, second, third],
        "every attempt, oldest first, as recorded"
    );
    assert_eq!(detail.envelope, envelope);
    let d = detail.delivery;
    assert_eq!(
        (
            d.status.as_str(),
            d.attempts,
            d.last_status_code,
            d.last_error
        ),
        ("succeeded", 3, Some(200), None)
    );
    assert!(
        store.delivery("globex", &id).await.unwrap().is_none(),
        "not visible from another account"
    );
}

pub async fn record_retry_while_paused_holds_the_delivery(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let retried = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let deferred = one_delivery(&*store, order_created("acme", "2", t(0))).await;
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(0), 100)).await.len(),
        2
    );
    // Paused while both are in flight.
    set_status(&*store, &hook, WebhookStatus::Paused, false, t(1)).await;
    record(
        &*store,
        &retried,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(5)),
        t(1),
    )
    .await;
    record(&*store, &deferred, None, NextState::Defer(t(6)), t(1)).await;
    for id in [&retried, &deferred] {
        let d = delivery(&*store, "acme", id).await;
        assert_eq!(
            (d.status.as_str(), d.held, d.next_attempt_at),
            ("scheduled", true, None),
            "held: {d:?}"
        );
    }
    assert!(
        claim_ids(&*store, claim("node-a", t(10), 100))
            .await
            .is_empty(),
        "held deliveries wait for the resume"
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);

    set_status(&*store, &hook, WebhookStatus::Active, false, t(20)).await;
    let released = store.claim_due(claim("node-a", t(20), 100)).await.unwrap();
    let ids: Vec<&str> = released.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [retried.as_str(), deferred.as_str()],
        "released in due order"
    );
    assert_eq!(released[0].attempts, 1);
}

/// A lease ran out mid-send and the delivery was claimed again — by another node,
/// or by the same one — and finished: the first claim's late outcome is kept in the
/// history but does not overwrite the newer state.
pub async fn a_late_outcome_of_an_expired_claim_keeps_the_newer_state(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    for second_node in ["node-b", "node-a"] {
        let id = one_delivery(&*store, order_created("acme", second_node, t(0))).await;
        let first = claim_only(&*store, &id, t(0)).await; // node-a, lease t(1)
        let mut again = claim("node-a", t(2), 100);
        again.node = second_node.to_string();
        let second = store.claim_due(again).await.expect("claiming");
        assert_eq!(second.len(), 1, "due again after the lease");
        let update = |node: &str, lease_until, next, status| DeliveryUpdate {
            delivery_id: id.clone(),
            attempt: Some(attempt(1, t(2), Some(status))),
            next,
            now: t(3),
            claim: Some(shophook_store::Lease {
                node: node.to_string(),
                until: lease_until,
            }),
        };
        store
            .record(vec![update(
                second_node,
                second[0].lease_until,
                NextState::Succeeded,
                200,
            )])
            .await
            .expect("the current claim records");
        store
            .record(vec![update(
                "node-a",
                first.lease_until,
                NextState::Retry(t(30)),
                503,
            )])
            .await
            .expect("a late outcome is not an error");
        let d = delivery(&*store, "acme", &id).await;
        assert_eq!(d.status, "succeeded", "claimed again by {second_node}");
        assert_eq!(d.attempts, 1);
        assert_eq!(d.last_status_code, Some(200));
        let detail = store.delivery("acme", &id).await.unwrap().unwrap();
        assert_eq!(detail.attempts.len(), 2, "both requests are in the history");
    }
}

pub async fn record_of_a_missing_delivery_is_not_found(store: Backend) {
    let update = DeliveryUpdate {
        delivery_id: "dlv_missing".into(),
        attempt: None,
        next: NextState::Succeeded,
        now: t(0),
        claim: None,
    };
    let missing = store.record(vec![update]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn retry_delivery_makes_a_finished_delivery_due_now(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    claim_only(&*store, &id, t(0)).await;
    let busy = store.retry_delivery("acme", &id, t(0)).await;
    assert!(
        matches!(busy, Err(StoreError::Conflict(_))),
        "a claimed delivery is being sent: {busy:?}"
    );
    record(
        &*store,
        &id,
        Some(attempt(1, t(0), Some(410))),
        NextState::Dead("410 Gone".into()),
        t(0),
    )
    .await;

    assert_eq!(
        store.retry_delivery("globex", &id, t(5)).await.unwrap(),
        None,
        "not from another account"
    );
    assert_eq!(
        store
            .retry_delivery("acme", "dlv_missing", t(5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        delivery(&*store, "acme", &id).await.status,
        "dead",
        "unchanged so far"
    );

    let d = store
        .retry_delivery("acme", &id, t(5))
        .await
        .unwrap()
        .expect("the delivery exists");
    assert_eq!(
        (
            d.status.as_str(),
            d.held,
            d.next_attempt_at,
            d.reason.as_deref()
        ),
        ("pending", false, Some(t(5)), None),
        "{d:?}"
    );
    assert_eq!((d.attempts, d.updated_at), (1, t(5)), "attempts are kept");
    assert_eq!(
        delivery(&*store, "acme", &id).await,
        d,
        "the answer is what is stored"
    );
    let c = claim_only(&*store, &id, t(5)).await;
    assert_eq!((c.status, c.attempts), (DeliveryStatus::Pending, 1));
    record(
        &*store,
        &id,
        Some(attempt(2, t(5), Some(200))),
        NextState::Succeeded,
        t(5),
    )
    .await;

    // A retry of a paused webhook's delivery waits for the resume.
    set_status(&*store, &hook, WebhookStatus::Paused, false, t(6)).await;
    let d = store
        .retry_delivery("acme", &id, t(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.status.as_str(), d.held), ("scheduled", true), "{d:?}");
    assert!(
        claim_ids(&*store, claim("node-a", t(7), 100))
            .await
            .is_empty()
    );
    set_status(&*store, &hook, WebhookStatus::Active, false, t(8)).await;
    claim_only(&*store, &id, t(8)).await;
    record(&*store, &id, None, NextState::Skipped("done".into()), t(8)).await;

    // A delivery of a deleted webhook cannot be retried: it has nowhere to go.
    assert!(store.delete_webhook("acme", &hook.id, t(9)).await.unwrap());
    let orphan = store.retry_delivery("acme", &id, t(10)).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");
    let d = delivery(&*store, "acme", &id).await;
    assert_eq!(
        (d.status.as_str(), d.held),
        ("skipped", false),
        "unchanged: {d:?}"
    );
}
