//! Concurrency bounds: a receiver that never answers holds at most
//! `--webhook-concurrency` requests, so the other webhooks keep being served.

use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

use crate::support::{TestApp, TestReceiver};

/// Accepts connections and never answers; counts them.
async fn black_hole() -> (String, tokio::sync::watch::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
            tx.send_modify(|n| *n += 1);
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_hanging_receiver_does_not_starve_the_others() {
    // 4 slots in all, 2 per webhook; requests would hang for a minute.
    let app = TestApp::spawn_with(&[
        "--allow-private-targets",
        "--concurrency",
        "4",
        "--webhook-concurrency",
        "2",
        "--request-timeout",
        "60s",
    ])
    .await;
    let (slow_url, mut slow_conns) = black_hole().await;
    let fast = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": slow_url, "events": ["*"]}))
        .await;
    app.webhook("acme", json!({"url": fast.url("/fast"), "events": ["*"]}))
        .await;
    for n in 0..20 {
        app.event(
            "acme",
            json!({"type": "order.created", "data": {"order": {"id": n.to_string()}}}),
        )
        .await;
    }
    // Every fast delivery arrives although the slow webhook has 20 due deliveries
    // and no request to it ever finishes.
    fast.wait_for(20).await;
    tokio::time::timeout(Duration::from_secs(20), slow_conns.wait_for(|n| *n >= 2))
        .await
        .unwrap()
        .unwrap();
    assert!(
        *slow_conns.borrow() <= 2,
        "the slow webhook got more than its 2 slots: {}",
        *slow_conns.borrow()
    );
    app.stop().await;
}
