//! The load: concurrent API clients posting events (each with its own
//! `Idempotency-Key`) and order snapshots. A request that got no answer — its
//! server died mid-request — is sent again, to a live node, until it gets a
//! definite one, so everything a server ever committed ends up known to the
//! client as accepted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ledger::{Ledger, Origin};
use crate::node::ADMIN_KEY;

/// The account the run uses.
pub const ACCOUNT: &str = "crash";

/// The nodes' addresses and which of them are up; clients wait on changes.
pub struct Cluster {
    urls: Vec<String>,
    up: watch::Sender<Vec<bool>>,
}

impl Cluster {
    /// Nodes at `urls`, all down.
    pub fn new(urls: Vec<String>) -> Cluster {
        let n = urls.len();
        Cluster {
            urls,
            up: watch::channel(vec![false; n]).0,
        }
    }

    /// Marks node `i` up or down. A node is marked down *before* it is killed, so
    /// an error caused by the kill is seen after the mark.
    pub fn set(&self, i: usize, up: bool) {
        self.up.send_modify(|v| v[i] = up);
    }

    /// The URL of node `preferred` if it is up, else of another one that is;
    /// waits while none is.
    pub async fn pick(&self, preferred: usize) -> (usize, &str) {
        let mut rx = self.up.subscribe();
        loop {
            let found = {
                let up = rx.borrow_and_update();
                (0..up.len())
                    .map(|k| (preferred + k) % up.len())
                    .find(|&i| up[i])
            };
            if let Some(i) = found {
                return (i, &self.urls[i]);
            }
            if rx.changed().await.is_err() {
                // The cluster is gone; nothing will come up again.
                std::future::pending::<()>().await;
            }
        }
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.urls.len()
    }
}

/// What the clients counted.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent.
    pub requests: AtomicU64,
    /// Requests that got no answer (connection refused or cut, or timed out).
    pub unanswered: AtomicU64,
    /// 503 answers (the store was unavailable; retried).
    pub unavailable: AtomicU64,
    /// Other 5xx answers (retried).
    pub server_errors: AtomicU64,
    /// 4xx answers: the harness sent something the server refused.
    pub rejected: AtomicU64,
    /// Snapshot PUTs that derived no event where two were expected.
    pub eventless_snapshots: AtomicU64,
    /// The first few rejections, for the report.
    pub rejections: Mutex<Vec<String>>,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The clients' shared parts.
pub struct Load {
    /// Where to send.
    pub cluster: Arc<Cluster>,
    /// Where accepted events are written.
    pub ledger: Arc<Mutex<Ledger>>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Share of snapshot PUTs.
    pub snapshot_share: f64,
    /// Makes idempotency keys unique to this run.
    pub run_id: String,
    http: reqwest::Client,
}

impl Load {
    /// Clients over `cluster`, recording into `ledger`.
    pub fn new(
        cluster: Arc<Cluster>,
        ledger: Arc<Mutex<Ledger>>,
        snapshot_share: f64,
        run_id: String,
    ) -> anyhow::Result<Load> {
        let http = reqwest::Client::builder()
            .no_proxy()
            // A request stuck longer than this is treated as unanswered and sent again.
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Load {
            cluster,
            ledger,
            stats: Arc::new(Stats::default()),
            snapshot_share,
            run_id,
            http,
        })
    }

    /// One client: sends until `stop`, finishing the request it is on.
    pub async fn client(self: Arc<Self>, id: usize, seed: u64, stop: CancellationToken) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n = 0u64;
        while !stop.is_cancelled() {
            n += 1;
            if rng.gen_bool(self.snapshot_share) {
                self.put_order(id, &format!("o{id}-{n}")).await;
            } else {
                self.post_event(id, &format!("e{id}-{n}")).await;
            }
        }
    }

    async fn post_event(&self, client: usize, reference: &str) {
        let key = format!("{}-{reference}", self.run_id);
        let body = json!({
            "type": "order.paid",
            "data": {"order": {"id": reference, "paid": true, "total": "10.00"}},
        });
        let path = format!("/v1/accounts/{ACCOUNT}/events");
        let (status, answer, _) = self
            .call(client, Method::POST, &path, Some(&key), Some(&body))
            .await;
        if status != StatusCode::ACCEPTED {
            return self.rejected(&path, status, &answer);
        }
        match answer["id"].as_str() {
            Some(event) => self.accept(event, reference, Origin::Event),
            None => self.rejected(&path, status, &answer),
        }
    }

    async fn put_order(&self, client: usize, reference: &str) {
        let body = json!({
            "status": "new", "paid": true, "currency": "USD", "total": "10.00",
            "items": [{"sku": "A1", "name": "Mug", "quantity": 1, "price": "10.00"}],
        });
        let path = format!("/v1/accounts/{ACCOUNT}/orders/{reference}");
        let (status, answer, in_doubt) = self
            .call(client, Method::PUT, &path, None, Some(&body))
            .await;
        if status != StatusCode::OK {
            return self.rejected(&path, status, &answer);
        }
        let events: Vec<&str> = answer["events"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["id"].as_str()).collect())
            .unwrap_or_default();
        if !events.is_empty() {
            for e in events {
                self.accept(e, reference, Origin::Snapshot);
            }
            return;
        }
        if !in_doubt {
            Stats::bump(&self.stats.eventless_snapshots);
            return;
        }
        // An earlier, unanswered attempt stored this snapshot, so the retry derived
        // nothing: the events it derived are in the history.
        let path = format!("/v1/accounts/{ACCOUNT}/deliveries?subject=order:{reference}&limit=100");
        let (status, answer, _) = self.call(client, Method::GET, &path, None, None).await;
        let ids: Vec<&str> = answer["data"]
            .as_array()
            .map(|a| a.iter().filter_map(|d| d["event_id"].as_str()).collect())
            .unwrap_or_default();
        if status != StatusCode::OK || ids.is_empty() {
            Stats::bump(&self.stats.eventless_snapshots);
        }
        for e in ids {
            self.accept(e, reference, Origin::History);
        }
    }

    fn accept(&self, event: &str, reference: &str, origin: Origin) {
        self.ledger
            .lock()
            .expect("no panics while holding the ledger")
            .accept(event, reference, origin);
    }

    fn rejected(&self, path: &str, status: StatusCode, answer: &Value) {
        Stats::bump(&self.stats.rejected);
        let mut r = self.stats.rejections.lock().expect("no panics here");
        if r.len() < 5 {
            r.push(format!("{path}: {status} {answer}"));
        }
    }

    /// Sends until the answer is definite (2xx or 4xx); returns it and whether
    /// an earlier attempt went unanswered (so may have been stored).
    async fn call(
        &self,
        client: usize,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value, bool) {
        let mut preferred = client % self.cluster.len();
        let mut in_doubt = false;
        loop {
            let (node, base) = self.cluster.pick(preferred).await;
            let mut req = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(ADMIN_KEY);
            if let Some(k) = idempotency_key {
                req = req.header("Idempotency-Key", k);
            }
            if let Some(b) = body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(b.to_string());
            }
            Stats::bump(&self.stats.requests);
            let answer = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(b) => Ok((status, serde_json::from_slice(&b).unwrap_or(Value::Null))),
                        Err(_) => Err(()),
                    }
                }
                Err(_) => Err(()),
            };
            match answer {
                Ok((status, v)) if !status.is_server_error() => return (status, v, in_doubt),
                Ok((status, _)) => {
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        // The store was unreachable: nothing was stored.
                        Stats::bump(&self.stats.unavailable);
                    } else {
                        // Not promised either way: treat it like no answer.
                        Stats::bump(&self.stats.server_errors);
                        in_doubt = true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(()) => {
                    // No (whole) answer: the server may have committed before it died.
                    Stats::bump(&self.stats.unanswered);
                    in_doubt = true;
                    // Like a load balancer: try the next node; `pick` waits while
                    // none is up. The pause keeps a node that refuses for another
                    // reason from being hammered.
                    preferred = node + 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}
