//! Secrets: sealed at rest with `--encryption-key` yet signing and sent as usual;
//! a rotated secret signs alongside the new one for 24 h, then stops; history
//! never shows a credential.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use clap::Parser;
use jiff::SignedDuration;
use serde_json::json;
use shophook::app::App;
use shophook::cli::{Cli, Command};
use shophook::clock::ManualClock;
use shophook_verify::Secret;

use crate::support::*;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn valid(r: &Received, secret: &str) -> bool {
    let secret = Secret::parse(secret).unwrap();
    shophook_verify::verify(
        &secret,
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
        &r.body,
        r.header("webhook-timestamp").parse().unwrap(),
    )
    .is_ok()
}

#[tokio::test]
async fn sealed_secrets_sign_and_send_as_usual_and_need_the_key() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp::spawn_in(
        dir.clone(),
        &["--allow-private-targets", "--encryption-key", KEY],
    )
    .await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["*"], "secret": SECRET,
                   "headers": {"X-Api-Key": "key-4711-secret"}}),
        )
        .await;
    assert_eq!(hook["secret"], SECRET, "the API shows it plain");
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1"}}}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("x-api-key"), "key-4711-secret");
    assert!(valid(&got[0], SECRET));
    app.stop().await;

    // The database and its write-ahead log, byte for byte.
    let mut raw = std::fs::read(dir.path().join("shophook.db")).unwrap();
    raw.extend(std::fs::read(dir.path().join("shophook.db-wal")).unwrap_or_default());
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("enc:v1:"), "sealed values are there");
    for secret in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "key-4711-secret"] {
        assert!(
            !raw.contains(secret),
            "{secret} is not in the database file"
        );
    }

    // Without the key (or with another) the server does not start, and says why.
    let db = format!("sqlite://{}", dir.path().join("shophook.db").display());
    for extra in [
        vec![],
        vec![
            "--encryption-key",
            "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=",
        ],
    ] {
        let mut args = vec![
            "shophook",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--admin-key",
            ADMIN_KEY,
        ];
        args.extend(extra);
        let Command::Serve(serve) = Cli::parse_from(args).command else {
            unreachable!()
        };
        let err = App::build(serve).await.err().expect("refused");
        assert!(format!("{err:#}").contains("--encryption-key"), "{err:#}");
    }
    let mut args = vec![
        "shophook",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
    ];
    args.extend(["--encryption-key", "too-short"]);
    let Command::Serve(serve) = Cli::parse_from(args).command else {
        unreachable!()
    };
    let err = App::build(serve).await.err().expect("refused");
    assert!(
        format!("{err:#}").contains("openssl rand -base64 32"),
        "{err:#}"
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_too_for_24_hours_then_stops() {
    let clock = Arc::new(ManualClock::new("2026-03-02T10:00:00Z".parse().unwrap()));
    let app = TestApp::spawn_clocked(
        Arc::new(tempfile::tempdir().unwrap()),
        clock.clone(),
        &["--allow-private-targets"],
    )
    .await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["*"], "secret": SECRET}),
        )
        .await;
    let (s, rotated) = app
        .admin(
            Method::POST,
            &format!(
                "/v1/accounts/acme/webhooks/{}/rotate-secret",
                hook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let new = rotated["secret"].as_str().unwrap().to_string();
    let paid = json!({"type": "order.paid", "data": {"order": {"id": "1"}}});
    app.event("acme", paid.clone()).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert!(
        valid(&got[0], SECRET) && valid(&got[0], &new),
        "both verify"
    );

    app.advance(
        &clock,
        SignedDuration::from_hours(24) + SignedDuration::from_secs(1),
    );
    app.event("acme", paid).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    assert!(
        valid(&got[1], &new) && !valid(&got[1], SECRET),
        "the old one expired"
    );
    app.stop().await;
}

#[tokio::test]
async fn history_never_shows_credentials() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    app.webhook(
        "acme",
        json!({"url": format!("{}?token=tok-123&order={{id_order}}", rx.url("/in")), "events": ["*"],
               "headers": {"Authorization": "Bearer abcdefgh-secret", "X-Shop": "plain"}}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "77"}}}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(
        got[0].header("authorization"),
        "Bearer abcdefgh-secret",
        "sent as given"
    );
    let d = app.deliveries("acme", "").await;
    let d = app
        .wait_status("acme", d[0]["id"].as_str().unwrap(), "succeeded")
        .await;
    let request = &d["attempts"][0]["request"];
    let url = request["url"].as_str().unwrap();
    assert!(url.ends_with("?token=***&order=77"), "{url}");
    let shown = request["headers"].to_string();
    assert!(!shown.contains("abcdefgh-secret"), "{shown}");
    assert!(shown.contains("plain"));
    app.stop().await;
}

#[tokio::test]
async fn error_texts_never_show_a_planted_token() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    // Nothing listens on port 1: the attempt fails with reqwest's error text, which
    // quotes the whole URL.
    app.webhook(
            "acme",
            json!({"url": "http://127.0.0.1:1/bot123456:planted-TOKEN-aaaa/sendMessage?chat_id=1&api_key=planted-key-bbbb",
                   "events": ["*"], "headers": {"X-Auth": "planted-hdr-cccc", "X-Access-Key": "planted-dddd"}}),
        )
        .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "77"}}}),
    )
    .await;
    let d = app.deliveries("acme", "").await;
    let id = d[0]["id"].as_str().unwrap().to_string();
    let detail = app.wait_status("acme", &id, "dead").await;
    let error = detail["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(
        !error.is_empty(),
        "the attempt failed with a reason: {detail}"
    );
    // every surface that shows history: API detail and list, the UI's list and page
    // (the webhook's own settings show the merchant what they configured)
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(app.url("/login"))
        .header("origin", app.url("").trim_end_matches('/'))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut shown = vec![
        detail.to_string(),
        app.deliveries("acme", "").await[0].to_string(),
    ];
    for page in [
        "/a/acme/deliveries".to_string(),
        format!("/a/acme/deliveries/{id}"),
    ] {
        let resp = client
            .get(app.url(&page))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{page}");
        shown.push(resp.text().await.unwrap());
    }
    for text in &shown {
        for planted in [
            "planted-TOKEN-aaaa",
            "planted-key-bbbb",
            "planted-hdr-cccc",
            "planted-dddd",
        ] {
            assert!(!text.contains(planted), "{planted} shown in: {text}");
        }
    }
    assert!(shown[0].contains("bot123456:***"), "{}", shown[0]);
    app.stop().await;
}

/// Hex SHA-256, as keys were stored before the server had an encryption key.
fn plain_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn with_an_encryption_key_stored_key_hashes_confirm_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // a key made before the server had an encryption key keeps working after
    let app = TestApp::spawn_in(dir.clone(), &[]).await;
    let old = app.account("acme").await;
    app.stop().await;
    let app = TestApp::spawn_in(dir.clone(), &["--encryption-key", KEY]).await;
    let (s, key) = app
        .admin(Method::POST, "/v1/accounts/acme/keys", None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let new = key["key"].as_str().unwrap().to_string();
    for k in [&old, &new] {
        let (s, body) = app
            .call(Method::GET, "/v1/accounts/acme/webhooks", k, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    app.stop().await;
    let db = rusqlite::Connection::open(dir.path().join("shophook.db")).unwrap();
    let hashes: Vec<String> = db
        .prepare("SELECT hash FROM api_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(
        hashes.contains(&plain_hash(&old)),
        "the old key as it was stored"
    );
    assert!(
        !hashes.contains(&plain_hash(&new)),
        "a database copy cannot confirm the new key by hashing a guess"
    );
}
