//! Tenant isolation: one account's key answers 404 on every account-scoped route
//! of another account — exactly as if the account did not exist — and never sees,
//! changes or triggers anything of it, also when it names the other account's
//! resources under its own account's path. Account keys get 403 on the
//! operator-only routes, and no key gets 401 anywhere but the public routes.
//!
//! The sweep is driven by the served `/openapi.json` (generated from the same
//! annotations that register the routes), so a route added later is swept
//! without editing this file — or this test fails, naming what it lacks (a body
//! recipe, a fixture for a path parameter, a required query value).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp, TestReceiver, assert_error};

/// The spec's operator-only operations: "account keys reach only their own
/// account", and these are not an account's own business. An account key gets 403
/// on them whichever account it names, without a lookup, so nothing is learnt.
const OPERATOR_ONLY: &[&str] = &[
    "createAccount",
    "listAccounts",
    "getAccount",
    "updateAccount",
    "deleteAccount",
    "createKey",
    "deleteKey",
    "createPortalLink",
    "endPortalSessions",
];

/// Writes by an id the shop chooses (its own order number, SKU…): under B's path
/// they write B's own resource of that id, so they succeed and A's stays as it was.
const OWN_NAMESPACE: &[&str] = &["putOrder", "putCheckout", "putProduct"];

/// A minimal valid body for each operation that takes one; `url` is where a
/// created webhook would send (the caller's own receiver).
fn body_recipe(operation: &str, url: &str) -> Option<Value> {
    Some(match operation {
        "createAccount" => json!({"id": "made-by-sweep", "name": "Made"}),
        "updateAccount" => json!({"name": "Renamed", "abandon_after_minutes": 5}),
        "createKey" => json!({"name": "sweep"}),
        "createWebhook" => json!({"url": url, "events": ["*"]}),
        "updateWebhook" => json!({"url": url, "name": "pwned", "status": "paused"}),
        "resumeWebhook" => json!({"discard_held": true}),
        "rotateWebhookSecret" => json!({}),
        "replayWebhook" => json!({"since": "2000-01-01T00:00:00Z"}),
        "previewWebhook" => json!({"event_type": "order.created"}),
        "createEvent" => {
            json!({"type": "order.created", "data": {"order": {"id": "planted"}}})
        }
        "subscribeHook" => json!({"target_url": url, "event": "order.paid"}),
        "putOrder" => json!({"status": "planted", "total": "1.00"}),
        "putCheckout" => json!({"status": "open", "total": "1.00"}),
        "putProduct" => json!({"name": "Planted", "stock": 0}),
        _ => return None,
    })
}

/// A value for each required query parameter, by operation and name.
fn query_recipe(operation: &str, name: &str) -> Option<&'static str> {
    match (operation, name) {
        ("getHookSample", "event") => Some("order.paid"),
        _ => None,
    }
}

/// One operation of the document.
#[derive(Debug, Clone)]
struct Operation {
    id: String,
    method: Method,
    path: String,
    public: bool,
    takes_body: bool,
    required_query: Vec<String>,
}

impl Operation {
    fn operator_only(&self) -> bool {
        OPERATOR_ONLY.contains(&self.id.as_str())
    }

    fn scoped(&self) -> bool {
        self.path.contains("{account}")
    }

    /// Names a resource of the account besides the account itself.
    fn names_resource(&self) -> bool {
        self.path
            .split('/')
            .any(|seg| seg.starts_with('{') && seg != "{account}")
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.id)
    }
}

/// Every operation in the served document.
fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().all(|r| r == &json!({})));
            let required_query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| p["name"].as_str().expect("name").to_string())
                .collect();
            out.push(Operation {
                id: op["operationId"].as_str().expect("operationId").into(),
                method: method.to_uppercase().parse().expect("method"),
                path: path.clone(),
                public,
                takes_body: op.get("requestBody").is_some(),
                required_query,
            });
        }
    }
    out
}

/// An account with one resource of every kind, each reachable by an id.
struct Tenant {
    id: String,
    /// The bearer key used for this account's own calls.
    key: String,
    /// A key id of this account (what `keys/{id}` names).
    key_id: String,
    webhook: String,
    /// A REST Hooks subscription (a webhook too): what `hooks/{id}` names.
    subscription: String,
    event: String,
    delivery: String,
    order: String,
    checkout: String,
    product: String,
    rx: TestReceiver,
}

async fn new_key(app: &TestApp, account: &str) -> (String, String) {
    let (s, k) = app
        .admin(Method::POST, &format!("/v1/accounts/{account}/keys"), None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    (
        k["key"].as_str().unwrap().into(),
        k["id"].as_str().unwrap().into(),
    )
}

/// Creates account `id` with its resources; waits until its one delivery succeeded.
/// With `spare_key`, `{key}` names a second key, so deleting it leaves `key` working.
async fn tenant(app: &TestApp, id: &str, spare_key: bool) -> Tenant {
    let rx = TestReceiver::start().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": id, "name": id.to_uppercase()})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (key, mut key_id) = new_key(app, id).await;
    if spare_key {
        key_id = new_key(app, id).await.1;
    }
    let base = format!("/v1/accounts/{id}");
    let (order, checkout, product) = (
        format!("{id}-order-1"),
        format!("{id}-checkout-1"),
        format!("{id}-product-1"),
    );
    // snapshots first: their events reach no webhook yet
    for (path, body) in [
        (
            format!("orders/{order}"),
            json!({"status": "new", "total": "10.00"}),
        ),
        (format!("checkouts/{checkout}"), json!({"status": "open"})),
        (
            format!("products/{product}"),
            json!({"name": "Mug", "stock": 3}),
        ),
    ] {
        let (s, v) = app
            .call(Method::PUT, &format!("{base}/{path}"), &key, Some(body))
            .await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    let (s, hook) = app
        .call(
            Method::POST,
            &format!("{base}/webhooks"),
            &key,
            Some(json!({"url": rx.url(&format!("/{id}")), "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let (s, sub) = app
        .call(
            Method::POST,
            &format!("{base}/hooks/subscribe"),
            &key,
            Some(json!({"target_url": rx.url(&format!("/{id}/hook")), "event": "order.paid"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let (s, evt) = app
        .call(
            Method::POST,
            &format!("{base}/events"),
            &key,
            Some(json!({"type": "order.created", "data": {"order": {"id": order}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{evt}");
    assert_eq!(evt["deliveries"], 1, "{evt}");
    rx.wait_for(1).await;
    let deliveries = app.deliveries(id, "").await;
    let delivery = deliveries[0]["id"].as_str().unwrap().to_string();
    app.wait_status(id, &delivery, "succeeded").await;
    Tenant {
        id: id.into(),
        key,
        key_id,
        webhook: hook["id"].as_str().unwrap().into(),
        subscription: sub["id"].as_str().unwrap().into(),
        event: evt["id"].as_str().unwrap().into(),
        delivery,
        order,
        checkout,
        product,
        rx,
    }
}

impl Tenant {
    /// The id a path parameter names, by the collection it follows
    /// (`webhooks/{id}` → the webhook).
    fn resource(&self, path: &str, param: &str) -> Result<&str, String> {
        let segments: Vec<&str> = path.split('/').collect();
        let at = segments.iter().position(|s| *s == param).expect("param");
        Ok(match segments[at - 1] {
            "webhooks" => &self.webhook,
            "hooks" => &self.subscription,
            "events" => &self.event,
            "deliveries" => &self.delivery,
            "orders" => &self.order,
            "checkouts" => &self.checkout,
            "products" => &self.product,
            "keys" => &self.key_id,
            other => {
                return Err(format!(
                    "no fixture for {param} after `{other}/` in {path}: give Tenant one"
                ));
            }
        })
    }

    /// Ids that must not appear in another account's answers.
    fn ids(&self) -> [&str; 5] {
        [
            &self.webhook,
            &self.subscription,
            &self.event,
            &self.delivery,
            &self.key_id,
        ]
    }
}

/// The concrete request of `op`: `{account}` is `account`, every other path
/// parameter names `owner`'s resource; created webhooks would send to `url`.
fn request(
    op: &Operation,
    account: &str,
    owner: &Tenant,
    url: &str,
) -> Result<(String, Option<Value>), String> {
    let mut path = op.path.clone();
    for seg in op.path.split('/').filter(|s| s.starts_with('{')) {
        let value = if seg == "{account}" {
            account
        } else {
            owner.resource(&op.path, seg)?
        };
        path = path.replacen(seg, value, 1);
    }
    let mut query = Vec::new();
    for name in &op.required_query {
        let v = query_recipe(&op.id, name).ok_or_else(|| {
            format!("{op}: required query parameter `{name}` has no value in query_recipe")
        })?;
        query.push(format!("{name}={v}"));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let body = if op.takes_body {
        Some(body_recipe(&op.id, url).ok_or_else(|| {
            format!("{op} takes a body but body_recipe has none: add a minimal valid one")
        })?)
    } else {
        None
    };
    Ok((path, body))
}

/// Everything of an account the operator can read, and whether its key works.
async fn everything_of(app: &TestApp, t: &Tenant) -> Value {
    let base = format!("/v1/accounts/{}", t.id);
    let mut out = serde_json::Map::new();
    let mut paths = vec![
        base.clone(),
        format!("{base}/webhooks"),
        format!("{base}/events/{}", t.event),
        format!("{base}/orders/{}", t.order),
        format!("{base}/checkouts/{}", t.checkout),
        format!("{base}/products/{}", t.product),
        format!("{base}/deliveries?limit=1000"),
    ];
    for d in app.deliveries(&t.id, "limit=1000").await {
        paths.push(format!("{base}/deliveries/{}", d["id"].as_str().unwrap()));
    }
    for p in paths {
        let (s, v) = app.admin(Method::GET, &p, None).await;
        out.insert(p, json!({"status": s.as_u16(), "body": v}));
    }
    let (s, _) = app
        .call(Method::GET, &format!("{base}/webhooks"), &t.key, None)
        .await;
    out.insert("key works".into(), json!(s == StatusCode::OK));
    Value::Object(out)
}

#[tokio::test]
async fn another_accounts_key_reaches_nothing() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = operations(&doc);
    let a = tenant(&app, "a", false).await;
    let c = tenant(&app, "c", true).await;
    let rx_b = TestReceiver::start().await;
    let key_b = app.account("b").await;
    let stolen = rx_b.url("/stolen");

    // B: its own webhook and event
    let (s, hook_b) = app
        .call(
            Method::POST,
            "/v1/accounts/b/webhooks",
            &key_b,
            Some(json!({"url": rx_b.url("/b"), "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, evt_b) = app
        .call(
            Method::POST,
            "/v1/accounts/b/events",
            &key_b,
            Some(json!({"type": "order.created", "data": {"order": {"id": "b1"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    rx_b.wait_for(1).await;

    // The recipes are valid: every operation succeeds for its rightful caller on
    // C's own resources (the operator on operator-only ones, C's key elsewhere). So
    // the 404s below come from isolation, not from a bad request.
    let mut control: Vec<&Operation> = ops.iter().filter(|o| !o.public).collect();
    control.sort_by_key(|o| {
        (
            o.method == Method::DELETE,
            o.operator_only(),
            o.id == "deleteAccount",
        )
    });
    for op in &control {
        let (path, body) =
            request(op, &c.id, &c, &c.rx.url("/c/new")).unwrap_or_else(|e| panic!("{e}"));
        let key = if op.operator_only() {
            ADMIN_KEY
        } else {
            &c.key
        };
        let (s, v) = app.call(op.method.clone(), &path, key, body).await;
        assert!(s.is_success(), "control: {op} as its owner: {s} {v}");
    }

    let before = everything_of(&app, &a).await;
    let got_before = a.rx.received().len();

    // B's key on every route naming A, and on every route naming A's resources
    // under B's own path
    // B previews its own webhook with A's stored order: B has no such order (yet: B writes its own
    // `a-order-1` in the sweep below)
    let (s, v) = app
        .call(
            Method::POST,
            &format!(
                "/v1/accounts/b/webhooks/{}/preview",
                hook_b["id"].as_str().unwrap()
            ),
            &key_b,
            Some(json!({"event_type": "order.paid", "id": a.order})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains("10.00"), "{v}");

    // (B's own writes of A's shop ids come last: until then B has no such order,
    // checkout or product, so reading or deleting one by A's id must find nothing)
    let mut attacks: Vec<&Operation> = ops.iter().filter(|o| !o.public).collect();
    attacks.sort_by_key(|o| OWN_NAMESPACE.contains(&o.id.as_str()));
    let mut requests = 0;
    let mut swept = 0;
    for op in attacks {
        let mut cases = vec![("A's path", a.id.as_str())];
        if op.names_resource() {
            cases.push(("B's path, A's ids", "b"));
        }
        if !op.scoped() {
            cases = vec![("no account", "")];
        }
        swept += 1;
        for (case, account) in cases {
            let (path, body) = request(op, account, &a, &stolen).unwrap_or_else(|e| panic!("{e}"));
            let got = app.call(op.method.clone(), &path, &key_b, body).await;
            requests += 1;
            let what = format!("{case}: {op} as {path} with B's key");
            if op.operator_only() {
                assert_eq!(got.0, StatusCode::FORBIDDEN, "{what}: {}", got.1);
                assert_error(&got, StatusCode::FORBIDDEN, "operator_only");
            } else if account == "b" && OWN_NAMESPACE.contains(&op.id.as_str()) {
                assert_eq!(got.0, StatusCode::OK, "{what} writes B's own: {}", got.1);
            } else {
                assert_eq!(got.0, StatusCode::NOT_FOUND, "{what}: {}", got.1);
                assert_error(&got, StatusCode::NOT_FOUND, "not_found");
            }
            let text = got.1.to_string();
            for id in a.ids() {
                assert!(!text.contains(id), "{what} leaks {id}: {text}");
            }
        }
    }
    assert!(swept > 30, "the document lists {swept} operations");

    // No key, and an unknown key: 401 on every operation that is not public
    for op in ops.iter().filter(|o| !o.public) {
        let (path, body) = request(op, &a.id, &a, &stolen).unwrap();
        let mut req = app.client.request(op.method.clone(), app.url(&path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let got = (resp.status(), resp.json().await.unwrap_or(Value::Null));
        assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        let got = app
            .call(op.method.clone(), &path, "shk_not-a-key", body)
            .await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        requests += 2;
    }
    eprintln!(
        "isolation sweep: {swept} operations, {} as their owner, {requests} requests refused or confined",
        control.len()
    );

    // B's own listings show only B's things, even when filtered by A's ids
    let (_, hooks) = app
        .call(Method::GET, "/v1/accounts/b/webhooks", &key_b, None)
        .await;
    let ids: Vec<&Value> = hooks["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(ids, [&hook_b["id"]]);
    let (_, dl) = app
        .call(
            Method::GET,
            "/v1/accounts/b/deliveries?limit=1000",
            &key_b,
            None,
        )
        .await;
    let dl = dl["data"].as_array().unwrap();
    assert!(dl.iter().any(|d| d["event_id"] == evt_b["id"]), "{dl:?}");
    assert!(dl.iter().all(|d| d["account"] == "b"), "{dl:?}");
    for q in [
        format!("webhook={}", a.webhook),
        format!("subject=order:{}", a.order),
        format!("before=dlv_{}", "Z".repeat(26)),
    ] {
        let (s, v) = app
            .call(
                Method::GET,
                &format!("/v1/accounts/b/deliveries?{q}"),
                &key_b,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let shown = v["data"].as_array().unwrap();
        assert!(shown.iter().all(|d| d["account"] == "b"), "{q}: {v}");
    }
    // A is untouched: nothing deleted, paused, rotated, replayed, renamed; its key
    // works; and its receivers got nothing more
    let after = everything_of(&app, &a).await;
    assert_eq!(after, before, "B changed something of A");
    assert_eq!(a.rx.received().len(), got_before);
    // one more event of A's own: had B's test, retry or replay reached A's
    // receiver, those requests would be here first (the worker sends in due order)
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/accounts/a/events",
            &a.key,
            Some(json!({"type": "order.created", "data": {"order": {"id": "3"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let got = a.rx.wait_for(got_before + 1).await;
    let ids: Vec<Value> = got.iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(ids, [json!(a.event), v["id"].clone()]);
    assert!(
        rx_b.received().iter().all(|r| r.uri == "/b"),
        "B's receiver got a request meant for A: {:?}",
        rx_b.received().iter().map(|r| &r.uri).collect::<Vec<_>>()
    );
    app.stop().await;
}
