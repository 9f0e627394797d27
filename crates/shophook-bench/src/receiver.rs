//! The fast receiver: a hyper HTTP/1.1 keep-alive server on 127.0.0.1 that
//! does the least a receiver can: read the body, take the event's sequence
//! number and send time from it and the delivery id from `webhook-id`, note the
//! arrival, answer 200 (or 503 while it is "down").

use std::collections::HashSet;
use std::convert::Infallible;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::stats::Clock;

/// One delivery as it arrived (first arrivals and duplicates alike).
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When it arrived (run clock).
    pub at_ns: u64,
    /// The event's sequence number, from the payload.
    pub seq: u64,
    /// When the sender sent the event (run clock), from the payload.
    pub sent_ns: u64,
    /// Which webhook (`/hook/{n}`).
    pub hook: u32,
    /// A repeat of a delivery id seen before.
    pub duplicate: bool,
}

#[derive(Default)]
struct Log {
    arrivals: Vec<Arrival>,
    /// Hashes of `webhook-id` values seen (64-bit: a collision among a million
    /// ids has a chance of about 3·10⁻⁸).
    seen: HashSet<u64>,
}

struct Shared {
    clock: Clock,
    up: AtomicBool,
    log: Mutex<Log>,
    unique: AtomicU64,
    refused: AtomicU64,
    malformed: AtomicU64,
    wake_at: AtomicU64,
    wake: Notify,
}

/// A running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    bench: Mark,
}

/// What the senders put in `data.bench`.
#[derive(Deserialize)]
struct Mark {
    seq: u64,
    sent_ns: u64,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start(clock: Clock) -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            clock,
            up: AtomicBool::new(true),
            log: Mutex::new(Log::default()),
            unique: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            wake_at: AtomicU64::new(u64::MAX),
            wake: Notify::new(),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(s.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Receiver {
            addr,
            shared,
            accept,
        })
    }

    /// The URL of webhook `n`'s endpoint.
    pub fn url(&self, n: u32) -> String {
        format!("http://{}/hook/{n}", self.addr)
    }

    /// Answer 200 (`true`) or 503 (`false`).
    pub fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::SeqCst);
    }

    /// Distinct deliveries received so far.
    pub fn unique(&self) -> u64 {
        self.shared.unique.load(Ordering::SeqCst)
    }

    /// Requests answered 503 while down.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Requests whose body had no `data.bench` mark.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::SeqCst)
    }

    /// Waits until `target` distinct deliveries have arrived, until none
    /// arrived for `stall`, or until `deadline`; returns whether the target was
    /// reached.
    pub async fn wait_for(
        &self,
        target: u64,
        stall: Duration,
        deadline: Option<tokio::time::Instant>,
    ) -> bool {
        self.shared.wake_at.store(target, Ordering::SeqCst);
        let mut last = self.unique();
        let mut last_change = tokio::time::Instant::now();
        loop {
            if self.unique() >= target {
                return true;
            }
            let now = tokio::time::Instant::now();
            let mut until = last_change + stall;
            if let Some(d) = deadline {
                until = until.min(d);
            }
            if now >= until {
                return false;
            }
            let _ = tokio::time::timeout_at(until, self.shared.wake.notified()).await;
            let got = self.unique();
            if got != last {
                last = got;
                last_change = tokio::time::Instant::now();
            }
        }
    }

    /// Every arrival so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared
            .log
            .lock()
            .map(|l| l.arrivals.clone())
            .unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn hook_of(path: &str) -> u32 {
    path.strip_prefix("/hook/")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

async fn handle(
    s: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let answer = |code| {
        let mut r = Response::new(Empty::new());
        *r.status_mut() = code;
        Ok(r)
    };
    if !s.up.load(Ordering::SeqCst) {
        s.refused.fetch_add(1, Ordering::SeqCst);
        return answer(StatusCode::SERVICE_UNAVAILABLE);
    }
    let hook = hook_of(req.uri().path());
    let id = req
        .headers()
        .get("webhook-id")
        .map(|v| BuildHasherDefault::<DefaultHasher>::default().hash_one(v.as_bytes()));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return answer(StatusCode::BAD_REQUEST),
    };
    let at_ns = s.clock.now_ns();
    let (Some(id), Ok(env)) = (id, serde_json::from_slice::<Envelope>(&body)) else {
        s.malformed.fetch_add(1, Ordering::SeqCst);
        return answer(StatusCode::BAD_REQUEST);
    };
    let fresh = {
        let Ok(mut log) = s.log.lock() else {
            return answer(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let fresh = log.seen.insert(id);
        log.arrivals.push(Arrival {
            at_ns,
            seq: env.data.bench.seq,
            sent_ns: env.data.bench.sent_ns,
            hook,
            duplicate: !fresh,
        });
        fresh
    };
    if fresh {
        let n = s.unique.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= s.wake_at.load(Ordering::SeqCst) {
            s.wake.notify_one();
        }
    }
    answer(StatusCode::OK)
}
