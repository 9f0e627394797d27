//! Deliveries: signed, retried on the configured schedule, dead after the last try
//! or at once on 410, `expect_status` honoured, test sends.

use axum::http::{Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::support::{TestApp, TestReceiver};

/// Standard Webhooks verification written straight from the specification, sharing
/// no code with the server: key = base64-decoded part after `whsec_`, content =
/// `id.timestamp.body`, signature = base64(HMAC-SHA256), header = space-separated
/// `v1,<sig>` entries.
fn verify_from_spec(secret: &str, id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header.split(' ').any(|sig| sig == format!("v1,{expected}"))
}

/// Verifies with the `standardwebhooks` package from PyPI when it is installed
/// (`.ci/run` installs it and sets SHOPHOOK_REQUIRE_PYTHON=1 to make it required).
fn verify_with_python(secret: &str, id: &str, ts: &str, body: &[u8], sig: &str) -> Option<bool> {
    let script = "import sys,json\nfrom standardwebhooks.webhooks import Webhook\n\
        a=json.loads(sys.stdin.read())\n\
        Webhook(a['secret']).verify(a['body'], {'webhook-id': a['id'], 'webhook-timestamp': a['ts'], 'webhook-signature': a['sig']})\n\
        print('valid')";
    let probe = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        if std::env::var("SHOPHOOK_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!(
                "SHOPHOOK_REQUIRE_PYTHON=1 but python3 cannot import standardwebhooks (pip install standardwebhooks)"
            );
        }
        crate::skipped!("the standardwebhooks PyPI check (pip install standardwebhooks to run it)");
        return None;
    }
    let input = json!({"secret": secret, "id": id, "ts": ts, "sig": sig, "body": String::from_utf8_lossy(body)}).to_string();
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "valid")
}

#[tokio::test]
async fn a_delivery_arrives_signed_and_verifies_independently() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let hook = app
        .webhook("acme", json!({"url": rx.url("/in?order={id_order}&job={id_job}&a=paid"), "events": ["order.paid"], "headers": {"X-Shop": "acme"}}))
        .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let event_id = app.event("acme", json!({"type": "order.paid", "data": {"order": {"id": "1001", "total": "10.00", "paid": true}}})).await;

    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    let job = r.header("webhook-id").to_string();
    assert!(job.starts_with("dlv_"));
    assert_eq!(r.uri, format!("/in?order=1001&job={job}&a=paid"));
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("x-shop"), "acme");
    assert!(r.header("user-agent").starts_with("shophook/"));
    let body = r.json();
    assert_eq!(body["id"], event_id);
    assert_eq!(body["type"], "order.paid");
    assert_eq!(body["account"], "acme");
    assert_eq!(body["data"]["order"]["total"], "10.00");
    let (ts, sig) = (r.header("webhook-timestamp"), r.header("webhook-signature"));
    assert!(
        verify_from_spec(&secret, &job, ts, &r.body, sig),
        "signature does not verify: {sig}"
    );
    assert!(!verify_from_spec(&secret, &job, ts, b"tampered", sig));
    if let Some(ok) = verify_with_python(&secret, &job, ts, &r.body, sig) {
        assert!(ok, "the standardwebhooks package rejected the signature");
    }

    let d = app.wait_status("acme", &job, "succeeded").await;
    assert_eq!(d["attempt_count"], 1);
    let a = &d["attempts"].as_array().unwrap()[0];
    assert_eq!(a["response"]["status"], 200);
    assert_eq!(
        a["request"]["url"],
        rx.url(&format!("/in?order=1001&job={job}&a=paid"))
    );
    assert_eq!(
        a["request"]["body"].as_str().unwrap().as_bytes(),
        &r.body[..]
    );
    app.stop().await;
}

#[tokio::test]
async fn failing_twice_then_ok_takes_three_attempts_with_a_stable_id() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::with_script(&[500, 503]).await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/hook"), "events": ["*"]}))
        .await;
    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "7"}}}),
    )
    .await;
    let got = rx.wait_for(3).await;
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "webhook-id must be stable across retries: {ids:?}"
    );
    let d = app.wait_status("acme", ids[0], "succeeded").await;
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    let codes: Vec<_> = attempts
        .iter()
        .map(|a| a["response"]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("answered 500")
    );
    assert_eq!(d["last_status_code"], 200);
    app.stop().await;
}

#[tokio::test]
async fn the_last_failure_ends_dead_and_410_ends_at_once() {
    let app = TestApp::spawn().await;
    let failing = TestReceiver::with_script(&[500, 500, 500, 500, 500]).await;
    let gone = TestReceiver::with_script(&[410]).await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": failing.url("/a"), "events": ["*"]}))
        .await;
    app.webhook("acme", json!({"url": gone.url("/b"), "events": ["*"]}))
        .await;
    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "1"}}}),
    )
    .await;

    let got = gone.wait_for(1).await;
    let d = app
        .wait_status("acme", got[0].header("webhook-id"), "dead")
        .await;
    assert_eq!(d["attempt_count"], 1);
    assert!(d["reason"].as_str().unwrap().contains("410"));

    // schedule 50ms,50ms,50ms = 4 attempts in all
    let got = failing.wait_for(4).await;
    let d = app
        .wait_status("acme", got[0].header("webhook-id"), "dead")
        .await;
    assert_eq!(d["attempt_count"], 4);
    assert_eq!(d["reason"], "gave up after 4 attempts");
    app.stop().await;
}

#[tokio::test]
async fn expect_status_decides_success() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::with_script(&[200, 202]).await;
    app.account("acme").await;
    app.webhook(
        "acme",
        json!({"url": rx.url("/x"), "events": ["*"], "expect_status": [202]}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "product.updated", "data": {"product": {"id": "p1"}}}),
    )
    .await;
    let got = rx.wait_for(2).await;
    let d = app
        .wait_status("acme", got[0].header("webhook-id"), "succeeded")
        .await;
    assert_eq!(d["attempt_count"], 2);
    assert!(
        d["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("expected one of 202")
    );
    app.stop().await;
}

#[tokio::test]
async fn test_send_answers_with_the_attempt() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::with_script(&[418]).await;
    app.account("acme").await;
    let hook = app.webhook("acme", json!({"url": rx.url("/t"), "events": ["order.paid"], "headers": {"Authorization": "Bearer topsecret"}})).await;
    let id = hook["id"].as_str().unwrap();
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/acme/webhooks/{id}/test"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["attempt"]["response"]["status"], 418);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert_eq!(got[0].header("authorization"), "Bearer topsecret");
    // history never shows the credential
    let headers = v["attempt"]["request"]["headers"].to_string();
    assert!(!headers.contains("topsecret"), "{headers}");
    // and the test delivery is retried like any other
    rx.wait_for(2).await;
    app.wait_status("acme", v["delivery_id"].as_str().unwrap(), "succeeded")
        .await;
    app.stop().await;
}

#[tokio::test]
async fn manual_retry_resends_a_dead_delivery() {
    let app = TestApp::spawn_with(&["--allow-private-targets", "--retry-schedule", ""]).await;
    let rx = TestReceiver::with_script(&[500]).await;
    app.account("acme").await;
    app.webhook("acme", json!({"url": rx.url("/r"), "events": ["*"]}))
        .await;
    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "1"}}}),
    )
    .await;
    let got = rx.wait_for(1).await;
    let id = got[0].header("webhook-id").to_string();
    app.wait_status("acme", &id, "dead").await;
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/acme/deliveries/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    rx.wait_for(2).await;
    let d = app.wait_status("acme", &id, "succeeded").await;
    assert_eq!(d["attempt_count"], 2);
    app.stop().await;
}

#[tokio::test]
async fn pause_holds_and_resume_sends_in_order() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let hook = app
        .webhook("acme", json!({"url": rx.url("/p"), "events": ["*"]}))
        .await;
    let id = hook["id"].as_str().unwrap();
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/acme/webhooks/{id}/pause"),
            None,
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("paused")));
    for n in 1..=3 {
        app.event(
            "acme",
            json!({"type": "order.created", "data": {"order": {"id": n.to_string()}}}),
        )
        .await;
    }
    let held = app.deliveries("acme", "status=scheduled").await;
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|d| d["held"] == true));
    assert!(rx.received().is_empty());
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/acme/webhooks/{id}/resume"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let got = rx.wait_for(3).await;
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(order, ["1", "2", "3"]);

    // pause again, then resume discarding what was held
    app.admin(
        Method::POST,
        &format!("/v1/accounts/acme/webhooks/{id}/pause"),
        None,
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "4"}}}),
    )
    .await;
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/acme/webhooks/{id}/resume"),
            Some(json!({"discard_held": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let skipped = app.deliveries("acme", "status=skipped").await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(rx.received().len(), 3);
    app.stop().await;
}
