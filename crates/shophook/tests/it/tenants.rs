//! Hostile tenants: what one merchant controls cannot take the server down or
//! starve another merchant. Templates that ask for gigabytes fail their own
//! delivery with the bound as the reason, in a server process whose peak memory is
//! read from `/proc` (liveness and a memory ceiling, not timing).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Peak resident memory of `pid` since it started, MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

/// Waits until every delivery of `account` is `dead` or `succeeded`; returns them.
async fn settled(remote: &Remote, account: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (s, v) = remote
            .call(
                Method::GET,
                &format!("/v1/accounts/{account}/deliveries?limit=100"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let all = v["data"].as_array().cloned().unwrap_or_default();
        if all.len() >= n
            && all
                .iter()
                .all(|d| d["status"] == "dead" || d["status"] == "succeeded")
        {
            return all;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never settled: {all:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn templates_that_ask_for_gigabytes_fail_their_delivery_and_the_server_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("db.sqlite"), &["--allow-private-targets"]);
    let remote = server.client();
    let receiver = TestReceiver::start().await;
    let (s, v) = remote
        .call(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // The reproductions, each hidden behind an order id the save-time check
    // never sees, so they reach the worker.
    let cases = [
        ("{% set n = 100000000 %}{{ 'x' * n }}", "exceeds 256 KiB"),
        (
            "{% set n = 100000000 %}{% for i in range(40) %}{{ 'x' * n }}{% endfor %}",
            "exceeds 256 KiB",
        ),
        (
            "{{ order|tojson(indent=10000000) }}",
            "indent is at most 64",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "exceeds 256 KiB",
        ),
        (
            "{% for i in range(100000) %}{{ order|tojson }}{% endfor %}",
            "template output exceeds 256 KiB",
        ),
        (
            "{% set s = 'a' * 200000 %}{% set ns = namespace(l=[]) %}{% for i in range(2000) %}{% set ns.l = ns.l + [s[i:]] %}{% endfor %}",
            "builds more than 16 MiB",
        ),
    ];
    let mut hooks = Vec::new();
    for (i, (body, _)) in cases.iter().enumerate() {
        let template = format!("{{% if order.id == 'boom' %}}{body}{{% else %}}ok{{% endif %}}");
        let (s, v) = remote
            .call(
                Method::POST,
                "/v1/accounts/acme/webhooks",
                Some(json!({
                    "name": format!("case {i}"), "url": receiver.url(&format!("/case{i}")),
                    "events": ["order.paid"], "format": "template", "template": template,
                })),
            )
            .await;
        assert_eq!(s, 201, "the save-time check passes: {v}");
        hooks.push(v["id"].as_str().unwrap().to_string());
    }
    for id in ["boom", "fine"] {
        let (s, v) = remote
            .call(
                Method::POST,
                "/v1/accounts/acme/events",
                Some(json!({"type": "order.paid", "data": {"order": {"id": id, "total": "1.00"}}})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
    }
    let all = settled(&remote, "acme", 2 * cases.len()).await;
    for (i, (_, reason)) in cases.iter().enumerate() {
        let mine: Vec<&Value> = all
            .iter()
            .filter(|d| d["webhook_id"] == hooks[i].as_str())
            .collect();
        let dead: Vec<&&Value> = mine.iter().filter(|d| d["status"] == "dead").collect();
        assert_eq!(dead.len(), 1, "case {i}: {mine:?}");
        let (_, detail) = remote
            .call(
                Method::GET,
                &format!(
                    "/v1/accounts/acme/deliveries/{}",
                    dead[0]["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        let text = detail.to_string();
        assert!(text.contains(reason), "case {i} wants {reason:?}: {text}");
    }
    // the ordinary order went through every webhook
    assert_eq!(receiver.wait_for(cases.len()).await.len(), cases.len());
    assert!(receiver.received().iter().all(|r| &r.body[..] == b"ok"));
    let (s, _) = remote.call(Method::GET, "/healthz", None).await;
    assert_eq!(s, 200);
    let peak = peak_rss_mib(server.child.id());
    eprintln!("server peak RSS after the hostile templates: {peak:.0} MiB");
    assert!(peak < 256.0, "peak RSS {peak:.0} MiB");
}

/// Reads from an idle client socket until the server closes it (0 bytes) — or
/// fails after [`WAIT`].
async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(WAIT, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn healthz_answers_with_2000_idle_sockets_open() {
    // this test process holds the 2,000 client sockets
    let _ = rlimit::increase_nofile_limit(8192);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("db.sqlite"), &[]);
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let (s, body) = server.client().call(Method::GET, "/healthz", None).await;
    assert_eq!(s, 200, "{body}");
    // room was made by closing the connections idle the longest
    assert!(closed_by_server(&mut idle[0]).await);
    let (s, _) = server.client().call(Method::GET, "/healthz", None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn an_idle_api_connection_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        &dir.path().join("db.sqlite"),
        &["--api-idle-timeout", "300ms"],
    );
    // one that never sends a byte, one that sends half a request line
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"GET /heal")
        .await
        .unwrap();
    assert!(closed_by_server(&mut silent).await);
    assert!(closed_by_server(&mut slow).await);
    let (s, _) = server.client().call(Method::GET, "/healthz", None).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn regex_conditions_are_bounded_per_webhook_and_per_account() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let regexes = |n: usize, tag: &str| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"field": "order.note", "op": "matches", "value": format!("^{tag}{i}[a-z0-9_]{{20}}")}))
            .collect()
    };
    let hook = |conditions: Vec<Value>| json!({"url": "https://example.com/in", "events": ["*"], "conditions": conditions});
    let post = |body: Value| app.admin(Method::POST, "/v1/accounts/acme/webhooks", Some(body));
    // the issue's `\w{20}`, fifty times: refused for its size, then for its count
    let got = post(hook(vec![
        json!({"field": "order.note", "op": "matches", "value": "\\w{20}"}),
    ]))
    .await;
    let e = assert_error(
        &got,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_condition_value",
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("smaller regular expression"),
        "{e:?}"
    );
    let got = post(hook(regexes(11, "a"))).await;
    assert_error(&got, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "too_many");
    // five webhooks of ten fill the account's fifty
    let mut ids = Vec::new();
    for w in 0..5 {
        let (s, v) = post(hook(regexes(10, &format!("w{w}x")))).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let got = post(hook(regexes(1, "b"))).await;
    let e = assert_error(&got, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "too_many");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("its other webhooks have 50"),
        "{e:?}"
    );
    // a webhook may still change its own ten
    let (s, v) = app
        .admin(
            Method::PATCH,
            &format!("/v1/accounts/acme/webhooks/{}", ids[0]),
            Some(json!({"conditions": regexes(10, "changed")})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_whose_template_stopped_the_process_is_not_rendered_again() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let rx = TestReceiver::start().await;
    let app = TestApp::spawn_in(dir.clone(), &["--allow-private-targets"]).await;
    app.account("acme").await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["order.paid"], "format": "template",
                   "template": "paid {{ order.id }}", "status": "paused"}),
        )
        .await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "boom"}}}),
    )
    .await;
    let held = app.deliveries("acme", "").await;
    let id = held[0]["id"].as_str().unwrap().to_string();
    app.stop().await;
    // As a process that aborted while rendering it leaves the journal:
    let journal = dir.path().join("shophook.db.rendering");
    assert!(journal.is_dir(), "the journal sits next to the database");
    std::fs::write(journal.join(&id), b"").unwrap();
    let app = TestApp::spawn_in(dir.clone(), &["--allow-private-targets"]).await;
    let (s, v) = app
        .admin(
            Method::PATCH,
            &format!("/v1/accounts/acme/webhooks/{hook_id}"),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let d = app.wait_status("acme", &id, "dead").await;
    assert!(
        d.to_string()
            .contains("stopped while rendering this delivery's template"),
        "{d}"
    );
    assert!(!journal.join(&id).exists());
    // the webhook itself goes on
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "fine"}}}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], b"paid fine");
    assert_eq!(
        rx.received().len(),
        1,
        "the poisoned delivery was never sent"
    );
    app.stop().await;
}
