//! Stopping the real binary with SIGTERM or SIGKILL while deliveries are pending
//! loses nothing: after a restart on the same database every accepted event reaches
//! the receiver.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ServerProcess, TestReceiver};

const EVENTS: usize = 40;

async fn stop_with_pending_work(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shophook.db");
    // Slow retries, so deliveries are waiting (and some in flight) at the signal.
    let flags = [
        "--allow-private-targets",
        "--retry-schedule",
        "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        "--shutdown-grace",
        "1s",
    ];
    let rx = TestReceiver::start().await;
    rx.set_default(503);

    let first = ServerProcess::start(&db, &flags);
    let api = first.client();
    let (s, _) = api
        .call(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(json!({"url": rx.url("/in"), "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut accepted = HashSet::new();
    for n in 0..EVENTS {
        let (s, v) = api
            .call(
                Method::POST,
                "/v1/accounts/acme/events",
                Some(json!({"type": "order.created", "data": {"order": {"id": n.to_string()}}})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        accepted.insert(v["id"].as_str().unwrap().to_string());
    }
    // every event was tried once and failed: all are pending retries now
    rx.wait_for(EVENTS).await;
    first.signal(signal);
    let status = first.wait();
    if signal == "TERM" {
        assert!(
            status.success(),
            "SIGTERM must end the server cleanly, got {status}"
        );
    }

    rx.set_default(200);
    let second = ServerProcess::start(&db, &flags);
    let got = rx
        .wait_until("every accepted event delivered with a 200", |got| {
            let ok: HashSet<String> = got
                .iter()
                .filter(|r| r.answered == 200)
                .map(|r| r.json()["id"].as_str().unwrap().to_string())
                .collect();
            accepted.is_subset(&ok)
        })
        .await;
    // nothing delivered that was never accepted
    assert!(
        got.iter()
            .all(|r| accepted.contains(r.json()["id"].as_str().unwrap()))
    );
    // and nothing is left waiting or stuck
    let api = second.client();
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        let (_, v) = api
            .call(
                Method::GET,
                "/v1/accounts/acme/deliveries?status=succeeded&limit=1000",
                None,
            )
            .await;
        if v["data"].as_array().unwrap().len() == EVENTS {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every delivery ended succeeded: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    second.signal("TERM");
    assert!(second.wait().success());
}

#[tokio::test]
async fn sigterm_with_pending_deliveries_loses_nothing() {
    stop_with_pending_work("TERM").await;
}

#[tokio::test]
async fn sigkill_with_pending_deliveries_loses_nothing() {
    stop_with_pending_work("KILL").await;
}
