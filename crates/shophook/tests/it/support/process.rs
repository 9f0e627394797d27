//! `ServerProcess`: the real binary as a child process (signals, memory), and
//! `Remote`, the API client to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::watch;

use super::*;

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
