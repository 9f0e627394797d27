//! The retry schedule: when the next attempt of a failed delivery goes out.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Delays after the 1st, 2nd, … failed attempt. After the last one the delivery is
/// `dead`. Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

/// The spec's schedule, as a string accepted by [`RetrySchedule::parse`].
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule::parse(DEFAULT_SCHEDULE).expect("the default schedule parses")
    }
}

impl RetrySchedule {
    /// Parses `5s,5m,30m,2h` (units `ms`, `s`, `m`, `h`, `d`). Empty = never retry.
    pub fn parse(text: &str) -> Result<RetrySchedule, String> {
        let mut delays = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            delays.push(parse_duration(part)?);
        }
        if delays.len() > 50 {
            return Err("at most 50 retries".into());
        }
        Ok(RetrySchedule { delays })
    }

    /// How many attempts a delivery gets in all.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// When to try again after `attempts_made` attempts have failed, or `None` if
    /// that was the last. `jitter` in [-1, 1] moves the delay by up to ±10 %.
    pub fn next_attempt_at(
        &self,
        attempts_made: u32,
        now: Timestamp,
        jitter: f64,
    ) -> Option<Timestamp> {
        let base = self.delays.get(attempts_made.checked_sub(1)? as usize)?;
        let factor = 1.0 + 0.1 * jitter.clamp(-1.0, 1.0);
        let delay = Duration::from_secs_f64(base.as_secs_f64() * factor);
        let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
        Some(now.checked_add(delay).unwrap_or(Timestamp::MAX))
    }
}

/// Longest wait a receiver's `Retry-After` can ask for; longer asks are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A receiver's `Retry-After` (delay seconds, or an HTTP date) as a wait from
/// `now`, capped at [`MAX_RETRY_AFTER`]; `None` if it cannot be read. A date in the
/// past is no wait.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let ahead = at.duration_since(now);
        if ahead.is_negative() {
            Duration::ZERO
        } else {
            Duration::try_from(ahead).ok()?
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses `250ms`, `5s`, `5m`, `2h`, `1d`.
pub fn parse_duration(part: &str) -> Result<Duration, String> {
    let split = part
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(part.len());
    let (num, unit) = part.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{part}`: expected a number and a unit, e.g. 5m"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("`{part}`: unit must be ms, s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        for (value, wait) in [
            ("120", Some(120)),
            (" 5 ", Some(5)),
            ("Mon, 02 Mar 2026 10:01:00 GMT", Some(60)),
            ("Mon, 02 Mar 2026 09:00:00 GMT", Some(0)),
            ("999999999", Some(24 * 3600)),
            ("soon", None),
            ("-5", None),
            ("", None),
        ] {
            assert_eq!(
                parse_retry_after(value, now),
                wait.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    #[test]
    fn default_schedule_follows_the_spec() {
        let s = RetrySchedule::default();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let secs = |n| {
            s.next_attempt_at(n, t0, 0.0)
                .map(|t| t.as_second() - t0.as_second())
        };
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(secs(1), Some(5));
        assert_eq!(secs(2), Some(300));
        assert_eq!(secs(3), Some(1800));
        assert_eq!(secs(4), Some(7200));
        assert_eq!(secs(5), Some(18_000));
        assert_eq!(secs(6), Some(36_000));
        assert_eq!(secs(7), Some(36_000));
        assert_eq!(secs(8), None);
        assert_eq!(secs(0), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let s = RetrySchedule::default();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let hi = s.next_attempt_at(2, t0, 1.0).unwrap().as_second() - t0.as_second();
        let lo = s.next_attempt_at(2, t0, -1.0).unwrap().as_second() - t0.as_second();
        let clamped = s.next_attempt_at(2, t0, 7.0).unwrap().as_second() - t0.as_second();
        assert_eq!((lo, hi, clamped), (270, 330, 330));
    }

    #[test]
    fn parsing() {
        assert_eq!(RetrySchedule::parse("10ms,1s").unwrap().max_attempts(), 3);
        assert_eq!(RetrySchedule::parse("").unwrap().max_attempts(), 1);
        assert!(RetrySchedule::parse("5x").is_err());
        assert!(RetrySchedule::parse("m").is_err());
    }
}
