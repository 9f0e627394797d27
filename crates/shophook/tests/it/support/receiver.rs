//! `TestReceiver`: records every request and answers with scripted statuses.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;

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
