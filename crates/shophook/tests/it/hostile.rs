//! Receivers that misbehave hold a worker no longer than the request timeout and
//! cost no more than 64 KiB of memory per attempt: an endless body is cut at 64 KiB,
//! a body that trickles forever is cut at the timeout. (Liveness, not timing: each
//! test only needs the delivery to finish at all.)

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

/// A raw HTTP/1.1 server that answers `200` with a chunked body that never ends:
/// `chunk` bytes every `every`.
async fn endless(chunk: usize, every: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = conn.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                if conn.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let body = format!("{chunk:x}\r\n{}\r\n", "x".repeat(chunk));
                loop {
                    if conn.write_all(body.as_bytes()).await.is_err() {
                        return; // the sender hung up: what it should do
                    }
                    if !every.is_zero() {
                        tokio::time::sleep(every).await;
                    }
                }
            });
        }
    });
    url
}

async fn one_delivery(app: &TestApp, url: &str) -> serde_json::Value {
    app.webhook("acme", json!({"url": url, "events": ["*"]}))
        .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1"}}}),
    )
    .await;
    let d = app.deliveries("acme", "").await;
    app.wait_status("acme", d[0]["id"].as_str().unwrap(), "succeeded")
        .await
}

#[tokio::test]
async fn an_endless_body_is_cut_at_64_kib() {
    let app = TestApp::spawn_with(&["--allow-private-targets", "--request-timeout", "30s"]).await;
    app.account("acme").await;
    let url = endless(8192, Duration::ZERO).await;
    let d = one_delivery(&app, &url).await;
    let response = &d["attempts"][0]["response"];
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["body"].as_str().unwrap().len(),
        64 * 1024,
        "kept up to 64 KiB"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_trickling_body_is_cut_at_the_request_timeout() {
    let app = TestApp::spawn_with(&["--allow-private-targets", "--request-timeout", "1s"]).await;
    app.account("acme").await;
    let url = endless(1, Duration::from_millis(50)).await;
    let d = one_delivery(&app, &url).await;
    let attempt = &d["attempts"][0];
    assert_eq!(
        attempt["response"]["status"], 200,
        "the status is what counts: {d}"
    );
    let kept = attempt["response"]["body"].as_str().unwrap().len();
    assert!(kept > 0 && kept < 64 * 1024, "as far as it came: {kept}");
    app.stop().await;
}
