//! Observability: `GET /metrics` parses as Prometheus text and its counters move by
//! exactly what a delivery did; the queue gauges see due, scheduled and held work;
//! API requests are timed by route template; `/readyz` follows the database
//! (PostgreSQL refusing connections → 503); JSON logs carry the ids of the delivery
//! whose attempt they tell about, and no secret.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use shophook::clock::ManualClock;

use crate::support::{
    ADMIN_KEY, POSTGRES_TESTS, ServerProcess, TestApp, TestDatabase, TestReceiver, WAIT,
};

/// One scrape, parsed strictly (Prometheus text format 0.0.4): every sample belongs
/// to a family announced by `# HELP` and `# TYPE` before it, names and labels are
/// well-formed, no series appears twice, and histogram buckets add up.
#[derive(Debug)]
struct Scrape {
    samples: HashMap<(String, BTreeMap<String, String>), f64>,
    types: HashMap<String, String>,
}

fn valid_name(name: &str, colon: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// The family a sample name belongs to, given the announced types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
    })
}

/// `{a="x",b="y"}` → labels, and what follows the closing brace.
fn parse_labels(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (name, after) = rest.split_once("=\"").expect("label name=\"value\"");
        assert!(valid_name(name, false), "label name `{name}`");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closed label value") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("an escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        assert!(
            labels.insert(name.to_string(), value).is_none(),
            "label {name} twice"
        );
        rest = &after[end + 1..];
    }
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => v.parse().unwrap_or_else(|_| panic!("sample value `{v}`")),
    }
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashMap<String, String> = HashMap::new();
        let mut samples = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("# HELP name text");
                assert!(valid_name(name, true), "{line}");
                assert!(!help.is_empty(), "empty help: {line}");
                assert!(
                    helps.insert(name.into(), help.into()).is_none(),
                    "HELP twice: {line}"
                );
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(helps.contains_key(name), "TYPE before HELP: {line}");
                assert!(
                    types.insert(name.into(), kind.into()).is_none(),
                    "TYPE twice: {line}"
                );
            } else {
                assert!(
                    !line.starts_with('#') && !line.is_empty(),
                    "unexpected line `{line}`"
                );
                let end = line.find(['{', ' ']).expect("name then value");
                let name = &line[..end];
                assert!(valid_name(name, true), "{line}");
                let family = family_of(name, &types)
                    .unwrap_or_else(|| panic!("sample before its # TYPE: {line}"));
                if types[family] == "counter" {
                    assert!(
                        name.ends_with("_total"),
                        "a counter is named …_total: {line}"
                    );
                }
                let (labels, rest) = if line[end..].starts_with('{') {
                    parse_labels(&line[end + 1..])
                } else {
                    (BTreeMap::new(), &line[end..])
                };
                let mut fields = rest.split_whitespace();
                let value = parse_value(fields.next().expect("a value"));
                if let Some(ts) = fields.next() {
                    ts.parse::<i64>().expect("a timestamp in ms");
                }
                assert!(fields.next().is_none(), "{line}");
                assert!(
                    samples.insert((name.to_string(), labels), value).is_none(),
                    "series twice: {line}"
                );
            }
        }
        let scrape = Scrape { samples, types };
        scrape.check_histograms();
        scrape
    }

    /// Buckets are cumulative and end at `+Inf` = `_count`.
    fn check_histograms(&self) {
        for (family, _) in self.types.iter().filter(|(_, t)| *t == "histogram") {
            let mut series: HashMap<BTreeMap<String, String>, Vec<(f64, f64)>> = HashMap::new();
            for ((name, labels), v) in &self.samples {
                if name == &format!("{family}_bucket") {
                    let mut rest = labels.clone();
                    let le = parse_value(&rest.remove("le").expect("le"));
                    series.entry(rest).or_default().push((le, *v));
                }
            }
            for (labels, mut buckets) in series {
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                assert!(
                    buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{family}{labels:?}: buckets not cumulative"
                );
                let last = buckets.last().expect("buckets");
                assert_eq!(last.0, f64::INFINITY, "{family}: no +Inf bucket");
                let count = self.samples[&(format!("{family}_count"), labels.clone())];
                assert_eq!(last.1, count, "{family}{labels:?}: +Inf bucket ≠ count");
            }
        }
    }

    /// A sample's value; 0 for a series that is not there (yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(&(name.to_string(), key))
            .copied()
            .unwrap_or(0.0)
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(n, _)| n == name)
    }

    fn deliveries(&self, outcome: &str) -> f64 {
        self.get("shophook_deliveries_total", &[("outcome", outcome)])
    }

    fn attempts(&self, class: &str) -> f64 {
        self.get("shophook_attempts_total", &[("status_class", class)])
    }

    fn latency(&self, what: &str) -> f64 {
        self.get(&format!("shophook_delivery_latency_seconds_{what}"), &[])
    }

    fn latency_bucket(&self, le: &str) -> f64 {
        self.get("shophook_delivery_latency_seconds_bucket", &[("le", le)])
    }
}

/// `GET /metrics` without any key; checks the content type and parses.
async fn scrape(addr: std::net::SocketAddr) -> Scrape {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scraping");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&resp.text().await.unwrap())
}

/// Scrapes until `pred` holds (the queue gauges are re-read at most once a second,
/// and the worker counts right after its commit); returns that scrape.
async fn scrape_until(
    addr: std::net::SocketAddr,
    what: &str,
    pred: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = scrape(addr).await;
        if pred(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never showed in /metrics: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn monday() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn a_delivery_moves_the_counters_by_exactly_what_it_did() {
    let clock = Arc::new(ManualClock::new(monday()));
    let app = TestApp::spawn_clocked(
        Arc::new(tempfile::tempdir().unwrap()),
        clock.clone(),
        &["--allow-private-targets", "--retry-schedule", "1m"],
    )
    .await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    // Five minutes between the event and its delivery, on the test's clock.
    app.webhook(
        "acme",
        json!({"url": rx.url("/in"), "events": ["*"], "delay_minutes": 5}),
    )
    .await;
    let before = scrape(app.addr).await;
    for family in [
        "shophook_deliveries_total",
        "shophook_attempts_total",
        "shophook_delivery_latency_seconds",
        "shophook_events_stored_total",
        "shophook_queue_depth",
        "shophook_queue_scheduled",
        "shophook_queue_oldest_due_age_seconds",
        "shophook_http_request_duration_seconds",
    ] {
        assert!(before.types.contains_key(family), "{family} is announced");
    }
    assert_eq!(
        before.types["shophook_delivery_latency_seconds"],
        "histogram"
    );
    assert_eq!(before.types["shophook_queue_depth"], "gauge");

    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "1001"}}}),
    )
    .await;
    let waiting = scrape_until(app.addr, "the delayed delivery", |s| {
        s.get("shophook_queue_scheduled", &[]) == 1.0
    })
    .await;
    assert_eq!(waiting.get("shophook_queue_depth", &[]), 0.0);
    assert_eq!(
        waiting.get("shophook_events_stored_total", &[])
            - before.get("shophook_events_stored_total", &[]),
        1.0
    );

    app.advance(&clock, SignedDuration::from_mins(5));
    rx.wait_for(1).await;
    let after = scrape_until(app.addr, "the success", |s| {
        s.deliveries("succeeded") > before.deliveries("succeeded")
    })
    .await;
    let moved = |f: &dyn Fn(&Scrape) -> f64| f(&after) - f(&before);
    assert_eq!(moved(&|s| s.get("shophook_events_stored_total", &[])), 1.0);
    assert_eq!(moved(&|s| s.deliveries("succeeded")), 1.0);
    for outcome in ["failed", "dead", "skipped"] {
        assert_eq!(moved(&|s| s.deliveries(outcome)), 0.0, "{outcome}");
    }
    assert_eq!(moved(&|s| s.attempts("2xx")), 1.0);
    for class in ["3xx", "4xx", "5xx", "error"] {
        assert_eq!(moved(&|s| s.attempts(class)), 0.0, "{class}");
    }
    assert_eq!(moved(&|s| s.latency("count")), 1.0);
    assert_eq!(
        moved(&|s| s.latency("sum")),
        300.0,
        "from the event being stored to the success: the five minutes of delay"
    );
    assert_eq!(moved(&|s| s.latency_bucket("60")), 0.0);
    assert_eq!(moved(&|s| s.latency_bucket("300")), 1.0);

    // The API call that stored the event, timed under its route template.
    let posted = [
        ("method", "POST"),
        ("route", "/v1/accounts/{account}/events"),
        ("status", "202"),
    ];
    assert_eq!(
        after.get("shophook_http_request_duration_seconds_count", &posted),
        1.0
    );
    let done = scrape_until(app.addr, "an empty queue", |s| {
        s.get("shophook_queue_scheduled", &[]) == 0.0
    })
    .await;
    assert_eq!(done.get("shophook_queue_depth", &[]), 0.0);
    assert_eq!(done.get("shophook_queue_oldest_due_age_seconds", &[]), 0.0);
}

#[tokio::test]
async fn failed_and_dead_deliveries_are_counted_by_outcome_and_status_class() {
    let app = TestApp::spawn_with(&["--allow-private-targets", "--retry-schedule", "1h"]).await;
    let failing = TestReceiver::start().await;
    failing.set_default(500);
    let gone = TestReceiver::start().await;
    gone.set_default(410);
    app.account("acme").await;
    app.webhook("acme", json!({"url": failing.url("/in"), "events": ["*"]}))
        .await;
    app.webhook("acme", json!({"url": gone.url("/in"), "events": ["*"]}))
        .await;
    let before = scrape(app.addr).await;
    app.event(
        "acme",
        json!({"type": "order.created", "data": {"order": {"id": "1"}}}),
    )
    .await;
    let after = scrape_until(app.addr, "both outcomes", |s| {
        s.deliveries("failed") > before.deliveries("failed")
            && s.deliveries("dead") > before.deliveries("dead")
            && s.get("shophook_queue_scheduled", &[]) == 1.0
    })
    .await;
    let moved = |f: &dyn Fn(&Scrape) -> f64| f(&after) - f(&before);
    assert_eq!(moved(&|s| s.get("shophook_events_stored_total", &[])), 1.0);
    assert_eq!(moved(&|s| s.deliveries("failed")), 1.0, "500: will retry");
    assert_eq!(
        moved(&|s| s.deliveries("dead")),
        1.0,
        "410: gave up at once"
    );
    assert_eq!(moved(&|s| s.deliveries("succeeded")), 0.0);
    assert_eq!(moved(&|s| s.attempts("5xx")), 1.0);
    assert_eq!(moved(&|s| s.attempts("4xx")), 1.0);
    assert_eq!(moved(&|s| s.attempts("2xx")), 0.0);
    assert_eq!(
        moved(&|s| s.latency("count")),
        0.0,
        "no success, no latency"
    );
    assert_eq!(
        after.get("shophook_queue_depth", &[]),
        0.0,
        "the retry waits an hour"
    );
}

#[tokio::test]
async fn the_queue_gauges_see_due_waiting_and_held_work() {
    let clock = Arc::new(ManualClock::new(monday()));
    let app = TestApp::spawn_clocked(
        Arc::new(tempfile::tempdir().unwrap()),
        clock.clone(),
        &[
            "--allow-private-targets",
            "--webhook-concurrency",
            "1",
            "--lease",
            "1h",
        ],
    )
    .await;
    // The receiver holds each request: one is in flight, the rest wait their turn.
    let rx = TestReceiver::start().await;
    rx.set_delay(Duration::from_secs(60));
    app.account("acme").await;
    let hook = app
        .webhook("acme", json!({"url": rx.url("/in"), "events": ["*"]}))
        .await;
    for id in 1..=3 {
        app.event(
            "acme",
            json!({"type": "order.created", "data": {"order": {"id": id.to_string()}}}),
        )
        .await;
    }
    rx.wait_for(1).await;
    app.advance(&clock, SignedDuration::from_mins(5));
    let s = scrape_until(app.addr, "two due deliveries", |s| {
        s.get("shophook_queue_depth", &[]) == 2.0
    })
    .await;
    assert_eq!(
        s.get("shophook_queue_scheduled", &[]),
        1.0,
        "the one being sent, until its lease ends"
    );
    assert_eq!(
        s.get("shophook_queue_oldest_due_age_seconds", &[]),
        300.0,
        "due since the events were stored, five minutes ago"
    );

    let (status, v) = app
        .admin(
            Method::POST,
            &format!(
                "/v1/accounts/acme/webhooks/{}/pause",
                hook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let held = scrape_until(app.addr, "held deliveries leaving the queue", |s| {
        s.get("shophook_queue_depth", &[]) == 0.0
    })
    .await;
    assert_eq!(held.get("shophook_queue_oldest_due_age_seconds", &[]), 0.0);
    assert_eq!(held.get("shophook_queue_scheduled", &[]), 1.0);
}

#[tokio::test]
async fn requests_are_timed_by_route_template_not_raw_path() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    for id in ["wh_a", "wh_b", "wh_c"] {
        let (s, _) = app
            .admin(
                Method::GET,
                &format!("/v1/accounts/acme/webhooks/{id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, _) = app.admin(Method::GET, "/no/such/page/42", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let brew = app
        .client
        .request(Method::from_bytes(b"BREW").unwrap(), app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(brew.status(), StatusCode::METHOD_NOT_ALLOWED);

    let s = scrape(app.addr).await;
    let count =
        |labels: &[(&str, &str)]| s.get("shophook_http_request_duration_seconds_count", labels);
    assert_eq!(
        count(&[
            ("method", "GET"),
            ("route", "/v1/accounts/{account}/webhooks/{id}"),
            ("status", "404"),
        ]),
        3.0
    );
    assert_eq!(
        count(&[("method", "GET"), ("route", "unmatched"), ("status", "404")]),
        1.0
    );
    assert_eq!(
        count(&[
            ("method", "other"),
            ("route", "/healthz"),
            ("status", "405")
        ]),
        1.0,
        "made-up methods share one label value"
    );
    let routes: Vec<&String> = s
        .samples
        .keys()
        .filter(|(n, _)| n == "shophook_http_request_duration_seconds_count")
        .map(|(_, l)| &l["route"])
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| !r.contains("wh_") && !r.contains("acme")),
        "no raw path in a label: {routes:?}"
    );

    // Prometheus asks for OpenMetrics, and gets it.
    let om = app
        .client
        .get(app.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        om.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let body = om.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE shophook_deliveries counter"));
    assert!(body.contains("# UNIT shophook_delivery_latency_seconds seconds"));
}

#[tokio::test]
async fn health_endpoints_are_public() {
    let app = TestApp::spawn().await;
    for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let resp = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], want, "{path}");
    }
}

/// `/readyz` asks the database: a PostgreSQL database that refuses connections
/// makes it 503 (and `/metrics` still answers, without the queue gauges); allowed
/// again, the node is ready again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_postgres_refuses_connections() {
    let _alone = POSTGRES_TESTS.lock().await;
    let Some(db) = TestDatabase::create("readyz on PostgreSQL").await else {
        return;
    };
    let node = ServerProcess::start_on(&db.url, &[]);
    let readyz = || async {
        let resp = reqwest::get(format!("http://{}/readyz", node.addr))
            .await
            .expect("readyz answers");
        (
            resp.status(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    assert_eq!(readyz().await.0, StatusCode::OK);
    assert_eq!(readyz().await.1["status"], "ready");

    db.allow_connections(false)
        .await
        .expect("refusing connections");
    db.terminate_connections()
        .await
        .expect("dropping connections");
    let (status, body) = readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");
    let during = scrape(node.addr).await;
    assert!(during.has("shophook_events_stored_total"), "{during:?}");
    assert!(
        !during.has("shophook_queue_depth"),
        "no made-up queue figures while the database is away"
    );

    db.allow_connections(true)
        .await
        .expect("allowing connections");
    let deadline = tokio::time::Instant::now() + WAIT;
    while readyz().await.0 != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready again after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    scrape_until(node.addr, "the queue gauges", |s| {
        s.has("shophook_queue_depth")
    })
    .await;
}

/// With `--log-format json`, a failing attempt logs a JSON line whose span carries
/// the account, webhook, delivery and event ids; no line holds a secret.
#[tokio::test]
async fn json_logs_carry_the_ids_of_the_delivery_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let node = ServerProcess::start(
        &dir.path().join("shophook.db"),
        &["--allow-private-targets", "--retry-schedule", "1h"],
    );
    let rx = TestReceiver::start().await;
    rx.set_default(503);
    let api = node.client();
    let (s, _) = api
        .call(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, hook) = api
        .call(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(
                json!({"url": rx.url("/in?token=url-secret-123"), "events": ["*"],
                        "headers": {"X-Api-Key": "header-secret-456"}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let (s, event) = api
        .call(
            Method::POST,
            "/v1/accounts/acme/events",
            Some(json!({"type": "order.created", "data": {"order": {"id": "1"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{event}");
    rx.wait_for(1).await;
    let (_, list) = api
        .call(Method::GET, "/v1/accounts/acme/deliveries", None)
        .await;
    let delivery = list["data"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_string();

    let line = node
        .wait_for_log("about the failed attempt", |l| {
            l.contains("attempt failed; will retry")
        })
        .await;
    let log: Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(log["level"], "INFO", "{log}");
    assert_eq!(log["fields"]["status"], 503, "{log}");
    let span = &log["span"];
    assert_eq!(span["name"], "delivery", "{log}");
    assert_eq!(span["account"], "acme", "{log}");
    assert_eq!(span["webhook"], hook["id"], "{log}");
    assert_eq!(span["delivery"], delivery.as_str(), "{log}");
    assert_eq!(span["event"], event["id"], "{log}");
    assert_eq!(span["attempt"], 1, "{log}");

    let secret = hook["secret"].as_str().expect("the webhook's secret");
    for l in node.logs() {
        serde_json::from_str::<Value>(&l).unwrap_or_else(|_| panic!("not JSON: {l}"));
        for s in [secret, ADMIN_KEY, "url-secret-123", "header-secret-456"] {
            assert!(!l.contains(s), "a secret in the log: {l}");
        }
    }
}
