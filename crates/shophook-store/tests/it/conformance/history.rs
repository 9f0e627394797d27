//! Delivery history: filters and cursor paging, newest first.

use std::collections::HashSet;

use serde_json::json;
use shophook_core::plan::DeliveryStatus;

use super::*;

/// Splits delivery ids into those of webhook `hook` and the rest.
async fn split(store: &dyn Store, account: &str, ids: Vec<String>, hook: &str) -> (String, String) {
    let (mut mine, mut rest) = (Vec::new(), Vec::new());
    for id in ids {
        if delivery(store, account, &id).await.webhook_id == hook {
            mine.push(id)
        } else {
            rest.push(id)
        }
    }
    assert_eq!((mine.len(), rest.len()), (1, 1), "one delivery each");
    (mine.remove(0), rest.remove(0))
}

pub async fn list_deliveries_filters(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let all = given_webhook(&*store, "acme", json!({"name": "all"})).await;
    let paid = given_webhook(
        &*store,
        "acme",
        json!({"name": "paid", "events": ["order.paid"]}),
    )
    .await;
    let foreign = given_webhook(&*store, "globex", json!({})).await;
    let paid_event = |account: &str, order: &str, at| {
        order_event(account, EventType::OrderPaid, json!({"id": order}), at)
    };

    // Insertion order, with a name for each delivery.
    let mut order: Vec<(&str, String)> = Vec::new();
    order.push((
        "created-1001/all",
        one_delivery(&*store, order_created("acme", "1001", t(0))).await,
    ));
    for (event, at, names) in [
        ("1001", 1, ["paid-1001/all", "paid-1001/paid"]),
        ("1002", 2, ["paid-1002/all", "paid-1002/paid"]),
    ] {
        let ids = deliveries_of(&*store, paid_event("acme", event, t(at))).await;
        assert_eq!(ids.len(), 2);
        let first_is_all = delivery(&*store, "acme", &ids[0]).await.webhook_id == all.id;
        let (a, p) = split(&*store, "acme", ids.clone(), &all.id).await;
        if first_is_all {
            order.extend([(names[0], a), (names[1], p)]);
        } else {
            order.extend([(names[1], p), (names[0], a)]);
        }
    }
    let globex_only = one_delivery(&*store, paid_event("globex", "1001", t(3))).await;
    let id_of = |name: &str| {
        order
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| id.clone())
            .unwrap()
    };
    // created-1001/all succeeded, paid-1002/paid dead, the rest pending.
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(5), 100)).await.len(),
        6
    );
    record(
        &*store,
        &id_of("created-1001/all"),
        Some(attempt(1, t(5), Some(200))),
        NextState::Succeeded,
        t(5),
    )
    .await;
    record(
        &*store,
        &id_of("paid-1002/paid"),
        Some(attempt(1, t(5), Some(410))),
        NextState::Dead("410 Gone".into()),
        t(5),
    )
    .await;
    assert_eq!(store.release_claims(None, t(6)).await.unwrap(), 4);

    let filter = |f: DeliveryFilter| DeliveryFilter { limit: 100, ..f };
    let table: Vec<(DeliveryFilter, Vec<&str>)> = vec![
        (
            filter(DeliveryFilter::default()),
            vec![
                "created-1001/all",
                "paid-1001/all",
                "paid-1001/paid",
                "paid-1002/all",
                "paid-1002/paid",
            ],
        ),
        (
            filter(DeliveryFilter {
                webhook: Some(paid.id.clone()),
                ..Default::default()
            }),
            vec!["paid-1001/paid", "paid-1002/paid"],
        ),
        (
            filter(DeliveryFilter {
                status: Some(DeliveryStatus::Dead),
                ..Default::default()
            }),
            vec!["paid-1002/paid"],
        ),
        (
            filter(DeliveryFilter {
                status: Some(DeliveryStatus::Succeeded),
                ..Default::default()
            }),
            vec!["created-1001/all"],
        ),
        (
            filter(DeliveryFilter {
                status: Some(DeliveryStatus::Pending),
                ..Default::default()
            }),
            vec!["paid-1001/all", "paid-1001/paid", "paid-1002/all"],
        ),
        (
            filter(DeliveryFilter {
                status: Some(DeliveryStatus::Failed),
                ..Default::default()
            }),
            vec![],
        ),
        (
            filter(DeliveryFilter {
                event_type: Some("order.paid".into()),
                ..Default::default()
            }),
            vec![
                "paid-1001/all",
                "paid-1001/paid",
                "paid-1002/all",
                "paid-1002/paid",
            ],
        ),
        (
            filter(DeliveryFilter {
                event_type: Some("order.shipped".into()),
                ..Default::default()
            }),
            vec![],
        ),
        (
            filter(DeliveryFilter {
                subject: Some("order:1001".into()),
                ..Default::default()
            }),
            vec!["created-1001/all", "paid-1001/all", "paid-1001/paid"],
        ),
        (
            filter(DeliveryFilter {
                webhook: Some(all.id.clone()),
                subject: Some("order:1002".into()),
                ..Default::default()
            }),
            vec!["paid-1002/all"],
        ),
        (
            filter(DeliveryFilter {
                event_type: Some("order.paid".into()),
                status: Some(DeliveryStatus::Pending),
                subject: Some("order:1002".into()),
                ..Default::default()
            }),
            vec!["paid-1002/all"],
        ),
        (
            filter(DeliveryFilter {
                webhook: Some(foreign.id.clone()),
                ..Default::default()
            }),
            vec![],
        ),
        (
            DeliveryFilter {
                limit: 2,
                ..Default::default()
            },
            vec!["paid-1002/all", "paid-1002/paid"],
        ),
    ];
    for (f, names) in table {
        // Newest first: the reverse of insertion order.
        let expected: Vec<String> = order
            .iter()
            .rev()
            .filter(|(n, _)| names.contains(n))
            .map(|(_, id)| id.clone())
            .collect();
        let got: Vec<String> = store
            .list_deliveries("acme", f.clone())
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(got, expected, "{f:?} should list {names:?}");
    }
    let rows = all_deliveries(&*store, "acme").await;
    for d in &rows {
        assert_eq!(
            *d,
            delivery(&*store, "acme", &d.id).await,
            "a listed delivery is the delivery"
        );
    }
    let globex: Vec<String> = all_deliveries(&*store, "globex")
        .await
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(globex, [globex_only], "each account sees its own");
}

/// Pages through `filter` with `limit`; returns the page sizes and every id.
async fn pages(store: &dyn Store, filter: DeliveryFilter, limit: u32) -> (Vec<usize>, Vec<String>) {
    let (mut sizes, mut ids) = (Vec::new(), Vec::<String>::new());
    loop {
        let page = DeliveryFilter {
            before: ids.last().cloned(),
            limit,
            ..filter.clone()
        };
        let got: Vec<String> = store
            .list_deliveries("acme", page)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        if got.is_empty() {
            return (sizes, ids);
        }
        assert!(sizes.len() < 100, "paging ends");
        sizes.push(got.len());
        ids.extend(got);
    }
}

pub async fn list_deliveries_pages_with_before(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    let first = given_webhook(&*store, "acme", json!({})).await;
    given_webhook(&*store, "acme", json!({})).await;
    given_webhook(&*store, "acme", json!({})).await;
    let mut inserted = Vec::new();
    for i in 0..9 {
        inserted.extend(deliveries_of(&*store, order_created("acme", &i.to_string(), t(i))).await);
    }
    assert_eq!(inserted.len(), 27);
    let newest_first: Vec<String> = inserted.iter().rev().cloned().collect();
    let full = all_deliveries(&*store, "acme").await;
    assert_eq!(
        full.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        newest_first,
        "newest first"
    );
    assert!(full.windows(2).all(|w| w[0].created_at >= w[1].created_at));

    let (sizes, ids) = pages(&*store, DeliveryFilter::default(), 10).await;
    assert_eq!(sizes, [10, 10, 7]);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "pages do not overlap"
    );
    assert_eq!(ids, newest_first, "every delivery exactly once, in order");

    let by_hook = DeliveryFilter {
        webhook: Some(first.id.clone()),
        ..Default::default()
    };
    let (sizes, ids) = pages(&*store, by_hook, 4).await;
    assert_eq!(sizes, [4, 4, 1], "paging within a filter");
    let mut expected = Vec::new();
    for id in &newest_first {
        if delivery(&*store, "acme", id).await.webhook_id == first.id {
            expected.push(id.clone());
        }
    }
    assert_eq!(ids, expected);
}
