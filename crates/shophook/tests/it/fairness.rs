//! Concurrency bounds: a receiver that never answers holds at most
//! `--webhook-concurrency` requests, so the other webhooks keep being served; and
//! one account's webhooks hold at most `--account-concurrency` (or its own
//! `limits.max_in_flight`), so the other accounts keep being served. (Order, not
//! timing: the other deliveries arrive while the hanging requests still hang.)

use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

use reqwest::Method;

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

/// The hostile account of the issue: 17 webhooks at a receiver that never
/// answers, 100 events; the other account's delivery still goes out at once.
async fn one_account_cannot_take_every_slot(account_limit: Option<u32>, flags: &[&str]) {
    let mut args = vec![
        "--allow-private-targets",
        "--concurrency",
        "32",
        "--webhook-concurrency",
        "8",
        "--request-timeout",
        "120s",
    ];
    args.extend_from_slice(flags);
    let app = TestApp::spawn_with(&args).await;
    let (hole, mut held) = black_hole().await;
    let victim = TestReceiver::start().await;
    app.account("hostile").await;
    if let Some(n) = account_limit {
        let (s, v) = app
            .admin(
                Method::PATCH,
                "/v1/accounts/hostile",
                Some(json!({"limits": {"max_in_flight": n}})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["limits"]["max_in_flight"], n);
    }
    app.account("victim").await;
    for _ in 0..17 {
        app.webhook("hostile", json!({"url": hole, "events": ["*"]}))
            .await;
    }
    app.webhook("victim", json!({"url": victim.url("/in"), "events": ["*"]}))
        .await;
    for n in 0..100 {
        app.event(
            "hostile",
            json!({"type": "order.created", "data": {"order": {"id": n.to_string()}}}),
        )
        .await;
    }
    // the hostile account's share of slots fills up before the victim's event
    let ceiling = account_limit.unwrap_or(16) as usize;
    tokio::time::timeout(Duration::from_secs(20), held.wait_for(|n| *n >= ceiling))
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    app.event(
        "victim",
        json!({"type": "order.created", "data": {"order": {"id": "v1"}}}),
    )
    .await;
    victim.wait_for(1).await;
    eprintln!(
        "the other account's delivery arrived {:?} after its event, {} hostile requests hanging",
        started.elapsed(),
        *held.borrow()
    );
    assert_eq!(
        *held.borrow(),
        ceiling,
        "the hostile account holds exactly its ceiling"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_accounts_hanging_webhooks_cannot_take_every_slot() {
    one_account_cannot_take_every_slot(None, &["--account-concurrency", "16"]).await;
}

#[tokio::test]
async fn an_accounts_own_in_flight_limit_is_its_ceiling() {
    one_account_cannot_take_every_slot(Some(5), &["--account-concurrency", "16"]).await;
}
