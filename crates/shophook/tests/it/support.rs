//! Test support: `TestApp` (the server in-process on port 0 with a temp SQLite file),
//! `TestReceiver` (records requests, answers with scripted statuses), and
//! `ServerProcess` (the real binary as a child process, for signal tests).
//! Waiting is on signals with a timeout, never on fixed sleeps.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use clap::Parser;
use serde_json::{Value, json};
use shophook::app::App;
use shophook::cli::{Cli, Command as Sub};
use shophook::clock::ManualClock;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const ADMIN_KEY: &str = "test-operator-key-0123456789";
pub const WAIT: Duration = Duration::from_secs(20);

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: Arc<tempfile::TempDir>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    state: Option<Arc<shophook::state::AppState>>,
}

impl TestApp {
    /// A server allowing loopback targets, with a fast retry schedule.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[
            "--allow-private-targets",
            "--retry-schedule",
            "50ms,50ms,50ms",
        ])
        .await
    }

    /// A server with extra `serve` flags.
    pub async fn spawn_with(extra: &[&str]) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        Self::spawn_in(dir, extra).await
    }

    /// A server on the database in `dir` (restarts reuse it).
    pub async fn spawn_in(dir: Arc<tempfile::TempDir>, extra: &[&str]) -> TestApp {
        Self::spawn_full(dir, extra, None).await
    }

    /// A server whose clock moves only with [`TestApp::advance`].
    pub async fn spawn_at(dir: Arc<tempfile::TempDir>, clock: Arc<ManualClock>) -> TestApp {
        Self::spawn_full(
            dir,
            &["--allow-private-targets", "--retry-schedule", "1m"],
            Some(clock),
        )
        .await
    }

    /// A server whose clock moves only with [`TestApp::advance`], with `serve` flags.
    pub async fn spawn_clocked(
        dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
        extra: &[&str],
    ) -> TestApp {
        Self::spawn_full(dir, extra, Some(clock)).await
    }

    /// Moves the manual clock and wakes the worker to look at the new time.
    pub fn advance(&self, clock: &ManualClock, by: jiff::SignedDuration) {
        clock.advance(by);
        self.state
            .as_ref()
            .expect("state")
            .store
            .work_signal()
            .notify_one();
    }

    async fn spawn_full(
        dir: Arc<tempfile::TempDir>,
        extra: &[&str],
        clock: Option<Arc<ManualClock>>,
    ) -> TestApp {
        let db = format!("sqlite://{}", dir.path().join("shophook.db").display());
        let mut args = vec![
            "shophook",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--admin-key",
            ADMIN_KEY,
            "--shutdown-grace",
            "2s",
        ];
        args.extend_from_slice(extra);
        let Sub::Serve(serve) = Cli::parse_from(args).command else {
            unreachable!("serve")
        };
        let app = match clock {
            Some(c) => App::build_with_clock(serve, c).await,
            None => App::build(serve).await,
        }
        .expect("server builds");
        let addr = app.addr();
        let state = Some(app.state());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run(shutdown.clone()));
        TestApp {
            addr,
            client: reqwest::Client::new(),
            dir,
            shutdown,
            task: Some(task),
            state,
        }
    }

    /// Graceful stop; returns when the server has finished.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server ran");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request with a bearer key.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, path, ADMIN_KEY, body).await
    }

    /// Creates an account and returns an account key for it.
    pub async fn account(&self, id: &str) -> String {
        let (s, _) = self
            .admin(
                Method::POST,
                "/v1/accounts",
                Some(json!({"id": id, "name": id.to_uppercase()})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, key) = self
            .admin(Method::POST, &format!("/v1/accounts/{id}/keys"), None)
            .await;
        assert_eq!(s, StatusCode::CREATED);
        key["key"].as_str().expect("key").to_string()
    }

    /// Creates a webhook; returns its JSON.
    pub async fn webhook(&self, account: &str, body: Value) -> Value {
        let (s, v) = self
            .admin(
                Method::POST,
                &format!("/v1/accounts/{account}/webhooks"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Posts an event; returns its id.
    pub async fn event(&self, account: &str, body: Value) -> String {
        let (s, v) = self
            .admin(
                Method::POST,
                &format!("/v1/accounts/{account}/events"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        v["id"].as_str().expect("event id").to_string()
    }

    pub async fn deliveries(&self, account: &str, query: &str) -> Vec<Value> {
        let (s, v) = self
            .admin(
                Method::GET,
                &format!("/v1/accounts/{account}/deliveries?{query}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn delivery(&self, account: &str, id: &str) -> Value {
        let (s, v) = self
            .admin(
                Method::GET,
                &format!("/v1/accounts/{account}/deliveries/{id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Waits until the delivery reaches `status` (polling the API on a short tick,
    /// bounded by a generous timeout; no fixed sleeps decide the outcome).
    pub async fn wait_status(&self, account: &str, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let d = self.delivery(account, id).await;
            if d["status"] == status {
                return d;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery {id} never became {status}: {d}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Script {
    statuses: VecDeque<u16>,
    default: u16,
}

struct ReceiverState {
    got: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    count: watch::Sender<usize>,
    /// How long each answer takes (a slow receiver); zero unless set.
    delay: Mutex<Duration>,
    /// Headers added to every answer.
    answer_headers: Mutex<Vec<(String, String)>>,
}

/// A local HTTP receiver on 127.0.0.1:0.
pub struct TestReceiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
    shutdown: CancellationToken,
}

async fn receive(
    State(s): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap) {
    let answered = {
        let mut script = s.script.lock().unwrap();
        let d = script.default;
        script.statuses.pop_front().unwrap_or(d)
    };
    s.got.lock().unwrap().push(Received {
        method: method.to_string(),
        uri: uri.to_string(),
        headers,
        body,
        answered,
    });
    s.count.send_modify(|n| *n += 1);
    let delay = *s.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut extra = HeaderMap::new();
    for (k, v) in s.answer_headers.lock().unwrap().iter() {
        extra.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    (StatusCode::from_u16(answered).unwrap(), extra)
}

impl TestReceiver {
    /// Answers 200 to everything.
    pub async fn start() -> TestReceiver {
        Self::with_script(&[]).await
    }

    /// Answers with `statuses` in order, then 200.
    pub async fn with_script(statuses: &[u16]) -> TestReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            got: Mutex::new(Vec::new()),
            script: Mutex::new(Script {
                statuses: statuses.iter().copied().collect(),
                default: 200,
            }),
            count: watch::channel(0).0,
            delay: Mutex::new(Duration::ZERO),
            answer_headers: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
        });
        TestReceiver {
            addr,
            state,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Changes the status answered once the script is used up.
    pub fn set_default(&self, status: u16) {
        self.state.script.lock().unwrap().default = status;
    }

    /// Answers every request only after `delay` (the request is recorded on
    /// arrival): a slow receiver keeps deliveries in flight.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Adds a header to every answer (`Location`, `Retry-After`…).
    pub fn set_header(&self, name: &str, value: &str) {
        self.state
            .answer_headers
            .lock()
            .unwrap()
            .push((name.to_string(), value.to_string()));
    }

    /// Answers with a `Location` header (for redirect statuses).
    pub fn set_location(&self, url: &str) {
        self.set_header("location", url);
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        *self.state.count.borrow()
    }

    /// Waits until at least `n` requests arrived, at most `within`; whether they did.
    pub async fn wait_for_within(&self, n: usize, within: Duration) -> bool {
        let mut rx = self.state.count.subscribe();
        matches!(
            tokio::time::timeout(within, rx.wait_for(|c| *c >= n)).await,
            Ok(Ok(_))
        )
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut rx = self.state.count.subscribe();
        tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "receiver got {} of {n} requests in {WAIT:?}",
                    self.received().len()
                )
            })
            .expect("receiver alive");
        self.received()
    }

    /// Waits until `pred` holds for what was received.
    pub async fn wait_until(
        &self,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut rx = self.state.count.subscribe();
        let done = tokio::time::timeout(WAIT, async {
            loop {
                if pred(&self.received()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(done.is_ok(), "receiver: {what} did not happen in {WAIT:?}");
        self.received()
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The real `shophook` binary as a child process.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Its log lines (stderr) so far; the count moves with each line.
    logs: Arc<Mutex<Vec<String>>>,
    log_count: watch::Receiver<usize>,
}

impl ServerProcess {
    pub fn start(db: &std::path::Path, extra: &[&str]) -> ServerProcess {
        Self::start_on(&format!("sqlite://{}", db.display()), extra)
    }

    /// The binary on any `--database` URL (e.g. a PostgreSQL database shared by
    /// several processes). `SHOPHOOK_TEST_NODE_LOGS=1` echoes its log lines.
    pub fn start_on(database: &str, extra: &[&str]) -> ServerProcess {
        let echo = std::env::var("SHOPHOOK_TEST_NODE_LOGS").as_deref() == Ok("1");
        let mut child = Command::new(env!("CARGO_BIN_EXE_shophook"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--database",
            ])
            .arg(database)
            .args(extra)
            .env("SHOPHOOK_ADMIN_KEY", ADMIN_KEY)
            .env("SHOPHOOK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shophook");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (counted, log_count) = watch::channel(0);
        let kept = logs.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("node: {line}");
                }
                kept.lock().unwrap().push(line.clone());
                counted.send_modify(|n| *n += 1);
                if !sent && let Some(rest) = line.split("API at http://").nth(1) {
                    let addr: String = rest.chars().take_while(|c| *c != '/').collect();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(WAIT)
            .expect("server printed its address")
            .parse()
            .expect("address");
        ServerProcess {
            child,
            addr,
            logs,
            log_count,
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits (at most [`WAIT`]) for a log line that `pred` accepts; returns it.
    pub async fn wait_for_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut rx = self.log_count.clone();
        let found = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(line) = self.logs().into_iter().find(|l| pred(l)) {
                    return Some(line);
                }
                if rx.changed().await.is_err() {
                    // The process closed stderr: one last look.
                    return self.logs().into_iter().find(|l| pred(l));
                }
            }
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "no log line {what} in {WAIT:?}; the log:\n{}",
                self.logs().join("\n")
            ),
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A TestApp-like client to this process.
    pub fn client(&self) -> Remote {
        Remote {
            addr: self.addr,
            client: reqwest::Client::new(),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// API calls to a server in another process.
pub struct Remote {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
}

impl Remote {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("http://{}{}", self.addr, path))
            .bearer_auth(ADMIN_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// Checks an error answer: its status, and the spec's body shape
/// `{"error": {"code", "message", "field"?}}` with `code`; returns the inner object.
pub fn assert_error<'a>(
    got: &'a (StatusCode, Value),
    status: StatusCode,
    code: &str,
) -> &'a serde_json::Map<String, Value> {
    let (s, body) = got;
    assert_eq!(*s, status, "expected {status} `{code}`, got {s}: {body}");
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(top.len(), 1, "error body has more than `error`: {body}");
    let err = top
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no `error` object: {body}"));
    assert_eq!(
        err.get("code").and_then(Value::as_str),
        Some(code),
        "{body}"
    );
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    assert!(
        err.keys()
            .all(|k| ["code", "message", "field"].contains(&k.as_str())),
        "unexpected keys: {body}"
    );
    if let Some(f) = err.get("field") {
        assert!(
            f.as_str().is_some_and(|f| !f.is_empty()),
            "`field` must be a non-empty string: {body}"
        );
    }
    err
}

/// Every test of this binary that uses PostgreSQL holds this lock, so a test that
/// restarts the server never runs beside another one.
pub static POSTGRES_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where PostgreSQL tests connect to create their databases.
pub fn postgres_base_url() -> String {
    std::env::var("SHOPHOOK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether `.ci/run` made PostgreSQL tests required.
pub fn postgres_required() -> bool {
    std::env::var("SHOPHOOK_REQUIRE_POSTGRES").as_deref() == Ok("1")
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = match base.rfind('/') {
        Some(i) if i > base.find("//").map_or(0, |j| j + 1) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// A fresh PostgreSQL database for one test, dropped (connections and all) with it.
pub struct TestDatabase {
    /// The database's URL, for `--database`.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A new empty database, or `None` after printing why when PostgreSQL is
    /// unreachable (a failure instead with `SHOPHOOK_REQUIRE_POSTGRES=1`).
    pub async fn create(suite: &str) -> Option<TestDatabase> {
        use sqlx::{Connection, Executor};
        let admin_url = postgres_base_url();
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await;
        let mut admin = match connected {
            Ok(Ok(c)) => c,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "connection timed out".to_string(),
                };
                assert!(
                    !postgres_required(),
                    "SHOPHOOK_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {admin_url}: {why}"
                );
                eprintln!("skipped: {suite} (start PostgreSQL or set SHOPHOOK_TEST_POSTGRES)");
                return None;
            }
        };
        let name = format!(
            "shophook_it_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("creating a test database");
        admin.close().await.ok();
        Some(TestDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    /// Runs one statement on the server (from the base database, not this one).
    pub async fn admin_query(&self, sql: String) -> Result<u64, sqlx::Error> {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        let done = admin.execute(sqlx::AssertSqlSafe(sql)).await?;
        admin.close().await.ok();
        Ok(done.rows_affected())
    }

    /// Lets clients connect to this database again, or refuses every new
    /// connection (as a database that is down would); existing ones stay.
    pub async fn allow_connections(&self, allowed: bool) -> Result<u64, sqlx::Error> {
        self.admin_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allowed}",
            self.name
        ))
        .await
    }

    /// Kills every connection to this database (as if the server had dropped
    /// them); returns how many there were.
    pub async fn terminate_connections(&self) -> Result<u64, sqlx::Error> {
        self.admin_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ))
        .await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            use sqlx::{Connection, Executor};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&url).await?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// Runs `pg_ctlcluster --skip-systemctl-redirect 15 main <action>` (the local
/// PostgreSQL 15 of the dev machines and CI); whether it succeeded.
pub fn pg_ctlcluster(action: &[&str]) -> bool {
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", "15", "main"])
        .args(action)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
