//! REST Hooks (Zapier, Make, n8n): subscribe → deliveries → a 410 unsubscribes;
//! explicit unsubscribe; a sample body for "Perform List".

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn subscribe_deliver_then_410_unsubscribes() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let rx = TestReceiver::start().await;
    let (s, sub) = app
        .call(
            Method::POST,
            "/v1/accounts/acme/hooks/subscribe",
            &key,
            Some(json!({"target_url": rx.url("/zap"), "event": "order.paid"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(sub["event"], "order.paid");
    assert!(sub["secret"].as_str().unwrap().starts_with("whsec_"));

    // It is a JSON webhook for that one event, that a 410 unsubscribes.
    let (s, hook) = app
        .call(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hook["events"], json!(["order.paid"]));
    assert_eq!(hook["format"], "json");
    assert_eq!(hook["unsubscribe_on_410"], true);

    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "1"}}}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1", "paid": true}}}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "order.paid");
    assert_eq!(got[0].json()["data"]["order"]["id"], "1");

    // The platform deleted the Zap: its hook URL answers 410 Gone.
    rx.set_default(410);
    let second = app
        .event(
            "acme",
            json!({"type": "order.paid", "data": {"order": {"id": "2"}}}),
        )
        .await;
    rx.wait_for(2).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (s, _) = app
            .call(
                Method::GET,
                &format!("/v1/accounts/acme/webhooks/{id}"),
                &key,
                None,
            )
            .await;
        if s == StatusCode::NOT_FOUND {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the 410 did not unsubscribe"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let d = app.deliveries("acme", "").await;
    let last = d
        .iter()
        .find(|d| d["event_id"] == second.as_str())
        .expect("the 410 delivery stays in the history");
    assert_eq!(last["status"], "dead");

    // Nothing goes out any more.
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "3"}}}),
    )
    .await;
    let d = app.deliveries("acme", "").await;
    assert_eq!(d.len(), 2, "no delivery for an unsubscribed hook: {d:?}");
    assert_eq!(rx.count(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_410_ends_only_the_delivery_of_an_ordinary_webhook() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let rx = TestReceiver::with_script(&[410]).await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/x"), "events": ["order.paid"]}),
        )
        .await;
    let id = hook["id"].as_str().unwrap();
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1"}}}),
    )
    .await;
    rx.wait_for(1).await;
    let d = app.deliveries("acme", "").await;
    app.wait_status("acme", d[0]["id"].as_str().unwrap(), "dead")
        .await;
    let (s, _) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "still there");
    app.stop().await;
}

#[tokio::test]
async fn unsubscribe_sample_and_bad_input() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let (s, sub) = app
        .call(
            Method::POST,
            "/v1/accounts/acme/hooks/subscribe",
            &key,
            Some(json!({"target_url": "http://127.0.0.1:9/hook", "event": "*"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let path = format!("/v1/accounts/acme/hooks/{}", sub["id"].as_str().unwrap());
    let (s, _) = app.call(Method::DELETE, &path, &key, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let gone = app.call(Method::DELETE, &path, &key, None).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");

    let bad = [
        (
            json!({"target_url": "ftp://x", "event": "order.paid"}),
            "target_url",
        ),
        (
            json!({"target_url": "http://127.0.0.1:9/", "event": "order.teleported"}),
            "event",
        ),
        (json!({"event": "order.paid"}), "target_url"),
        (
            json!({"target_url": "http://127.0.0.1:9/", "event": "order.paid", "x": 1}),
            "x",
        ),
    ];
    for (body, field) in bad {
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/accounts/acme/hooks/subscribe",
                &key,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let (s, list) = app
        .call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"], json!([]), "bad subscriptions store nothing");

    let (s, sample) = app
        .call(
            Method::GET,
            "/v1/accounts/acme/hooks/sample?event=order.paid",
            &key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sample}");
    assert_eq!(sample[0]["type"], "order.paid");
    assert_eq!(sample[0]["account"], "acme");
    assert!(sample[0]["data"]["order"]["id"].is_string());
    let (s, v) = app
        .call(Method::GET, "/v1/accounts/acme/hooks/sample", &key, None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "event");
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/accounts/acme/hooks/sample?event=nope",
            &key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    app.stop().await;
}
