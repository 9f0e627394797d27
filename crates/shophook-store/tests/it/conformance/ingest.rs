//! Ingest: which deliveries an event creates, in which state, idempotency keys,
//! missing accounts and test sends to one webhook.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;

/// The names of these deliveries' webhooks; each webhook gets at most one per event.
async fn hook_names(store: &dyn Store, account: &str, ids: &[String]) -> BTreeSet<String> {
    let hooks = store.list_webhooks(account).await.unwrap();
    let mut names = BTreeSet::new();
    for id in ids {
        let d = delivery(store, account, id).await;
        let hook = hooks
            .iter()
            .find(|h| h.id == d.webhook_id)
            .expect("the delivery's webhook exists");
        assert!(
            names.insert(hook.config.name.clone()),
            "one delivery per webhook and event"
        );
    }
    names
}

pub async fn ingest_creates_deliveries_for_matching_webhooks(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    given_webhook(&*store, "acme", json!({"name": "all"})).await;
    given_webhook(
        &*store,
        "acme",
        json!({"name": "paid", "events": ["order.paid"]}),
    )
    .await;
    given_webhook(&*store, "acme", json!({"name": "new-only", "conditions": [{"field": "order.status", "op": "eq", "value": "new"}]})).await;
    given_webhook(
        &*store,
        "acme",
        json!({"name": "sku-1", "products": ["SKU-1"]}),
    )
    .await;
    given_webhook(
        &*store,
        "globex",
        json!({"name": "globex-paid", "events": ["order.paid"]}),
    )
    .await;

    let table = [
        (
            EventType::OrderCreated,
            json!({"id": "1", "status": "new", "items": [{"sku": "SKU-1"}]}),
            &["all", "new-only", "sku-1"][..],
        ),
        (
            EventType::OrderPaid,
            json!({"id": "2", "status": "paid", "items": [{"sku": "SKU-2"}]}),
            &["all", "paid"],
        ),
        (
            EventType::OrderShipped,
            json!({"id": "3", "status": "shipped"}),
            &["all"],
        ),
        (
            EventType::OrderPaid,
            json!({"id": "4", "status": "new", "items": [{"product_id": "SKU-1"}]}),
            &["all", "new-only", "paid", "sku-1"],
        ),
    ];
    let mut total = 0;
    for (event_type, order, expected) in table {
        let new = order_event("acme", event_type, order.clone(), t(0));
        let (event, envelope) = (new.event.clone(), new.envelope.clone());
        let ids = match ingest(&*store, new).await {
            IngestOutcome::Stored {
                event_id,
                deliveries,
                ..
            } => {
                assert_eq!(event_id, event.id);
                deliveries
            }
            other => panic!("{event_type} {order}: {other:?}"),
        };
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            hook_names(&*store, "acme", &ids).await,
            expected,
            "{event_type} {order}"
        );
        for id in &ids {
            let d = delivery(&*store, "acme", id).await;
            assert_eq!(d.event_id, event.id);
            assert_eq!(d.event_type, event_type.as_str());
            assert_eq!(d.subject, event.subject);
            assert_eq!(
                (d.status.as_str(), d.held, d.attempts, d.next_attempt_at),
                ("pending", false, 0, Some(t(0))),
                "{d:?}"
            );
            assert_eq!(
                (
                    d.created_at,
                    d.last_status_code,
                    d.last_error.as_deref(),
                    d.reason.as_deref()
                ),
                (t(0), None, None, None)
            );
        }
        let (stored, stored_ids) = store
            .event("acme", &event.id)
            .await
            .unwrap()
            .expect("the event is stored");
        assert_eq!(stored.event, event, "the event reads back as written");
        assert_eq!(stored.envelope, envelope);
        assert_eq!(
            sorted(&stored_ids),
            sorted(&ids),
            "the event lists its deliveries"
        );
        assert!(
            store.event("globex", &event.id).await.unwrap().is_none(),
            "not visible from another account"
        );
        total += ids.len();
    }
    assert_eq!(all_deliveries(&*store, "acme").await.len(), total);
    assert!(
        all_deliveries(&*store, "globex").await.is_empty(),
        "another account's webhooks are never reached"
    );

    // An event that reaches nothing is still stored.
    let unheard = order_created("globex", "9", t(1));
    let id = unheard.event.id.clone();
    assert_eq!(
        ingest(&*store, unheard).await,
        IngestOutcome::Stored {
            event_id: id.clone(),
            deliveries: vec![],
            dispatched: Default::default(),
        }
    );
    let (_, ids) = store.event("globex", &id).await.unwrap().expect("stored");
    assert!(ids.is_empty());
}

pub async fn ingest_starts_deliveries_in_their_initial_state(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({"name": "now"})).await;
    given_webhook(
        &*store,
        "acme",
        json!({"name": "delayed", "delay_minutes": 30}),
    )
    .await;
    given_webhook(
        &*store,
        "acme",
        json!({"name": "paused", "status": "paused"}),
    )
    .await;
    // t(0) is a Monday, 10:00 UTC: the window opens at 12:00.
    let window =
        json!({"timezone": "UTC", "windows": [{"days": ["mon"], "from": "12:00", "to": "13:00"}]});
    given_webhook(
        &*store,
        "acme",
        json!({"name": "windowed", "schedule": window}),
    )
    .await;
    let disabled = StoredWebhook {
        status: WebhookStatus::Disabled,
        ..webhook("acme", json!({"name": "disabled"}), t(0))
    };
    store.create_webhook(disabled, 100).await.unwrap();

    let ids = deliveries_of(&*store, order_created("acme", "1", t(0))).await;
    assert_eq!(ids.len(), 5);
    let hooks = store.list_webhooks("acme").await.unwrap();
    let mut by_name = std::collections::HashMap::new();
    for id in &ids {
        let d = delivery(&*store, "acme", id).await;
        let name = hooks
            .iter()
            .find(|h| h.id == d.webhook_id)
            .unwrap()
            .config
            .name
            .clone();
        by_name.insert(name, d);
    }
    let state = |name: &str| {
        let d = &by_name[name];
        (d.status.as_str(), d.held, d.next_attempt_at)
    };
    assert_eq!(state("now"), ("pending", false, Some(t(0))));
    assert_eq!(state("delayed"), ("scheduled", false, Some(t(30))));
    assert_eq!(state("windowed"), ("scheduled", false, Some(t(120))));
    assert_eq!(state("paused"), ("scheduled", true, None));
    assert_eq!(state("disabled"), ("scheduled", true, None));

    let now = &by_name["now"].id;
    claim_only(&*store, now, t(0)).await;
    record(
        &*store,
        now,
        Some(attempt(1, t(0), Some(200))),
        NextState::Succeeded,
        t(0),
    )
    .await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(30)));
    assert!(
        claim_ids(&*store, claim("node-a", t(29), 100))
            .await
            .is_empty(),
        "a delay is respected"
    );
    let delayed = &by_name["delayed"].id;
    claim_only(&*store, delayed, t(30)).await;
    record(
        &*store,
        delayed,
        Some(attempt(1, t(30), Some(200))),
        NextState::Succeeded,
        t(30),
    )
    .await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t(120)));
    claim_only(&*store, &by_name["windowed"].id, t(120)).await;
}

pub async fn ingest_repeated_idempotency_key_replays_the_first_outcome(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    given_webhook(&*store, "acme", json!({})).await;
    given_webhook(&*store, "acme", json!({})).await;
    given_webhook(&*store, "globex", json!({})).await;
    let keyed = |account: &str, order: &str, key: &str| {
        let mut e = order_created(account, order, t(0));
        e.idempotency_key = Some(key.to_string());
        e
    };

    let first = keyed("acme", "1", "k1");
    let first_id = first.event.id.clone();
    let ids = deliveries_of(&*store, first).await;
    assert_eq!(ids.len(), 2);

    let repeat = keyed("acme", "1", "k1");
    let repeat_id = repeat.event.id.clone();
    assert_eq!(
        ingest(&*store, repeat).await,
        IngestOutcome::Replayed {
            event_id: first_id.clone(),
            deliveries: 2
        }
    );
    assert!(
        store.event("acme", &repeat_id).await.unwrap().is_none(),
        "the repeat is not stored"
    );
    assert_eq!(
        all_deliveries(&*store, "acme").await.len(),
        2,
        "no new deliveries"
    );
    assert_eq!(
        store
            .event("acme", &first_id)
            .await
            .unwrap()
            .map(|(_, ids)| ids.len()),
        Some(2)
    );

    // Keys are per account.
    let elsewhere = keyed("globex", "1", "k1");
    let elsewhere_id = elsewhere.event.id.clone();
    assert!(
        matches!(ingest(&*store, elsewhere).await, IngestOutcome::Stored { event_id, .. } if event_id == elsewhere_id)
    );

    // A repeat within one batch replays the earlier event of the batch.
    let (a, b) = (keyed("acme", "2", "k2"), keyed("acme", "2", "k2"));
    let a_id = a.event.id.clone();
    let out = store.ingest(vec![a, b]).await.unwrap();
    assert!(
        matches!(&out[0], IngestOutcome::Stored { event_id, deliveries, .. } if *event_id == a_id && deliveries.len() == 2),
        "{out:?}"
    );
    assert_eq!(
        out[1],
        IngestOutcome::Replayed {
            event_id: a_id,
            deliveries: 2
        }
    );
    assert_eq!(all_deliveries(&*store, "acme").await.len(), 4);

    // The count replayed is the first answer's, even when it was zero.
    given_account(&*store, "initech", "Initech").await;
    let quiet = keyed("initech", "1", "k3");
    let quiet_id = quiet.event.id.clone();
    assert_eq!(
        ingest(&*store, quiet).await,
        IngestOutcome::Stored {
            event_id: quiet_id.clone(),
            deliveries: vec![],
            dispatched: Default::default(),
        }
    );
    given_webhook(&*store, "initech", json!({})).await;
    assert_eq!(
        ingest(&*store, keyed("initech", "1", "k3")).await,
        IngestOutcome::Replayed {
            event_id: quiet_id,
            deliveries: 0
        }
    );
    assert!(all_deliveries(&*store, "initech").await.is_empty());
}

pub async fn ingest_for_a_missing_account_stores_nothing(store: Backend) {
    let mut orphan = order_created("ghost", "1", t(0));
    orphan.idempotency_key = Some("k1".into());
    let orphan_id = orphan.event.id.clone();
    assert_eq!(ingest(&*store, orphan).await, IngestOutcome::NoAccount);

    given_account(&*store, "ghost", "Ghost").await;
    given_webhook(&*store, "ghost", json!({})).await;
    assert!(
        store.event("ghost", &orphan_id).await.unwrap().is_none(),
        "the refused event was not stored"
    );
    let mut again = order_created("ghost", "1", t(1));
    again.idempotency_key = Some("k1".into());
    let again_id = again.event.id.clone();
    assert!(
        matches!(ingest(&*store, again).await, IngestOutcome::Stored { event_id, deliveries, .. } if event_id == again_id && deliveries.len() == 1),
        "the refused event's idempotency key was not stored"
    );
    // An account deleted since: same answer.
    assert!(store.delete_account("ghost").await.unwrap());
    assert_eq!(
        ingest(&*store, order_created("ghost", "2", t(2))).await,
        IngestOutcome::NoAccount
    );
    assert!(
        store
            .claim_due(claim("node-a", t(10), 100))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn ingest_to_one_webhook_claims_it_for_the_caller(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    // `Only` ignores event filters: a test send reaches the webhook it names.
    let target = given_webhook(&*store, "acme", json!({"events": ["order.paid"]})).await;
    given_webhook(&*store, "acme", json!({})).await;
    let foreign = given_webhook(&*store, "globex", json!({})).await;
    let test_send = |webhook: &str| {
        let event = Event {
            id: format!("evt_{}", ulid::Ulid::new()),
            event_type: EventType::WebhookTest,
            account: "acme".into(),
            subject: None,
            created_at: t(0),
            data: json!({"test": true}),
        };
        let lease_until = t(1);
        NewEvent {
            target: Target::Only {
                webhook: webhook.to_string(),
            },
            // claimed for the caller, who sends it itself
            dispatch: Some(shophook_store::Lease {
                node: "api-1".into(),
                until: lease_until,
            }),
            ..new_event(event)
        }
    };

    let id = one_delivery(&*store, test_send(&target.id)).await;
    let d = delivery(&*store, "acme", &id).await;
    assert_eq!(
        (
            d.webhook_id.as_str(),
            d.event_type.as_str(),
            d.subject.as_deref()
        ),
        (target.id.as_str(), "webhook.test", None)
    );
    assert_eq!(
        (d.status.as_str(), d.held, d.next_attempt_at),
        ("pending", false, None),
        "claimed by the caller: {d:?}"
    );
    assert!(
        claim_ids(&*store, claim("worker", t(0), 100))
            .await
            .is_empty(),
        "workers leave it to the caller"
    );
    let retry = store.retry_delivery("acme", &id, t(0)).await;
    assert!(
        matches!(retry, Err(shophook_store::StoreError::Conflict(_))),
        "it is being sent: {retry:?}"
    );
    record(
        &*store,
        &id,
        Some(attempt(1, t(0), Some(204))),
        NextState::Succeeded,
        t(0),
    )
    .await;
    assert_eq!(delivery(&*store, "acme", &id).await.status, "succeeded");

    let before = all_deliveries(&*store, "acme").await.len();
    for missing in ["wh_missing", foreign.id.as_str()] {
        let mut send = test_send(missing);
        send.idempotency_key = Some("test-key".into());
        let event_id = send.event.id.clone();
        assert_eq!(
            ingest(&*store, send).await,
            IngestOutcome::NoWebhook,
            "{missing}"
        );
        assert!(
            store.event("acme", &event_id).await.unwrap().is_none(),
            "nothing is stored"
        );
    }
    assert_eq!(
        all_deliveries(&*store, "acme").await.len(),
        before,
        "nothing is stored"
    );
    assert!(all_deliveries(&*store, "globex").await.is_empty());
    let mut keyed = test_send(&target.id);
    keyed.idempotency_key = Some("test-key".into());
    assert!(
        matches!(ingest(&*store, keyed).await, IngestOutcome::Stored { .. }),
        "the refused send's key was not stored"
    );

    // Outcomes come back in order, one per event.
    let orphan = order_created("ghost", "1", t(0));
    let out = store
        .ingest(vec![test_send(&target.id), test_send("wh_missing"), orphan])
        .await
        .unwrap();
    assert!(
        matches!(
            &out[..],
            [
                IngestOutcome::Stored { .. },
                IngestOutcome::NoWebhook,
                IngestOutcome::NoAccount
            ]
        ),
        "{out:?}"
    );
}

/// With `dispatch`, the deliveries due at once are claimed for the caller in the
/// ingest transaction and handed back ready to send; the others wait as usual.
/// A dispatched delivery nobody records is due again when its lease ends.
pub async fn ingest_with_dispatch_claims_the_due_deliveries(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let now_hook = given_webhook(&*store, "acme", json!({"name": "now"})).await;
    given_webhook(
        &*store,
        "acme",
        json!({"name": "later", "delay_minutes": 5}),
    )
    .await;
    let paused = given_webhook(&*store, "acme", json!({"name": "paused"})).await;
    set_status(&*store, &paused, WebhookStatus::Paused, false, t(0)).await;
    let new = NewEvent {
        dispatch: Some(shophook_store::Lease {
            node: "node-a".into(),
            until: t(1),
        }),
        ..order_created("acme", "1", t(0))
    };
    let event_id = new.event.id.clone();
    let IngestOutcome::Stored {
        deliveries,
        dispatched,
        ..
    } = ingest(&*store, new).await
    else {
        panic!("stored")
    };
    assert_eq!(deliveries.len(), 3);
    assert_eq!(dispatched.0.len(), 1, "only the one due now");
    let d = &dispatched.0[0];
    assert!(deliveries.contains(&d.id));
    assert_eq!(d.webhook.id, now_hook.id);
    assert_eq!(d.event.event.id, event_id);
    assert_eq!(
        (d.status, d.attempts, d.lease_until),
        (shophook_core::plan::DeliveryStatus::Pending, 0, t(1))
    );
    assert_eq!(d.account_name, "Acme");

    // Nobody else claims it while its lease holds; the others are not due.
    assert!(
        claim_ids(&*store, claim("node-b", t(0), 100))
            .await
            .is_empty()
    );
    // Recorded under its claim, it is done.
    record_claimed(&*store, d, "node-a", NextState::Succeeded, t(0)).await;
    assert_eq!(delivery(&*store, "acme", &d.id).await.status, "succeeded");

    // Dispatched and never recorded (the node died): due again after the lease.
    let again = NewEvent {
        dispatch: Some(shophook_store::Lease {
            node: "node-a".into(),
            until: t(1),
        }),
        ..order_created("acme", "2", t(0))
    };
    let IngestOutcome::Stored { dispatched, .. } = ingest(&*store, again).await else {
        panic!("stored")
    };
    let lost = dispatched.0[0].id.clone();
    assert_eq!(claim_ids(&*store, claim("node-b", t(2), 1)).await, [lost]);
}

/// Records `next` for a delivery under the claim that `node` holds on it.
async fn record_claimed(
    store: &dyn Store,
    d: &shophook_store::ClaimedDelivery,
    node: &str,
    next: NextState,
    now: Timestamp,
) {
    store
        .record(vec![shophook_store::DeliveryUpdate {
            delivery_id: d.id.clone(),
            attempt: Some(attempt(1, now, Some(200))),
            next,
            now,
            claim: Some(shophook_store::Lease {
                node: node.to_string(),
                until: d.lease_until,
            }),
        }])
        .await
        .expect("recording");
}

pub async fn deleting_an_account_during_ingests_leaves_nothing_behind(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_webhook(&*store, "acme", json!({})).await;
    let mut ingests = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        ingests.spawn(async move {
            store
                .ingest(vec![order_created("acme", &i.to_string(), t(i))])
                .await
        });
    }
    tokio::task::yield_now().await;
    assert!(store.delete_account("acme").await.unwrap());
    while let Some(done) = ingests.join_next().await {
        // Each ingest ran before the deletion (and was deleted with the account)
        // or after it (and found no account); none failed.
        done.unwrap()
            .expect("an ingest racing a deletion does not fail");
    }
    let left = store
        .list_deliveries("acme", DeliveryFilter::default())
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "an ingest racing the deletion left {} deliveries behind",
        left.len()
    );
}
