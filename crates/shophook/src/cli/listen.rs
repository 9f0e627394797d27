//! `shophook listen`: a local receiver for receiver developers. Every request on any
//! path is printed as one block — method, path, the headers that matter, the body
//! (JSON pretty-printed, PHP-bracket forms decoded into their nested structure) and
//! whether its Standard Webhooks signature holds — then answered with `--status`.
//!
//! A block is written with one `write_all` and flushed, so requests arriving together
//! never interleave and a pipe (`| tee log`) sees each one at once.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use clap::Args;
use serde_json::Value;
use shophook_verify::Secret;

/// Bodies larger than this are refused with 413 (webhooks are far smaller).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Headers every HTTP client sends; showing them would bury the interesting ones.
const BORING_HEADERS: &[&str] = &[
    "host",
    "accept",
    "accept-encoding",
    "connection",
    "content-length",
    "transfer-encoding",
];

/// `shophook listen`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Point a webhook at http://127.0.0.1:9000/ (any path; the server needs
--allow-private-targets to send to this machine) and give the same secret here.")]
pub struct ListenArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The webhook's secret, to check each request's signature.
    #[arg(long, env = "SHOPHOOK_WEBHOOK_SECRET", hide_env_values = true, value_parser = super::verify::parse_secret)]
    pub secret: Option<Secret>,
    /// Status code to answer with (e.g. 500 to watch shophook retry, 410 to end a delivery).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(200..=599))]
    pub status: u16,
    /// Also save each raw body as DIR/<n>.body (exact bytes: for `shophook verify`, or as test fixtures).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
}

struct Listener {
    secret: Option<Secret>,
    save: Option<PathBuf>,
    status: StatusCode,
    style: Style,
    seen: AtomicU64,
}

/// Runs `shophook listen` until SIGINT or SIGTERM.
pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let addr = SocketAddr::new(args.host, args.port);
    let socket = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (in use? pick another with --port)"))?;
    let addr = socket.local_addr()?;
    let status = StatusCode::from_u16(args.status).context("--status")?;
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--save: cannot create {}", dir.display()))?;
    }
    let style = Style::for_stdout();
    let checking = match &args.secret {
        Some(_) => "checking signatures with the given secret".to_string(),
        None => "not checking signatures (add --secret whsec_… to check them)".to_string(),
    };
    emit(&format!(
        "shophook listen: receiving on http://{addr}/ (any path), answering {status}\n{checking}; Ctrl-C to stop\n\n",
    ));
    let state = Arc::new(Listener {
        secret: args.secret,
        save: args.save,
        status,
        style,
        seen: AtomicU64::new(0),
    });
    let router = axum::Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    axum::serve(socket, router)
        .with_graceful_shutdown(super::wait_for_signal())
        .await
        .context("serving")?;
    Ok(())
}

async fn receive(
    State(l): State<Arc<Listener>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = l.seen.fetch_add(1, Ordering::Relaxed) + 1;
    let now = shophook_verify::unix_now();
    let signature = match (&l.secret, headers.contains_key("webhook-signature")) {
        (Some(secret), _) => Signature::Checked(
            shophook_verify::verify_headers(secret, &headers, &body, now)
                .map_err(|e| e.to_string()),
        ),
        (None, true) => Signature::NotChecked,
        (None, false) => Signature::Absent,
    };
    let saved = l.save.as_ref().map(|dir| {
        let path = dir.join(format!("{n}.body"));
        match std::fs::write(&path, &body) {
            Ok(()) => format!("raw body saved as {}", path.display()),
            Err(e) => format!("raw body not saved ({}: {e})", path.display()),
        }
    });
    let seen = Seen {
        n,
        saved,
        at: jiff::Zoned::now().strftime("%H:%M:%S").to_string(),
        method: method.as_str(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: &headers,
        body: &body,
        now,
        signature,
        answered: l.status,
    };
    emit(&render(&seen, l.style));
    l.status
}

/// Writes a block to stdout at once and flushes it. A closed stdout (the reader went
/// away) is not worth failing a request for.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// What the signature check said.
#[derive(Debug)]
enum Signature {
    Checked(Result<(), String>),
    NotChecked,
    Absent,
}

/// One request as received.
struct Seen<'a> {
    n: u64,
    /// Where the raw body was saved (`--save`), or why it was not.
    saved: Option<String>,
    at: String,
    method: &'a str,
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: i64,
    signature: Signature,
    answered: StatusCode,
}

/// ANSI colours, or none (when stdout is not a terminal, or `NO_COLOR` is set).
#[derive(Debug, Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    fn for_stdout() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
}

/// The block printed for one request.
fn render(r: &Seen<'_>, style: Style) -> String {
    let mut out = String::new();
    let title = format!("━━ #{} {} {} ", r.n, r.method, r.path);
    out += &style.bold(&title);
    out += &style.dim(&format!("━━ {}", r.at));
    out += "\n";

    let shown: Vec<(&str, String)> = r
        .headers
        .iter()
        .filter(|(name, _)| !BORING_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            let mut v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name == "webhook-timestamp"
                && let Ok(ts) = v.trim().parse::<i64>()
            {
                v += &format!(" ({})", age(r.now - ts));
            }
            (name.as_str(), v)
        })
        .collect();
    let width = shown.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in &shown {
        out += &format!("  {}  {value}\n", style.dim(&format!("{name:width$}")));
    }

    out += &match &r.signature {
        Signature::Checked(Ok(())) => style.green("✓ signature valid"),
        Signature::Checked(Err(why)) => style.red(&format!("✗ signature invalid: {why}")),
        Signature::NotChecked => {
            style.yellow("· signature not checked (start listen with --secret to check it)")
        }
        Signature::Absent => style.yellow("· no webhook-signature header: not a signed webhook"),
    };
    out += "\n";

    let content_type = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    out += &body_text(content_type, r.body, style);
    if let Some(saved) = &r.saved {
        out += &style.dim(saved);
        out += "\n";
    }
    out += &style.dim(&format!("→ answered {}", r.answered));
    out += "\n\n";
    out
}

/// "3 s ago", "in 12 s", "2 h 5 min ago".
fn age(secs: i64) -> String {
    let n = secs.unsigned_abs();
    let text = if n < 120 {
        format!("{n} s")
    } else if n < 7200 {
        format!("{} min", n / 60)
    } else {
        format!("{} h {} min", n / 3600, n / 60 % 60)
    };
    if secs >= 0 {
        format!("{text} ago")
    } else {
        format!("in {text}")
    }
}

/// The body, readably: JSON pretty-printed, a form decoded, text as is.
fn body_text(content_type: &str, body: &[u8], style: Style) -> String {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let n = body.len();
    if body.is_empty() {
        return style.dim("(no body)\n");
    }
    let looks_json = matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    if mime == "application/json" || mime.ends_with("+json") || (mime.is_empty() && looks_json) {
        return match serde_json::from_slice::<Value>(body) {
            Ok(v) => format!(
                "{}\n{}\n",
                style.dim(&format!("body: JSON, {n} bytes")),
                pretty(&v)
            ),
            Err(e) => format!(
                "{}\n{}\n",
                style.red(&format!("body: {n} bytes, not valid JSON ({e})")),
                String::from_utf8_lossy(body)
            ),
        };
    }
    if mime == "application/x-www-form-urlencoded" {
        let v = shophook_core::form::decode(body);
        let fields = form_urlencoded::parse(body).count();
        return format!(
            "{}\n{}\n",
            style.dim(&format!(
                "body: form, {n} bytes, {fields} fields, decoded (PHP brackets → nesting; values are strings)"
            )),
            pretty(&v)
        );
    }
    match std::str::from_utf8(body) {
        Ok(text) => {
            let kind = if mime.is_empty() { "text" } else { &mime };
            let mut s = format!("{}\n{text}", style.dim(&format!("body: {kind}, {n} bytes")));
            if !text.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        Err(_) => style.dim(&format!(
            "body: {n} bytes of binary data ({}), not shown\n",
            if mime.is_empty() {
                "no content-type"
            } else {
                &mime
            }
        )),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAIN: Style = Style { color: false };

    fn seen<'a>(headers: &'a HeaderMap, body: &'a [u8], signature: Signature) -> Seen<'a> {
        Seen {
            n: 3,
            saved: None,
            at: "10:00:05".into(),
            method: "POST",
            path: "/in?order=1001",
            headers,
            body,
            now: 1_772_359_205,
            signature,
            answered: StatusCode::OK,
        }
    }

    #[test]
    fn a_signed_json_delivery() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("webhook-id", "dlv_1".parse().unwrap());
        h.insert("webhook-timestamp", "1772359200".parse().unwrap());
        h.insert("x-shop", "acme".parse().unwrap());
        let body = br#"{"type":"order.paid","data":{"order":{"id":"1001"}}}"#;
        let text = render(&seen(&h, body, Signature::Checked(Ok(()))), PLAIN);
        assert_eq!(
            text,
            "━━ #3 POST /in?order=1001 ━━ 10:00:05\n\
             \x20 content-type       application/json\n\
             \x20 webhook-id         dlv_1\n\
             \x20 webhook-timestamp  1772359200 (5 s ago)\n\
             \x20 x-shop             acme\n\
             ✓ signature valid\n\
             body: JSON, 52 bytes\n\
             {\n  \"type\": \"order.paid\",\n  \"data\": {\n    \"order\": {\n      \"id\": \"1001\"\n    }\n  }\n}\n\
             → answered 200 OK\n\n"
        );
    }

    #[test]
    fn bodies() {
        let form = body_text(
            "application/x-www-form-urlencoded",
            b"type=order.paid&data%5Border%5D%5Bitems%5D%5B0%5D%5Bsku%5D=A1",
            PLAIN,
        );
        let decoded: Value = serde_json::from_str(form.split_once('\n').unwrap().1).unwrap();
        assert_eq!(
            decoded,
            json!({"type": "order.paid", "data": {"order": {"items": [{"sku": "A1"}]}}})
        );
        assert!(form.starts_with("body: form, 61 bytes, 2 fields"), "{form}");
        assert_eq!(body_text("", b"", PLAIN), "(no body)\n");
        assert_eq!(
            body_text("text/plain; charset=utf-8", b"hi", PLAIN),
            "body: text/plain, 2 bytes\nhi\n"
        );
        assert!(body_text("application/json", b"{oops", PLAIN).contains("not valid JSON"));
        assert!(body_text("", b" [1]", PLAIN).starts_with("body: JSON"));
        assert!(
            body_text("image/png", &[0x89, 0xff, 0], PLAIN).contains("binary data (image/png)")
        );
    }

    #[test]
    fn signature_lines_and_colours() {
        let h = HeaderMap::new();
        let bad = render(
            &seen(&h, b"", Signature::Checked(Err("bad signature: …".into()))),
            PLAIN,
        );
        assert!(
            bad.contains("✗ signature invalid: bad signature: …\n"),
            "{bad}"
        );
        assert!(render(&seen(&h, b"", Signature::Absent), PLAIN).contains("not a signed webhook"));
        let coloured = render(&seen(&h, b"", Signature::NotChecked), Style { color: true });
        assert!(coloured.contains("\x1b[33m· signature not checked"));
        assert!(!render(&seen(&h, b"", Signature::NotChecked), PLAIN).contains('\x1b'));
    }

    #[test]
    fn ages() {
        assert_eq!(age(5), "5 s ago");
        assert_eq!(age(-12), "in 12 s");
        assert_eq!(age(600), "10 min ago");
        assert_eq!(age(7500), "2 h 5 min ago");
    }
}
