//! Pacing per webhook, on this node: a webhook's `rate_limit_per_second` (a token
//! bucket, burst = one second's worth), and a receiver's own `429`/`503` with
//! `Retry-After`, which holds every delivery of that webhook until then. A webhook
//! that must wait is left out of claims, like one at its concurrency limit, so
//! waiting costs no slots, leases or database writes.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The pacing state of every webhook this node has sent to.
#[derive(Default)]
pub struct Pacing {
    webhooks: Mutex<HashMap<String, Pace>>,
}

struct Pace {
    per_second: Option<u32>,
    bucket: Option<DefaultDirectRateLimiter>,
    /// Nothing goes out before this (a token ran out, or the receiver asked).
    wait_until: Option<Instant>,
}

impl Pacing {
    /// Takes one request's worth of the webhook's budget now; `false` if it must
    /// wait (the webhook is then left out of claims until it may send again).
    pub fn admit(&self, webhook: &str, per_second: Option<u32>, now: Instant) -> bool {
        let Ok(mut map) = self.webhooks.lock() else {
            return true;
        };
        if per_second.is_none() && !map.contains_key(webhook) {
            return true; // the common case: unpaced, nothing recorded
        }
        let pace = map.entry(webhook.to_string()).or_insert_with(|| Pace {
            per_second: None,
            bucket: None,
            wait_until: None,
        });
        if pace.per_second != per_second {
            pace.per_second = per_second;
            pace.bucket = per_second
                .and_then(NonZeroU32::new)
                .map(|n| RateLimiter::direct(Quota::per_second(n)));
        }
        if pace.wait_until.is_some_and(|until| until > now) {
            return false;
        }
        pace.wait_until = None;
        match &pace.bucket {
            None => {
                map.remove(webhook);
                true
            }
            Some(bucket) => match bucket.check() {
                Ok(()) => true,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(
                        &governor::clock::DefaultClock::default(),
                    ));
                    pace.wait_until = Some(now + wait.max(Duration::from_millis(1)));
                    false
                }
            },
        }
    }

    /// The receiver asked for a pause: nothing goes to `webhook` for `wait`.
    pub fn hold(&self, webhook: &str, wait: Duration, now: Instant) {
        if let Ok(mut map) = self.webhooks.lock() {
            let pace = map.entry(webhook.to_string()).or_insert_with(|| Pace {
                per_second: None,
                bucket: None,
                wait_until: None,
            });
            let until = now + wait;
            pace.wait_until = Some(pace.wait_until.map_or(until, |u| u.max(until)));
        }
    }

    /// Webhooks that may not send now.
    pub fn waiting(&self, now: Instant) -> Vec<String> {
        self.webhooks
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, p)| p.wait_until.is_some_and(|u| u > now))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The soonest moment a waiting webhook may send again.
    pub fn next_ready(&self, now: Instant) -> Option<Instant> {
        self.webhooks
            .lock()
            .ok()?
            .values()
            .filter_map(|p| p.wait_until)
            .filter(|u| *u > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaced_webhooks_always_pass_and_leave_no_state() {
        let p = Pacing::default();
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(p.admit("wh_a", None, now));
        }
        assert!(p.webhooks.lock().unwrap().is_empty());
    }

    #[test]
    fn a_rate_admits_its_burst_then_waits() {
        let p = Pacing::default();
        let now = Instant::now();
        let admitted = (0..20).filter(|_| p.admit("wh_a", Some(5), now)).count();
        assert_eq!(admitted, 5, "one second's worth at once");
        assert_eq!(p.waiting(now), ["wh_a"]);
        assert!(p.next_ready(now).is_some_and(|t| t > now));
        assert!(p.admit("wh_b", Some(5), now), "webhooks are paced apart");
    }

    #[test]
    fn retry_after_holds_a_webhook() {
        let p = Pacing::default();
        let now = Instant::now();
        p.hold("wh_a", Duration::from_secs(30), now);
        assert!(!p.admit("wh_a", None, now));
        assert!(!p.admit("wh_a", None, now + Duration::from_secs(29)));
        assert_eq!(p.waiting(now), ["wh_a"]);
        assert!(p.admit("wh_a", None, now + Duration::from_secs(31)));
        assert!(p.waiting(now + Duration::from_secs(31)).is_empty());
    }
}
