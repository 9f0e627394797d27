//! Events and the deliveries they cause: event-type filters and conditions pick the
//! webhooks, an `Idempotency-Key` stores an event once, and an event is readable
//! with its delivery ids.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp, TestReceiver, assert_error};

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
async fn events_reach_only_subscribed_webhooks() {
    let app = TestApp::spawn().await;
    let paid_rx = TestReceiver::start().await;
    let all_rx = TestReceiver::start().await;
    app.account("acme").await;
    let paid = app
        .webhook(
            "acme",
            json!({"url": paid_rx.url("/paid"), "events": ["order.paid"]}),
        )
        .await;
    let v = post_event(&app, "acme", order("order.created", "1", "10.00")).await;
    assert_eq!(v["deliveries"], 0);

    let all = app
        .webhook("acme", json!({"url": all_rx.url("/all"), "events": ["*"]}))
        .await;
    assert_eq!(
        post_event(&app, "acme", order("order.created", "2", "10.00")).await["deliveries"],
        1
    );
    assert_eq!(
        post_event(
            &app,
            "acme",
            json!({"type": "product.out_of_stock", "data": {"product": {"id": "p1", "stock": 0}}})
        )
        .await["deliveries"],
        1
    );
    assert_eq!(
        post_event(&app, "acme", order("order.paid", "2", "10.00")).await["deliveries"],
        2
    );

    let got = all_rx.wait_for(3).await;
    let types: HashSet<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        HashSet::from([
            "order.created".into(),
            "product.out_of_stock".into(),
            "order.paid".into()
        ])
    );
    let got = paid_rx.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "order.paid");

    let for_paid = app
        .deliveries("acme", &format!("webhook={}", paid["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        for_paid.len(),
        1,
        "the order.paid webhook has exactly one delivery"
    );
    assert_eq!(for_paid[0]["event_type"], "order.paid");
    assert_eq!(
        app.deliveries("acme", &format!("webhook={}", all["id"].as_str().unwrap()))
            .await
            .len(),
        3
    );
    app.stop().await;
}

#[tokio::test]
async fn conditions_pick_the_orders() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/big"), "events": ["order.created"], "conditions": [{"field": "order.total", "op": "gt", "value": 100}]})).await;
    assert_eq!(
        post_event(&app, "acme", order("order.created", "small", "50.00")).await["deliveries"],
        0
    );
    assert_eq!(
        post_event(&app, "acme", order("order.created", "edge", "100.00")).await["deliveries"],
        0,
        "gt is strict"
    );
    assert_eq!(
        post_event(&app, "acme", order("order.created", "big", "150.00")).await["deliveries"],
        1
    );
    // decimals compare as numbers, not as text ("1000.00" < "150.00" as strings)
    assert_eq!(
        post_event(&app, "acme", order("order.created", "huge", "1000.00")).await["deliveries"],
        1
    );
    let got = rx.wait_for(2).await;
    let ids: HashSet<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, HashSet::from(["big".into(), "huge".into()]));
    assert_eq!(app.deliveries("acme", "").await.len(), 2);
    app.stop().await;
}

/// POST /events with an `Idempotency-Key` header.
async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> Value {
    let resp = app
        .client
        .post(app.url("/v1/accounts/acme/events"))
        .bearer_auth(ADMIN_KEY)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn an_idempotency_key_stores_the_event_once() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    let body = order("order.paid", "1001", "10.00");
    let first = post_with_key(&app, "pay-1001", &body).await;
    assert_eq!(first["deliveries"], 1);
    let again = post_with_key(&app, "pay-1001", &body).await;
    assert_eq!(again, first, "a repeated key answers the first answer");
    // even with another body, the key wins
    let other_body = post_with_key(&app, "pay-1001", &order("order.paid", "9999", "1.00")).await;
    assert_eq!(other_body, first);

    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json()["id"], first["id"]);
    // a second, distinct event: if a duplicate had been queued, it would come before
    // this one (due earlier) and the two requests would not be these two events
    let second = post_with_key(&app, "pay-1002", &order("order.paid", "1002", "10.00")).await;
    assert_ne!(second["id"], first["id"]);
    let got = rx.wait_for(2).await;
    let ids: Vec<Value> = got.iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(ids, [first["id"].clone(), second["id"].clone()]);
    assert_eq!(app.deliveries("acme", "").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn an_event_is_readable_with_its_deliveries() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    app.account("beta").await;
    let h1 = app
        .webhook(
            "acme",
            json!({"url": "https://a.example/", "events": ["*"]}),
        )
        .await;
    let h2 = app
        .webhook(
            "acme",
            json!({"url": "https://b.example/", "events": ["order.paid"]}),
        )
        .await;
    let data = json!({"order": {"id": "1001", "total": "10.00", "paid": true, "customer": {"email": "a@example.com"}}});
    let id = app
        .event("acme", json!({"type": "order.paid", "data": data}))
        .await;
    assert!(id.starts_with("evt_"));
    let (s, ev) = app
        .admin(Method::GET, &format!("/v1/accounts/acme/events/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["type"], "order.paid");
    assert_eq!(ev["account"], "acme");
    assert_eq!(ev["subject"], "order:1001");
    assert_eq!(ev["data"], data);
    assert!(
        ev["created_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    let mut listed: Vec<String> = ev["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = app
        .deliveries("acme", "")
        .await
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    let mut hooks = Vec::new();
    for d in &listed {
        hooks.push(
            app.delivery("acme", d).await["webhook_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    hooks.sort();
    let mut expected_hooks = vec![
        h1["id"].as_str().unwrap().to_string(),
        h2["id"].as_str().unwrap().to_string(),
    ];
    expected_hooks.sort();
    assert_eq!(hooks, expected_hooks, "one delivery per subscribed webhook");

    // an explicit subject is kept as given
    let id2 = app.event("acme", json!({"type": "order.updated", "subject": "order:custom", "data": {"order": {"id": "1"}}})).await;
    let (_, ev2) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/events/{id2}"),
            None,
        )
        .await;
    assert_eq!(ev2["subject"], "order:custom");

    assert_error(
        &app.admin(
            Method::GET,
            "/v1/accounts/acme/events/evt_01J00000000000000000000000",
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.admin(Method::GET, &format!("/v1/accounts/beta/events/{id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.stop().await;
}
