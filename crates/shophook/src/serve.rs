//! The API's HTTP server: hyper's HTTP/1.1 connections with bounds a hostile client
//! cannot get past. At most `max_connections` are open; when one more arrives,
//! the connection idle the longest is closed to make room (one with a request in
//! flight never is), so a new request — `/healthz` included — is always served,
//! and an `accept` that fails (too many open files) closes idle ones too instead of
//! waiting. A client has `header_timeout` to send a request's headers, and a
//! connection with no request for `idle_timeout` is closed. On shutdown it stops
//! accepting, lets requests in flight finish and closes idle connections.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The server's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for a request's headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request.
    pub idle_timeout: Duration,
}

/// One open connection, as the server tracks it.
struct Conn {
    /// Requests in flight on it.
    active: usize,
    /// When it last finished a request (or opened).
    idle_since: Instant,
    /// Closes it at once.
    close: CancellationToken,
}

#[derive(Default)]
struct Conns {
    open: Mutex<HashMap<u64, Conn>>,
    next: AtomicU64,
}

impl Conns {
    fn open(&self) -> (u64, CancellationToken) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let close = CancellationToken::new();
        let conn = Conn {
            active: 0,
            idle_since: Instant::now(),
            close: close.clone(),
        };
        self.open.lock().unwrap().insert(id, conn);
        (id, close)
    }

    fn closed(&self, id: u64) {
        self.open.lock().unwrap().remove(&id);
    }

    fn begin(&self, id: u64) {
        if let Some(c) = self.open.lock().unwrap().get_mut(&id) {
            c.active += 1;
        }
    }

    fn end(&self, id: u64) {
        if let Some(c) = self.open.lock().unwrap().get_mut(&id) {
            c.active = c.active.saturating_sub(1);
            c.idle_since = Instant::now();
        }
    }

    fn len(&self) -> usize {
        self.open.lock().unwrap().len()
    }

    /// Closes the connection idle the longest; false when every one is busy.
    fn close_idlest(&self) -> bool {
        let open = self.open.lock().unwrap();
        let idlest = open
            .iter()
            .filter(|(_, c)| c.active == 0 && !c.close.is_cancelled())
            .min_by_key(|(_, c)| c.idle_since);
        match idlest {
            Some((_, c)) => {
                c.close.cancel();
                true
            }
            None => false,
        }
    }

    /// Closes every connection idle for longer than `limit`.
    fn close_idle_since(&self, limit: Duration) -> usize {
        let open = self.open.lock().unwrap();
        let mut n = 0;
        for c in open.values() {
            if c.active == 0 && c.idle_since.elapsed() > limit && !c.close.is_cancelled() {
                c.close.cancel();
                n += 1;
            }
        }
        n
    }

    fn close_idle(&self) {
        self.close_idle_since(Duration::ZERO);
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let conns = Arc::new(Conns::default());
    let tasks = TaskTracker::new();
    let reaper = {
        let conns = conns.clone();
        let shutdown = shutdown.clone();
        let every =
            (limits.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {
                        let n = conns.close_idle_since(limits.idle_timeout);
                        if n > 0 {
                            tracing::debug!(closed = n, "closed idle API connections");
                        }
                    }
                }
            }
        })
    };
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, _peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // out of file descriptors (or another passing error): free some
                // and go on, rather than stop answering
                let freed = conns.close_idlest();
                tracing::warn!(error = %e, open = conns.len(), freed, "accept failed; closed the idlest API connection");
                tokio::time::sleep(Duration::from_millis(if freed { 1 } else { 50 })).await;
                continue;
            }
        };
        if conns.len() >= limits.max_connections && !conns.close_idlest() {
            // every connection has a request in flight: this one waits its turn
            // by being refused now (the client retries), never by a hang
            tracing::warn!(
                open = conns.len(),
                "--max-connections reached with every connection busy; refused one"
            );
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, close) = conns.open();
        let conns = conns.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let service = {
                let conns = conns.clone();
                hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let router = router.clone();
                    let conns = conns.clone();
                    conns.begin(id);
                    async move {
                        let resp = router
                            .oneshot(req.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|e: Infallible| match e {});
                        conns.end(id);
                        Ok::<_, Infallible>(resp)
                    }
                })
            };
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout.min(limits.idle_timeout))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = close.cancelled() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = close.cancelled() => {}
                    }
                }
            }
            conns.closed(id);
        });
    }
    tasks.close();
    // requests in flight finish; idle keep-alive connections end now
    conns.close_idle();
    tasks.wait().await;
    reaper.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idlest_connection_goes_first_and_busy_ones_never() {
        let conns = Conns::default();
        let (a, close_a) = conns.open();
        let (b, close_b) = conns.open();
        conns.begin(a); // a is busy
        conns.end(b); // b finished a request just now
        let (_c, close_c) = conns.open(); // c opened after b's request: idle but newer
        assert!(conns.close_idlest());
        assert!(close_b.is_cancelled() && !close_a.is_cancelled() && !close_c.is_cancelled());
        assert!(conns.close_idlest());
        assert!(close_c.is_cancelled());
        assert!(!conns.close_idlest(), "only the busy one is left");
        assert!(!close_a.is_cancelled());
        conns.end(a);
        assert_eq!(conns.close_idle_since(Duration::from_secs(3600)), 0);
        assert_eq!(conns.close_idle_since(Duration::ZERO), 1);
    }
}
