//! The tools for receiver developers, as the built binary: `shophook listen`
//! receiving real deliveries from a running server, `shophook verify` on captured
//! deliveries (and on signatures made by the `standardwebhooks` PyPI package, and
//! the other way round), `shophook replay` re-sending dead deliveries.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::Method;
use serde_json::{Value, json};
use shophook_core::signing::Secret;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::support::{ADMIN_KEY, Received, TestApp, TestReceiver, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_shophook");
/// 24 bytes, as shophook generates them.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";

/// `shophook listen` as a child process; its stdout collected as it comes.
struct Listen {
    child: Child,
    base: String,
    out: Arc<Mutex<String>>,
    lines: watch::Receiver<usize>,
}

impl Listen {
    fn start(extra: &[&str]) -> Listen {
        let mut child = Command::new(BIN)
            .args(["listen", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shophook listen");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = watch::channel(0usize);
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = first_tx.send(line.clone());
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                drop(text);
                tx.send_modify(|n| *n += 1);
            }
        });
        let banner = first_rx
            .recv_timeout(WAIT)
            .expect("listen printed a banner");
        let base = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the banner: {banner}"))
            .trim_end_matches('/')
            .to_string();
        Listen {
            child,
            base,
            out,
            lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The complete blocks printed so far (one per request).
    fn blocks(&self) -> Vec<String> {
        let text = self.out.lock().unwrap().clone();
        text.split("━━ #")
            .skip(1)
            .filter(|b| b.contains("→ answered"))
            .map(|b| format!("━━ #{b}"))
            .collect()
    }

    /// Waits until `n` requests have been printed.
    async fn wait_blocks(&self, n: usize) -> Vec<String> {
        let mut rx = self.lines.clone();
        let got = tokio::time::timeout(WAIT, async {
            loop {
                let blocks = self.blocks();
                if blocks.len() >= n {
                    return blocks;
                }
                if rx.changed().await.is_err() {
                    return self.blocks();
                }
            }
        })
        .await
        .unwrap_or_else(|_| self.blocks());
        assert!(
            got.len() >= n,
            "listen printed {} of {n} requests in {WAIT:?}:\n{}",
            got.len(),
            self.out.lock().unwrap()
        );
        got
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The block printed for `path`.
fn block_for<'a>(blocks: &'a [String], path: &str) -> &'a str {
    blocks
        .iter()
        .find(|b| b.lines().next().is_some_and(|l| l.contains(path)))
        .unwrap_or_else(|| panic!("no block for {path}: {blocks:#?}"))
}

/// The pretty-printed body of a block, parsed back.
fn block_body(block: &str) -> Value {
    let lines: Vec<&str> = block.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("body: "))
        .unwrap_or_else(|| panic!("no body line: {block}"));
    let end = lines
        .iter()
        .position(|l| l.starts_with("raw body ") || l.starts_with("→ answered"))
        .expect("answered line");
    serde_json::from_str(&lines[start + 1..end].join("\n"))
        .unwrap_or_else(|e| panic!("body is not pretty JSON ({e}): {block}"))
}

/// A header line's value in a block (`  webhook-id  dlv_…`).
fn block_header<'a>(block: &'a str, name: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(name).map(str::trim))
        .unwrap_or_else(|| panic!("no {name} in {block}"))
}

#[tokio::test]
async fn listen_prints_real_deliveries_and_checks_their_signatures() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let saved = tempfile::tempdir().unwrap();
    let dir = saved.path().to_str().unwrap();
    let listen = Listen::start(&["--secret", SECRET, "--save", dir]);
    app.webhook(
        "acme",
        json!({"url": listen.url("/orders?id={id_order}"), "events": ["order.paid"],
        "secret": SECRET, "headers": {"X-Shop": "acme"}}),
    )
    .await;
    app.webhook(
        "acme",
        json!({"url": listen.url("/other"), "events": ["order.paid"], "secret": OTHER_SECRET}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "total": "149.00",
        "customer": {"city": "Łódź"}, "items": [{"sku": "A1", "quantity": 1}]}}}),
    )
    .await;

    let blocks = listen.wait_blocks(2).await;
    let good = block_for(&blocks, "POST /orders?id=1001");
    assert!(good.contains("\n✓ signature valid\n"), "{good}");
    assert_eq!(block_header(good, "x-shop"), "acme");
    assert_eq!(block_header(good, "content-type"), "application/json");
    assert!(block_header(good, "user-agent").starts_with("shophook/"));
    assert!(block_header(good, "webhook-id").starts_with("dlv_"));
    assert!(block_header(good, "webhook-timestamp").ends_with(" ago)"));
    assert!(good.contains("→ answered 200 OK"), "{good}");
    let body = block_body(good);
    assert_eq!(body["type"], "order.paid");
    assert_eq!(body["data"]["order"]["total"], "149.00");
    assert_eq!(body["data"]["order"]["customer"]["city"], "Łódź");
    assert!(
        good.contains("\n{\n  \"id\": \"evt_"),
        "pretty-printed: {good}"
    );

    // The saved raw body and the printed headers are what `shophook verify` needs.
    let path = good
        .lines()
        .find_map(|l| l.strip_prefix("raw body saved as "))
        .unwrap_or_else(|| panic!("no saved body: {good}"));
    let raw = std::fs::read(path).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&raw).unwrap(), body);
    let headers: Vec<String> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| {
            let v = block_header(good, h);
            // the timestamp line carries "(N s ago)"
            format!("{h}:{}", v.split(" (").next().unwrap())
        })
        .collect();
    assert_eq!(
        verify(SECRET, &headers, &raw).await,
        (0, "valid\n".into(), String::new())
    );

    let bad = block_for(&blocks, "POST /other");
    assert!(
        bad.contains("✗ signature invalid: bad signature"),
        "a delivery signed with another secret: {bad}"
    );
    // Both were answered 200, so shophook recorded them as delivered.
    for d in app.deliveries("acme", "").await {
        app.wait_status("acme", d["id"].as_str().unwrap(), "succeeded")
            .await;
    }
}

#[tokio::test]
async fn listen_decodes_a_form_body_into_its_nested_structure() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let listen = Listen::start(&[]);
    app.webhook(
        "acme",
        json!({"url": listen.url("/form"), "events": ["order.paid"], "format": "form"}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "paid": true,
        "items": [{"sku": "A1"}, {"sku": "B 2&"}]}}}),
    )
    .await;
    let blocks = listen.wait_blocks(1).await;
    let b = block_for(&blocks, "POST /form");
    assert_eq!(
        block_header(b, "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert!(b.contains("body: form, "), "{b}");
    assert!(
        b.contains("· signature not checked"),
        "no --secret given: {b}"
    );
    let body = block_body(b);
    assert_eq!(body["type"], "order.paid");
    assert_eq!(
        body["data"]["order"]["items"],
        json!([{"sku": "A1"}, {"sku": "B 2&"}]),
        "brackets decoded into arrays and objects: {b}"
    );
    assert_eq!(body["data"]["order"]["paid"], "1");
}

#[tokio::test]
async fn listen_answering_500_makes_shophook_retry() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let listen = Listen::start(&["--status", "500", "--secret", SECRET]);
    app.webhook(
        "acme",
        json!({"url": listen.url("/flaky"), "events": ["order.paid"], "secret": SECRET}),
    )
    .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "7"}}}),
    )
    .await;
    let blocks = listen.wait_blocks(2).await;
    assert!(blocks[0].contains("→ answered 500 Internal Server Error"));
    assert_eq!(
        block_header(&blocks[0], "webhook-id"),
        block_header(&blocks[1], "webhook-id"),
        "the second request is a retry of the same delivery"
    );
    assert!(
        blocks[1].contains("✓ signature valid"),
        "a retry is signed anew"
    );
    let id = block_header(&blocks[0], "webhook-id").to_string();
    // 50ms,50ms,50ms: four attempts, then dead.
    let d = app.wait_status("acme", &id, "dead").await;
    assert_eq!(d["attempt_count"], 4);
    assert_eq!(listen.wait_blocks(4).await.len(), 4);
}

/// Runs `shophook verify` with `headers` and `body` on stdin; (exit code, stdout, stderr).
async fn verify(secret: &str, headers: &[String], body: &[u8]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["verify", "--secret", secret]);
    for h in headers {
        cmd.args(["--header", h]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shophook verify");
    let mut stdin = child.stdin.take().unwrap();
    // `verify` may refuse on the headers alone and exit before reading the body:
    // a broken pipe here is its answer arriving early, judged below by its output.
    let _ = stdin.write_all(body).await;
    drop(stdin);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("verify finished")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Rotates the webhook's secret (the old one keeps signing too); the new secret.
async fn rotate(app: &TestApp, hook: &Value) -> String {
    let (s, rotated) = app
        .admin(
            Method::POST,
            &format!(
                "/v1/accounts/acme/webhooks/{}/rotate-secret",
                hook["id"].as_str().unwrap()
            ),
            Some(json!({})),
        )
        .await;
    assert!(s.is_success(), "{rotated}");
    rotated["secret"].as_str().unwrap().to_string()
}

fn headers_of(r: &Received) -> Vec<String> {
    ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| format!("{h}:{}", r.header(h)))
        .collect()
}

#[tokio::test]
async fn verify_accepts_a_real_delivery_and_says_why_it_rejects_others() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["order.paid"], "secret": SECRET}),
        )
        .await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "note": "zażółć"}}}),
    )
    .await;
    let r = rx.wait_for(1).await.remove(0);
    let headers = headers_of(&r);

    let (code, out, _) = verify(SECRET, &headers, &r.body).await;
    assert_eq!((code, out.as_str()), (0, "valid\n"));
    // A header dump with other headers and another spelling of the names works too.
    let mut dump = vec![
        "Content-Type: application/json".to_string(),
        format!("Webhook-Id: {}", r.header("webhook-id")),
    ];
    dump.extend(headers[1..].iter().cloned());
    assert_eq!(verify(SECRET, &dump, &r.body).await.0, 0);

    let mut tampered = r.body.to_vec();
    tampered.extend_from_slice(b" ");
    let (code, out, _) = verify(SECRET, &headers, &tampered).await;
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: bad signature"), "{out}");

    let (code, out, _) = verify(OTHER_SECRET, &headers, &r.body).await;
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: bad signature"), "{out}");

    // Correctly signed, but ten minutes ago: a replayed request.
    let old = r.header("webhook-timestamp").parse::<i64>().unwrap() - 600;
    let sig = Secret::parse(SECRET)
        .unwrap()
        .sign(r.header("webhook-id"), old, &r.body);
    let stale = [
        format!("webhook-id:{}", r.header("webhook-id")),
        format!("webhook-timestamp:{old}"),
        format!("webhook-signature:{sig}"),
    ];
    let (code, out, _) = verify(SECRET, &stale, &r.body).await;
    assert_eq!(code, 1);
    assert!(
        out.starts_with("invalid: timestamp outside the 5-minute tolerance"),
        "{out}"
    );

    let malformed = [
        headers[0].clone(),
        "webhook-timestamp:soon".to_string(),
        headers[2].clone(),
    ];
    let (code, out, _) = verify(SECRET, &malformed, &r.body).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "invalid: malformed header: `webhook-timestamp` is `soon`, not unix seconds\n"
    );
    let (code, out, _) = verify(SECRET, &headers[1..], &r.body).await;
    assert_eq!(
        (code, out.as_str()),
        (1, "invalid: malformed header: `webhook-id` is missing\n")
    );
    let (code, _, err) = verify(SECRET, &["webhook-id".to_string()], &r.body).await;
    assert_eq!(code, 2, "a --header without a colon is a usage error");
    assert!(err.contains("NAME:VALUE"), "{err}");
    let (code, _, err) = verify("whsec_!!", &headers, &r.body).await;
    assert_eq!(code, 2);
    assert!(err.contains("must be followed by base64"), "{err}");

    // After a rotation shophook signs with both secrets; either one verifies.
    let new_secret = rotate(&app, &hook).await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1002"}}}),
    )
    .await;
    let r2 = rx.wait_for(2).await.remove(1);
    assert_eq!(r2.header("webhook-signature").split(' ').count(), 2);
    for secret in [SECRET, &new_secret] {
        assert_eq!(verify(secret, &headers_of(&r2), &r2.body).await.0, 0);
    }
}

/// Whether python3 can import `standardwebhooks`; prints why not and returns false
/// (a failure instead with SHOPHOOK_REQUIRE_PYTHON=1, as `.ci/run` sets).
fn python_standardwebhooks() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SHOPHOOK_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SHOPHOOK_REQUIRE_PYTHON=1 but python3 cannot import standardwebhooks (pip install standardwebhooks)"
        );
        crate::skipped!(
            "the standardwebhooks PyPI interop check (pip install standardwebhooks to run it)"
        );
    }
    ok
}

/// Runs a Python script with `input` as JSON on stdin; its stdout.
async fn python(script: &str, input: Value) -> String {
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A key for Python: `whsec_…` as text, a plain secret as its raw bytes.
const PY_KEY: &str = "import sys,json,time\nfrom datetime import datetime,timezone\n\
    from standardwebhooks.webhooks import Webhook\na=json.loads(sys.stdin.read())\n\
    key=a['secret'] if a['secret'].startswith('whsec_') else a['secret'].encode()\n";

#[tokio::test]
async fn signatures_made_by_the_standardwebhooks_package_verify_and_the_other_way_round() {
    if !python_standardwebhooks() {
        return;
    }
    // Python signs, `shophook verify` checks: a generated secret and a plain one.
    let sign = format!(
        "{PY_KEY}ts=int(time.time())\n\
         print(json.dumps({{'ts': ts, 'sig': Webhook(key).sign(a['id'], datetime.fromtimestamp(ts, tz=timezone.utc), a['body'])}}))"
    );
    let body = r#"{"type":"order.paid","data":{"order":{"id":"1001","city":"Łódź"}}}"#;
    for secret in [SECRET, "my-old-receiver-key-123"] {
        let signed: Value = serde_json::from_str(
            &python(
                &sign,
                json!({"secret": secret, "id": "msg_1", "body": body}),
            )
            .await,
        )
        .unwrap();
        let headers = [
            "webhook-id:msg_1".to_string(),
            format!("webhook-timestamp:{}", signed["ts"]),
            format!("webhook-signature:{}", signed["sig"].as_str().unwrap()),
        ];
        let (code, out, _) = verify(secret, &headers, body.as_bytes()).await;
        assert_eq!((code, out.as_str()), (0, "valid\n"), "{secret}");
        let (code, out, _) = verify(secret, &headers, b"{}").await;
        assert_eq!(code, 1, "{out}");
    }

    // shophook signs (a real delivery, a plain secret, mid-rotation: two
    // signatures), Python checks it with either key.
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    app.account("acme").await;
    let plain = "my-old-receiver-key-123";
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["order.paid"], "secret": plain}),
        )
        .await;
    let new_secret = rotate(&app, &hook).await;
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "city": "Łódź"}}}),
    )
    .await;
    let r = rx.wait_for(1).await.remove(0);
    let check = format!("{PY_KEY}Webhook(key).verify(a['body'], a['headers'])\nprint('valid')");
    for secret in [plain, new_secret.as_str()] {
        let verdict = python(
            &check,
            json!({"secret": secret, "body": String::from_utf8(r.body.to_vec()).unwrap(), "headers": {
                "webhook-id": r.header("webhook-id"),
                "webhook-timestamp": r.header("webhook-timestamp"),
                "webhook-signature": r.header("webhook-signature"),
            }}),
        )
        .await;
        assert_eq!(verdict, "valid", "{secret}");
    }
}

/// Runs `shophook replay` against `app`; (exit code, stdout, stderr).
async fn replay(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(BIN)
            .arg("replay")
            .args(args)
            .env("SHOPHOOK_URL", format!("http://{}", app.addr))
            .env("SHOPHOOK_KEY", ADMIN_KEY)
            .output(),
    )
    .await
    .expect("replay finished")
    .expect("spawn shophook replay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number on a summary line (`  succeeded   3`).
fn count(summary: &str, label: &str) -> u64 {
    summary
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{summary}"))
}

#[tokio::test]
async fn replay_resends_dead_deliveries_and_follows_them_to_the_end() {
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    rx.set_default(500);
    app.account("acme").await;
    // A second back: the server stores times in whole milliseconds.
    let since = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)).to_string();
    let hook = app
        .webhook(
            "acme",
            json!({"url": rx.url("/in"), "events": ["order.paid"], "name": "Warehouse"}),
        )
        .await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    for n in 0..3 {
        app.event(
            "acme",
            json!({"type": "order.paid", "data": {"order": {"id": n.to_string()}}}),
        )
        .await;
    }
    let ids: Vec<String> = app
        .deliveries("acme", &format!("webhook={hook_id}"))
        .await
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    for id in &ids {
        app.wait_status("acme", id, "dead").await;
    }
    assert_eq!(rx.count(), 12);
    let args = [
        "--account",
        "acme",
        "--webhook",
        &hook_id,
        "--since",
        &since,
        "--status",
        "dead",
    ];

    // The receiver still fails: each replayed delivery is tried once more and is dead again.
    let (code, out, err) = replay(&app, &args).await;
    assert_eq!(code, 2, "not every delivery succeeded:\n{out}\n{err}");
    assert!(
        out.starts_with(&format!("replay of webhook {hook_id} (Warehouse)")),
        "{out}"
    );
    assert_eq!(count(&out, "replayed"), 3);
    assert_eq!(count(&out, "succeeded"), 0);
    assert_eq!(count(&out, "dead"), 3);
    assert!(out.contains(" dead: "), "the failures are listed: {out}");
    assert_eq!(rx.count(), 15);

    // Fixed: the replay succeeds.
    rx.set_default(200);
    let (code, out, err) = replay(&app, &args).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(count(&out, "replayed"), 3);
    assert_eq!(count(&out, "succeeded"), 3);
    assert_eq!(count(&out, "still failing"), 0);
    assert_eq!(count(&out, "dead"), 0);
    for id in &ids {
        let d = app.delivery("acme", id).await;
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["attempt_count"], 6);
    }
    assert_eq!(rx.count(), 18);

    // Nothing dead is left to replay.
    let (code, out, _) = replay(&app, &args).await;
    assert_eq!(code, 0);
    assert!(out.contains("nothing matched"), "{out}");

    // The server's error message is shown.
    let (code, _, err) = replay(
        &app,
        &["--account", "acme", "--webhook", "wh_nope", "--since", "1h"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("404 Not Found: webhook not found"), "{err}");
    let (code, _, err) = replay(
        &app,
        &[
            "--account",
            "acme",
            "--webhook",
            &hook_id,
            "--since",
            "1h",
            "--status",
            "lost",
        ],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("`status`: one of scheduled, pending"), "{err}");
}

/// `--help` shows which environment variables a flag reads, never the values of
/// those that carry a secret (a database password, the encryption key, keys).
#[test]
fn help_never_prints_a_secret_from_the_environment() {
    let planted = [
        (
            "SHOPHOOK_DATABASE",
            "postgres://u:planted-password@127.0.0.1/x",
        ),
        (
            "SHOPHOOK_ENCRYPTION_KEY",
            "cGxhbnRlZC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg=",
        ),
        ("SHOPHOOK_ADMIN_KEY", "planted-admin-key-0123456789"),
        ("SHOPHOOK_KEY", "planted-api-key-0123456789"),
        (
            "SHOPHOOK_URL",
            "https://u:planted-url-password@hooks.example.com",
        ),
        (
            "SHOPHOOK_WEBHOOK_SECRET",
            "whsec_cGxhbnRlZC13ZWJob29rLXNlY3JldA==",
        ),
    ];
    for command in ["serve", "migrate", "replay", "listen", "verify"] {
        let out = Command::new(BIN)
            .args([command, "--help"])
            .envs(planted)
            .output()
            .expect("run shophook --help");
        assert!(out.status.success(), "{command} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        for (name, value) in planted {
            assert!(
                !help.contains(value) && !help.contains("planted") && !help.contains("cGxhbnRlZ"),
                "`{command} --help` shows {name}:\n{help}"
            );
        }
        if matches!(command, "serve" | "migrate") {
            assert!(
                help.contains("[env: SHOPHOOK_DATABASE]"),
                "the variable is still named: {help}"
            );
        }
    }
}

#[test]
fn serve_on_a_busy_port_fails_in_one_line_before_touching_the_database() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shophook.db");
    let out = Command::new(BIN)
        .args(["serve", "--listen", &addr.to_string()])
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .env("SHOPHOOK_ADMIN_KEY", ADMIN_KEY)
        // even where a developer asks for backtraces, an operator error is a line
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("error: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        !db.exists(),
        "the database was created before the port was checked"
    );
    drop(busy);
}
