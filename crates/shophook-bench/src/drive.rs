//! Driving a server through its public API: an account with webhooks pointing at
//! the receiver, concurrent senders posting events (at full speed or paced), a
//! probe timing API calls, and the analysis of what arrived.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::client::Conn;
use crate::receiver::Arrival;
use crate::stats::{self, Clock, Latency};

/// The API of the server(s) under test: node addresses and the operator key.
#[derive(Clone)]
pub struct Api {
    /// One address per node; senders are spread over them.
    pub nodes: Vec<SocketAddr>,
    /// The operator key.
    pub key: String,
}

impl Api {
    /// A connection to node `i` (modulo the node count).
    pub async fn conn(&self, i: usize) -> anyhow::Result<Conn> {
        Conn::open(self.nodes[i % self.nodes.len()], Some(self.key.clone())).await
    }
}

/// Creates account `account` with `webhooks` JSON webhooks for `order.created`,
/// webhook `n` pointing at `urls(n)`; returns the webhook ids.
pub async fn setup(
    api: &Api,
    account: &str,
    webhooks: u32,
    urls: impl Fn(u32) -> String,
) -> anyhow::Result<Vec<String>> {
    let mut c = api.conn(0).await?;
    c.expect(
        StatusCode::CREATED,
        Method::POST,
        "/v1/accounts",
        Some(json!({"id": account, "name": account, "limits": {"max_webhooks": webhooks.max(50)}})),
    )
    .await
    .context("creating the bench account")?;
    let mut ids = Vec::new();
    for n in 0..webhooks {
        let v = c
            .expect(
                StatusCode::CREATED,
                Method::POST,
                &format!("/v1/accounts/{account}/webhooks"),
                Some(json!({"name": format!("bench {n}"), "url": urls(n),
                            "events": ["order.created"], "format": "json"})),
            )
            .await
            .context("creating a bench webhook")?;
        ids.push(v["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(ids)
}

/// How to send.
#[derive(Debug, Clone, Copy)]
pub struct SendPlan {
    /// Events in all.
    pub events: u64,
    /// Concurrent senders, each on its own keep-alive connection.
    pub senders: usize,
    /// Events per second over all senders; `None` = as fast as answers come.
    pub rate: Option<f64>,
}

/// What the senders saw.
pub struct Sent {
    /// Send time of each event by sequence number (0 = not sent).
    pub sent_ns: Vec<u64>,
    /// Time of each event's 202 by sequence number (0 = not accepted).
    pub accepted_ns: Vec<u64>,
    /// Deliveries the server said it created (sum of `deliveries` in the 202s).
    pub deliveries: u64,
    /// Answers other than 202.
    pub rejected: u64,
    /// Requests that got no answer.
    pub errors: u64,
    /// The first rejection or error, for the report.
    pub first_problem: Option<String>,
    /// Send → 202 of every accepted event, ns.
    pub api_ns: Vec<u64>,
}

impl Sent {
    /// Events accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted_ns.iter().filter(|t| **t > 0).count() as u64
    }
}

/// Posts `plan.events` events to `account`; each carries its sequence number
/// and its send time in `data.bench`.
pub async fn send(api: &Api, account: &str, plan: SendPlan, clock: Clock) -> anyhow::Result<Sent> {
    let n = plan.events as usize;
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let accepted: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new((0u64, 0u64, 0u64, None::<String>)));
    let path = Arc::new(format!("/v1/accounts/{account}/events"));
    let start_ns = clock.now_ns();
    let mut tasks = Vec::new();
    for i in 0..plan.senders.max(1) {
        let mut conn = api.conn(i).await?;
        let (sent, accepted, next, totals, path) = (
            sent.clone(),
            accepted.clone(),
            next.clone(),
            totals.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut deliveries, mut rejected, mut errors, mut problem) = (0, 0, 0, None);
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= plan.events {
                    break;
                }
                if let Some(rate) = plan.rate {
                    let due = start_ns + (seq as f64 * 1e9 / rate) as u64;
                    tokio::time::sleep_until(clock.instant_at(due).into()).await;
                }
                let sent_ns = clock.now_ns();
                let body = format!(
                    r#"{{"type":"order.created","data":{{"order":{{"id":"{seq}"}},"bench":{{"seq":{seq},"sent_ns":{sent_ns}}}}}}}"#
                );
                sent[seq as usize].store(sent_ns, Ordering::Relaxed);
                match conn.call(Method::POST, &path, Some(Bytes::from(body))).await {
                    Ok((StatusCode::ACCEPTED, b)) => {
                        accepted[seq as usize].store(clock.now_ns(), Ordering::Relaxed);
                        deliveries += serde_json::from_slice::<serde_json::Value>(&b)
                            .ok()
                            .and_then(|v| v["deliveries"].as_u64())
                            .unwrap_or(0);
                    }
                    Ok((status, b)) => {
                        rejected += 1;
                        problem.get_or_insert_with(|| {
                            format!("{status}: {}", String::from_utf8_lossy(&b))
                        });
                    }
                    Err(e) => {
                        errors += 1;
                        problem.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            let mut t = totals.lock().await;
            t.0 += deliveries;
            t.1 += rejected;
            t.2 += errors;
            if t.3.is_none() {
                t.3 = problem;
            }
        }));
    }
    for t in tasks {
        t.await.context("a sender task failed")?;
    }
    let (deliveries, rejected, errors, first_problem) = totals.lock().await.clone();
    let sent_ns: Vec<u64> = sent.iter().map(|t| t.load(Ordering::Relaxed)).collect();
    let accepted_ns: Vec<u64> = accepted.iter().map(|t| t.load(Ordering::Relaxed)).collect();
    let api_ns = sent_ns
        .iter()
        .zip(&accepted_ns)
        .filter(|(_, a)| **a > 0)
        .map(|(s, a)| a.saturating_sub(*s))
        .collect();
    Ok(Sent {
        sent_ns,
        accepted_ns,
        deliveries,
        rejected,
        errors,
        first_problem,
        api_ns,
    })
}

/// Ingest figures.
#[derive(Debug, Clone, Serialize)]
pub struct Ingest {
    /// Events accepted (202).
    pub accepted: u64,
    /// Answers other than 202.
    pub rejected: u64,
    /// Requests without an answer.
    pub errors: u64,
    /// The first rejection or error.
    pub first_problem: Option<String>,
    /// Accepted events per second, first send to last 202.
    pub rate_per_s: f64,
    /// POST /events, send → 202.
    pub api_latency: Option<Latency>,
}

/// Ingest figures of a send.
pub fn ingest(sent: &Sent) -> Ingest {
    let first = sent.sent_ns.iter().copied().filter(|t| *t > 0).min();
    let last = sent.accepted_ns.iter().copied().max();
    let span = match (first, last) {
        (Some(f), Some(l)) => l.saturating_sub(f),
        _ => 0,
    };
    Ingest {
        accepted: sent.accepted(),
        rejected: sent.rejected,
        errors: sent.errors,
        first_problem: sent.first_problem.clone(),
        rate_per_s: stats::rate(sent.accepted(), span),
        api_latency: stats::latency(&mut sent.api_ns.clone()),
    }
}

/// Delivery figures.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    /// Deliveries the server created for the accepted events.
    pub expected: u64,
    /// Distinct deliveries received (by `webhook-id`).
    pub received: u64,
    /// Repeats of a delivery id already received.
    pub duplicates: u64,
    /// Expected but never received before the harness stopped waiting.
    pub lost: u64,
    /// Deliveries per second from the first arrival to the last.
    pub delivery_rate_per_s: f64,
    /// Deliveries per second from `from` (the first send, or the moment the
    /// receiver came back) to the last arrival.
    pub end_to_end_rate_per_s: f64,
    /// Send (time written in the payload) → arrival, first arrivals only.
    pub send_to_receive: Option<Latency>,
    /// 202 → arrival, first arrivals only (0 when it arrived before the 202 was read).
    pub accepted_to_receive: Option<Latency>,
    /// Deliveries that arrived before their sender had read the 202.
    pub arrived_before_202: u64,
    /// Distinct deliveries received by each webhook (`/hook/{n}`), in order.
    pub per_webhook: Vec<u64>,
}

/// Analyses what arrived, counting rates from `from_ns`.
pub fn delivered(arrivals: &[Arrival], sent: &Sent, from_ns: u64) -> Delivered {
    let firsts: Vec<&Arrival> = arrivals.iter().filter(|a| !a.duplicate).collect();
    let received = firsts.len() as u64;
    let first = firsts.iter().map(|a| a.at_ns).min().unwrap_or(0);
    let last = firsts.iter().map(|a| a.at_ns).max().unwrap_or(0);
    let mut send_recv = Vec::with_capacity(firsts.len());
    let mut acc_recv = Vec::with_capacity(firsts.len());
    let mut early = 0;
    let mut per_webhook: Vec<u64> = Vec::new();
    for a in &firsts {
        let h = a.hook as usize;
        if h < 1024 {
            if per_webhook.len() <= h {
                per_webhook.resize(h + 1, 0);
            }
            per_webhook[h] += 1;
        }
        send_recv.push(a.at_ns.saturating_sub(a.sent_ns));
        if let Some(&acc) = sent.accepted_ns.get(a.seq as usize)
            && acc > 0
        {
            if a.at_ns < acc {
                early += 1;
            }
            acc_recv.push(a.at_ns.saturating_sub(acc));
        }
    }
    Delivered {
        expected: sent.deliveries,
        received,
        duplicates: arrivals.len() as u64 - received,
        lost: sent.deliveries.saturating_sub(received),
        delivery_rate_per_s: stats::rate(received.saturating_sub(1), last.saturating_sub(first)),
        end_to_end_rate_per_s: stats::rate(received, last.saturating_sub(from_ns)),
        send_to_receive: stats::latency(&mut send_recv),
        accepted_to_receive: stats::latency(&mut acc_recv),
        arrived_before_202: early,
        per_webhook,
    }
}

/// Times API calls on its own connection every 10 ms until stopped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<(Vec<u64>, Vec<u64>)>>,
}

/// What the probe measured.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// GET /v1/accounts/{account}/webhooks.
    pub list_webhooks: Option<Latency>,
    /// POST /v1/accounts/{probe account}/events (an account without webhooks).
    pub post_event: Option<Latency>,
}

impl Probe {
    /// Starts probing `account`'s webhook list and posting to `quiet_account`.
    pub async fn start(
        api: &Api,
        account: &str,
        quiet_account: &str,
        clock: Clock,
    ) -> anyhow::Result<Probe> {
        let mut conn = api.conn(0).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let list = format!("/v1/accounts/{account}/webhooks");
        let post = format!("/v1/accounts/{quiet_account}/events");
        let task = tokio::spawn(async move {
            let (mut l, mut p) = (Vec::new(), Vec::new());
            while !s.load(Ordering::Relaxed) {
                let t = clock.now_ns();
                conn.expect(StatusCode::OK, Method::GET, &list, None)
                    .await?;
                l.push(clock.now_ns() - t);
                let t = clock.now_ns();
                let body = json!({"type": "order.created", "data": {"order": {"id": "probe"}}});
                conn.expect(StatusCode::ACCEPTED, Method::POST, &post, Some(body))
                    .await?;
                p.push(clock.now_ns() - t);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok((l, p))
        });
        Ok(Probe { stop, task })
    }

    /// Stops and returns the percentiles.
    pub async fn finish(self) -> anyhow::Result<ProbeResult> {
        self.stop.store(true, Ordering::Relaxed);
        let (mut l, mut p) = self.task.await.context("the probe task failed")??;
        Ok(ProbeResult {
            list_webhooks: stats::latency(&mut l),
            post_event: stats::latency(&mut p),
        })
    }
}
