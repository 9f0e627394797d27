//! Tenant isolation: one account's key answers 404 on every account-scoped route
//! of another account — exactly as if the account did not exist — and never sees,
//! changes or triggers anything of it, also when it names the other account's
//! resources under its own account's path.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestReceiver, assert_error};

#[tokio::test]
async fn another_accounts_key_reaches_nothing() {
    let app = TestApp::spawn().await;
    let rx_a = TestReceiver::start().await;
    let rx_b = TestReceiver::start().await;
    let key_a = app.account("a").await;
    let key_b = app.account("b").await;

    // A: a webhook, two events, two delivered deliveries
    let (s, hook) = app
        .call(
            Method::POST,
            "/v1/accounts/a/webhooks",
            &key_a,
            Some(json!({"url": rx_a.url("/a"), "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let wh = hook["id"].as_str().unwrap().to_string();
    let mut evts = Vec::new();
    for n in ["1", "2"] {
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/accounts/a/events",
                &key_a,
                Some(json!({"type": "order.created", "data": {"order": {"id": n}}})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        evts.push(v["id"].as_str().unwrap().to_string());
    }
    rx_a.wait_for(2).await;
    let deliveries_a = app.deliveries("a", "").await;
    assert_eq!(deliveries_a.len(), 2);
    let dlv = deliveries_a[0]["id"].as_str().unwrap().to_string();
    for d in &deliveries_a {
        app.wait_status("a", d["id"].as_str().unwrap(), "succeeded")
            .await;
    }
    let (_, hook_before) = app
        .call(
            Method::GET,
            &format!("/v1/accounts/a/webhooks/{wh}"),
            &key_a,
            None,
        )
        .await;

    // B: its own webhook and event
    let (s, hook_b) = app
        .call(
            Method::POST,
            "/v1/accounts/b/webhooks",
            &key_b,
            Some(json!({"url": rx_b.url("/b"), "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, evt_b) = app
        .call(
            Method::POST,
            "/v1/accounts/b/events",
            &key_b,
            Some(json!({"type": "order.created", "data": {"order": {"id": "b1"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    rx_b.wait_for(1).await;

    // every account-scoped route of A, with B's key, under A's path and with A's ids
    // under B's own path
    let mut routes = ids_routes("/v1/accounts/a", &wh, &evts[0], &dlv, &rx_b.url("/stolen"));
    routes.extend(ids_routes(
        "/v1/accounts/b",
        &wh,
        &evts[0],
        &dlv,
        &rx_b.url("/stolen"),
    ));
    routes.extend(collection_routes(
        "/v1/accounts/a",
        &wh,
        &rx_b.url("/stolen"),
    ));
    assert_eq!(routes.len(), 25);
    for (method, path, body) in routes {
        let got = app.call(method.clone(), &path, &key_b, body).await;
        assert_eq!(
            got.0,
            StatusCode::NOT_FOUND,
            "{method} {path} with B's key: {}",
            got.1
        );
        assert_error(&got, StatusCode::NOT_FOUND, "not_found");
        let text = got.1.to_string();
        assert!(
            !text.contains(&wh) && !text.contains(&dlv) && !text.contains(&evts[0]),
            "{method} {path} leaks: {text}"
        );
    }

    // B's own listings show only B's things, even when filtered by A's ids
    let (_, hooks) = app
        .call(Method::GET, "/v1/accounts/b/webhooks", &key_b, None)
        .await;
    let ids: Vec<&Value> = hooks["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(ids, [&hook_b["id"]]);
    let (_, dl) = app
        .call(
            Method::GET,
            "/v1/accounts/b/deliveries?limit=1000",
            &key_b,
            None,
        )
        .await;
    let dl = dl["data"].as_array().unwrap();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["event_id"], evt_b["id"]);
    assert!(dl.iter().all(|d| d["account"] == "b"), "{dl:?}");
    for q in [
        format!("webhook={wh}"),
        "subject=order:1".into(),
        format!("before=dlv_{}", "Z".repeat(26)),
    ] {
        let (s, v) = app
            .call(
                Method::GET,
                &format!("/v1/accounts/b/deliveries?{q}"),
                &key_b,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let shown = v["data"].as_array().unwrap();
        assert!(shown.iter().all(|d| d["account"] == "b"), "{q}: {v}");
    }

    // A is untouched: same webhook, same deliveries, and its receiver got nothing more
    let (s, hook_after) = app
        .call(
            Method::GET,
            &format!("/v1/accounts/a/webhooks/{wh}"),
            &key_a,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hook_after, hook_before);
    let after = app.deliveries("a", "").await;
    assert_eq!(
        after.len(),
        2,
        "B planted or removed a delivery in A: {after:?}"
    );
    for d in &after {
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["attempt_count"], 1, "{d}");
    }
    // one more event of A's own: had B's test, retry or event reached A's receiver,
    // those requests would be here too (the worker sends in due order)
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/accounts/a/events",
            &key_a,
            Some(json!({"type": "order.created", "data": {"order": {"id": "3"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let got = rx_a.wait_for(3).await;
    let ids: Vec<Value> = got.iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(ids, [json!(evts[0]), json!(evts[1]), v["id"].clone()]);
    assert!(
        rx_b.received().iter().all(|r| r.uri == "/b"),
        "B's receiver got a request meant for A"
    );
    assert_eq!(rx_b.received().len(), 1);
    app.stop().await;
}

/// The routes that name one of A's webhooks, events or deliveries, under `base`.
#[rustfmt::skip]
fn ids_routes(base: &str, wh: &str, evt: &str, dlv: &str, stolen: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("{base}/webhooks/{wh}"), None),
        (Method::PATCH, format!("{base}/webhooks/{wh}"), Some(json!({"url": stolen, "name": "pwned"}))),
        (Method::POST, format!("{base}/webhooks/{wh}/pause"), None),
        (Method::POST, format!("{base}/webhooks/{wh}/resume"), Some(json!({"discard_held": true}))),
        (Method::POST, format!("{base}/webhooks/{wh}/test"), None),
        (Method::POST, format!("{base}/webhooks/{wh}/rotate-secret"), None),
        (Method::DELETE, format!("{base}/webhooks/{wh}"), None),
        (Method::GET, format!("{base}/events/{evt}"), None),
        (Method::GET, format!("{base}/deliveries/{dlv}"), None),
        (Method::POST, format!("{base}/deliveries/{dlv}/retry"), None),
    ]
}

/// The account's collection routes under `base`.
#[rustfmt::skip]
fn collection_routes(base: &str, wh: &str, stolen: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("{base}/webhooks"), None),
        (Method::POST, format!("{base}/webhooks"), Some(json!({"url": stolen, "events": ["*"]}))),
        (Method::POST, format!("{base}/events"), Some(json!({"type": "order.created", "data": {"order": {"id": "planted-by-b"}}}))),
        (Method::GET, format!("{base}/deliveries"), None),
        (Method::GET, format!("{base}/deliveries?webhook={wh}"), None),
    ]
}
