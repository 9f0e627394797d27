//! The receiving end: an HTTP server on 127.0.0.1 that lives for the whole run,
//! independent of the server processes being killed. It records every request
//! (delivery id, event id, the client's reference, signature check) in the
//! ledger, and answers 500 to a share of them so retries get exercised.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shophook_core::signing::{Secret, verify};
use tokio::sync::watch;

use crate::ledger::{Ledger, Receipt};

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Share of requests answered 500.
    pub fail_rate: f64,
    /// Longest (random) wait before answering.
    pub max_delay: Duration,
    /// Seed of its random choices.
    pub seed: u64,
}

/// A running receiver.
pub struct Receiver {
    ledger: Arc<Mutex<Ledger>>,
    secret: Secret,
    behaviour: Behaviour,
    rng: Mutex<StdRng>,
    received: watch::Sender<u64>,
    unreadable: AtomicU64,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves in a background task; returns its address.
    pub async fn start(
        ledger: Arc<Mutex<Ledger>>,
        secret: Secret,
        behaviour: Behaviour,
    ) -> anyhow::Result<(SocketAddr, Arc<Receiver>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the receiver on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let me = Arc::new(Receiver {
            ledger,
            secret,
            rng: Mutex::new(StdRng::seed_from_u64(behaviour.seed)),
            behaviour,
            received: watch::channel(0).0,
            unreadable: AtomicU64::new(0),
        });
        let app = Router::new().fallback(receive).with_state(me.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("receiver stopped: {e}");
            }
        });
        Ok((addr, me))
    }

    /// Changes with every request received (to wait on instead of polling).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.received.subscribe()
    }

    /// Requests that carried no `webhook-id`, no readable event id, or came to
    /// a path that is no webhook's.
    pub fn unreadable(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }

    fn choose(&self) -> (bool, Duration) {
        let mut rng = self.rng.lock().expect("no panics while holding the rng");
        let fail = rng.gen_bool(self.behaviour.fail_rate);
        let max = self.behaviour.max_delay.as_micros() as u64;
        let delay = if max == 0 { 0 } else { rng.gen_range(0..=max) };
        (fail, Duration::from_micros(delay))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    State(rx): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let event_id = parsed
        .as_ref()
        .and_then(|v| v["id"].as_str())
        .map(str::to_string);
    // Each webhook of the run has its own path: /hook/<target>.
    let target = uri.path().strip_prefix("/hook/").map(str::to_string);
    let (Some(delivery_id), Some(event_id), Some(target)) =
        (header(&headers, "webhook-id"), event_id, target)
    else {
        rx.unreadable.fetch_add(1, Ordering::Relaxed);
        rx.received.send_modify(|n| *n += 1);
        return StatusCode::BAD_REQUEST;
    };
    // The client's reference is the id of the order it sent.
    let reference = parsed
        .as_ref()
        .and_then(|v| v["data"]["order"]["id"].as_str())
        .map(str::to_string);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signature_ok = verify(
        &rx.secret,
        delivery_id,
        header(&headers, "webhook-timestamp").unwrap_or(""),
        header(&headers, "webhook-signature").unwrap_or(""),
        &body,
        now,
    )
    .is_ok();
    let (fail, delay) = rx.choose();
    let answered = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    // Recorded on arrival, as a receiver acts on a request before it answers: if
    // the server dies while waiting for the answer, the request still counts as
    // received (and its redelivery as a duplicate).
    rx.ledger
        .lock()
        .expect("no panics while holding the ledger")
        .receive(Receipt {
            target,
            delivery_id: delivery_id.to_string(),
            event_id,
            reference,
            answered: answered.as_u16(),
            signature_ok,
        });
    rx.received.send_modify(|n| *n += 1);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    answered
}
