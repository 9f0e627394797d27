//! Schedule windows: the first moment at or after `t` that falls inside a window,
//! computed in the schedule's time zone so DST changes are honoured.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// One time window of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Window {
    /// `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, inclusive.
    pub from: String,
    /// `HH:MM`, exclusive.
    pub to: String,
}

/// When deliveries may go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Schedule {
    /// IANA zone the windows are in.
    pub timezone: String,
    /// Allowed windows.
    pub windows: Vec<Window>,
}

/// Weekday names of schedules.
pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub(crate) fn validate_schedule(s: &Schedule) -> Result<(), FieldError> {
    if jiff::tz::TimeZone::get(&s.timezone).is_err() {
        return Err(FieldError::new(
            "timezone",
            "invalid_timezone",
            format!("`{}` is not an IANA time zone name", s.timezone),
        ));
    }
    if s.windows.is_empty() || s.windows.len() > 50 {
        return Err(FieldError::new(
            "windows",
            "invalid_schedule",
            "give 1–50 windows, or set `schedule` to null",
        ));
    }
    for (i, w) in s.windows.iter().enumerate() {
        let at = |f: &str| format!("windows[{i}].{f}");
        if w.days.is_empty() {
            return Err(FieldError::new(
                at("days"),
                "invalid_schedule",
                "pick at least one day",
            ));
        }
        for d in &w.days {
            if !DAYS.contains(&d.as_str()) {
                return Err(FieldError::new(
                    at("days"),
                    "invalid_day",
                    format!("`{d}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                ));
            }
        }
        let from = parse_hhmm(&w.from).ok_or_else(|| {
            FieldError::new(
                at("from"),
                "invalid_time",
                "a time of day as HH:MM (00:00–23:59)",
            )
        })?;
        let to = parse_hhmm(&w.to).ok_or_else(|| {
            FieldError::new(
                at("to"),
                "invalid_time",
                "a time of day as HH:MM (00:00–24:00)",
            )
        })?;
        if from >= to {
            return Err(FieldError::new(
                at("to"),
                "invalid_time",
                "`to` must be later than `from` (split overnight windows in two)",
            ));
        }
    }
    Ok(())
}

/// Parses `HH:MM` into minutes after midnight; `24:00` is the end of the day.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn weekday_name(w: Weekday) -> &'static str {
    DAYS[w.to_monday_zero_offset() as usize]
}

fn at(tz: &TimeZone, date: Date, minutes: u32) -> Option<Timestamp> {
    let (date, minutes) = if minutes >= 1440 {
        (date.tomorrow().ok()?, minutes - 1440)
    } else {
        (date, minutes)
    };
    let time = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?;
    // A local time that does not exist (spring-forward gap) maps to the instant the
    // clock jumps (the first moment local time is past it); an ambiguous one
    // (fall-back) to its first occurrence.
    let amb = tz.to_ambiguous_timestamp(date.to_datetime(time));
    if matches!(amb.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        let before_gap = amb.earlier().ok()?;
        return tz.following(before_gap).next().map(|tr| tr.timestamp());
    }
    amb.compatible().ok()
}

/// `t` itself when it is inside a window, else the start of the next window.
/// An invalid schedule (never stored) or one with no window in 8 days returns `t`.
pub fn next_open(schedule: &Schedule, t: Timestamp) -> Timestamp {
    let Ok(tz) = TimeZone::get(&schedule.timezone) else {
        return t;
    };
    let today = t.to_zoned(tz.clone()).date();
    let mut best: Option<Timestamp> = None;
    for offset in -1..=8i64 {
        let Ok(date) = today.checked_add(jiff::Span::new().days(offset)) else {
            continue;
        };
        let day = weekday_name(date.weekday());
        for w in schedule
            .windows
            .iter()
            .filter(|w| w.days.iter().any(|d| d == day))
        {
            let (Some(from), Some(to)) = (parse_hhmm(&w.from), parse_hhmm(&w.to)) else {
                continue;
            };
            let (Some(start), Some(end)) = (at(&tz, date, from), at(&tz, date, to)) else {
                continue;
            };
            if t >= end {
                continue;
            }
            let candidate = if t >= start { t } else { start };
            best = Some(best.map_or(candidate, |b| b.min(candidate)));
        }
        if best == Some(t) {
            return t;
        }
    }
    best.unwrap_or(t)
}

crate::object_only!(Window, Schedule);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::Window;

    fn sched(tz: &str, windows: &[(&[&str], &str, &str)]) -> Schedule {
        Schedule {
            timezone: tz.into(),
            windows: windows
                .iter()
                .map(|(d, f, t)| Window {
                    days: d.iter().map(|s| s.to_string()).collect(),
                    from: f.to_string(),
                    to: t.to_string(),
                })
                .collect(),
        }
    }

    fn check(s: &Schedule, t: &str, expect: &str) {
        let got = next_open(s, t.parse().unwrap());
        assert_eq!(got, expect.parse::<Timestamp>().unwrap(), "{t}");
    }

    #[test]
    fn weekday_office_hours_in_warsaw() {
        let s = sched(
            "Europe/Warsaw",
            &[(&["mon", "tue", "wed", "thu", "fri"], "08:00", "16:00")],
        );
        // Monday 2026-03-02, CET (+01:00)
        check(&s, "2026-03-02T07:30:00Z", "2026-03-02T07:30:00Z"); // 08:30 local: inside
        check(&s, "2026-03-02T06:00:00Z", "2026-03-02T07:00:00Z"); // 07:00 local -> 08:00
        check(&s, "2026-03-02T15:00:00Z", "2026-03-03T07:00:00Z"); // 16:00 local: closed
        check(&s, "2026-03-06T16:00:00Z", "2026-03-09T07:00:00Z"); // Friday evening -> Monday
        // DST: 2026-03-29 clocks go forward; Monday 30th 08:00 is +02:00
        check(&s, "2026-03-28T12:00:00Z", "2026-03-30T06:00:00Z");
        // DST end 2026-10-25; Monday 26th 08:00 is +01:00 again
        check(&s, "2026-10-24T12:00:00Z", "2026-10-26T07:00:00Z");
    }

    #[test]
    fn edges() {
        let gap = sched("Europe/Warsaw", &[(&["sun"], "02:30", "03:30")]);
        // 02:30 does not exist on 2026-03-29; the window opens when the clock jumps to 03:00 (01:00Z)
        check(&gap, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
        let late = sched(
            "UTC",
            &[(&["sat"], "22:00", "24:00"), (&["sun"], "00:00", "01:00")],
        );
        check(&late, "2026-03-07T23:59:00Z", "2026-03-07T23:59:00Z");
        check(&late, "2026-03-08T00:30:00Z", "2026-03-08T00:30:00Z");
        check(&late, "2026-03-08T01:00:00Z", "2026-03-14T22:00:00Z");
        let kl = sched("Asia/Kuala_Lumpur", &[(&["mon"], "09:00", "10:00")]);
        check(&kl, "2026-03-01T20:00:00Z", "2026-03-02T01:00:00Z");
    }
}
