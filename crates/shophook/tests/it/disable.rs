//! Persistent failure: a webhook whose every attempt fails for `--disable-after`
//! is disabled, `webhook.disabled` goes to the account's notify_url, new
//! deliveries wait held, and resume sends them; dead deliveries stay replayable.
//! On a manual clock: days pass without sleeping.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use jiff::SignedDuration;
use serde_json::json;
use shophook::clock::ManualClock;

use crate::support::*;

#[tokio::test]
async fn failing_for_days_disables_notifies_and_resume_recovers() {
    let clock = Arc::new(ManualClock::new("2026-03-02T10:00:00Z".parse().unwrap()));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp::spawn_clocked(
        dir,
        clock.clone(),
        &[
            "--allow-private-targets",
            "--retry-schedule",
            "1h",
            "--disable-after",
            "5d",
        ],
    )
    .await;
    let ops = TestReceiver::start().await;
    let rx = TestReceiver::start().await;
    rx.set_default(500);
    let (s, _) = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "notify_url": ops.url("/ops")})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let hook = app
        .webhook(
            "acme",
            json!({"name": "Warehouse", "url": rx.url("/in"), "events": ["order.paid"]}),
        )
        .await;
    let hook_path = format!(
        "/v1/accounts/acme/webhooks/{}",
        hook["id"].as_str().unwrap()
    );
    let paid = |n: &str| json!({"type": "order.paid", "data": {"order": {"id": n}}});

    app.event("acme", paid("1")).await;
    rx.wait_for(1).await;
    let (_, h) = app.admin(Method::GET, &hook_path, None).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut h = h;
    while h["failing_since"].is_null() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "failing_since set: {h}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        h = app.admin(Method::GET, &hook_path, None).await.1;
    }
    assert_eq!(h["failing_since"], "2026-03-02T10:00:00Z");
    assert_eq!(h["status"], "active");

    // Four days later it still fails, but not for long enough.
    app.advance(&clock, SignedDuration::from_hours(96));
    app.event("acme", paid("2")).await;
    rx.wait_for(3).await; // the retry of 1 and the first attempt of 2
    assert_eq!(
        app.admin(Method::GET, &hook_path, None).await.1["status"],
        "active"
    );
    assert_eq!(ops.count(), 0);

    // Over five days: the next failure disables it and the account is told.
    app.advance(&clock, SignedDuration::from_hours(25));
    app.event("acme", paid("3")).await;
    let note = ops.wait_for(1).await;
    let body = note[0].json();
    assert_eq!(body["type"], "webhook.disabled");
    assert_eq!(body["data"]["webhook"]["id"], hook["id"]);
    assert_eq!(body["data"]["webhook"]["name"], "Warehouse");
    assert_eq!(body["data"]["failing_since"], "2026-03-02T10:00:00Z");
    assert!(
        !note[0].header("webhook-signature").is_empty(),
        "signed like any delivery"
    );
    let (_, h) = app.admin(Method::GET, &hook_path, None).await;
    assert_eq!(h["status"], "disabled", "{h}");

    // The notification webhook is visible, with its own history.
    let hooks = app.deliveries("acme", "event_type=webhook.disabled").await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["webhook_id"], "wh_notify_acme");

    // While disabled nothing is sent; new deliveries wait, held.
    let sent = rx.count();
    app.event("acme", paid("4")).await;
    let waiting = app
        .deliveries("acme", "event_type=order.paid&status=scheduled")
        .await;
    assert!(waiting.iter().all(|d| d["held"] == true), "{waiting:?}");
    assert!(!waiting.is_empty());
    assert_eq!(rx.count(), sent);

    // The receiver is fixed; resume re-enables and sends what waited.
    rx.set_default(200);
    let (s, h) = app
        .admin(Method::POST, &format!("{hook_path}/resume"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["status"], "active");
    assert!(
        h.get("failing_since").is_none(),
        "resume starts afresh: {h}"
    );
    rx.wait_until("order 4 after resume", |got| {
        got.iter().any(|r| r.json()["data"]["order"]["id"] == "4")
    })
    .await;

    // Dead deliveries stay replayable.
    let dead = app.deliveries("acme", "status=dead").await;
    assert!(!dead.is_empty(), "the retries of 1 gave up");
    let (s, r) = app
        .admin(
            Method::POST,
            &format!("{hook_path}/replay"),
            Some(json!({"since": "2026-03-01T00:00:00Z", "status": "dead"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["replayed"].as_u64().unwrap(), dead.len() as u64);
    for d in &dead {
        app.wait_status("acme", d["id"].as_str().unwrap(), "succeeded")
            .await;
    }
    app.stop().await;
}
