//! The SSRF guard end to end, with loopback spellings only (every other class of
//! address is covered by the unit tests of `shophook_core::ssrf`; end-to-end tests
//! never aim at another address). Without `--allow-private-targets` a running
//! receiver on 127.0.0.1 is never reached, however its address is written: a
//! webhook naming it is refused when it is created (422, naming the flag), and one
//! stored while the server allowed it is refused at every send;
//! `--allow-cidr` and `--allow-private-targets` open it again.

use serde_json::{Value, json};

use crate::support::{TestApp, TestReceiver, assert_error};

/// Ways to write the receiver's loopback address.
fn spellings(port: u16) -> Vec<String> {
    [
        format!("http://127.0.0.1:{port}/in"),
        format!("http://localhost:{port}/in"),
        format!("http://[::1]:{port}/in"),
        format!("http://2130706433:{port}/in"),
        format!("http://0x7f.0.0.1:{port}/in"),
        format!("http://[::ffff:127.0.0.1]:{port}/in"),
        format!("http://0177.0.0.1:{port}/in"),
        format!("http://127.1:{port}/in"),
        format!("http://0.0.0.0:{port}/in"),
        format!("http://[::]:{port}/in"),
    ]
    .into()
}

/// Posts one event and returns its deliveries by webhook id, as the API shows them.
async fn deliveries_of_one_event(app: &TestApp, expect: usize) -> Vec<Value> {
    let (s, v) = app
        .admin(
            axum::http::Method::POST,
            "/v1/accounts/acme/events",
            Some(json!({"type": "order.paid", "data": {"order": {"id": "1001"}}})),
        )
        .await;
    assert_eq!(s, axum::http::StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["deliveries"], expect, "{v}");
    app.deliveries("acme", "limit=1000").await
}

#[tokio::test]
async fn loopback_is_refused_in_every_spelling() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let rx = TestReceiver::start().await;
    // refused at creation, with the flag that would allow it
    let app = TestApp::spawn_in(dir.clone(), &["--retry-schedule", ""]).await;
    app.account("acme").await;
    for url in spellings(rx.addr.port()) {
        let got = app
            .admin(
                axum::http::Method::POST,
                "/v1/accounts/acme/webhooks",
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        let e = assert_error(
            &got,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "private_target",
        );
        assert_eq!(e["field"], "url", "{url}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("--allow-private-targets")
                && (message.contains("loopback") || message.contains("unspecified")),
            "{url}: {message}"
        );
    }
    app.stop().await;
    // stored while the server allowed them, then the server runs without the flag:
    // refused at every send
    let app = TestApp::spawn_in(
        dir.clone(),
        &["--retry-schedule", "", "--allow-private-targets"],
    )
    .await;
    let mut by_hook = std::collections::HashMap::new();
    for url in spellings(rx.addr.port()) {
        let hook = app
            .webhook(
                "acme",
                json!({"url": url, "events": ["*"], "status": "paused"}),
            )
            .await;
        by_hook.insert(hook["id"].as_str().unwrap().to_string(), url);
    }
    app.stop().await;
    let app = TestApp::spawn_in(dir, &["--retry-schedule", ""]).await;
    for id in by_hook.keys() {
        let (s, v) = app
            .admin(
                axum::http::Method::PATCH,
                &format!("/v1/accounts/acme/webhooks/{id}"),
                Some(json!({"status": "active"})),
            )
            .await;
        assert_eq!(s, axum::http::StatusCode::OK, "{v}");
    }
    let deliveries = deliveries_of_one_event(&app, by_hook.len()).await;
    assert_eq!(deliveries.len(), by_hook.len());
    for d in deliveries {
        let url = &by_hook[d["webhook_id"].as_str().unwrap()];
        let d = app
            .wait_status("acme", d["id"].as_str().unwrap(), "dead")
            .await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{url}: {d}");
        let error = attempts[0]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: no attempt error: {d}"));
        assert!(
            error.contains("loopback") || error.contains("unspecified"),
            "{url}: the error must name the refusal: {error}"
        );
        assert!(
            error.contains("--allow-private-targets"),
            "{url}: the error must say how to allow it: {error}"
        );
        assert_eq!(attempts[0]["response"], Value::Null, "{url}: {d}");
    }
    // every delivery is dead, so nothing more can come: the receiver got nothing
    assert!(
        rx.received().is_empty(),
        "the guard let a request through: {:?}",
        rx.received()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_allowed_cidr_opens_only_that_range() {
    let app = TestApp::spawn_with(&["--retry-schedule", "", "--allow-cidr", "127.0.0.0/8"]).await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let allowed = app
        .webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    // ::1 is loopback too, but not in 127.0.0.0/8
    let got = app
        .admin(
            axum::http::Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(json!({"url": format!("http://[::1]:{}/in", rx.addr.port()), "events": ["*"]})),
        )
        .await;
    let e = assert_error(
        &got,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "private_target",
    );
    assert!(e["message"].as_str().unwrap().contains("loopback"), "{e:?}");
    let deliveries = deliveries_of_one_event(&app, 1).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].uri, "/in");
    assert_eq!(deliveries[0]["webhook_id"], allowed["id"]);
    app.wait_status("acme", deliveries[0]["id"].as_str().unwrap(), "succeeded")
        .await;
    assert_eq!(rx.received().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn allow_private_targets_delivers_to_loopback() {
    let app = TestApp::spawn_with(&["--retry-schedule", "", "--allow-private-targets"]).await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    app.webhook(
        "acme",
        json!({"url": format!("http://localhost:{}/named", rx.addr.port()), "events": ["*"]}),
    )
    .await;
    let deliveries = deliveries_of_one_event(&app, 2).await;
    rx.wait_for(2).await;
    for d in deliveries {
        app.wait_status("acme", d["id"].as_str().unwrap(), "succeeded")
            .await;
    }
    let mut uris: Vec<String> = rx.received().iter().map(|r| r.uri.clone()).collect();
    uris.sort();
    assert_eq!(uris, ["/in", "/named"]);
    app.stop().await;
}

/// A receiver's redirect is an answer, not an instruction: it is never followed
/// (a redirect to an internal address would otherwise walk around the guard).
#[tokio::test]
async fn redirects_are_not_followed() {
    let app = TestApp::spawn().await;
    let target = TestReceiver::start().await;
    let redirecting = TestReceiver::with_script(&[302]).await;
    redirecting.set_location(&target.url("/internal"));
    app.account("acme").await;
    app.webhook(
        "acme",
        json!({"url": redirecting.url("/in"), "events": ["*"]}),
    )
    .await;
    let deliveries = deliveries_of_one_event(&app, 1).await;
    redirecting.wait_for(1).await;
    let d = app
        .wait_status("acme", deliveries[0]["id"].as_str().unwrap(), "failed")
        .await;
    let attempt = &d["attempts"][0];
    assert_eq!(attempt["response"]["status"], 302, "{d}");
    assert!(
        attempt["error"].as_str().unwrap().contains("302"),
        "a 3xx is a failed attempt: {d}"
    );
    assert!(target.received().is_empty(), "the redirect was followed");
    app.stop().await;
}
