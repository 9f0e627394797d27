//! Webhooks per the spec: CRUD with merge patches, secrets (generated, merchant-given,
//! rotated with two signatures), plan gating and limits, event and condition
//! filters, idempotent events, event lookup, and the delivery history's filters and
//! cursor paging.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{ADMIN_KEY, TestApp, TestReceiver, assert_error};

/// Standard Webhooks verification straight from the specification (as in
/// delivery.rs), sharing no code with the server: key = base64-decoded part after
/// `whsec_`, content = `id.timestamp.body`, signature = base64(HMAC-SHA256),
/// header = space-separated `v1,<sig>` entries.
fn verify_from_spec(secret: &str, id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    verify_with_key(&key, id, ts, body, header)
}

/// The same check with the raw key bytes (a merchant-given secret is its own key).
fn verify_with_key(key: &[u8], id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header.split(' ').any(|sig| sig == format!("v1,{expected}"))
}

fn hooks_path(account: &str) -> String {
    format!("/v1/accounts/{account}/webhooks")
}

async fn list_hooks(app: &TestApp, account: &str) -> Vec<Value> {
    let (s, v) = app.admin(Method::GET, &hooks_path(account), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().cloned().unwrap()
}

/// Posts an event; returns the whole answer (`id`, `deliveries`).
async fn post_event(app: &TestApp, account: &str, body: Value) -> Value {
    let (s, v) = app.admin(Method::POST, &format!("/v1/accounts/{account}/events"), Some(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v
}

fn order(kind: &str, id: &str, total: &str) -> Value {
    json!({"type": kind, "data": {"order": {"id": id, "total": total}}})
}

#[tokio::test]
async fn create_read_patch_delete() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let (s, hook) = app.admin(Method::POST, &hooks_path("acme"), Some(json!({"url": "https://hooks.example/in?a=paid", "events": ["order.paid"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("wh_"), "{id}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(hook["account"], "acme");
    assert_eq!(hook["url"], "https://hooks.example/in?a=paid");
    assert_eq!(hook["method"], "POST");
    assert_eq!(hook["format"], "json");
    assert_eq!(hook["status"], "active");
    assert_eq!(hook["events"], json!(["order.paid"]));
    assert_eq!(hook["products"], json!([]));
    assert_eq!(hook["conditions"], json!([]));
    assert_eq!(hook["delay_minutes"], 0);
    assert_eq!(hook["schedule"], Value::Null);
    assert_eq!(hook["ordered"], false);
    assert!(hook.get("previous_secret_expires_at").is_none());

    // two webhooks get different generated secrets
    let other = app.webhook("acme", json!({"url": "https://other.example/", "events": ["*"]})).await;
    assert_ne!(other["secret"], hook["secret"]);

    let one = |v: &Value| v.clone();
    let listed = list_hooks(&app, "acme").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|h| h["id"] == id.as_str()).map(one), Some(hook.clone()));
    let (s, got) = app.admin(Method::GET, &format!("{}/{id}", hooks_path("acme")), None).await;
    assert_eq!((s, &got), (StatusCode::OK, &hook));

    // merge patch: only the given fields change
    let path = format!("{}/{id}", hooks_path("acme"));
    let (s, patched) = app.admin(Method::PATCH, &path, Some(json!({"name": "Warehouse", "headers": {"X-Api-Key": "k1"}}))).await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Warehouse");
    assert_eq!(patched["headers"], json!({"X-Api-Key": "k1"}));
    let unchanged = |a: &Value, b: &Value, except: &[&str]| {
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        for (k, v) in a {
            if !except.contains(&k.as_str()) {
                assert_eq!(Some(v), b.get(k), "field `{k}` changed");
            }
        }
    };
    unchanged(&hook, &patched, &["name", "headers", "updated_at"]);
    let schedule = json!({"timezone": "Europe/Warsaw", "windows": [{"days": ["mon", "tue"], "from": "08:00", "to": "16:00"}]});
    let (s, scheduled) = app.admin(Method::PATCH, &path, Some(json!({"schedule": schedule, "method": "PUT"}))).await;
    assert_eq!(s, StatusCode::OK, "{scheduled}");
    assert_eq!(scheduled["schedule"], schedule);
    assert_eq!(scheduled["method"], "PUT");
    unchanged(&patched, &scheduled, &["schedule", "method", "updated_at"]);
    // `null` clears the schedule; nothing else moves
    let (s, cleared) = app.admin(Method::PATCH, &path, Some(json!({"schedule": null}))).await;
    assert_eq!(s, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["schedule"], Value::Null);
    unchanged(&scheduled, &cleared, &["schedule", "updated_at"]);
    // an empty patch changes nothing
    let (s, same) = app.admin(Method::PATCH, &path, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
    unchanged(&cleared, &same, &["updated_at"]);
    let (_, got) = app.admin(Method::GET, &path, None).await;
    assert_eq!(got, same);
    // a bad patch changes nothing either
    let bad = app.admin(Method::PATCH, &path, Some(json!({"name": "Half", "url": "ftp://nope"}))).await;
    assert_eq!(assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_url")["field"], "url");
    let (_, got) = app.admin(Method::GET, &path, None).await;
    assert_eq!(got, same);

    let (s, _) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(&app.admin(Method::GET, &path, None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.admin(Method::DELETE, &path, None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.admin(Method::PATCH, &path, Some(json!({"name": "x"}))).await, StatusCode::NOT_FOUND, "not_found");
    let ids: Vec<Value> = list_hooks(&app, "acme").await.iter().map(|h| h["id"].clone()).collect();
    assert_eq!(ids, [other["id"].clone()]);
    app.stop().await;
}

#[tokio::test]
async fn a_merchant_given_secret_is_kept_and_signs() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let given = "my-old-receiver-key-2019";
    let hook = app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"], "secret": given})).await;
    assert_eq!(hook["secret"], given);
    app.event("acme", order("order.created", "1", "10.00")).await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert!(verify_with_key(given.as_bytes(), r.header("webhook-id"), r.header("webhook-timestamp"), &r.body, r.header("webhook-signature")));

    for bad in ["short".to_string(), "x".repeat(129)] {
        let got = app.admin(Method::POST, &hooks_path("acme"), Some(json!({"url": rx.url("/in"), "events": ["*"], "secret": bad}))).await;
        assert_eq!(assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret")["field"], "secret");
    }
    // the bounds themselves are accepted
    for ok in ["s".repeat(16), "s".repeat(128)] {
        let hook = app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"], "secret": ok})).await;
        assert_eq!(hook["secret"], ok.as_str());
    }
    assert_eq!(list_hooks(&app, "acme").await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn plan_gating_and_the_webhook_limit() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let body = json!({"url": "https://hooks.example/in", "events": ["*"]});

    let (s, _) = app.admin(Method::PATCH, "/v1/accounts/acme", Some(json!({"features": {"webhooks": false}}))).await;
    assert_eq!(s, StatusCode::OK);
    for k in [ADMIN_KEY, key.as_str()] {
        let got = app.call(Method::POST, &hooks_path("acme"), k, Some(body.clone())).await;
        assert_error(&got, StatusCode::FORBIDDEN, "feature_disabled");
    }
    assert!(list_hooks(&app, "acme").await.is_empty());

    let (s, _) = app.admin(Method::PATCH, "/v1/accounts/acme", Some(json!({"features": {"webhooks": true}, "limits": {"max_webhooks": 2}}))).await;
    assert_eq!(s, StatusCode::OK);
    app.webhook("acme", body.clone()).await;
    let (s, _) = app.call(Method::POST, &hooks_path("acme"), &key, Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED);
    for k in [ADMIN_KEY, key.as_str()] {
        let got = app.call(Method::POST, &hooks_path("acme"), k, Some(body.clone())).await;
        assert_error(&got, StatusCode::FORBIDDEN, "limit_reached");
    }
    assert_eq!(list_hooks(&app, "acme").await.len(), 2, "a refused webhook must not be stored");

    // deleting one frees a slot
    let first = list_hooks(&app, "acme").await[0]["id"].as_str().unwrap().to_string();
    let (s, _) = app.admin(Method::DELETE, &format!("{}/{first}", hooks_path("acme")), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.webhook("acme", body).await;
    assert_eq!(list_hooks(&app, "acme").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_for_a_while() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let hook = app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]})).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_string();

    let (s, rotated) = app.admin(Method::POST, &format!("{}/{id}/rotate-secret", hooks_path("acme")), None).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, old);
    let expires: jiff::Timestamp = rotated["previous_secret_expires_at"].as_str().expect("previous_secret_expires_at").parse().unwrap();
    let left = expires.duration_since(jiff::Timestamp::now());
    assert!(left > jiff::SignedDuration::from_hours(23) && left <= jiff::SignedDuration::from_hours(24), "{left:?}");
    let (_, got) = app.admin(Method::GET, &format!("{}/{id}", hooks_path("acme")), None).await;
    assert_eq!(got["secret"], new.as_str());

    app.event("acme", order("order.paid", "1001", "10.00")).await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    let (job, ts, sig) = (r.header("webhook-id"), r.header("webhook-timestamp"), r.header("webhook-signature"));
    let sigs: Vec<&str> = sig.split(' ').collect();
    assert_eq!(sigs.len(), 2, "one signature per secret: {sig}");
    assert!(sigs.iter().all(|s| s.starts_with("v1,")), "{sig}");
    assert_ne!(sigs[0], sigs[1]);
    for (secret, name) in [(&new, "new"), (&old, "previous")] {
        let matching = sigs.iter().filter(|s| verify_from_spec(secret, job, ts, &r.body, s)).count();
        assert_eq!(matching, 1, "exactly one signature must verify with the {name} secret: {sig}");
    }
    app.stop().await;
}

#[tokio::test]
async fn events_reach_only_subscribed_webhooks() {
    let app = TestApp::spawn().await;
    let paid_rx = TestReceiver::start().await;
    let all_rx = TestReceiver::start().await;
    app.account("acme").await;
    let paid = app.webhook("acme", json!({"url": paid_rx.url("/paid"), "events": ["order.paid"]})).await;
    let v = post_event(&app, "acme", order("order.created", "1", "10.00")).await;
    assert_eq!(v["deliveries"], 0);

    let all = app.webhook("acme", json!({"url": all_rx.url("/all"), "events": ["*"]})).await;
    assert_eq!(post_event(&app, "acme", order("order.created", "2", "10.00")).await["deliveries"], 1);
    assert_eq!(post_event(&app, "acme", json!({"type": "product.out_of_stock", "data": {"product": {"id": "p1", "stock": 0}}})).await["deliveries"], 1);
    assert_eq!(post_event(&app, "acme", order("order.paid", "2", "10.00")).await["deliveries"], 2);

    let got = all_rx.wait_for(3).await;
    let types: HashSet<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types, HashSet::from(["order.created".into(), "product.out_of_stock".into(), "order.paid".into()]));
    let got = paid_rx.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "order.paid");

    let for_paid = app.deliveries("acme", &format!("webhook={}", paid["id"].as_str().unwrap())).await;
    assert_eq!(for_paid.len(), 1, "the order.paid webhook has exactly one delivery");
    assert_eq!(for_paid[0]["event_type"], "order.paid");
    assert_eq!(app.deliveries("acme", &format!("webhook={}", all["id"].as_str().unwrap())).await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn conditions_pick_the_orders() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/big"), "events": ["order.created"], "conditions": [{"field": "order.total", "op": "gt", "value": 100}]})).await;
    assert_eq!(post_event(&app, "acme", order("order.created", "small", "50.00")).await["deliveries"], 0);
    assert_eq!(post_event(&app, "acme", order("order.created", "edge", "100.00")).await["deliveries"], 0, "gt is strict");
    assert_eq!(post_event(&app, "acme", order("order.created", "big", "150.00")).await["deliveries"], 1);
    // decimals compare as numbers, not as text ("1000.00" < "150.00" as strings)
    assert_eq!(post_event(&app, "acme", order("order.created", "huge", "1000.00")).await["deliveries"], 1);
    let got = rx.wait_for(2).await;
    let ids: HashSet<String> = got.iter().map(|r| r.json()["data"]["order"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, HashSet::from(["big".into(), "huge".into()]));
    assert_eq!(app.deliveries("acme", "").await.len(), 2);
    app.stop().await;
}

/// POST /events with an `Idempotency-Key` header.
async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> Value {
    let resp = app.client.post(app.url("/v1/accounts/acme/events")).bearer_auth(ADMIN_KEY).header("Idempotency-Key", key).json(body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn an_idempotency_key_stores_the_event_once() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]})).await;
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
    let h1 = app.webhook("acme", json!({"url": "https://a.example/", "events": ["*"]})).await;
    let h2 = app.webhook("acme", json!({"url": "https://b.example/", "events": ["order.paid"]})).await;
    let data = json!({"order": {"id": "1001", "total": "10.00", "paid": true, "customer": {"email": "a@example.com"}}});
    let id = app.event("acme", json!({"type": "order.paid", "data": data})).await;
    assert!(id.starts_with("evt_"));
    let (s, ev) = app.admin(Method::GET, &format!("/v1/accounts/acme/events/{id}"), None).await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    assert_eq!(ev["id"], id.as_str());
    assert_eq!(ev["type"], "order.paid");
    assert_eq!(ev["account"], "acme");
    assert_eq!(ev["subject"], "order:1001");
    assert_eq!(ev["data"], data);
    assert!(ev["created_at"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
    let mut listed: Vec<String> = ev["deliveries"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    listed.sort();
    let mut expected: Vec<String> = app.deliveries("acme", "").await.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let hooks: HashSet<Value> =
        futures_like_join(&app, &listed).await.iter().map(|d| d["webhook_id"].clone()).collect::<Vec<_>>().into_iter().map(|v| json!(v)).collect();
    assert_eq!(hooks, HashSet::from([h1["id"].clone(), h2["id"].clone()]));

    // an explicit subject is kept as given
    let id2 = app.event("acme", json!({"type": "order.updated", "subject": "order:custom", "data": {"order": {"id": "1"}}})).await;
    let (_, ev2) = app.admin(Method::GET, &format!("/v1/accounts/acme/events/{id2}"), None).await;
    assert_eq!(ev2["subject"], "order:custom");

    assert_error(&app.admin(Method::GET, "/v1/accounts/acme/events/evt_01J00000000000000000000000", None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&app.admin(Method::GET, &format!("/v1/accounts/beta/events/{id}"), None).await, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}

/// Each delivery by id, one after another.
async fn futures_like_join(app: &TestApp, ids: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        out.push(app.delivery("acme", id).await);
    }
    out
}

#[tokio::test]
async fn delivery_history_filters_and_pages() {
    // no retries, so a failing delivery is dead after one attempt
    let app = TestApp::spawn_with(&["--allow-private-targets", "--retry-schedule", ""]).await;
    let ok = TestReceiver::start().await;
    let failing = TestReceiver::with_script(&[500]).await;
    app.account("acme").await;
    let all = app.webhook("acme", json!({"url": ok.url("/all"), "events": ["*"]})).await;
    let paid = app.webhook("acme", json!({"url": failing.url("/paid"), "events": ["order.paid"]})).await;
    let (all, paid) = (all["id"].as_str().unwrap(), paid["id"].as_str().unwrap());

    // in posting order: (event, deliveries)
    let posted = [
        (order("order.created", "1001", "10.00"), 1),
        (order("order.paid", "1001", "10.00"), 2),
        (order("order.created", "1002", "20.00"), 1),
        (json!({"type": "product.updated", "data": {"product": {"id": "p1"}}}), 1),
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
        let want = if d["webhook_id"] == paid { "dead" } else { "succeeded" };
        app.wait_status("acme", d["id"].as_str().unwrap(), want).await;
    }

    let ids = |list: &[Value]| -> Vec<String> { list.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect() };
    let check = |list: &[Value], what: &str, pred: &dyn Fn(&Value) -> bool, n: usize| {
        assert_eq!(list.len(), n, "{what}: {list:?}");
        assert!(list.iter().all(pred), "{what}: {list:?}");
    };
    check(&app.deliveries("acme", &format!("webhook={paid}")).await, "webhook=paid", &|d| d["webhook_id"] == paid, 1);
    check(&app.deliveries("acme", &format!("webhook={all}")).await, "webhook=all", &|d| d["webhook_id"] == all, 5);
    check(&app.deliveries("acme", "status=dead").await, "status=dead", &|d| d["status"] == "dead" && d["webhook_id"] == paid, 1);
    check(&app.deliveries("acme", "status=succeeded").await, "status=succeeded", &|d| d["status"] == "succeeded", 5);
    check(&app.deliveries("acme", "status=pending").await, "status=pending", &|_| true, 0);
    check(&app.deliveries("acme", "event_type=order.created").await, "event_type", &|d| d["event_type"] == "order.created", 2);
    check(&app.deliveries("acme", "subject=order:1001").await, "subject", &|d| d["subject"] == "order:1001", 4);
    check(&app.deliveries("acme", "subject=order%3A1001").await, "subject, encoded", &|d| d["subject"] == "order:1001", 4);
    check(&app.deliveries("acme", "subject=product:p1").await, "subject=product", &|d| d["event_type"] == "product.updated", 1);
    check(&app.deliveries("acme", &format!("subject=order:1001&webhook={all}&event_type=order.paid")).await, "combined", &|d| d["event_id"] == events[1].as_str(), 1);
    check(&app.deliveries("acme", "subject=order:9999").await, "no match", &|_| true, 0);

    // cursor paging: every delivery exactly once, newest first
    let mut paged: Vec<Value> = Vec::new();
    let mut query = "limit=2".to_string();
    let mut pages = 0;
    loop {
        let (s, page) = app.admin(Method::GET, &format!("/v1/accounts/acme/deliveries?{query}"), None).await;
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
    assert_eq!(ids(&paged), ids(&everything), "paging must visit the same deliveries in the same order");
    assert_eq!(ids(&paged).into_iter().collect::<HashSet<_>>().len(), 6, "no delivery twice");
    // newest first: the events' positions never increase down the list
    let position = |d: &Value| events.iter().position(|e| d["event_id"] == e.as_str()).unwrap();
    let order: Vec<usize> = paged.iter().map(position).collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "not newest first: {order:?}");
    let created: Vec<jiff::Timestamp> = paged.iter().map(|d| d["created_at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "not newest first: {created:?}");
    // paging with a filter
    let first = app.deliveries("acme", "subject=order:1001&limit=3").await;
    let (s, rest) = app.admin(Method::GET, &format!("/v1/accounts/acme/deliveries?subject=order:1001&limit=3&before={}", first[2]["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    app.stop().await;
}
