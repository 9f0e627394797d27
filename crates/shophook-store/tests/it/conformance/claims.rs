//! Claiming due work: order, limits, skipped webhooks, leases, concurrent
//! claimers, giving claims back, and the next due time.

use std::collections::HashSet;

use serde_json::json;
use shophook_core::plan::DeliveryStatus;

use super::*;

pub async fn claim_returns_due_deliveries_with_webhook_and_event(store: Backend) {
    given_account(&*store, "acme", "Acme Shop").await;
    let hook = given_webhook(
        &*store,
        "acme",
        json!({"name": "Warehouse", "headers": {"X-Api-Key": "k"}}),
    )
    .await;
    let new = order_created("acme", "1001", t(0));
    let (event, envelope) = (new.event.clone(), new.envelope.clone());
    let id = one_delivery(&*store, new).await;
    assert!(
        claim_ids(
            &*store,
            claim("node-a", t(0) - SignedDuration::from_secs(1), 100)
        )
        .await
        .is_empty(),
        "not due before its time"
    );

    let c = claim_only(&*store, &id, t(0)).await;
    assert_eq!(
        (c.status, c.attempts, c.account_name.as_str()),
        (DeliveryStatus::Pending, 0, "Acme Shop")
    );
    assert_eq!(*c.webhook, hook, "the webhook as stored");
    assert_eq!(c.event.event, event, "the event as ingested");
    assert_eq!(c.event.envelope, envelope);
    let d = delivery(&*store, "acme", &id).await;
    assert_eq!(
        (d.status.as_str(), d.next_attempt_at),
        ("pending", None),
        "a claimed delivery shows no planned time: {d:?}"
    );

    // The claim sees the webhook as it is now, not as it was at ingest.
    record(
        &*store,
        &id,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(5)),
        t(0),
    )
    .await;
    let mut changed = hook.clone();
    changed.config.name = "Renamed".into();
    changed.secret = "whsec_new".into();
    changed.updated_at = t(1);
    store.update_webhook(changed.clone()).await.unwrap();
    let c = claim_only(&*store, &id, t(5)).await;
    assert_eq!((c.status, c.attempts), (DeliveryStatus::Failed, 1));
    // …including that its attempts have been failing since the first one.
    changed.failing_since = Some(t(0));
    assert_eq!(*c.webhook, changed);
}

pub async fn claim_respects_limit_order_and_skip_webhooks(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let one = given_webhook(&*store, "acme", json!({})).await;
    let two = given_webhook_at(&*store, "acme", json!({}), t(1)).await;
    // Ingested newest first: claims go by due time, not by insertion.
    let late = deliveries_of(&*store, order_created("acme", "3", t(2))).await;
    let middle = deliveries_of(&*store, order_created("acme", "2", t(1))).await;
    let early = deliveries_of(&*store, order_created("acme", "1", t(0))).await;

    let first = claim_ids(&*store, claim("node-a", t(5), 2)).await;
    assert_eq!(
        sorted(&first),
        sorted(&early),
        "the limit is respected, the earliest due first"
    );
    let skipping = Claim {
        skip_webhooks: vec![one.id.clone()],
        ..claim("node-a", t(5), 10)
    };
    let second = store.claim_due(skipping).await.unwrap();
    assert!(
        second.iter().all(|c| c.webhook.id == two.id),
        "skipped webhooks' deliveries are left"
    );
    let second: Vec<String> = second.into_iter().map(|c| c.id).collect();
    assert_eq!(second.len(), 2);
    let rest = claim_ids(&*store, claim("node-a", t(5), 10)).await;
    assert_eq!(rest.len(), 2);

    let mut all: Vec<String> = first.iter().chain(&second).chain(&rest).cloned().collect();
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        6,
        "no delivery is claimed twice: {all:?}"
    );
    all.sort();
    assert_eq!(
        all,
        sorted(&[late, middle, early].concat()),
        "every due delivery is claimed"
    );
    let skip_all = Claim {
        skip_webhooks: vec![one.id, two.id],
        ..claim("node-a", t(10), 10)
    };
    assert!(store.claim_due(skip_all).await.unwrap().is_empty());
    assert!(
        store
            .claim_due(claim("node-a", t(10), 0))
            .await
            .unwrap()
            .is_empty(),
        "a limit of 0 claims nothing"
    );
}

pub async fn claim_takes_each_webhook_within_its_room(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let busy = given_webhook(&*store, "acme", json!({})).await;
    let other = given_webhook_at(&*store, "acme", json!({}), t(1)).await;
    for i in 0..6 {
        deliveries_of(&*store, order_created("acme", &i.to_string(), t(i))).await;
    }
    let rooms = Claim {
        per_webhook: 3,
        busy_webhooks: vec![(busy.id.clone(), 2)],
        ..claim("node-a", t(10), 100)
    };
    let claimed = store.claim_due(rooms).await.unwrap();
    let of = |hook: &str| claimed.iter().filter(|c| c.webhook.id == hook).count();
    assert_eq!(
        (of(&busy.id), of(&other.id)),
        (2, 3),
        "a busy webhook gets its free slots, the others the per-webhook cap"
    );
    let earliest: Vec<Timestamp> = claimed.iter().map(|c| c.event.event.created_at).collect();
    assert!(
        earliest.iter().all(|at| *at <= t(2)),
        "each webhook's earliest due first: {earliest:?}"
    );
    // A webhook with a million waiting does not hide the others: the rest of both
    // come in the next claims, and nothing twice.
    let rest = claim_ids(&*store, claim("node-a", t(10), 100)).await;
    assert_eq!(rest.len(), 12 - 5);
    let limited = Claim {
        per_webhook: 1,
        ..claim("node-a", t(10), 100)
    };
    assert!(store.claim_due(limited).await.unwrap().is_empty());
}

pub async fn a_claim_lasts_until_its_lease_ends(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let id = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let lease = Claim {
        lease_until: t(10),
        ..claim("node-a", t(0), 100)
    };
    assert_eq!(claim_ids(&*store, lease).await, [id.as_str()]);
    assert!(
        claim_ids(&*store, claim("node-b", t(0), 100))
            .await
            .is_empty(),
        "not claimed twice"
    );
    let almost = t(10) - SignedDuration::from_millis(1);
    assert!(
        claim_ids(&*store, claim("node-b", almost, 100))
            .await
            .is_empty(),
        "not before the lease ends"
    );
    // node-a died without recording: the delivery is due again at its lease end.
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(10)));
    let c = claim_only(&*store, &id, t(10)).await;
    assert_eq!((c.status, c.attempts), (DeliveryStatus::Pending, 0));
}

pub async fn concurrent_claims_never_overlap(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    for _ in 0..4 {
        given_webhook(&*store, "acme", json!({})).await;
    }
    let mut expected = Vec::new();
    for i in 0..10 {
        expected.extend(deliveries_of(&*store, order_created("acme", &i.to_string(), t(0))).await);
    }
    let mut claimers = tokio::task::JoinSet::new();
    for node in 0..8 {
        let store = store.clone();
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim_ids(&*store, claim(&format!("node-{node}"), t(1), 3)).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        });
    }
    let mut claimed = Vec::new();
    while let Some(mine) = claimers.join_next().await {
        claimed.extend(mine.unwrap());
    }
    assert_eq!(
        claimed.len(),
        expected.len(),
        "every delivery claimed exactly once"
    );
    assert_eq!(sorted(&claimed), sorted(&expected));
}

pub async fn release_claims_gives_back_all_or_one_nodes(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(one_delivery(&*store, order_created("acme", &i.to_string(), t(0))).await);
    }
    let lease = |node: &str, now, limit| Claim {
        lease_until: t(60),
        ..claim(node, now, limit)
    };
    let a = claim_ids(&*store, lease("node-a", t(0), 1)).await;
    let b = claim_ids(&*store, lease("node-b", t(0), 2)).await;
    let done = claim_ids(&*store, lease("node-b", t(0), 1)).await;
    record(
        &*store,
        &done[0],
        Some(attempt(1, t(0), Some(200))),
        NextState::Succeeded,
        t(0),
    )
    .await;

    assert_eq!(
        store.release_claims(Some("node-c"), t(1)).await.unwrap(),
        0,
        "node-c holds nothing"
    );
    assert_eq!(
        store.release_claims(Some("node-b"), t(1)).await.unwrap(),
        2,
        "node-b's claims; not the recorded one"
    );
    for id in &b {
        assert_eq!(
            delivery(&*store, "acme", id).await.next_attempt_at,
            Some(t(1)),
            "due at once"
        );
    }
    assert_eq!(
        delivery(&*store, "acme", &a[0]).await.next_attempt_at,
        None,
        "node-a's claim is kept"
    );
    let c = claim_ids(&*store, lease("node-c", t(1), 100)).await;
    assert_eq!(sorted(&c), sorted(&b), "only node-b's claims came back");

    assert_eq!(
        store.release_claims(None, t(2)).await.unwrap(),
        3,
        "everyone's claims"
    );
    let all = claim_ids(&*store, claim("node-d", t(2), 100)).await;
    assert_eq!(sorted(&all), sorted(&[a, b].concat()));
    assert_eq!(
        delivery(&*store, "acme", &done[0]).await.status,
        "succeeded",
        "finished deliveries are not released"
    );
}

pub async fn unclaim_gives_back_only_the_nodes_own_claims(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let one = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let two = one_delivery(&*store, order_created("acme", "2", t(0))).await;
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(0), 100)).await.len(),
        2
    );

    store
        .unclaim("node-b", vec![one.clone()], t(0))
        .await
        .unwrap();
    assert!(
        claim_ids(&*store, claim("node-b", t(0), 100))
            .await
            .is_empty(),
        "another node cannot give it back"
    );
    store
        .unclaim("node-a", vec![one.clone()], t(0))
        .await
        .unwrap();
    assert_eq!(
        delivery(&*store, "acme", &one).await.next_attempt_at,
        Some(t(0))
    );
    assert_eq!(
        claim_ids(&*store, claim("node-b", t(0), 100)).await,
        [one],
        "given back, due now"
    );
    assert_eq!(
        delivery(&*store, "acme", &two).await.next_attempt_at,
        None,
        "the other claim is kept"
    );
    store.unclaim("node-a", vec![], t(0)).await.unwrap();
}

pub async fn next_due_at_is_the_earliest_deliverable_time(store: Backend) {
    assert_eq!(store.next_due_at().await.unwrap(), None, "an empty store");
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let delayed = given_webhook(&*store, "acme", json!({"delay_minutes": 30})).await;
    assert_eq!(store.next_due_at().await.unwrap(), None, "no deliveries");
    assert_eq!(
        deliveries_of(&*store, order_created("acme", "1", t(0)))
            .await
            .len(),
        2
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(0)));
    let now = claim_ids(&*store, claim("node-a", t(0), 100)).await;
    assert_eq!(now.len(), 1);
    // A claim is due again at its lease end, in case its node dies.
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(1)));
    record(
        &*store,
        &now[0],
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(45)),
        t(0),
    )
    .await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(30)));
    set_status(&*store, &delayed, WebhookStatus::Paused, false, t(1)).await;
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(t(45)),
        "held deliveries are not due"
    );
    record(
        &*store,
        &now[0],
        None,
        NextState::Dead("gave up".into()),
        t(2),
    )
    .await;
    assert_eq!(
        store.next_due_at().await.unwrap(),
        None,
        "finished deliveries are not due"
    );
}
