//! The loopback limit: what this machine does with HTTP alone. An HTTP/1.1
//! keep-alive sender (hyper, N connections) and a minimal hyper receiver (read
//! the body, answer 200) in this process, for a few seconds; requests/s. Every
//! rate of the run is also given as a share of it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Method;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::client::Conn;

/// The measured limit.
#[derive(Debug, Clone, Serialize)]
pub struct Loopback {
    /// Requests per second (the mean of `samples`).
    pub requests_per_s: f64,
    /// Each measurement, requests/s: before the scenario and, in a scenario
    /// report, after it too (their spread shows how busy the machine was).
    pub samples: Vec<f64>,
    /// Concurrent connections used.
    pub connections: usize,
    /// How long it ran, seconds.
    pub seconds: f64,
}

impl Loopback {
    /// This measurement and `later` together: their mean, both samples.
    pub fn and(&self, later: &Loopback) -> Loopback {
        let mut samples = self.samples.clone();
        samples.extend(&later.samples);
        Loopback {
            requests_per_s: samples.iter().sum::<f64>() / samples.len() as f64,
            samples,
            connections: self.connections,
            seconds: self.seconds + later.seconds,
        }
    }
}

/// A body of the size of a small webhook payload.
fn payload() -> Bytes {
    let mut s = String::from(
        r#"{"id":"evt_01JBENCHLOOPBACK0000000000","type":"order.created","created_at":"2026-01-01T00:00:00Z","account":"bench","data":{"order":{"id":"1"},"bench":{"seq":1,"sent_ns":1}}}"#,
    );
    while s.len() < 300 {
        s.push(' ');
    }
    Bytes::from(s)
}

/// Measures for `seconds` with `connections` senders.
pub async fn measure(connections: usize, seconds: f64) -> anyhow::Result<Loopback> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(hyper::Response::new(Empty::<Bytes>::new()))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let body = payload();
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr, None).await?);
    }
    // Warm up each connection once, then count.
    for c in &mut conns {
        c.call(Method::POST, "/hook/0", Some(body.clone())).await?;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut c in conns {
        let (done, stop, body) = (done.clone(), stop.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if c.call(Method::POST, "/hook/0", Some(body.clone()))
                    .await
                    .is_err()
                {
                    break;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    server.abort();
    let rate = counted as f64 / elapsed;
    Ok(Loopback {
        requests_per_s: rate,
        samples: vec![rate],
        connections,
        seconds: elapsed,
    })
}
