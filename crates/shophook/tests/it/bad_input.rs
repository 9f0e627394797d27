//! Malformed requests, one table: each answers the right status, the spec's error
//! body with its code and (where one field is at fault) `field`, never a 500, and
//! nothing half-done is stored.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp, assert_error};

/// One malformed request and what it must answer.
struct Case {
    what: &'static str,
    method: Method,
    path: &'static str,
    /// `None`: no Content-Type header.
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
}

fn json_case(
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Value,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        what,
        method,
        path,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status: StatusCode::from_u16(status).unwrap(),
        code,
        field,
    }
}

const HOOKS: &str = "/v1/accounts/acme/webhooks";
const EVENTS: &str = "/v1/accounts/acme/events";

/// A valid webhook body with `key` set to `value`.
fn hook_with(key: &str, value: Value) -> Value {
    let mut b = json!({"url": "https://hooks.example/in", "events": ["order.paid"]});
    b[key] = value;
    b
}

/// The table. Kept one case a line (`rustfmt::skip`) so it reads as a table.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Method as M;
    let raw = |what, method, path, content_type, body: &[u8], status: u16, code| Case {
        what, method, path, content_type, body: body.to_vec(), status: StatusCode::from_u16(status).unwrap(), code, field: None,
    };
    let mut too_big = br#"{"url": "https://hooks.example/in", "events": ["*"], "name": ""#.to_vec();
    too_big.extend(std::iter::repeat_n(b'x', (1 << 20) + 10));
    too_big.extend(br#""}"#);
    let json = Some("application/json");
    let mut table = vec![
        // webhooks
        raw("malformed JSON", M::POST, HOOKS, json, br#"{"url": "https://hooks.example/in", "events": ["*"]"#, 400, "malformed_json"),
        raw("not JSON at all", M::POST, HOOKS, json, b"url=https://hooks.example", 400, "malformed_json"),
        json_case("events of the wrong type", M::POST, HOOKS, hook_with("events", json!("x")), 422, "invalid_field", Some("events")),
        json_case("a number where a string goes", M::POST, HOOKS, hook_with("url", json!(42)), 422, "invalid_field", Some("url")),
        json_case("unknown field", M::POST, HOOKS, hook_with("colour", json!("red")), 422, "unknown_field", Some("colour")),
        json_case("missing url", M::POST, HOOKS, json!({"events": ["*"]}), 422, "required", Some("url")),
        json_case("missing events", M::POST, HOOKS, json!({"url": "https://hooks.example/in"}), 422, "required", Some("events")),
        json_case("bad url", M::POST, HOOKS, hook_with("url", json!("not a url")), 422, "invalid_url", Some("url")),
        json_case("non-http url", M::POST, HOOKS, hook_with("url", json!("file:///etc/passwd")), 422, "invalid_url", Some("url")),
        json_case("unknown event type", M::POST, HOOKS, hook_with("events", json!(["order.exploded"])), 422, "unknown_event_type", Some("events[0]")),
        json_case("bad condition op", M::POST, HOOKS, hook_with("conditions", json!([{"field": "order.total", "op": "bigger_than", "value": 1}])), 422, "invalid_field", Some("conditions[0].op")),
        json_case("condition without op", M::POST, HOOKS, hook_with("conditions", json!([{"field": "order.total", "value": 1}])), 422, "required", Some("conditions[0].op")),
        json_case("bad condition value", M::POST, HOOKS, hook_with("conditions", json!([{"field": "order.status", "op": "in", "value": 3}])), 422, "invalid_condition_value", Some("conditions[0].value")),
        json_case("reserved header", M::POST, HOOKS, hook_with("headers", json!({"Webhook-Signature": "v1,forged"})), 422, "reserved_header", Some("headers.Webhook-Signature")),
        json_case("status disabled", M::POST, HOOKS, hook_with("status", json!("disabled")), 422, "invalid_status", Some("status")),
        raw("form content type", M::POST, HOOKS, Some("application/x-www-form-urlencoded"), b"url=https%3A%2F%2Fhooks.example&events=*", 415, "unsupported_media_type"),
        raw("text content type", M::POST, HOOKS, Some("text/plain"), br#"{"url": "https://hooks.example/in", "events": ["*"]}"#, 415, "unsupported_media_type"),
        raw("no content type", M::POST, HOOKS, None, br#"{"url": "https://hooks.example/in", "events": ["*"]}"#, 415, "unsupported_media_type"),
        Case { what: "body over 1 MiB", body: too_big, ..raw("", M::POST, HOOKS, json, b"", 413, "payload_too_large") },
        // limits: each a clear 4xx naming the field
        json_case("too many conditions", M::POST, HOOKS, hook_with("conditions", json!(vec![json!({"field": "order.total", "op": "exists"}); 51])), 422, "too_many", Some("conditions")),
        json_case("too many headers", M::POST, HOOKS, hook_with("headers", Value::Object((0..51).map(|i| (format!("X-H{i}"), json!("v"))).collect())), 422, "too_many", Some("headers")),
        json_case("url too long", M::POST, HOOKS, hook_with("url", json!(format!("https://hooks.example/{}", "a".repeat(2048)))), 422, "url_too_long", Some("url")),
        json_case("template too large", M::POST, HOOKS, json!({"url": "https://hooks.example/in", "events": ["*"], "format": "template", "template": "x".repeat(64 * 1024 + 1)}), 422, "invalid_template", Some("template")),
        json_case("rate limit of zero", M::POST, HOOKS, hook_with("rate_limit_per_second", json!(0)), 422, "out_of_range", Some("rate_limit_per_second")),
        raw("JSON nested too deep", M::POST, EVENTS, json, format!(r#"{{"type": "order.created", "data": {{"order": {}1{}}}}}"#, "[".repeat(40), "]".repeat(40)).as_bytes(), 422, "too_deep"),
        // events
        json_case("unknown event type posted", M::POST, EVENTS, json!({"type": "order.exploded", "data": {}}), 422, "unknown_event_type", Some("type")),
        json_case("data not an object", M::POST, EVENTS, json!({"type": "order.created", "data": [1, 2]}), 422, "invalid_field", Some("data")),
        json_case("data a string", M::POST, EVENTS, json!({"type": "order.created", "data": "order"}), 422, "invalid_field", Some("data")),
        json_case("reserved event type", M::POST, EVENTS, json!({"type": "webhook.test", "data": {}}), 422, "reserved_event_type", Some("type")),
        json_case("event without type", M::POST, EVENTS, json!({"data": {}}), 422, "required", Some("type")),
        json_case("event with unknown field", M::POST, EVENTS, json!({"type": "order.created", "data": {}, "when": "now"}), 422, "unknown_field", Some("when")),
        raw("malformed event JSON", M::POST, EVENTS, json, b"{\"type\": \"order.created\",", 400, "malformed_json"),
        // deliveries
        raw("unknown status filter", M::GET, "/v1/accounts/acme/deliveries?status=lost", None, b"", 422, "invalid_status"),
        raw("limit 0", M::GET, "/v1/accounts/acme/deliveries?limit=0", None, b"", 422, "invalid_limit"),
        raw("limit not a number", M::GET, "/v1/accounts/acme/deliveries?limit=ten", None, b"", 422, "invalid_limit"),
        raw("unknown filter", M::GET, "/v1/accounts/acme/deliveries?colour=red", None, b"", 422, "unknown_parameter"),
        raw("a filter given twice", M::GET, "/v1/accounts/acme/deliveries?status=pending&status=dead", None, b"", 422, "repeated_parameter"),
        // snapshots: money and quantities are not negative
        json_case("negative total", M::PUT, "/v1/accounts/acme/orders/5001", json!({"total": "-149.00"}), 422, "invalid_money", Some("total")),
        json_case("negative price", M::PUT, "/v1/accounts/acme/orders/5001", json!({"items": [{"sku": "A", "price": "-1.00"}]}), 422, "invalid_money", Some("items[0].price")),
        json_case("negative quantity", M::PUT, "/v1/accounts/acme/orders/5001", json!({"items": [{"sku": "A", "quantity": -2}]}), 422, "invalid_field", Some("items[0].quantity")),
        // routing
        raw("unknown route", M::GET, "/v1/nope", None, b"", 404, "not_found"),
        raw("unknown nested route", M::POST, "/v1/accounts/acme/gizmos", json, b"{}", 404, "not_found"),
        raw("wrong method", M::PUT, "/v1/accounts", json, br#"{"id": "x"}"#, 405, "method_not_allowed"),
        raw("wrong method on a webhook", M::PUT, "/v1/accounts/acme/webhooks/wh_x", json, b"{}", 405, "method_not_allowed"),
        // accounts
        json_case("bad slug", M::POST, "/v1/accounts", json!({"id": "Not A Slug"}), 422, "invalid_slug", Some("id")),
        json_case("empty slug", M::POST, "/v1/accounts", json!({"id": ""}), 422, "invalid_slug", Some("id")),
        json_case("account without id", M::POST, "/v1/accounts", json!({"name": "No Id"}), 422, "required", Some("id")),
        json_case("bad timezone", M::POST, "/v1/accounts", json!({"id": "zed", "timezone": "Mars/Olympus"}), 422, "invalid_timezone", Some("timezone")),
        json_case("limit out of range", M::POST, "/v1/accounts", json!({"id": "zed", "limits": {"max_webhooks": 1_000_000}}), 422, "out_of_range", Some("limits.max_webhooks")),
        json_case("in-flight limit of zero", M::POST, "/v1/accounts", json!({"id": "zed", "limits": {"max_in_flight": 0}}), 422, "out_of_range", Some("limits.max_in_flight")),
        json_case("unknown feature", M::POST, "/v1/accounts", json!({"id": "zed", "features": {"teleport": true}}), 422, "unknown_field", Some("features.teleport")),
        // serde's derive reads a struct from an array of its fields too; an API does not
        json_case("features as an array", M::POST, "/v1/accounts", json!({"id": "zed", "features": []}), 422, "invalid_field", Some("features")),
        json_case("features as an array in a patch", M::PATCH, "/v1/accounts/acme", json!({"features": []}), 422, "invalid_field", Some("features")),
        json_case("limits as an array in a patch", M::PATCH, "/v1/accounts/acme", json!({"limits": [7]}), 422, "invalid_field", Some("limits")),
        json_case("schedule as an array", M::POST, HOOKS, hook_with("schedule", json!(["UTC", []])), 422, "invalid_field", Some("schedule")),
        json_case("a schedule window as an array", M::POST, HOOKS, hook_with("schedule", json!({"timezone": "UTC", "windows": [[["mon"], "08:00", "16:00"]]})), 422, "invalid_field", Some("schedule.windows[0]")),
        json_case("a condition as an array", M::POST, HOOKS, hook_with("conditions", json!([["order.total", "exists"]])), 422, "invalid_field", Some("conditions[0]")),
        json_case("legacy hash as an array", M::POST, HOOKS, hook_with("legacy_hash", json!(["sig", "md5", []])), 422, "invalid_field", Some("legacy_hash")),
    ];
    // the query-string cases name their parameter
    for c in &mut table {
        c.field = c.field.or(match c.code {
            "invalid_status" | "repeated_parameter" => Some("status"),
            "invalid_limit" => Some("limit"),
            "unknown_parameter" => Some("colour"),
            _ => None,
        });
    }
    table
}

async fn send(app: &TestApp, c: &Case, idempotency_key: &str) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(c.method.clone(), app.url(c.path))
        .bearer_auth(ADMIN_KEY)
        .header("Idempotency-Key", idempotency_key);
    if let Some(ct) = c.content_type {
        req = req.header("content-type", ct);
    }
    if !c.body.is_empty() {
        req = req.body(c.body.clone());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: request failed: {e}", c.what));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: the error body is not JSON: {text:?}", c.what)),
    )
}

#[tokio::test]
async fn malformed_requests_are_refused_precisely_and_store_nothing() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let table = cases();
    for (n, c) in table.iter().enumerate() {
        let got = send(&app, c, &format!("bad-{n}")).await;
        assert_eq!(got.0, c.status, "{}: {}", c.what, got.1);
        let err = assert_error(&got, c.status, c.code);
        assert_eq!(
            err.get("field").and_then(Value::as_str),
            c.field,
            "{}: {}",
            c.what,
            got.1
        );
    }

    // nothing half-done: no webhook, no delivery, no account but acme
    let (_, hooks) = app.admin(Method::GET, HOOKS, None).await;
    assert_eq!(hooks["data"], json!([]));
    assert!(app.deliveries("acme", "").await.is_empty());
    let (_, accounts) = app.admin(Method::GET, "/v1/accounts", None).await;
    let ids: Vec<&Value> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [&json!("acme")]);
    // and no event: each bad request carried an Idempotency-Key; a valid event with
    // the same key is stored fresh, not answered with a half-stored bad one
    for (n, c) in table.iter().enumerate().filter(|(_, c)| c.path == EVENTS) {
        let body =
            json!({"type": "order.created", "data": {"order": {"id": format!("check-{n}")}}});
        let resp = app
            .client
            .post(app.url(EVENTS))
            .bearer_auth(ADMIN_KEY)
            .header("Idempotency-Key", format!("bad-{n}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let id = resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, ev) = app
            .admin(Method::GET, &format!("{EVENTS}/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            ev["data"], body["data"],
            "{}: an event was stored for the bad request",
            c.what
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bad_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": "https://hooks.example/in", "events": ["order.paid"], "name": "Keep"}),
        )
        .await;
    let path = format!("{HOOKS}/{}", hook["id"].as_str().unwrap());
    #[rustfmt::skip]
    let table = [
        (json!({"name": "Half", "events": ["order.exploded"]}), "unknown_event_type", Some("events[0]")),
        (json!({"name": "Half", "url": "nope"}), "invalid_url", Some("url")),
        (json!({"name": "Half", "secret": "a-new-secret-of-enough-length"}), "read_only", Some("secret")),
        (json!({"name": "Half", "schedule": {"timezone": "UTC", "windows": []}}), "invalid_schedule", Some("schedule.windows")),
        (json!({"name": "Half", "headers": {"Host": "evil.example"}}), "reserved_header", Some("headers.Host")),
        (json!({"name": "Half", "wat": 1}), "unknown_field", Some("wat")),
    ];
    for (body, code, field) in table {
        let got = app.admin(Method::PATCH, &path, Some(body.clone())).await;
        let err = assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(
            err.get("field").and_then(Value::as_str),
            field,
            "{body}: {}",
            got.1
        );
    }
    let (_, now) = app.admin(Method::GET, &path, None).await;
    assert_eq!(now, hook);
    app.stop().await;
}
