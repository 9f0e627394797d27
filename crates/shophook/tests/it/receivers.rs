//! The receiver snippets of docs/receiving.md, as written, verify real deliveries:
//! a JSON body, a form body and a secret of the merchant's own, each with the
//! `standardwebhooks` library from PyPI and from npm.

use std::process::Stdio;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{Received, TestApp, TestReceiver};

/// One snippet: its language (`python` | `js`) and kind (`verify-json`…).
struct Snippet {
    lang: String,
    kind: String,
    code: String,
}

/// The tagged code blocks of docs/receiving.md (```` ```python verify-json ````).
fn snippets() -> Vec<Snippet> {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/receiving.md"
    ))
    .expect("docs/receiving.md");
    let mut out = Vec::new();
    let mut current: Option<Snippet> = None;
    for line in page.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                if let Some((lang, kind)) = info.split_once(' ')
                    && kind.starts_with("verify-")
                {
                    current = Some(Snippet {
                        lang: lang.into(),
                        kind: kind.trim().into(),
                        code: String::new(),
                    });
                }
            }
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(s), None) => {
                s.code.push_str(line);
                s.code.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Where the snippets' libraries are: python3 with `standardwebhooks`, and node
/// with the npm package in `SHOPHOOK_NODE_MODULES` (or node's own search path).
/// Prints what is missing; required with SHOPHOOK_REQUIRE_PYTHON=1 /
/// SHOPHOOK_REQUIRE_NODE=1 (`.ci/run` sets both).
fn available(lang: &str) -> bool {
    let (ok, what, flag) = match lang {
        "python" => (
            std::process::Command::new("python3")
                .args(["-c", "import standardwebhooks"])
                .output()
                .is_ok_and(|o| o.status.success()),
            "the Python receiver snippets (pip install standardwebhooks)",
            "SHOPHOOK_REQUIRE_PYTHON",
        ),
        _ => (
            std::process::Command::new("node")
                .args(["-e", "require('standardwebhooks')"])
                .env("NODE_PATH", node_path())
                .output()
                .is_ok_and(|o| o.status.success()),
            "the Node.js receiver snippets (npm install standardwebhooks, then SHOPHOOK_NODE_MODULES=<its node_modules>)",
            "SHOPHOOK_REQUIRE_NODE",
        ),
    };
    if !ok {
        assert!(
            std::env::var(flag).as_deref() != Ok("1"),
            "{flag}=1 but {what} cannot run"
        );
        crate::skipped!("{what}");
    }
    ok
}

fn node_path() -> String {
    std::env::var("SHOPHOOK_NODE_MODULES").unwrap_or_default()
}

/// Runs `snippet` on a received request: the request as JSON on stdin, the
/// snippet's `receive(body, headers)` answer as JSON on stdout.
async fn run(snippet: &Snippet, r: &Received) -> Result<Value, String> {
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let input = json!({
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&r.body),
    });
    let (program, script) = match snippet.lang.as_str() {
        "python" => (
            "python3",
            format!(
                "{}\nimport sys, json, base64\nreq = json.load(sys.stdin)\nprint(json.dumps(receive(base64.b64decode(req['body']), req['headers'])))\n",
                snippet.code
            ),
        ),
        _ => (
            "node",
            format!(
                "{}\nlet input = '';\nprocess.stdin.on('data', (c) => (input += c));\nprocess.stdin.on('end', () => {{\n  const req = JSON.parse(input);\n  console.log(JSON.stringify(receive(Buffer.from(req.body, 'base64'), req.headers)));\n}});\n",
                snippet.code
            ),
        ),
    };
    let flag = if program == "python3" { "-c" } else { "-e" };
    let mut child = tokio::process::Command::new(program)
        .args([flag, &script])
        .env("NODE_PATH", node_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interpreter starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {:?}", out.stdout))
}

#[tokio::test]
async fn the_receiving_guides_snippets_verify_real_deliveries() {
    let snippets = snippets();
    let kinds: Vec<(&str, &str)> = snippets
        .iter()
        .map(|s| (s.lang.as_str(), s.kind.as_str()))
        .collect();
    for lang in ["python", "js"] {
        for kind in ["verify-json", "verify-form", "verify-plain-secret"] {
            assert!(
                kinds.contains(&(lang, kind)),
                "docs/receiving.md has no ```{lang} {kind}"
            );
        }
    }
    let runnable: Vec<&Snippet> = snippets.iter().filter(|s| available(&s.lang)).collect();
    if runnable.is_empty() {
        return;
    }
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let rx = TestReceiver::start().await;
    let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for (path, format, secret) in [
        ("/json", "json", whsec),
        ("/form", "form", whsec),
        ("/plain", "json", "my-own-shop-secret-2026"),
    ] {
        app.webhook(
            "acme",
            json!({"url": rx.url(path), "events": ["order.paid"], "format": format, "secret": secret}),
        )
        .await;
    }
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "total": "149.00"}}}),
    )
    .await;
    let got = rx.wait_for(3).await;
    let at = |path: &str| {
        got.iter()
            .find(|r| r.uri == path)
            .unwrap_or_else(|| panic!("a delivery to {path}"))
    };
    for s in runnable {
        let (request, path) = match s.kind.as_str() {
            "verify-json" => (at("/json"), "/json"),
            "verify-form" => (at("/form"), "/form"),
            _ => (at("/plain"), "/plain"),
        };
        let answer = run(s, request)
            .await
            .unwrap_or_else(|e| panic!("{} {} on {path}: {e}", s.lang, s.kind));
        let order_id = match s.kind.as_str() {
            "verify-form" => answer["data[order][id]"].clone(),
            _ => answer["data"]["order"]["id"].clone(),
        };
        assert_eq!(order_id, "1001", "{} {}: {answer}", s.lang, s.kind);
        // and a tampered body is refused
        let mut forged = Received {
            body: format!("{}x", String::from_utf8_lossy(&request.body)).into(),
            ..request.clone()
        };
        forged.answered = 0;
        assert!(
            run(s, &forged).await.is_err(),
            "{} {} accepted a tampered body",
            s.lang,
            s.kind
        );
    }
    app.stop().await;
}
