//! Time base and percentiles.
//!
//! Senders and the receiver live in one process, so one monotonic clock stamps
//! both ends: a send time written into the payload is read back at the receiver
//! and subtracted from the arrival time on the same clock.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Nanoseconds since the start of the run, on the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Clock {
        Clock {
            base: Instant::now(),
        }
    }

    /// Nanoseconds since the zero (at least 1, so 0 can mean "never").
    pub fn now_ns(&self) -> u64 {
        (self.base.elapsed().as_nanos() as u64).max(1)
    }

    /// The instant `ns` nanoseconds after the zero.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest value.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

/// The nearest-rank percentile of sorted values: the smallest value with at
/// least `p` % of the values at or below it. `None` for no values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Percentiles of nanosecond values (sorted in place); `None` for no values.
pub fn latency(values_ns: &mut [u64]) -> Option<Latency> {
    if values_ns.is_empty() {
        return None;
    }
    values_ns.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let sum: u128 = values_ns.iter().map(|v| *v as u128).sum();
    Some(Latency {
        count: values_ns.len(),
        p50_ms: ms(percentile(values_ns, 50.0)?),
        p90_ms: ms(percentile(values_ns, 90.0)?),
        p99_ms: ms(percentile(values_ns, 99.0)?),
        max_ms: ms(*values_ns.last()?),
        mean_ms: sum as f64 / values_ns.len() as f64 / 1e6,
    })
}

/// `count` per second over `span_ns`; 0 when the span is empty.
pub fn rate(count: u64, span_ns: u64) -> f64 {
    if span_ns == 0 {
        0.0
    } else {
        count as f64 / (span_ns as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1), "p0 is the smallest value");
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        // 10 values: p90 is the 9th, p99 the 10th.
        let v: Vec<u64> = (1..=10).map(|x| x * 10).collect();
        assert_eq!(percentile(&v, 90.0), Some(90));
        assert_eq!(percentile(&v, 99.0), Some(100));
        assert_eq!(percentile(&v, 50.0), Some(50));
    }

    #[test]
    fn latency_sorts_and_converts_to_ms() {
        let mut v = vec![3_000_000, 1_000_000, 2_000_000, 10_000_000];
        let l = latency(&mut v).unwrap();
        assert_eq!(l.count, 4);
        assert_eq!(l.p50_ms, 2.0);
        assert_eq!(l.p99_ms, 10.0);
        assert_eq!(l.max_ms, 10.0);
        assert_eq!(l.mean_ms, 4.0);
        assert!(latency(&mut []).is_none());
    }

    #[test]
    fn rates() {
        assert_eq!(rate(500, 2_000_000_000), 250.0);
        assert_eq!(rate(5, 0), 0.0);
    }
}
