//! One webhook's page: its status and settings at a glance, its attempts over the
//! last 24 hours and 7 days (server-rendered SVG from the store's hourly tallies),
//! its recent deliveries (each links to its attempt timeline) and its actions.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use shophook_store::{DeliveryFilter, HourStats};

use super::session::Session;
use super::{Nav, UiError, find_webhook as find, guard, render};
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/a/{account}/webhooks/{id}", get(page))
}

/// One bar of a chart: attempts that succeeded and failed in its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bar {
    succeeded: u64,
    failed: u64,
}

/// A chart: its bars (oldest first) as an SVG, and a sentence for people and
/// screen readers.
struct Chart {
    svg: String,
    summary: String,
}

struct Recent {
    id: String,
    when: String,
    event: String,
    status: String,
    attempts: u32,
    last: String,
}

#[derive(Template)]
#[template(path = "webhook_page.html")]
struct Page {
    nav: Nav,
    id: String,
    name: String,
    url: String,
    events: String,
    format: String,
    status: String,
    warnings: Vec<String>,
    day: Chart,
    week: Chart,
    recent: Vec<Recent>,
}

/// `hours` (any order) summed into `n` bars of `span` each, the last ending with
/// the hour `now` is in.
fn bars(hours: &[HourStats], now: Timestamp, span: SignedDuration, n: usize) -> Vec<Bar> {
    let hour = SignedDuration::from_hours(1);
    let now_ms = now.as_millisecond();
    let this_hour = now_ms - now_ms.rem_euclid(hour.as_millis() as i64);
    let end = this_hour + hour.as_millis() as i64;
    let span_ms = span.as_millis() as i64;
    let mut out = vec![Bar::default(); n];
    for h in hours {
        let age = end - 1 - h.hour.as_millisecond();
        if age < 0 {
            continue;
        }
        let back = (age / span_ms) as usize;
        if back < n {
            let b = &mut out[n - 1 - back];
            b.succeeded += h.succeeded;
            b.failed += h.failed;
        }
    }
    out
}

/// Stacked bars (succeeded below, failed above), each with its counts as a
/// tooltip; `labels` name each bar.
fn chart(bars: &[Bar], labels: &[String], what: &str) -> Chart {
    const W: u64 = 12;
    const H: u64 = 60;
    let max = bars
        .iter()
        .map(|b| b.succeeded + b.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{what}" preserveAspectRatio="none">"#,
        W * bars.len() as u64,
        H + 1
    );
    for (i, (b, label)) in bars.iter().zip(labels).enumerate() {
        let x = i as u64 * W;
        let ok_h = b.succeeded * H / max;
        let bad_h = b.failed * H / max;
        let total = b.succeeded + b.failed;
        svg += &format!(
            r#"<g><title>{label}: {} succeeded, {} failed</title><rect class="bg" x="{x}" y="0" width="{}" height="{H}"/>"#,
            b.succeeded,
            b.failed,
            W - 2
        );
        if total > 0 {
            svg += &format!(
                r#"<rect class="ok" x="{x}" y="{}" width="{}" height="{ok_h}"/><rect class="bad" x="{x}" y="{}" width="{}" height="{bad_h}"/>"#,
                H - ok_h,
                W - 2,
                H - ok_h - bad_h,
                W - 2
            );
        }
        svg += "</g>";
    }
    svg += "</svg>";
    let (ok, failed) = bars
        .iter()
        .fold((0, 0), |(o, f), b| (o + b.succeeded, f + b.failed));
    let summary = if ok + failed == 0 {
        format!("{what}: no attempts")
    } else {
        format!(
            "{what}: {} of {} attempts succeeded ({:.0} %)",
            ok,
            ok + failed,
            100.0 * ok as f64 / (ok + failed) as f64
        )
    };
    Chart { svg, summary }
}

async fn page(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let hook = find(&s, &nav.account, &id).await?;
    let now = s.clock.now();
    let week_ago = now
        .checked_sub(SignedDuration::from_hours(24 * 7))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let hours = s.store.webhook_hours(&nav.account, &id, week_ago).await?;
    let hour = SignedDuration::from_hours(1);
    let day_bars = bars(&hours, now, hour, 24);
    let week_bars = bars(&hours, now, SignedDuration::from_hours(24), 7);
    let day_labels: Vec<String> = (0..24)
        .rev()
        .map(|back| {
            let start = now - SignedDuration::from_hours(back);
            format!("{}:00", &nav.when(start)[..13])
        })
        .collect();
    let week_labels: Vec<String> = (0..7)
        .rev()
        .map(|back| match back {
            0 => "the last 24 hours".to_string(),
            1 => "24–48 hours ago".to_string(),
            n => format!("{n}–{} days ago", n + 1),
        })
        .collect();
    let recent = s
        .store
        .list_deliveries(
            &nav.account,
            DeliveryFilter {
                webhook: Some(id.clone()),
                limit: 20,
                ..Default::default()
            },
        )
        .await?
        .into_iter()
        .map(|d| Recent {
            when: nav.when(d.created_at),
            event: d.event_type.clone(),
            status: d.status.to_string(),
            attempts: d.attempts,
            last: match (d.last_status_code, &d.last_error) {
                (Some(c), _) => format!("HTTP {c}"),
                (None, Some(e)) => e.chars().take(60).collect(),
                _ => "—".into(),
            },
            id: d.id,
        })
        .collect();
    Ok(render(&Page {
        id: hook.id.clone(),
        name: hook.config.name.clone(),
        url: hook.config.url.clone(),
        events: hook.config.events.join(", "),
        format: shophook_core::format::get(&hook.config.format)
            .map_or(hook.config.format.clone(), |f| f.label.to_string()),
        status: hook.status.as_str().into(),
        warnings: hook.config.warnings(),
        day: chart(&day_bars, &day_labels, "Last 24 hours, by hour"),
        week: chart(&week_bars, &week_labels, "Last 7 days, by day"),
        recent,
        nav,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn h(at: &str, succeeded: u64, failed: u64) -> HourStats {
        HourStats {
            hour: t(at),
            succeeded,
            failed,
        }
    }

    #[test]
    fn hours_fall_into_their_bars() {
        let now = t("2026-03-08T10:30:00Z");
        let hours = [
            h("2026-03-08T10:00:00Z", 5, 1), // this hour: the last bar
            h("2026-03-08T09:00:00Z", 2, 0),
            h("2026-03-07T11:00:00Z", 1, 1), // 23 hours back: the first hourly bar
            h("2026-03-07T10:00:00Z", 9, 9), // 24 hours back: out of the day
            h("2026-03-01T11:00:00Z", 4, 0), // the oldest day
            h("2026-03-01T10:00:00Z", 7, 7), // before the week
        ];
        let day = bars(&hours, now, SignedDuration::from_hours(1), 24);
        assert_eq!(
            day[23],
            Bar {
                succeeded: 5,
                failed: 1
            }
        );
        assert_eq!(
            day[22],
            Bar {
                succeeded: 2,
                failed: 0
            }
        );
        assert_eq!(
            day[0],
            Bar {
                succeeded: 1,
                failed: 1
            }
        );
        assert_eq!(day.iter().map(|b| b.succeeded + b.failed).sum::<u64>(), 10);
        let week = bars(&hours, now, SignedDuration::from_hours(24), 7);
        assert_eq!(
            week[6],
            Bar {
                succeeded: 8,
                failed: 2
            }
        );
        assert_eq!(
            week[5],
            Bar {
                succeeded: 9,
                failed: 9
            }
        );
        assert_eq!(
            week[0],
            Bar {
                succeeded: 4,
                failed: 0
            }
        );
        let c = chart(&week, &vec!["x".to_string(); 7], "Last 7 days");
        assert_eq!(c.summary, "Last 7 days: 21 of 32 attempts succeeded (66 %)");
        assert_eq!(c.svg.matches("<g>").count(), 7);
        assert!(c.svg.contains("<title>x: 8 succeeded, 2 failed</title>"));
    }
}
