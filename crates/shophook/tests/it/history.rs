//! Delivery history: the list's filters (webhook, status, event type, subject) and
//! cursor paging that visits every delivery exactly once, newest first.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestReceiver};

/// Posts an event; returns the whole answer (`id`, `deliveries`).
async fn post_event(app: &TestApp, account: &str, body: Value) -> Value {
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/{account}/events"),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v
}

fn order(kind: &str, id: &str, total: &str) -> Value {
    json!({"type": kind, "data": {"order": {"id": id, "total": total}}})
}

#[tokio::test]
async fn delivery_history_filters_and_pages() {
    // no retries, so a failing delivery is dead after one attempt
    let app = TestApp::spawn_with(&["--allow-private-targets", "--retry-schedule", ""]).await;
    let ok = TestReceiver::start().await;
    let failing = TestReceiver::with_script(&[500]).await;
    app.account("acme").await;
    let all = app
        .webhook("acme", json!({"url": ok.url("/all"), "events": ["*"]}))
        .await;
    let paid = app
        .webhook(
            "acme",
            json!({"url": failing.url("/paid"), "events": ["order.paid"]}),
        )
        .await;
    let (all, paid) = (all["id"].as_str().unwrap(), paid["id"].as_str().unwrap());

    // in posting order: (event, deliveries)
    let posted = [
        (order("order.created", "1001", "10.00"), 1),
        (order("order.paid", "1001", "10.00"), 2),
        (order("order.created", "1002", "20.00"), 1),
        (
            json!({"type": "product.updated", "data": {"product": {"id": "p1"}}}),
            1,
        ),
        (order("order.shipped", "1001", "10.00"), 1),
    ];
    let mut events = Vec::new();
    for (body, n) in &posted {
        let v = post_event(&app, "acme", body.clone()).await;
        assert_eq!(v["deliveries"], *n, "{body}");
        events.push(v["id"].as_str().unwrap().to_string());
    }
    ok.wait_for(5).await;
    failing.wait_for(1).await;
    let everything = app.deliveries("acme", "limit=1000").await;
    assert_eq!(everything.len(), 6);
    for d in &everything {
        let want = if d["webhook_id"] == paid {
            "dead"
        } else {
            "succeeded"
        };
        app.wait_status("acme", d["id"].as_str().unwrap(), want)
            .await;
    }

    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let check = |list: &[Value], what: &str, pred: &dyn Fn(&Value) -> bool, n: usize| {
        assert_eq!(list.len(), n, "{what}: {list:?}");
        assert!(list.iter().all(pred), "{what}: {list:?}");
    };
    check(
        &app.deliveries("acme", &format!("webhook={paid}")).await,
        "webhook=paid",
        &|d| d["webhook_id"] == paid,
        1,
    );
    check(
        &app.deliveries("acme", &format!("webhook={all}")).await,
        "webhook=all",
        &|d| d["webhook_id"] == all,
        5,
    );
    check(
        &app.deliveries("acme", "status=dead").await,
        "status=dead",
        &|d| d["status"] == "dead" && d["webhook_id"] == paid,
        1,
    );
    check(
        &app.deliveries("acme", "status=succeeded").await,
        "status=succeeded",
        &|d| d["status"] == "succeeded",
        5,
    );
    check(
        &app.deliveries("acme", "status=pending").await,
        "status=pending",
        &|_| true,
        0,
    );
    check(
        &app.deliveries("acme", "event_type=order.created").await,
        "event_type",
        &|d| d["event_type"] == "order.created",
        2,
    );
    check(
        &app.deliveries("acme", "subject=order:1001").await,
        "subject",
        &|d| d["subject"] == "order:1001",
        4,
    );
    check(
        &app.deliveries("acme", "subject=order%3A1001").await,
        "subject, encoded",
        &|d| d["subject"] == "order:1001",
        4,
    );
    check(
        &app.deliveries("acme", "subject=product:p1").await,
        "subject=product",
        &|d| d["event_type"] == "product.updated",
        1,
    );
    check(
        &app.deliveries(
            "acme",
            &format!("subject=order:1001&webhook={all}&event_type=order.paid"),
        )
        .await,
        "combined",
        &|d| d["event_id"] == events[1].as_str(),
        1,
    );
    check(
        &app.deliveries("acme", "subject=order:9999").await,
        "no match",
        &|_| true,
        0,
    );

    // cursor paging: every delivery exactly once, newest first
    let mut paged: Vec<Value> = Vec::new();
    let mut query = "limit=2".to_string();
    let mut pages = 0;
    loop {
        let (s, page) = app
            .admin(
                Method::GET,
                &format!("/v1/accounts/acme/deliveries?{query}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        paged.extend(data.iter().cloned());
        pages += 1;
        assert!(pages <= 6, "paging does not end: {paged:?}");
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(data.last().unwrap()["id"], cursor);
                query = format!("limit=2&before={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(
        ids(&paged),
        ids(&everything),
        "paging must visit the same deliveries in the same order"
    );
    assert_eq!(
        ids(&paged).into_iter().collect::<HashSet<_>>().len(),
        6,
        "no delivery twice"
    );
    // newest first: the events' positions never increase down the list
    let position = |d: &Value| {
        events
            .iter()
            .position(|e| d["event_id"] == e.as_str())
            .unwrap()
    };
    let order: Vec<usize> = paged.iter().map(position).collect();
    assert!(
        order.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {order:?}"
    );
    let created: Vec<jiff::Timestamp> = paged
        .iter()
        .map(|d| d["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {created:?}"
    );
    // paging with a filter
    let first = app.deliveries("acme", "subject=order:1001&limit=3").await;
    let (s, rest) = app
        .admin(
            Method::GET,
            &format!(
                "/v1/accounts/acme/deliveries?subject=order:1001&limit=3&before={}",
                first[2]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    app.stop().await;
}
