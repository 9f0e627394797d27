//! `TestApp`: the server in-process on port 0 with a temp SQLite file.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use clap::Parser;
use serde_json::{Value, json};
use shophook::app::App;
use shophook::cli::{Cli, Command as Sub};
use shophook::clock::ManualClock;
use tokio_util::sync::CancellationToken;

use super::*;

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
