//! Payload formats end to end, each checked by a receiver written only from its
//! platform's doc: PHP reading `$_POST` (form, ekademia, justclick — with JustClick's
//! own md5 line), JSON field reads (shoppegram, salesdrive), URL parameters
//! (sellasist), a stand-in for Telegram's Bot API; and previews that send nothing.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::php::PhpReceiver;
use crate::support::{TestApp, TestReceiver};

const JC_KEY: &str = "my-justclick-api-key-1234";

/// The receiver, as a JustClick/Ekademia customer would write it.
const RECEIVER_PHP: &str = r#"<?php
error_reporting(0);
$setts = ['user_rps_key' => getenv('JC_KEY')];
$hash = md5($_REQUEST['id'].$_REQUEST['email'].$_REQUEST['paid'].$setts['user_rps_key']);
$rec = ['method' => $_SERVER['REQUEST_METHOD'], 'uri' => $_SERVER['REQUEST_URI'], 'post' => $_POST,
        'hash_ok' => isset($_POST['hash']) && $_POST['hash'] === $hash, 'has_paid' => array_key_exists('paid', $_POST)];
file_put_contents(getenv('RECORD_DIR') . '/' . hrtime(true) . '.json', json_encode($rec));
echo "OK";
"#;

fn order(paid: bool) -> Value {
    json!({"status": if paid { "processing" } else { "new" }, "paid": paid, "currency": "PLN", "total": "137.00",
        "created_at": "2026-03-02T10:00:00+01:00", "paid_at": if paid { json!("2026-03-02T10:05:00+01:00") } else { Value::Null },
        "customer": {"id": "77", "first_name": "Jan", "last_name": "Kowalski", "email": "jan+test@example.pl", "phone": "+48600100200"},
        "billing_address": {"address1": "ul. Długa", "house": "5", "zip": "00-001", "city": "Łódź", "country": "PL"},
        "items": [{"product_id": "11", "sku": "KURS-JS", "name": "Kurs JS", "quantity": 1, "price": "99.00", "subtotal": "99.00"},
                  {"product_id": "12", "sku": "KUBEK", "name": "Kubek", "variant": "Czarny", "quantity": 2, "price": "19.00", "subtotal": "38.00"}],
        "utm": {"source": "newsletter", "campaign": "wiosna"}, "custom": {"gift": true}})
}

/// How PHP's `$_POST` holds a JSON value sent as a bracket form: scalars are
/// strings (`true` → "1", `false` → "0", `null` → ""), empty arrays vanish, and an
/// array is a map with numeric keys (json_encode gives a list back when they are 0..n).
fn as_php(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !is_empty_container(x))
                .map(|(k, x)| (k.clone(), as_php(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|x| !is_empty_container(x))
                .map(as_php)
                .collect(),
        ),
        Value::Bool(b) => json!(if *b { "1" } else { "0" }),
        Value::Null => json!(""),
        Value::Number(n) => json!(n.to_string()),
        Value::String(s) => json!(s),
    }
}

fn is_empty_container(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.is_empty()) || matches!(v, Value::Object(m) if m.is_empty())
}

async fn put_order(app: &TestApp, id: &str, body: Value) {
    let (s, v) = app
        .admin(
            Method::PUT,
            &format!("/v1/accounts/acme/orders/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// Waits until the account has `n` succeeded deliveries.
async fn succeeded(app: &TestApp, n: usize) {
    let deadline = tokio::time::Instant::now() + crate::support::WAIT;
    loop {
        let done = app
            .deliveries("acme", "status=succeeded&limit=1000")
            .await
            .len();
        if done >= n {
            return;
        }
        let failed = app.deliveries("acme", "status=failed").await;
        assert!(failed.is_empty(), "a delivery failed: {failed:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {n} deliveries succeeded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn php_reads_form_ekademia_and_justclick_bodies() {
    let Some(php) = PhpReceiver::start(RECEIVER_PHP, &[], &[("JC_KEY", JC_KEY)]) else {
        return;
    };
    assert!(php.records().is_empty());
    let app = TestApp::spawn().await;
    app.account("acme").await;
    app.webhook(
        "acme",
        json!({"url": php.url("/form"), "events": ["order.paid"], "format": "form"}),
    )
    .await;
    app.webhook("acme", json!({"url": php.url("/ekademia"), "events": ["order.created", "order.paid"], "format": "ekademia"})).await;
    app.webhook("acme", json!({"url": php.url("/jc?a=make"), "events": ["order.created"], "format": "justclick", "secret": JC_KEY})).await;
    app.webhook("acme", json!({"url": php.url("/jc?a=paid"), "events": ["order.paid"], "format": "justclick", "secret": JC_KEY})).await;
    put_order(&app, "1001", order(false)).await;
    put_order(&app, "1001", order(true)).await;
    // form 1 + ekademia 2 items x 2 events + justclick 2
    succeeded(&app, 7).await;
    let recs = php.records();
    assert_eq!(recs.len(), 7);
    let at = |path: &str| {
        recs.iter()
            .filter(|r| r["uri"].as_str().unwrap().starts_with(path))
            .cloned()
            .collect::<Vec<_>>()
    };

    // form: PHP's $_POST is the JSON envelope, scalars as PHP strings
    let form = &at("/form")[0]["post"];
    assert_eq!(form["type"], "order.paid");
    assert_eq!(form["account"], "acme");
    assert_eq!(form["data"]["order"]["items"][1]["sku"], "KUBEK");
    assert_eq!(form["data"]["order"]["items"][1]["quantity"], "2");
    assert_eq!(form["data"]["order"]["paid"], "1");
    assert_eq!(
        form["data"]["order"]["customer"]["email"],
        "jan+test@example.pl"
    );
    assert_eq!(form["data"]["order"]["billing_address"]["city"], "Łódź");
    assert_eq!(form["data"]["order"]["custom"]["gift"], "1");
    // and exactly the stored event, as PHP represents it
    let (_, ev) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/events/{}", form["id"].as_str().unwrap()),
            None,
        )
        .await;
    let envelope = json!({"id": ev["id"], "type": ev["type"], "created_at": ev["created_at"], "account": ev["account"], "data": ev["data"]});
    assert_eq!(form, &as_php(&envelope));

    // ekademia: one request per product, paid=0 then paid=1, amounts 0.00, unix dates
    let ek = at("/ekademia");
    assert_eq!(ek.len(), 4);
    let mut seen: Vec<(String, String, String)> = ek
        .iter()
        .map(|r| {
            (
                r["post"]["paid"].as_str().unwrap().into(),
                r["post"]["product_id"].as_str().unwrap().into(),
                r["post"]["amount"].as_str().unwrap().into(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("0".into(), "11".into(), "99.00".into()),
            ("0".into(), "12".into(), "38.00".into()),
            ("1".into(), "11".into(), "99.00".into()),
            ("1".into(), "12".into(), "38.00".into())
        ]
    );
    let paid = ek.iter().find(|r| r["post"]["paid"] == "1").unwrap();
    assert_eq!(paid["post"]["order_id"], "1001");
    assert_eq!(paid["post"]["order_date"], "1772442000");
    assert_eq!(paid["post"]["paid_date"], "1772442300");
    assert_eq!(paid["post"]["return_date"], "");
    assert_eq!(paid["post"]["email"], "jan+test@example.pl");
    assert_eq!(paid["post"]["city"], "Łódź");
    assert_eq!(paid["post"]["utm_campaign"], "wiosna");
    assert_eq!(paid["post"]["send_city"], "");

    // justclick: the doc's md5 line holds; "made" has no paid key, "paid" has it
    let make = &at("/jc?a=make")[0];
    assert_eq!(make["hash_ok"], true, "{make}");
    assert_eq!(make["has_paid"], false);
    assert_eq!(make["post"]["status"], "new order");
    assert_eq!(make["post"]["items"][1]["sum"], "38.00");
    assert_eq!(make["post"]["utm"]["source"], "newsletter");
    let paid = &at("/jc?a=paid")[0];
    assert_eq!(paid["hash_ok"], true, "{paid}");
    assert_eq!(paid["has_paid"], true);
    assert_eq!(paid["post"]["status"], "paid");
    app.stop().await;
}

#[tokio::test]
async fn json_profiles_url_profiles_and_telegram_read_as_their_docs_say() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "timezone": "Asia/Kuala_Lumpur"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let rx = TestReceiver::start().await;
    app.webhook("acme", json!({"url": rx.url("/shoppegram"), "events": ["checkout.completed"], "format": "shoppegram"})).await;
    app.webhook(
        "acme",
        json!({"url": rx.url("/salesdrive"), "events": ["order.created"], "format": "salesdrive"}),
    )
    .await;
    app.webhook("acme", json!({"url": rx.url("/sellasist?id_order={id_order}&id_job={id_job}"), "events": ["order.created"], "format": "sellasist"})).await;
    app.webhook("acme", json!({"url": rx.url("/bot123:ABC/sendMessage?chat_id=42"), "events": ["order.created"], "format": "telegram"})).await;
    let (s, _) = app
        .admin(Method::PUT, "/v1/accounts/acme/checkouts/1262140", Some(json!({"status": "open", "currency": "MYR", "total": "10.00",
            "created_at": "2021-03-03T14:58:17Z", "items": [{"sku": "123456", "name": "Test", "variant": "2 Unit/ Hitam", "quantity": 1, "price": "10.00", "subtotal": "10.00"}],
            "customer": {"first_name": "Abu", "email": "abuali@example.my"}})))
        .await;
    assert_eq!(s, StatusCode::OK);
    app.admin(Method::PUT, "/v1/accounts/acme/checkouts/1262140", Some(json!({"status": "completed", "completed_at": "2021-03-03T14:58:32Z", "currency": "MYR", "total": "10.00",
        "created_at": "2021-03-03T14:58:17Z", "items": [{"sku": "123456", "name": "Test", "variant": "2 Unit/ Hitam", "quantity": 1, "price": "10.00", "subtotal": "10.00"}],
        "customer": {"first_name": "Abu", "email": "abuali@example.my"}}))).await;
    put_order(&app, "1001", order(false)).await;
    let got = rx.wait_for(4).await;
    let at = |p: &str| {
        got.iter()
            .find(|r| r.uri.starts_with(p))
            .unwrap_or_else(|| panic!("no request to {p}"))
    };

    let c = at("/shoppegram").json();
    assert_eq!(c["checkout"]["id"], "1262140");
    assert_eq!(c["checkout"]["completed_at"], "2021-03-03T22:58:32+08:00");
    assert_eq!(c["checkout"]["items"][0]["product"]["sku"], "123456");
    assert_eq!(c["checkout"]["items"][0]["name"], "2 Unit/ Hitam");
    assert_eq!(c["checkout"]["customer"]["first_name"], "Abu");
    assert_eq!(c["checkout"]["shipping_address"]["city"], "");

    let sd = at("/salesdrive").json();
    assert_eq!(sd["info"]["webhookType"], "order");
    assert_eq!(sd["info"]["webhookEvent"], "new_order");
    assert_eq!(sd["info"]["account"], "acme");
    assert_eq!(sd["data"]["id"], "1001");
    assert_eq!(sd["data"]["paymentAmount"], "137.00");
    assert_eq!(sd["data"]["contacts"][0]["fName"], "Jan");
    assert_eq!(sd["data"]["products"][1]["amount"], 2);
    assert_eq!(sd["data"]["gift"], true);

    let sa = at("/sellasist");
    assert_eq!(sa.method, "GET");
    assert!(sa.body.is_empty());
    let job = sa.header("webhook-id");
    assert_eq!(sa.uri, format!("/sellasist?id_order=1001&id_job={job}"));

    let tg = at("/bot123:ABC/sendMessage");
    assert_eq!(tg.header("content-type"), "application/json");
    let m = tg.json();
    assert_eq!(m["chat_id"], 42);
    let text = m["text"].as_str().unwrap();
    assert!(!text.is_empty() && text.chars().count() <= 4096);
    assert!(text.contains("1001") && text.contains("Kubek"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn preview_renders_the_exact_request_and_sends_nothing() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    let hook = app.webhook("acme", json!({"url": rx.url("/p?o={id_order}"), "events": ["*"], "format": "template",
        "template": "Order {{ order.id }} for {{ order.customer.first_name }}: {{ order.total|money }}"})).await;
    let id = hook["id"].as_str().unwrap();
    let path = format!("/v1/accounts/acme/webhooks/{id}/preview");
    let (s, v) = app.admin(Method::POST, &path, Some(json!({"event_type": "order.paid", "order": {"id": "77", "total": "5", "customer": {"first_name": "Ola"}}}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["url"], rx.url("/p?o=77"));
    assert_eq!(v["body"], "Order 77 for Ola: 5.00");
    assert!(
        v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "webhook-signature")
    );
    // with the built-in sample, and with a stored order
    let (_, v) = app
        .admin(
            Method::POST,
            &path,
            Some(json!({"event_type": "order.paid"})),
        )
        .await;
    assert_eq!(v["body"], "Order 1001 for Jan: 149.00");
    put_order(
        &app,
        "A1",
        json!({"total": "12.5", "customer": {"first_name": "Zoe"}}),
    )
    .await;
    let (_, v) = app
        .admin(
            Method::POST,
            &path,
            Some(json!({"event_type": "order.paid", "id": "A1"})),
        )
        .await;
    assert_eq!(v["body"], "Order A1 for Zoe: 12.50");
    let (s, _) = app
        .admin(
            Method::POST,
            &path,
            Some(json!({"event_type": "order.exploded"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // the PUT above derived a real order.created delivery; the previews sent nothing
    rx.wait_for(1).await;
    assert_eq!(rx.received().len(), 1);
    assert!(rx.received()[0].body.starts_with(b"Order A1"));
    app.stop().await;
}
