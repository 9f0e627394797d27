//! Rate limits: an account key over its request rate gets 429 with Retry-After;
//! a webhook's `rate_limit_per_second` paces its deliveries; a receiver's 429 with
//! `Retry-After` is honoured. (Assertions are lower bounds — "not sooner than" —
//! which a slow machine cannot break.)

use std::time::Instant;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_account_key_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(&["--allow-private-targets", "--api-rate-limit", "1"]).await;
    let key = app.account("acme").await;
    let other = app.account("globex").await;
    let mut limited = None;
    for _ in 0..20 {
        let resp = app
            .client
            .get(app.url("/v1/accounts/acme/webhooks"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("20 requests at once exceed 1/s with a burst of 2");
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let body = (StatusCode::TOO_MANY_REQUESTS, resp.json().await.unwrap());
    assert_error(&body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another key and the operator key have their own budgets.
    let (s, _) = app
        .call(Method::GET, "/v1/accounts/globex/webhooks", &other, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..20 {
        let (s, _) = app
            .admin(Method::GET, "/v1/accounts/acme/webhooks", None)
            .await;
        assert_eq!(s, StatusCode::OK, "the operator key is not limited");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_webhooks_rate_limit_paces_its_deliveries() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let paced = TestReceiver::start().await;
    let free = TestReceiver::start().await;
    app.webhook(
        "acme",
        json!({"url": paced.url("/p"), "events": ["*"], "rate_limit_per_second": 2}),
    )
    .await;
    app.webhook("acme", json!({"url": free.url("/f"), "events": ["*"]}))
        .await;
    let start = Instant::now();
    for n in 0..6 {
        app.event(
            "acme",
            json!({"type": "order.paid", "data": {"order": {"id": n.to_string()}}}),
        )
        .await;
    }
    free.wait_for(6).await;
    paced.wait_for(6).await;
    // 2 per second, a burst of 2: the sixth request cannot leave before 2 s.
    assert!(
        start.elapsed().as_secs_f64() >= 1.9,
        "6 deliveries at 2/s took only {:?}",
        start.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_receivers_retry_after_is_honoured() {
    let app = TestApp::spawn().await; // retry schedule 50ms, 50ms, 50ms
    app.account("acme").await;
    let rx = TestReceiver::with_script(&[429]).await;
    rx.set_header("retry-after", "2");
    app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1"}}}),
    )
    .await;
    rx.wait_for(1).await;
    let id = app.deliveries("acme", "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app.wait_status("acme", &id, "failed").await;
    let started: jiff::Timestamp = d["attempts"][0]["started_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let next: jiff::Timestamp = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert!(
        next.duration_since(started) >= jiff::SignedDuration::from_secs(2),
        "retry at {next}, asked for 2 s after {started}"
    );
    let d = app.wait_status("acme", &id, "succeeded").await;
    let second: jiff::Timestamp = d["attempts"][1]["started_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(second.duration_since(started) >= jiff::SignedDuration::from_secs(2));
    app.stop().await;
}
