//! The golden fixture through the real server: every snapshot of
//! `crates/shophook-core/tests/golden/fixture.json` goes in by `PUT`, and what the
//! receiver gets must be byte for byte the golden file the core renders for it —
//! so validation, derivation and rendering cannot disagree with the fixtures
//! unseen. And every `curl` example of README.md and docs/ runs, as written, against a real
//! server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::fixture::{self, Case, Fixture};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shophook::clock::ManualClock;

use crate::support::{ADMIN_KEY, TestApp, TestReceiver};

/// The request as its golden file shows it: ids of this run replaced by the
/// golden ones, the receiver's address by the golden base.
fn as_golden(r: &crate::support::Received, event_id: &str, webhook_id: &str) -> String {
    let delivery_id = r.header("webhook-id");
    let ct = Some(r.header("content-type")).filter(|c| !c.is_empty());
    let body = String::from_utf8(r.body.to_vec()).expect("a UTF-8 body");
    let url = format!("{}{}", fixture::GOLDEN_BASE, r.uri);
    fixture::request_text(&r.method, &url, ct, &body)
        .replace(event_id, fixture::EVENT_ID)
        .replace(delivery_id, fixture::DELIVERY_ID)
        .replace(webhook_id, fixture::WEBHOOK_ID)
}

#[tokio::test]
async fn every_golden_fixture_goes_through_the_api_byte_for_byte() {
    let fixture = Fixture::load();
    let mut failures = Vec::new();
    for account in &fixture.accounts {
        // The event time of the golden files: the server's clock stands there.
        let clock = Arc::new(ManualClock::new(fixture::EVENT_TIME.parse().unwrap()));
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let app = TestApp::spawn_clocked(dir, clock, &["--allow-private-targets"]).await;
        let (s, v) = app
            .admin(
                Method::POST,
                "/v1/accounts",
                Some(json!({"id": "acme", "name": "Acme", "timezone": account.timezone})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let rx = TestReceiver::start().await;
        let base = rx.url("");
        let mut hooks = HashMap::new();
        for hook in &account.webhooks {
            let created = app.webhook("acme", hook.config(&base)).await;
            hooks.insert(created["id"].as_str().unwrap().to_string(), hook);
        }
        // Step by step, each step's deliveries received before the next: what
        // SalesDrive lists as the account's statuses so far is then the same as
        // in the core's rendering.
        let mut step_of = HashMap::new();
        let mut expected = 0;
        for r in &fixture.resources {
            for (step, snapshot) in r.snapshots() {
                let path = format!("/v1/accounts/acme/{}s/{}", r.kind, r.id);
                let (s, v) = app.admin(Method::PUT, &path, Some(snapshot)).await;
                assert_eq!(s, StatusCode::OK, "{} {step}: {v}", r.kind);
                for e in v["events"].as_array().unwrap() {
                    step_of.insert(e["id"].as_str().unwrap().to_string(), step.clone());
                }
                expected += account
                    .webhooks
                    .iter()
                    .flat_map(|h| h.cases())
                    .filter(|c| c.step == step)
                    .count();
                rx.wait_for(expected).await;
            }
        }
        // Compared per (webhook, step, event type): a per-item profile sends one
        // request per order item, in no fixed order.
        let mut got: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for r in rx.received() {
            let d = app.delivery("acme", r.header("webhook-id")).await;
            let webhook_id = d["webhook_id"].as_str().unwrap();
            let event_id = d["event_id"].as_str().unwrap();
            let hook = hooks[webhook_id];
            let key = (
                hook.name.clone(),
                step_of[event_id].clone(),
                d["event_type"].as_str().unwrap().to_string(),
            );
            got.entry(key)
                .or_default()
                .push(as_golden(&r, event_id, webhook_id));
        }
        let mut want: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for hook in &account.webhooks {
            for case in hook.cases() {
                let Case {
                    step, event_type, ..
                } = &case;
                let text = std::fs::read_to_string(hook.file(&case)).unwrap();
                want.entry((hook.name.clone(), step.clone(), event_type.clone()))
                    .or_default()
                    .push(text);
            }
        }
        for v in got.values_mut().chain(want.values_mut()) {
            v.sort();
        }
        if got != want {
            for key in want.keys().chain(got.keys()) {
                if got.get(key) != want.get(key) {
                    failures.push(format!(
                        "{key:?}:\n--- want\n{}\n--- got\n{}",
                        want.get(key).map(|v| v.join("\n")).unwrap_or_default(),
                        got.get(key).map(|v| v.join("\n")).unwrap_or_default()
                    ));
                }
            }
        }
        app.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The shell blocks of README.md and docs/*.md that talk to the API, with the
/// server and the receiver of this test in place of `localhost:8080` and the
/// example hosts.
fn readme_scripts(server: &str, receiver: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut pages = vec![format!("{root}/README.md")];
    let mut docs: Vec<String> = std::fs::read_dir(format!("{root}/docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .filter(|p| p.ends_with(".md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let readme: String = pages
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("a page of the docs"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start().starts_with("```")) {
            (None, true) if line.trim() == "```sh" => current = Some(Vec::new()),
            (Some(_), true) => blocks.extend(current.take()),
            (Some(b), false) => b.push(line),
            _ => {}
        }
    }
    let host = example_hosts();
    blocks
        .into_iter()
        .filter(|b| b.iter().any(|l| l.contains("localhost:8080")))
        .map(|b| {
            let script = b
                .iter()
                .map(|l| match l.split_once('=') {
                    Some(("KEY", _)) => format!("KEY={ADMIN_KEY}"),
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
                .replace("dev-operator-key-0123456789", ADMIN_KEY)
                .replace("localhost:8080", server);
            let script = host.iter().fold(script, |s, h| s.replace(h, receiver));
            // Any answer that is not 2xx fails the block.
            format!(
                "set -euo pipefail\ncurl() {{ command curl --fail-with-body \"$@\"; }}\n{script}\n"
            )
        })
        .collect()
}

/// The example hosts README.md and docs/ send webhooks to.
fn example_hosts() -> Vec<&'static str> {
    vec![
        "https://wms.example.com",
        "https://hooks.example.com",
        "http://127.0.0.1:9000",
    ]
}

#[tokio::test]
async fn every_readme_example_runs_against_the_real_server() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    let scripts = readme_scripts(&app.addr.to_string(), &rx.url(""));
    assert!(
        scripts.len() >= 2,
        "README.md's API examples were found ({})",
        scripts.len()
    );
    for script in &scripts {
        let out = tokio::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .output()
            .await
            .expect("bash runs");
        assert!(
            out.status.success(),
            "a README or docs/ example failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The examples' events reached the receiver: the five minutes' order.paid of the
    // snapshot (its condition holds; the order.created is not for that webhook), the
    // posted one, and the listener walk-through's — each signed with the secret the
    // examples give `shophook listen`.
    let got = rx.wait_for(3).await;
    assert!(
        got.iter().all(|r| r.json()["type"] == "order.paid"),
        "{:?}",
        got.iter()
            .map(|r| r.json()["type"].clone())
            .collect::<Vec<Value>>()
    );
    let secret = shophook_verify::Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    for r in &got {
        assert!(
            shophook_verify::verify_headers_now(&secret, &r.headers, &r.body).is_ok(),
            "{} is not signed with the examples' secret",
            r.uri
        );
    }
    assert!(
        got.iter().any(|r| r.uri.ends_with("/in?order=1001")),
        "{:?}",
        got.iter().map(|r| &r.uri).collect::<Vec<_>>()
    );
    app.stop().await;
}
