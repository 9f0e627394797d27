//! Webhooks per the spec: create (defaults, generated or merchant-given secret),
//! read, merge-patch, delete; plan gating and the webhook limit; a rotated secret
//! signing with both secrets. Which events reach a webhook is in `events.rs`.

use axum::http::{Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{ADMIN_KEY, TestApp, TestReceiver, assert_error};

/// Standard Webhooks verification straight from the specification (as in
/// delivery.rs), sharing no code with the server: key = base64-decoded part after
/// `whsec_`, content = `id.timestamp.body`, signature = base64(HMAC-SHA256),
/// header = space-separated `v1,<sig>` entries.
fn verify_from_spec(secret: &str, id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    verify_with_key(&key, id, ts, body, header)
}

/// The same check with the raw key bytes (a merchant-given secret is its own key).
fn verify_with_key(key: &[u8], id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header.split(' ').any(|sig| sig == format!("v1,{expected}"))
}

fn hooks_path(account: &str) -> String {
    format!("/v1/accounts/{account}/webhooks")
}

async fn list_hooks(app: &TestApp, account: &str) -> Vec<Value> {
    let (s, v) = app.admin(Method::GET, &hooks_path(account), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().cloned().unwrap()
}

fn order(kind: &str, id: &str, total: &str) -> Value {
    json!({"type": kind, "data": {"order": {"id": id, "total": total}}})
}

#[tokio::test]
async fn create_read_patch_delete() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let (s, hook) = app
        .admin(
            Method::POST,
            &hooks_path("acme"),
            Some(json!({"url": "https://hooks.example/in?a=paid", "events": ["order.paid"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("wh_"), "{id}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(hook["account"], "acme");
    assert_eq!(hook["url"], "https://hooks.example/in?a=paid");
    assert_eq!(hook["method"], "POST");
    assert_eq!(hook["format"], "json");
    assert_eq!(hook["status"], "active");
    assert_eq!(hook["events"], json!(["order.paid"]));
    assert_eq!(hook["products"], json!([]));
    assert_eq!(hook["conditions"], json!([]));
    assert_eq!(hook["delay_minutes"], 0);
    assert_eq!(hook["schedule"], Value::Null);
    assert_eq!(hook["ordered"], false);
    assert!(hook.get("previous_secret_expires_at").is_none());

    // two webhooks get different generated secrets
    let other = app
        .webhook(
            "acme",
            json!({"url": "https://other.example/", "events": ["*"]}),
        )
        .await;
    assert_ne!(other["secret"], hook["secret"]);

    let listed = list_hooks(&app, "acme").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().find(|h| h["id"] == id.as_str()), Some(&hook));
    let (s, got) = app
        .admin(Method::GET, &format!("{}/{id}", hooks_path("acme")), None)
        .await;
    assert_eq!((s, &got), (StatusCode::OK, &hook));

    // merge patch: only the given fields change
    let path = format!("{}/{id}", hooks_path("acme"));
    let (s, patched) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"name": "Warehouse", "headers": {"X-Api-Key": "k1"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Warehouse");
    assert_eq!(patched["headers"], json!({"X-Api-Key": "k1"}));
    let unchanged = |a: &Value, b: &Value, except: &[&str]| {
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        for (k, v) in a {
            if !except.contains(&k.as_str()) {
                assert_eq!(Some(v), b.get(k), "field `{k}` changed");
            }
        }
    };
    unchanged(&hook, &patched, &["name", "headers", "updated_at"]);
    let schedule = json!({"timezone": "Europe/Warsaw", "windows": [{"days": ["mon", "tue"], "from": "08:00", "to": "16:00"}]});
    let (s, scheduled) = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"schedule": schedule, "method": "PUT"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{scheduled}");
    assert_eq!(scheduled["schedule"], schedule);
    assert_eq!(scheduled["method"], "PUT");
    unchanged(&patched, &scheduled, &["schedule", "method", "updated_at"]);
    // `null` clears the schedule; nothing else moves
    let (s, cleared) = app
        .admin(Method::PATCH, &path, Some(json!({"schedule": null})))
        .await;
    assert_eq!(s, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["schedule"], Value::Null);
    unchanged(&scheduled, &cleared, &["schedule", "updated_at"]);
    // an empty patch changes nothing
    let (s, same) = app.admin(Method::PATCH, &path, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
    unchanged(&cleared, &same, &["updated_at"]);
    let (_, got) = app.admin(Method::GET, &path, None).await;
    assert_eq!(got, same);
    // a bad patch changes nothing either
    let bad = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"name": "Half", "url": "ftp://nope"})),
        )
        .await;
    assert_eq!(
        assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_url")["field"],
        "url"
    );
    let (_, got) = app.admin(Method::GET, &path, None).await;
    assert_eq!(got, same);

    let (s, _) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.admin(Method::GET, &path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.admin(Method::DELETE, &path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.admin(Method::PATCH, &path, Some(json!({"name": "x"})))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let ids: Vec<Value> = list_hooks(&app, "acme")
        .await
        .iter()
        .map(|h| h["id"].clone())
        .collect();
    assert_eq!(ids, [other["id"].clone()]);
    app.stop().await;
}

#[tokio::test]
async fn a_merchant_given_secret_is_kept_and_signs() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let given = "my-old-receiver-key-2019";
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["*"], "secret": given}),
        )
        .await;
    assert_eq!(hook["secret"], given);
    app.event("acme", order("order.created", "1", "10.00"))
        .await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert!(verify_with_key(
        given.as_bytes(),
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature")
    ));

    for bad in ["short".to_string(), "x".repeat(129)] {
        let got = app
            .admin(
                Method::POST,
                &hooks_path("acme"),
                Some(json!({"url": rx.url("/in"), "events": ["*"], "secret": bad})),
            )
            .await;
        assert_eq!(
            assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret")["field"],
            "secret"
        );
    }
    // the bounds themselves are accepted
    for ok in ["s".repeat(16), "s".repeat(128)] {
        let hook = app
            .webhook(
                "acme",
                json!({"url": rx.url("/in"), "events": ["*"], "secret": ok}),
            )
            .await;
        assert_eq!(hook["secret"], ok.as_str());
    }
    assert_eq!(list_hooks(&app, "acme").await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn plan_gating_and_the_webhook_limit() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let body = json!({"url": "https://hooks.example/in", "events": ["*"]});

    let (s, _) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"features": {"webhooks": false}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for k in [ADMIN_KEY, key.as_str()] {
        let got = app
            .call(Method::POST, &hooks_path("acme"), k, Some(body.clone()))
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "feature_disabled");
    }
    assert!(list_hooks(&app, "acme").await.is_empty());

    let (s, _) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"features": {"webhooks": true}, "limits": {"max_webhooks": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.webhook("acme", body.clone()).await;
    let (s, _) = app
        .call(Method::POST, &hooks_path("acme"), &key, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for k in [ADMIN_KEY, key.as_str()] {
        let got = app
            .call(Method::POST, &hooks_path("acme"), k, Some(body.clone()))
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "limit_reached");
    }
    assert_eq!(
        list_hooks(&app, "acme").await.len(),
        2,
        "a refused webhook must not be stored"
    );

    // deleting one frees a slot
    let first = list_hooks(&app, "acme").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = app
        .admin(
            Method::DELETE,
            &format!("{}/{first}", hooks_path("acme")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.webhook("acme", body).await;
    assert_eq!(list_hooks(&app, "acme").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_for_a_while() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let hook = app
        .webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_string();

    let (s, rotated) = app
        .admin(
            Method::POST,
            &format!("{}/{id}/rotate-secret", hooks_path("acme")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, old);
    let expires: jiff::Timestamp = rotated["previous_secret_expires_at"]
        .as_str()
        .expect("previous_secret_expires_at")
        .parse()
        .unwrap();
    let left = expires.duration_since(jiff::Timestamp::now());
    assert!(
        left > jiff::SignedDuration::from_hours(23) && left <= jiff::SignedDuration::from_hours(24),
        "{left:?}"
    );
    let (_, got) = app
        .admin(Method::GET, &format!("{}/{id}", hooks_path("acme")), None)
        .await;
    assert_eq!(got["secret"], new.as_str());

    app.event("acme", order("order.paid", "1001", "10.00"))
        .await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    let (job, ts, sig) = (
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
    );
    let sigs: Vec<&str> = sig.split(' ').collect();
    assert_eq!(sigs.len(), 2, "one signature per secret: {sig}");
    assert!(sigs.iter().all(|s| s.starts_with("v1,")), "{sig}");
    assert_ne!(sigs[0], sigs[1]);
    for (secret, name) in [(&new, "new"), (&old, "previous")] {
        let matching = sigs
            .iter()
            .filter(|s| verify_from_spec(secret, job, ts, &r.body, s))
            .count();
        assert_eq!(
            matching, 1,
            "exactly one signature must verify with the {name} secret: {sig}"
        );
    }
    app.stop().await;
}
