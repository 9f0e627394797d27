//! Prometheus metrics: what the worker and the HTTP API count, and `GET /metrics`.
//!
//! Each [`App`](crate::app::App) owns one [`Metrics`] with its own registry — no
//! global recorder, so tests can run several servers in one process. On the
//! delivery hot path a count is an atomic add on a handle resolved at start-up
//! (plus one histogram observation per first success): no lookup, no query.
//! What the database knows — queue depth, oldest due age — and the store's count of
//! committed events are read when `/metrics` is scraped.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use jiff::Timestamp;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text, text};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use shophook_store::{NextState, QueueStats, Store};
use tokio::sync::Mutex;

/// Event stored → first success: from a millisecond (an idle receiver on the same
/// host) to the two days the default retry schedule can take.
const DELIVERY_LATENCY_BUCKETS: [f64; 20] = [
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    5.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    3.0 * 3600.0,
    6.0 * 3600.0,
    86400.0,
    2.0 * 86400.0,
];

/// API answers: sub-millisecond reads to test sends bounded by the 15 s request timeout.
const HTTP_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
];

/// Scrapes closer together than this share one set of queue queries, so a public
/// `/metrics` hammered by anyone costs the database at most one count a second.
const QUEUE_STATS_MAX_AGE: Duration = Duration::from_secs(1);

/// Content type of the OpenMetrics text format, sent when the scraper asks for it.
/// The OpenMetrics content type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `shophook_http_request_duration_seconds` labels: the route template (not the
/// raw path), so the number of series stays bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

type HttpFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// The counters of one delivery outcome or one attempt status class.
struct Outcomes {
    succeeded: Counter,
    failed: Counter,
    dead: Counter,
    skipped: Counter,
}

struct StatusClasses {
    /// 2xx, 3xx, 4xx, 5xx.
    by_class: [Counter; 4],
    /// No response: refused target, connection error, timeout, nothing sent.
    error: Counter,
}

/// One server's metrics.
pub struct Metrics {
    registry: Registry,
    deliveries: Outcomes,
    attempts: StatusClasses,
    delivery_latency: Histogram,
    http: HttpFamily,
    queue: Mutex<Option<(Instant, QueueStats)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero (so each series exists from the start).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let deliveries = Family::<[(&'static str, &'static str); 1], Counter>::default();
        registry.register(
            "shophook_deliveries",
            "Delivery outcomes recorded by this node's worker: succeeded, failed (will retry), dead (gave up), skipped (conditions no longer held)",
            deliveries.clone(),
        );
        let outcome = |o| deliveries.get_or_create_owned(&[("outcome", o)]);
        let deliveries = Outcomes {
            succeeded: outcome("succeeded"),
            failed: outcome("failed"),
            dead: outcome("dead"),
            skipped: outcome("skipped"),
        };
        let attempts = Family::<[(&'static str, &'static str); 1], Counter>::default();
        registry.register(
            "shophook_attempts",
            "HTTP attempts made by this node's worker, by the receiver's status class (error: no response)",
            attempts.clone(),
        );
        let class = |c| attempts.get_or_create_owned(&[("status_class", c)]);
        let attempts = StatusClasses {
            by_class: [class("2xx"), class("3xx"), class("4xx"), class("5xx")],
            error: class("error"),
        };
        let delivery_latency = Histogram::new(DELIVERY_LATENCY_BUCKETS);
        registry.register_with_unit(
            "shophook_delivery_latency",
            "From an event being stored to its delivery's first successful attempt",
            Unit::Seconds,
            delivery_latency.clone(),
        );
        let http: HttpFamily =
            Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS.iter().copied()));
        registry.register_with_unit(
            "shophook_http_request_duration",
            "HTTP API and UI requests, until the response head, by method, route template and status",
            Unit::Seconds,
            http.clone(),
        );
        Metrics {
            registry,
            deliveries,
            attempts,
            delivery_latency,
            http,
            queue: Mutex::new(None),
        }
    }

    /// Counts a recorded attempt and outcome of a delivery: the attempt's status
    /// class (if an attempt was made), the outcome, and — on the delivery's first
    /// success — the time since its event was stored. A deferral counts nothing.
    pub fn delivery_recorded(
        &self,
        attempt: Option<Option<u16>>,
        next: &NextState,
        first_success_of: Option<Timestamp>,
        now: Timestamp,
    ) {
        if let Some(status) = attempt {
            self.attempt_counter(status).inc();
        }
        match next {
            NextState::Succeeded => {
                self.deliveries.succeeded.inc();
                if let Some(stored) = first_success_of {
                    let latency = now.duration_since(stored).as_secs_f64().max(0.0);
                    self.delivery_latency.observe(latency);
                }
            }
            NextState::Retry(_) => {
                self.deliveries.failed.inc();
            }
            NextState::Dead(_) => {
                self.deliveries.dead.inc();
            }
            NextState::Skipped(_) => {
                self.deliveries.skipped.inc();
            }
            NextState::Defer(_) => {}
        }
    }

    fn attempt_counter(&self, status: Option<u16>) -> &Counter {
        match status.map(|s| s / 100) {
            Some(c @ 2..=5) => &self.attempts.by_class[usize::from(c - 2)],
            // No response; or a final 1xx or a code above 599, which HTTP clients
            // do not hand out.
            _ => &self.attempts.error,
        }
    }

    fn observe_http(
        &self,
        method: &Method,
        route: Option<&MatchedPath>,
        status: u16,
        took: Duration,
    ) {
        let labels = HttpLabels {
            method: method_label(method),
            route: route.map_or_else(|| "unmatched".to_string(), |r| r.as_str().to_string()),
            status,
        };
        self.http.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// The queue as of `now`, queried at most once per [`QUEUE_STATS_MAX_AGE`].
    async fn queue_stats(&self, store: &dyn Store, now: Timestamp) -> Option<QueueStats> {
        let mut cached = self.queue.lock().await;
        if let Some((at, stats)) = *cached
            && at.elapsed() < QUEUE_STATS_MAX_AGE
        {
            return Some(stats);
        }
        match store.queue_stats(now).await {
            Ok(stats) => {
                *cached = Some((Instant::now(), stats));
                Some(stats)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the queue; its gauges are left out of this scrape");
                None
            }
        }
    }

    /// The exposition: the registry, then what is read at scrape time (the
    /// store's count of events and, when the database answers, the queue).
    pub async fn render(&self, store: &dyn Store, now: Timestamp, openmetrics: bool) -> String {
        let mut scraped = Registry::default();
        scraped.register(
            "shophook_events_stored",
            "Events stored by this node (API, snapshots, abandoned-checkout timers, test sends)",
            ConstCounter::new(store.events_stored()),
        );
        if let Some(q) = self.queue_stats(store, now).await {
            let gauge = |v: i64| {
                let g: Gauge = Gauge::default();
                g.set(v);
                g
            };
            scraped.register(
                "shophook_queue_depth",
                "Deliveries due now or earlier and not being sent (all nodes)",
                gauge(i64::try_from(q.due).unwrap_or(i64::MAX)),
            );
            scraped.register(
                "shophook_queue_scheduled",
                "Deliveries due later: retry backoff, delays, schedule windows, and those being sent until their lease ends (all nodes)",
                gauge(i64::try_from(q.scheduled).unwrap_or(i64::MAX)),
            );
            let age = q
                .oldest_due_at
                .map_or(0.0, |at| now.duration_since(at).as_secs_f64().max(0.0));
            let oldest: Gauge<f64, AtomicU64> = Gauge::default();
            oldest.set(age);
            scraped.register_with_unit(
                "shophook_queue_oldest_due_age",
                "How long the longest-waiting due delivery has been due (0 when none is)",
                Unit::Seconds,
                oldest,
            );
        }
        let mut out = String::with_capacity(8 * 1024);
        let encoded = if openmetrics {
            text::encode_registry(&mut out, &self.registry)
                .and_then(|()| text::encode_registry(&mut out, &scraped))
                .and_then(|()| text::encode_eof(&mut out))
        } else {
            prometheus_text::encode(&mut out, &self.registry)
                .and_then(|()| prometheus_text::encode(&mut out, &scraped))
        };
        // Writing into a String cannot fail; a failure would be an encoder bug.
        encoded.expect("encoding metrics into a String");
        out
    }
}

/// Whether `Accept` lists `application/openmetrics-text` (with a non-zero q).
pub fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"))
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
}

/// A method as a label: the standard ones by name, anything else as `other`, so
/// made-up methods cannot grow the number of series.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware timing every request into `shophook_http_request_duration_seconds`.
/// Runs after routing, so the matched route template is known (`unmatched` for
/// the 404 fallback).
pub async fn track_http(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    m.observe_http(
        &method,
        route.as_ref(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation() {
        assert!(!wants_openmetrics(&HeaderMap::new()));
        assert!(!wants_openmetrics(&accept("*/*")));
        assert!(!wants_openmetrics(&accept("text/plain; version=0.0.4")));
        assert!(wants_openmetrics(&accept(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(!wants_openmetrics(&accept(
            "application/openmetrics-text; q=0, text/plain"
        )));
    }

    #[test]
    fn status_classes() {
        let m = Metrics::new();
        let now = Timestamp::UNIX_EPOCH;
        for s in [
            Some(200),
            Some(204),
            Some(302),
            Some(404),
            Some(410),
            Some(503),
            None,
        ] {
            m.delivery_recorded(Some(s), &NextState::Defer(now), None, now);
        }
        let counts: Vec<u64> = m.attempts.by_class.iter().map(Counter::get).collect();
        assert_eq!(counts, [2, 1, 2, 1]);
        assert_eq!(m.attempts.error.get(), 1);
        assert_eq!(m.deliveries.succeeded.get(), 0, "a deferral is no outcome");
    }

    #[test]
    fn methods_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
