//! Snapshots of shop resources: events derived in the write's transaction,
//! optimistic versions, product deletion, abandoned-checkout timers, the latest
//! snapshot handed to delayed deliveries, and `ordered` webhooks.

use serde_json::{Value, json};
use shophook_core::derive::ResourceKind;
use shophook_store::{SnapshotOutcome, SnapshotWrite, StoreError};

use super::*;

fn write(
    kind: ResourceKind,
    id: &str,
    doc: Option<Value>,
    version: Option<i64>,
    now: Timestamp,
) -> SnapshotWrite {
    SnapshotWrite {
        account: "acme".into(),
        kind,
        id: id.into(),
        doc,
        version,
        now,
    }
}

fn types(o: &SnapshotOutcome) -> Vec<EventType> {
    o.events.iter().map(|(_, t)| *t).collect()
}

pub async fn snapshots_derive_events_with_their_deliveries(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let hook = given_webhook(&*store, "acme", json!({})).await;
    let order = |status: &str, paid: bool| json!({"id": "1001", "status": status, "paid": paid, "total": "10.00"});

    let created = store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(order("new", false)),
            None,
            t(0),
        ))
        .await
        .unwrap();
    assert_eq!(
        (created.version, types(&created)),
        (1, vec![EventType::OrderCreated])
    );
    assert_eq!(
        store
            .snapshot("acme", ResourceKind::Order, "1001")
            .await
            .unwrap(),
        Some((order("new", false), 1))
    );
    assert_eq!(
        store
            .snapshot("acme", ResourceKind::Order, "1002")
            .await
            .unwrap(),
        None
    );
    let (event, ids) = store
        .event("acme", &created.events[0].0)
        .await
        .unwrap()
        .expect("the derived event is stored");
    assert_eq!(
        (event.event.subject.as_deref(), event.event.created_at),
        (Some("order:1001"), t(0))
    );
    let mut stamped = order("new", false);
    stamped["version"] = json!(1);
    assert_eq!(event.event.data["order"], stamped, "with its version");
    assert_eq!(ids.len(), 1, "with its delivery");
    assert_eq!(delivery(&*store, "acme", &ids[0]).await.webhook_id, hook.id);

    let same = store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(order("new", false)),
            None,
            t(1),
        ))
        .await
        .unwrap();
    assert_eq!(
        same,
        SnapshotOutcome {
            version: 1,
            events: vec![]
        },
        "the same snapshot derives nothing"
    );

    let paid = store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(order("paid", true)),
            Some(1),
            t(2),
        ))
        .await
        .unwrap();
    assert_eq!(
        (paid.version, types(&paid)),
        (2, vec![EventType::OrderPaid, EventType::OrderStatusChanged])
    );
    for (id, _) in &paid.events {
        let (_, ids) = store.event("acme", id).await.unwrap().expect("stored");
        assert_eq!(ids.len(), 1);
    }
    assert_eq!(all_deliveries(&*store, "acme").await.len(), 3);

    let stale = store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(order("cancelled", true)),
            Some(1),
            t(3),
        ))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "an older version: {stale:?}"
    );
    assert_eq!(
        store
            .snapshot("acme", ResourceKind::Order, "1001")
            .await
            .unwrap(),
        Some((order("paid", true), 2)),
        "unchanged"
    );
    assert_eq!(
        all_deliveries(&*store, "acme").await.len(),
        3,
        "nothing derived"
    );

    let orphan = store
        .put_snapshot(SnapshotWrite {
            account: "ghost".into(),
            ..write(
                ResourceKind::Order,
                "1",
                Some(order("new", false)),
                None,
                t(3),
            )
        })
        .await;
    assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
}

/// Each derived event carries the snapshot's version in its resource, and the
/// values orders use for status, payment and shipping method become the
/// account's option lists — handed to the claims of webhooks whose format sends
/// them (SalesDrive), and to no other.
pub async fn snapshots_stamp_versions_and_record_option_lists(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "other", "Other").await;
    let sd = given_webhook(
        &*store,
        "acme",
        json!({"format": "salesdrive", "events": ["order.status_changed"]}),
    )
    .await;
    let plain = given_webhook(&*store, "acme", json!({"events": ["order.status_changed"]})).await;
    let order = |status: &str| json!({"id": "7", "status": status, "payment_method": "cod", "shipping_method": "DoorsDoors"});
    store
        .put_snapshot(write(
            ResourceKind::Order,
            "7",
            Some(order("new")),
            None,
            t(0),
        ))
        .await
        .unwrap();
    let changed = store
        .put_snapshot(write(
            ResourceKind::Order,
            "7",
            Some(order("packed")),
            Some(5),
            t(1),
        ))
        .await
        .unwrap();
    assert_eq!(changed.version, 5);
    let (event, _) = store
        .event("acme", &changed.events[0].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.event.data["order"]["version"], 5);
    assert_eq!(event.event.data["order"]["status"], "packed");
    assert!(
        event.envelope.contains(r#""version":5"#),
        "{}",
        event.envelope
    );
    assert_eq!(
        store
            .snapshot("acme", ResourceKind::Order, "7")
            .await
            .unwrap(),
        Some((order("packed"), 5)),
        "the stored snapshot keeps no version key"
    );

    let options = store.field_options("acme").await.unwrap();
    assert_eq!(
        options.values("status").collect::<Vec<_>>(),
        ["new", "packed"]
    );
    assert_eq!(
        options.values("payment_method").collect::<Vec<_>>(),
        ["cod"]
    );
    assert_eq!(
        options.values("shipping_method").collect::<Vec<_>>(),
        ["DoorsDoors"]
    );
    assert!(store.field_options("other").await.unwrap().is_empty());

    let claimed = store.claim_due(claim("node-a", t(2), 10)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for c in &claimed {
        if c.webhook.id == sd.id {
            let o = c
                .field_options
                .as_ref()
                .expect("SalesDrive gets the option lists");
            assert_eq!(o.values("status").collect::<Vec<_>>(), ["new", "packed"]);
        } else {
            assert_eq!(c.webhook.id, plain.id);
            assert!(c.field_options.is_none(), "JSON needs no option lists");
        }
    }
    // a deleted account's lists go with it
    assert!(store.delete_account("acme").await.unwrap());
    assert!(store.field_options("acme").await.unwrap().is_empty());
}

pub async fn deleting_a_product_derives_product_deleted(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let product = json!({"id": "p1", "name": "Mug", "stock": 5});
    let created = store
        .put_snapshot(write(
            ResourceKind::Product,
            "p1",
            Some(product.clone()),
            None,
            t(0),
        ))
        .await
        .unwrap();
    assert_eq!(types(&created), [EventType::ProductCreated]);

    let deleted = store
        .put_snapshot(write(ResourceKind::Product, "p1", None, None, t(1)))
        .await
        .unwrap();
    assert_eq!(
        (deleted.version, types(&deleted)),
        (2, vec![EventType::ProductDeleted])
    );
    let (event, ids) = store
        .event("acme", &deleted.events[0].0)
        .await
        .unwrap()
        .expect("stored");
    let mut last = product.clone();
    last["version"] = json!(2);
    assert_eq!(
        event.event.data["product"], last,
        "the last snapshot, with the deletion's version"
    );
    assert_eq!(ids.len(), 1);
    assert_eq!(
        store
            .snapshot("acme", ResourceKind::Product, "p1")
            .await
            .unwrap(),
        None,
        "gone"
    );

    for id in ["p1", "p2"] {
        let missing = store
            .put_snapshot(write(ResourceKind::Product, id, None, None, t(2)))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{id}: {missing:?}"
        );
    }
    let back = store
        .put_snapshot(write(
            ResourceKind::Product,
            "p1",
            Some(product),
            None,
            t(3),
        ))
        .await
        .unwrap();
    assert_eq!(
        (back.version, types(&back)),
        (3, vec![EventType::ProductCreated]),
        "a deleted product can come back"
    );
}

pub async fn open_checkouts_are_abandoned_once_after_the_accounts_delay(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({"events": ["checkout.abandoned"]})).await;
    let checkout = |id: &str, status: &str| json!({"id": id, "status": status, "created_at": t(0).to_string()});
    store
        .put_snapshot(write(
            ResourceKind::Checkout,
            "c1",
            Some(checkout("c1", "open")),
            None,
            t(0),
        ))
        .await
        .unwrap();
    store
        .put_snapshot(write(
            ResourceKind::Checkout,
            "c2",
            Some(checkout("c2", "open")),
            None,
            t(0),
        ))
        .await
        .unwrap();
    let done = store
        .put_snapshot(write(
            ResourceKind::Checkout,
            "c2",
            Some(checkout("c2", "completed")),
            None,
            t(5),
        ))
        .await
        .unwrap();
    assert_eq!(types(&done), [EventType::CheckoutCompleted]);
    assert!(
        all_deliveries(&*store, "acme").await.is_empty(),
        "the webhook wants only abandonment"
    );

    // The account abandons after 60 minutes (the default).
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(t(60)),
        "the timer is due work"
    );
    assert!(
        claim_ids(&*store, claim("node-a", t(59), 100))
            .await
            .is_empty()
    );
    let claimed = store.claim_due(claim("node-a", t(60), 100)).await.unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "only the open checkout is abandoned: {claimed:?}"
    );
    assert_eq!(
        claimed[0].event.event.event_type,
        EventType::CheckoutAbandoned
    );
    assert_eq!(
        claimed[0].event.event.subject.as_deref(),
        Some("checkout:c1")
    );
    record(
        &*store,
        &claimed[0].id,
        Some(attempt(1, t(60), Some(200))),
        NextState::Succeeded,
        t(60),
    )
    .await;
    assert!(
        claim_ids(&*store, claim("node-a", t(600), 100))
            .await
            .is_empty(),
        "abandoned once"
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn delayed_deliveries_are_claimed_with_the_latest_snapshot(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(
        &*store,
        "acme",
        json!({"events": ["order.created"], "delay_minutes": 30}),
    )
    .await;
    let created = store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(json!({"id": "1001", "status": "new"})),
            None,
            t(0),
        ))
        .await
        .unwrap();
    assert_eq!(types(&created), [EventType::OrderCreated]);
    let latest = json!({"id": "1001", "status": "cancelled"});
    store
        .put_snapshot(write(
            ResourceKind::Order,
            "1001",
            Some(latest.clone()),
            None,
            t(10),
        ))
        .await
        .unwrap();

    let claimed = store.claim_due(claim("node-a", t(30), 100)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].event.event.data["order"]["status"], "new",
        "the event as it happened"
    );
    assert_eq!(
        claimed[0].latest,
        Some(latest),
        "and the order as it is now, to re-check conditions"
    );
}

pub async fn ordered_webhooks_send_one_delivery_per_subject_at_a_time(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({"ordered": true})).await;
    let first = one_delivery(&*store, order_created("acme", "1", t(0))).await;
    let second = one_delivery(
        &*store,
        order_event("acme", EventType::OrderPaid, json!({"id": "1"}), t(1)),
    )
    .await;
    let other = one_delivery(&*store, order_created("acme", "2", t(1))).await;
    let d = delivery(&*store, "acme", &second).await;
    assert_eq!(
        (d.status.as_str(), d.held, d.next_attempt_at),
        ("scheduled", false, None),
        "waits behind the first: {d:?}"
    );

    let claimed = claim_ids(&*store, claim("node-a", t(5), 100)).await;
    assert_eq!(
        sorted(&claimed),
        sorted(&[first.clone(), other.clone()]),
        "other subjects are not blocked"
    );
    record(
        &*store,
        &other,
        Some(attempt(1, t(5), Some(200))),
        NextState::Succeeded,
        t(5),
    )
    .await;
    record(
        &*store,
        &first,
        Some(attempt(1, t(5), Some(500))),
        NextState::Retry(t(10)),
        t(5),
    )
    .await;
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(10), 100)).await,
        [first.as_str()],
        "a retry keeps the next one waiting"
    );
    record(
        &*store,
        &first,
        Some(attempt(2, t(10), Some(200))),
        NextState::Succeeded,
        t(11),
    )
    .await;
    let d = delivery(&*store, "acme", &second).await;
    assert_eq!(
        d.next_attempt_at,
        Some(t(11)),
        "released when the first finishes: {d:?}"
    );
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(11), 100)).await,
        [second]
    );
}
