use super::*;
use crate::event::EventType;
use crate::schedule::parse_hhmm;

use serde_json::json;

fn create(json: serde_json::Value) -> Result<WebhookConfig, String> {
    let input: WebhookInput = serde_json::from_value(json).map_err(|e| e.to_string())?;
    input
        .into_new_config()
        .map(|(c, _, _)| c)
        .map_err(|e| e.field)
}

#[test]
fn a_url_starts_with_its_scheme_literally() {
    for bad in [
        " https://example.com/x",
        "http:example.com/x",
        "https:/example.com/x",
    ] {
        let err = validate_http_url(bad).unwrap_err();
        assert_eq!(err.code, "invalid_url", "{bad}");
    }
    validate_http_url("HTTPS://example.com/x").unwrap();
    validate_http_url("http://example.com/{id_order}").unwrap();
}

#[test]
fn a_long_host_makes_a_valid_default_name() {
    let host = format!("{}.example", "a".repeat(300));
    let c = create(json!({"url": format!("https://{host}/x"), "events": ["*"]})).unwrap();
    assert_eq!(c.name.chars().count(), MAX_NAME);
    c.validate().unwrap();
    // …so a later patch of another field still validates
    let patched = WebhookInput {
        delay_minutes: Some(5),
        ..Default::default()
    }
    .apply_to(c);
    assert!(patched.is_ok(), "{patched:?}");
}

#[test]
fn the_spec_example_is_valid_with_json() {
    let c = create(json!({
        "name": "Warehouse",
        "url": "https://wms.example.com/in?order={id_order}&job={id_job}",
        "method": "POST", "status": "active",
        "events": ["order.created", "order.paid"], "products": [],
        "conditions": [
            {"field": "order.source.site", "op": "eq", "value": "shop-a.example"},
            {"field": "order.status", "op": "in", "value": ["new", "processing"]}
        ],
        "delay_minutes": 0,
        "schedule": {"timezone": "Europe/Warsaw",
            "windows": [{"days": ["mon","tue","wed","thu","fri"], "from": "08:00", "to": "16:00"}]},
        "format": "json", "template": null, "content_type": null,
        "headers": {"X-Api-Key": "k"}, "expect_status": [], "legacy_hash": null, "ordered": false
    }))
    .unwrap();
    assert_eq!(c.name, "Warehouse");
    assert!(c.wants(EventType::OrderPaid));
    assert!(!c.wants(EventType::OrderShipped));
}

#[test]
fn defaults_and_name_from_host() {
    let c = create(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})).unwrap();
    assert_eq!(c.name, "127.0.0.1");
    assert_eq!(c.method, Method::Post);
    assert_eq!(c.format, "json");
    assert!(c.wants(EventType::ProductDeleted));
}

#[test]
fn bad_inputs_name_their_field() {
    let base = || json!({"url": "https://x.example/h", "events": ["order.paid"]});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    let table = [
        (json!({"events": ["order.paid"]}), "url"),
        (json!({"url": "https://x.example"}), "events"),
        (with("url", json!("ftp://x.example")), "url"),
        (with("url", json!("not a url")), "url"),
        (with("url", json!("https://{id_order}.example/")), "url"),
        (with("url", json!("https://u:p@x.example/")), "url"),
        (
            with(
                "url",
                json!(format!("https://x.example/{}", "a".repeat(2100))),
            ),
            "url",
        ),
        (with("events", json!([])), "events"),
        (
            with("events", json!(["order.paid", "order.exploded"])),
            "events[1]",
        ),
        (
            with(
                "conditions",
                json!([{"field": "order.status", "op": "in", "value": 3}]),
            ),
            "conditions[0].value",
        ),
        (
            with("schedule", json!({"timezone": "Nowhere", "windows": []})),
            "schedule.timezone",
        ),
        (
            with(
                "schedule",
                json!({"timezone": "UTC", "windows": [{"days": ["mon"], "from": "16:00", "to": "08:00"}]}),
            ),
            "schedule.windows[0].to",
        ),
        (
            with(
                "schedule",
                json!({"timezone": "UTC", "windows": [{"days": ["funday"], "from": "08:00", "to": "09:00"}]}),
            ),
            "schedule.windows[0].days",
        ),
        (with("format", json!("yaml")), "format"),
        (with("format", json!("template")), "template"),
        (with("template", json!("x")), "template"),
        (
            with("headers", json!({"webhook-signature": "x"})),
            "headers.webhook-signature",
        ),
        (
            with("headers", json!({"X-Ok": "a\r\nInjected: 1"})),
            "headers.X-Ok",
        ),
        (with("expect_status", json!([200, 700])), "expect_status[1]"),
        (
            with(
                "legacy_hash",
                json!({"field": "hash", "algorithm": "crc32", "parts": ["order.id"]}),
            ),
            "legacy_hash.algorithm",
        ),
        (with("status", json!("disabled")), "status"),
        (with("delay_minutes", json!(600000)), "delay_minutes"),
    ];
    for (input, field) in table {
        assert_eq!(create(input.clone()).unwrap_err(), field, "{input}");
    }
    assert!(
        create(with("colour", json!("red")))
            .unwrap_err()
            .contains("unknown field")
    );
    let mut bad_template = base();
    bad_template["format"] = json!("template");
    bad_template["template"] = json!("ok\n{{ order.id | nope }}");
    let input: WebhookInput = serde_json::from_value(bad_template).unwrap();
    let err = input.into_new_config().unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.code),
        ("template", "invalid_template")
    );
    assert!(err.message.starts_with("line 2"), "{}", err.message);
    assert!(
        create(with("method", json!("DELETE")))
            .unwrap_err()
            .contains("unknown variant")
    );
}

#[test]
fn patch_merges_and_null_clears() {
    let c = create(json!({"url": "https://x.example/h", "events": ["*"],
            "schedule": {"timezone": "UTC", "windows": [{"days": ["mon"], "from": "08:00", "to": "09:00"}]}})).unwrap();
    let patch: WebhookInput =
        serde_json::from_value(json!({"name": "New", "schedule": null})).unwrap();
    let c2 = patch.apply_to(c.clone()).unwrap();
    assert_eq!(c2.name, "New");
    assert_eq!(c2.schedule, None);
    assert_eq!(c2.url, c.url);
    let empty: WebhookInput = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty.apply_to(c.clone()).unwrap(), c);
}

#[test]
fn hhmm() {
    assert_eq!(parse_hhmm("00:00"), Some(0));
    assert_eq!(parse_hhmm("23:59"), Some(1439));
    assert_eq!(parse_hhmm("24:00"), Some(1440));
    assert_eq!(parse_hhmm("24:01"), None);
    assert_eq!(parse_hhmm("8:00"), None);
}
