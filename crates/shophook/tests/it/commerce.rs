//! Commerce events: snapshots derive events; per-product webhooks; delays re-check
//! conditions against the latest snapshot; abandoned checkouts; schedule windows.
//! Time is a manual clock, so days pass without sleeping.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use shophook::clock::ManualClock;

use crate::support::{TestApp, TestReceiver};

/// Monday 2026-03-02 10:00 UTC.
fn monday() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

async fn app_at(start: Timestamp) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::spawn_at(Arc::new(tempfile::tempdir().unwrap()), clock.clone()).await;
    app.account("acme").await;
    (app, clock)
}

async fn put(app: &TestApp, what: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.admin(
        Method::PUT,
        &format!("/v1/accounts/acme/{what}/{id}"),
        Some(body),
    )
    .await
}

fn types(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_order_lifecycle_derives_the_spec_events() {
    let (app, _) = app_at(monday()).await;
    let rx = TestReceiver::start().await;
    app.webhook("acme", json!({"url": rx.url("/o"), "events": ["*"]}))
        .await;

    let order = json!({"status": "new", "paid": false, "total": "100.00", "items": [{"sku": "A1", "price": "100.00", "quantity": 1}]});
    let (s, v) = put(&app, "orders", "1001", order.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (types(&v), v["version"].clone()),
        (vec!["order.created".to_string()], json!(1))
    );
    let (_, v) = put(&app, "orders", "1001", order.clone()).await;
    assert_eq!(
        (types(&v), v["version"].clone()),
        (Vec::<String>::new(), json!(1))
    );

    let mut paid = order.clone();
    paid["paid"] = json!(true);
    paid["paid_at"] = json!("2026-03-02T10:05:00+01:00");
    let (_, v) = put(&app, "orders", "1001", paid.clone()).await;
    assert_eq!(types(&v), ["order.paid"]);

    let mut cancelled = paid.clone();
    cancelled["status"] = json!("cancelled");
    let (_, v) = put(&app, "orders", "1001", cancelled).await;
    assert_eq!(types(&v), ["order.status_changed", "order.cancelled"]);
    assert_eq!(v["version"], 3);

    // an out-of-date write is refused and changes nothing
    let mut stale = paid.clone();
    stale["version"] = json!(1);
    stale["status"] = json!("processing");
    let (s, v) = put(&app, "orders", "1001", stale).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (_, current) = app
        .admin(Method::GET, "/v1/accounts/acme/orders/1001", None)
        .await;
    assert_eq!(current["order"]["status"], "cancelled");
    assert_eq!(current["version"], 3);

    let got = rx.wait_for(4).await;
    let mut seen: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "order.cancelled",
            "order.created",
            "order.paid",
            "order.status_changed"
        ]
    );
    let changed = got
        .iter()
        .map(|r| r.json())
        .find(|b| b["type"] == "order.status_changed")
        .unwrap();
    assert_eq!(changed["data"]["previous_status"], "new");
    assert_eq!(changed["data"]["order"]["status"], "cancelled");
    assert_eq!(changed["data"]["order"]["id"], "1001");

    // money must be a decimal string
    let (s, v) = put(&app, "orders", "1002", json!({"total": 10.5})).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("total"))
    );
    app.stop().await;
}

#[tokio::test]
async fn products_stock_and_deletion() {
    let (app, _) = app_at(monday()).await;
    let (_, v) = put(
        &app,
        "products",
        "p1",
        json!({"sku": "A1", "name": "Kubek", "stock": 3, "price": "19.99"}),
    )
    .await;
    assert_eq!(types(&v), ["product.created"]);
    let (_, v) = put(
        &app,
        "products",
        "p1",
        json!({"sku": "A1", "name": "Kubek", "stock": 0, "price": "19.99"}),
    )
    .await;
    assert_eq!(types(&v), ["product.stock_changed", "product.out_of_stock"]);
    let ev = v["events"][0]["id"].as_str().unwrap();
    let (_, e) = app
        .admin(Method::GET, &format!("/v1/accounts/acme/events/{ev}"), None)
        .await;
    assert_eq!(e["data"]["previous_stock"], 3);
    assert_eq!(e["subject"], "product:p1");
    let (s, v) = app
        .admin(Method::DELETE, "/v1/accounts/acme/products/p1", None)
        .await;
    assert_eq!(
        (s, types(&v)),
        (StatusCode::OK, vec!["product.deleted".to_string()])
    );
    let (s, _) = app
        .admin(Method::DELETE, "/v1/accounts/acme/products/p1", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .admin(Method::GET, "/v1/accounts/acme/products/p1", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn account_wide_and_per_product_webhooks_both_fire() {
    let (app, _) = app_at(monday()).await;
    let all = TestReceiver::start().await;
    let books = TestReceiver::start().await;
    app.webhook(
        "acme",
        json!({"url": all.url("/all"), "events": ["order.created", "product.updated"]}),
    )
    .await;
    app.webhook("acme", json!({"url": books.url("/a1"), "events": ["order.created", "product.updated"], "products": ["A1"]})).await;
    put(&app, "orders", "1", json!({"items": [{"sku": "Z9"}]})).await;
    put(
        &app,
        "orders",
        "2",
        json!({"items": [{"sku": "Z9"}, {"product_id": "p-a1", "sku": "A1"}]}),
    )
    .await;
    put(&app, "products", "p-a1", json!({"sku": "A1", "name": "x"})).await;
    put(&app, "products", "p-a1", json!({"sku": "A1", "name": "y"})).await;
    let got = all.wait_for(3).await;
    let got_books = books.wait_for(2).await;
    let ids = |rs: &[crate::support::Received]| {
        let mut v: Vec<String> = rs
            .iter()
            .map(|r| {
                r.json()["data"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&got), ["1", "2", "p-a1"]);
    assert_eq!(ids(&got_books), ["2", "p-a1"]);
    // both receivers are done: the per-product one got nothing for order 1
    assert_eq!(app.deliveries("acme", "subject=order:1").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_delayed_delivery_rechecks_conditions_against_the_latest_snapshot() {
    let (app, clock) = app_at(monday()).await;
    let rx = TestReceiver::start().await;
    // "disable the product only if its stock stayed at zero for 5 days"
    app.webhook(
        "acme",
        json!({"url": rx.url("/wms?p={id_product}"), "events": ["product.out_of_stock"],
        "conditions": [{"field": "product.stock", "op": "eq", "value": 0}], "delay_minutes": 7200}),
    )
    .await;
    put(&app, "products", "back", json!({"stock": 2})).await;
    put(&app, "products", "gone", json!({"stock": 2})).await;
    put(&app, "products", "back", json!({"stock": 0})).await;
    put(&app, "products", "gone", json!({"stock": 0})).await;
    let waiting = app.deliveries("acme", "status=scheduled").await;
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0]["next_attempt_at"], "2026-03-07T10:00:00Z");
    put(&app, "products", "back", json!({"stock": 4})).await; // restocked within the delay

    app.advance(
        &clock,
        SignedDuration::from_hours(24 * 5) + SignedDuration::from_mins(1),
    );
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].uri, "/wms?p=gone");
    let skipped = app.deliveries("acme", "subject=product:back").await;
    let d = app
        .wait_status("acme", skipped[0]["id"].as_str().unwrap(), "skipped")
        .await;
    assert_eq!(
        d["reason"],
        "product.stock is now 4 (condition: product.stock eq 0)"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_open_checkout_is_abandoned_once_and_survives_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let clock = Arc::new(ManualClock::new(monday()));
    let app = TestApp::spawn_at(dir.clone(), clock.clone()).await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    app.webhook(
        "acme",
        json!({"url": rx.url("/ab"), "events": ["checkout.abandoned"]}),
    )
    .await;
    put(
        &app,
        "checkouts",
        "open",
        json!({"status": "open", "total": "50.00"}),
    )
    .await;
    put(&app, "checkouts", "done", json!({"status": "open"})).await;
    let (_, v) = put(
        &app,
        "checkouts",
        "done",
        json!({"status": "completed", "completed_at": "2026-03-02T10:10:00Z"}),
    )
    .await;
    assert_eq!(types(&v), ["checkout.completed"]);
    put(
        &app,
        "checkouts",
        "later",
        json!({"status": "open", "created_at": "2026-03-02T10:30:00Z"}),
    )
    .await;

    // the timers live in the database: a restart keeps them
    app.stop().await;
    let app = TestApp::spawn_at(dir, clock.clone()).await;
    app.advance(&clock, SignedDuration::from_mins(61));
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json()["data"]["checkout"]["id"], "open");
    assert_eq!(
        app.deliveries("acme", "event_type=checkout.abandoned")
            .await
            .len(),
        1
    );

    app.advance(&clock, SignedDuration::from_mins(30));
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["checkout"]["id"], "later");
    app.advance(&clock, SignedDuration::from_hours(48));
    // another checkout event flushes the worker loop once more; still only two abandoned
    put(&app, "checkouts", "flush", json!({"status": "completed"})).await;
    assert_eq!(
        app.deliveries("acme", "event_type=checkout.abandoned")
            .await
            .len(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_outside_the_schedule_waits_for_the_next_window() {
    // Saturday 2026-03-07 12:00 UTC
    let (app, clock) = app_at("2026-03-07T12:00:00Z".parse().unwrap()).await;
    let rx = TestReceiver::start().await;
    app.webhook("acme", json!({"url": rx.url("/office"), "events": ["order.created"],
        "schedule": {"timezone": "Europe/Warsaw", "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "16:00"}]}})).await;
    put(&app, "orders", "1", json!({"status": "new"})).await;
    let d = app.deliveries("acme", "").await;
    assert_eq!(d[0]["status"], "scheduled");
    assert_eq!(d[0]["next_attempt_at"], "2026-03-09T07:00:00Z");
    app.advance(&clock, SignedDuration::from_hours(43));
    rx.wait_for(1).await;
    app.stop().await;
}

#[tokio::test]
async fn an_ordered_webhook_waits_for_the_earlier_delivery_of_the_same_order() {
    let (app, clock) = app_at(monday()).await;
    let rx = TestReceiver::with_script(&[500]).await;
    let other = TestReceiver::start().await;
    app.webhook("acme", json!({"url": rx.url("/ordered"), "events": ["order.created", "order.paid"], "ordered": true})).await;
    app.webhook(
        "acme",
        json!({"url": other.url("/free"), "events": ["order.created", "order.paid"]}),
    )
    .await;
    put(&app, "orders", "1", json!({"paid": false})).await;
    rx.wait_for(1).await; // failed; retry in 1 minute (manual clock)
    put(&app, "orders", "1", json!({"paid": true})).await;
    put(&app, "orders", "2", json!({"paid": false})).await; // another order is not held up
    other.wait_for(3).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["order"]["id"], "2");
    let waiting: Vec<Value> = app
        .deliveries("acme", "subject=order:1&event_type=order.paid")
        .await;
    let ordered = waiting
        .iter()
        .find(|d| d["status"] == "scheduled")
        .expect("the paid delivery waits");
    assert_eq!(ordered["next_attempt_at"], Value::Null);

    app.advance(&clock, SignedDuration::from_mins(2));
    let got = rx.wait_for(4).await;
    let seq: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["data"]["order"]["id"].as_str().unwrap().to_string(),
                b["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seq[2..],
        [
            ("1".to_string(), "order.created".to_string()),
            ("1".to_string(), "order.paid".to_string())
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_get_webhook_sends_no_body_and_fills_the_url() {
    let (app, _) = app_at(monday()).await;
    let rx = TestReceiver::start().await;
    app.webhook("acme", json!({"url": rx.url("/call?order={id_order}&job={id_job}&e={event}"), "method": "GET", "events": ["order.created"]})).await;
    put(&app, "orders", "A 7", json!({"status": "new"})).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].method, "GET");
    assert!(got[0].body.is_empty());
    let job = got[0].header("webhook-id");
    assert_eq!(
        got[0].uri,
        format!("/call?order=A%207&job={job}&e=order.created")
    );
    app.stop().await;
}
