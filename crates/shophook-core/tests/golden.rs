//! Golden files: a fixed order (and checkout) in, the exact bytes of every profile
//! and preset out. `tests/golden/NOTES.md` ties each field to the platform's doc.
//! After a deliberate change, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! shophook-core --test golden` and review the diff like code.

use std::sync::Arc;

use serde_json::{Value, json};
use shophook_core::event::{Event, EventType};
use shophook_core::render::{RenderInput, json_envelope, render_request};
use shophook_core::signing::Secret;
use shophook_core::webhook::WebhookInput;

fn order(paid: bool) -> Value {
    json!({
        "id": "1001", "number": "2026/03/1001", "status": if paid { "processing" } else { "new" }, "paid": paid,
        "currency": "PLN", "total": "149.00", "shipping_total": "12.00", "discount_total": "0.00",
        "created_at": "2026-03-02T10:00:00+01:00",
        "paid_at": if paid { json!("2026-03-02T10:05:00+01:00") } else { Value::Null },
        "customer": {"id": "77", "first_name": "Jan", "last_name": "Kowalski", "middle_name": "", "email": "jan@example.pl",
            "phone": "+48600100200", "company": "Kowalski sp. z o.o.", "tax_id": "5260250274", "language": "pl", "ip": "203.0.113.7"},
        "billing_address": {"address1": "ul. Długa", "house": "5", "flat": "12", "zip": "00-001", "city": "Warszawa", "country": "PL"},
        "shipping_address": {"first_name": "Anna", "last_name": "Kowalska", "phone": "+48600100201", "email": "anna@example.pl",
            "address1": "ul. Krótka", "address2": "", "house": "7", "flat": "", "zip": "30-001", "city": "Kraków", "state": "",
            "region": "małopolskie", "country": "PL"},
        "items": [
            {"product_id": "11", "sku": "KURS-JS", "name": "Kurs JavaScript", "variant": "", "category": "3", "quantity": 1,
             "price": "99.00", "subtotal": "99.00", "discount": "0.00", "url": "https://shop-a.example/kurs-js", "slug": "kurs-js", "type": "course", "language": "pl"},
            {"product_id": "12", "sku": "KUBEK-C", "name": "Kubek", "variant": "2 Unit/ Hitam", "category": "7", "quantity": 2,
             "price": "19.00", "subtotal": "38.00", "discount": "0.00"}
        ],
        "shipping_method": "courier", "shipping_rate": "DPD", "payment_method": "blik", "tracking_number": "", "carrier": "",
        "coupon": "WIOSNA10", "comment": "Proszę dzwonić", "tag": "vip",
        "source": {"site": "shop-a.example", "domain": "shop-a.example", "url": "https://shop-a.example/koszyk", "session": "sess-42"},
        "utm": {"source": "newsletter", "medium": "email", "campaign": "wiosna", "content": "baner", "term": "kurs"},
        "custom": {"creator_id": "5", "coach_id": "9", "track": "WIOSNA-2026", "link": "https://shop-a.example/pay/1001"}
    })
}

fn checkout() -> Value {
    json!({
        "id": "1262140", "status": "completed", "domain": "mirfaith.myshoppegram.com", "url": "https://mirfaith.myshoppegram.com",
        "currency": "MYR", "total": "10.00", "shipping": "0.00", "rate": "FREE SHIPPING COD",
        "created_at": "2021-03-03T14:58:17Z", "completed_at": "2021-03-03T14:58:32Z",
        "items": [{"sku": "123456", "name": "Test", "variant": "2 Unit/ Hitam", "quantity": 1, "price": "10.00", "subtotal": "10.00"}],
        "customer": {"first_name": "Abu", "last_name": "Ali", "phone": "60123456789", "email": "abuali@example.my"},
        "shipping_address": {"first_name": "Nur", "last_name": "Aishah", "phone": "601122334455", "email": "nuraishah@example.my",
            "address1": "Persiaran Permata Perdana", "address2": "-", "zip": "63000", "city": "Selangor", "state": "Cyberjaya"}
    })
}

struct Case {
    file: &'static str,
    webhook: Value,
    event: EventType,
    data: Value,
    timezone: &'static str,
    part: Option<usize>,
}

fn cases() -> Vec<Case> {
    let url = "https://receiver.example/hook?order={id_order}&job={id_job}";
    let hook = |format: &str| json!({"url": url, "events": ["*"], "format": format});
    vec![
        Case {
            file: "json.order.paid.txt",
            webhook: hook("json"),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
        Case {
            file: "form.order.paid.txt",
            webhook: hook("form"),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
        Case {
            file: "ekademia.order.created.item0.txt",
            webhook: hook("ekademia"),
            event: EventType::OrderCreated,
            data: json!({"order": order(false)}),
            timezone: "Europe/Warsaw",
            part: Some(0),
        },
        Case {
            file: "ekademia.order.paid.item1.txt",
            webhook: hook("ekademia"),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: Some(1),
        },
        Case {
            file: "justclick.order.created.txt",
            webhook: hook("justclick"),
            event: EventType::OrderCreated,
            data: json!({"order": order(false)}),
            timezone: "Europe/Moscow",
            part: None,
        },
        Case {
            file: "justclick.order.paid.txt",
            webhook: hook("justclick"),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Moscow",
            part: None,
        },
        Case {
            file: "justclick.order.cancelled.txt",
            webhook: hook("justclick"),
            event: EventType::OrderCancelled,
            data: json!({"order": order(false), "previous_status": "new"}),
            timezone: "Europe/Moscow",
            part: None,
        },
        Case {
            file: "shoppegram.checkout.completed.txt",
            webhook: hook("shoppegram"),
            event: EventType::CheckoutCompleted,
            data: json!({"checkout": checkout()}),
            timezone: "Asia/Kuala_Lumpur",
            part: None,
        },
        Case {
            file: "shoppegram.order.paid.txt",
            webhook: hook("shoppegram"),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Asia/Kuala_Lumpur",
            part: None,
        },
        Case {
            file: "salesdrive.order.created.txt",
            webhook: hook("salesdrive"),
            event: EventType::OrderCreated,
            data: json!({"order": order(false)}),
            timezone: "Europe/Kyiv",
            part: None,
        },
        Case {
            file: "salesdrive.order.status_changed.txt",
            webhook: hook("salesdrive"),
            event: EventType::OrderStatusChanged,
            data: json!({"order": order(true), "previous_status": "new"}),
            timezone: "Europe/Kyiv",
            part: None,
        },
        Case {
            file: "sellasist.order.paid.txt",
            webhook: json!({"url": "https://wms.example/call?id_order={id_order}&id_job={id_job}", "events": ["*"], "format": "sellasist"}),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
        Case {
            file: "telegram.order.paid.txt",
            webhook: json!({"url": "https://api.telegram.org/bot123:ABC/sendMessage?chat_id=-100200300", "events": ["*"], "format": "telegram"}),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
        Case {
            file: "slack.order.paid.txt",
            webhook: json!({"url": "https://hooks.slack.com/services/T/B/X", "events": ["*"], "format": "slack", "template": "New order {{ order.id }}: {{ order.total|money(order.currency) }}"}),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
        Case {
            file: "sheets.order.paid.txt",
            webhook: json!({"url": "https://script.google.com/macros/s/ID/exec", "events": ["*"], "format": "sheets"}),
            event: EventType::OrderPaid,
            data: json!({"order": order(true)}),
            timezone: "Europe/Warsaw",
            part: None,
        },
    ]
}

/// The request as text: method, URL, content type, blank line, body.
fn render(case: &Case) -> String {
    let config = serde_json::from_value::<WebhookInput>(case.webhook.clone())
        .unwrap()
        .into_new_config()
        .unwrap()
        .0;
    let kind = case.event.subject_kind().unwrap();
    let id = case.data[kind]["id"].as_str().unwrap().to_string();
    let event = Event {
        id: "evt_01JNQ5GOLDEN0000000000000".into(),
        event_type: case.event,
        account: "acme".into(),
        subject: Some(format!("{kind}:{id}")),
        created_at: "2026-03-02T09:05:00Z".parse().unwrap(),
        data: case.data.clone(),
    };
    let envelope: Arc<str> = json_envelope(&event).into();
    let secret = Secret::parse("my-justclick-api-key-1234").unwrap();
    let req = render_request(&RenderInput {
        config: &config,
        event: &event,
        envelope: &envelope,
        account_name: "Acme",
        account_timezone: case.timezone,
        part: case.part,
        webhook_id: "wh_01JNQ5GOLDEN",
        delivery_id: "dlv_01JNQ5GOLDEN",
        secrets: &[&secret],
        timestamp: 1_772_442_300,
        user_agent: "shophook/golden",
    })
    .unwrap();
    let ct = req
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str())
        .unwrap_or("-");
    format!(
        "{} {}\ncontent-type: {ct}\n\n{}\n",
        req.method.as_str(),
        req.url,
        req.body
    )
}

#[test]
fn every_profile_matches_its_golden_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    let mut failures = Vec::new();
    for case in cases() {
        let got = render(&case);
        let path = dir.join(case.file);
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing {} (run with UPDATE_GOLDEN=1)", path.display()));
        if got != want {
            failures.push(format!("{}:\n--- want\n{want}\n--- got\n{got}", case.file));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
