//! `shophook replay`: re-sends a webhook's deliveries from a time range through a
//! running server (`POST …/webhooks/{id}/replay`) and follows them until each has
//! been attempted again, with a progress bar and a summary.
//!
//! The replay endpoint answers only a count, so the command first lists the
//! deliveries it is about to replay (same filters, via `GET …/deliveries`), noting
//! each one's attempt count and last change; after the replay a delivery counts as
//! done once it has left `pending`/`scheduled` and changed since (a new attempt, or a
//! skip). Deliveries that the server did not re-queue because they were being sent at
//! that moment finish by themselves and are followed all the same.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::server::Api;

/// How often the deliveries are looked at while following them.
const POLL: Duration = Duration::from_millis(250);
/// Page size of the listing (the API's maximum).
const PAGE: u32 = 1000;
/// Failing deliveries listed by name in the summary.
const LIST_AT_MOST: usize = 10;

/// `shophook replay`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Example: re-send yesterday's dead deliveries after fixing the receiver
  shophook replay --account acme --webhook wh_01… --since 1d --status dead

Exit status: 0 every replayed delivery succeeded, 1 error, 2 some still fail,
are dead, or were not finished within --wait.")]
pub struct ReplayArgs {
    /// The shophook server.
    #[arg(
        long,
        env = "SHOPHOOK_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: url::Url,
    /// An API key: the operator key, or the account's own key.
    #[arg(long, env = "SHOPHOOK_KEY", hide_env_values = true)]
    pub key: String,
    /// The account.
    #[arg(long)]
    pub account: String,
    /// The webhook whose deliveries are sent again.
    #[arg(long)]
    pub webhook: String,
    /// Deliveries created at or after this time: RFC 3339 (2026-01-01T00:00:00Z) or an age (30m, 2h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub since: Timestamp,
    /// …and before this time (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// Only deliveries with this status: dead, failed, succeeded, skipped, pending or scheduled.
    #[arg(long)]
    pub status: Option<String>,
    /// How long to follow the replayed deliveries (0: queue them and exit).
    #[arg(long, default_value = "5m", value_parser = shophook_core::retry::parse_duration)]
    pub wait: Duration,
}

/// An RFC 3339 time, or an age meaning "that long ago".
fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let age = shophook_core::retry::parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2026-01-01T00:00:00Z) nor an age (30m, 2h, 7d)"
        )
    })?;
    let age = jiff::SignedDuration::try_from(age).map_err(|e| format!("`{text}`: {e}"))?;
    Timestamp::now()
        .checked_sub(age)
        .map_err(|e| format!("`{text}`: {e}"))
}

/// The webhook's deliveries created in `[since, until)`, newest first.
async fn deliveries(
    api: &Api,
    args: &ReplayArgs,
    status: Option<&str>,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = PAGE.to_string();
    loop {
        let mut query = vec![("webhook", args.webhook.as_str()), ("limit", &limit)];
        if let Some(s) = status {
            query.push(("status", s));
        }
        if let Some(c) = &cursor {
            query.push(("before", c));
        }
        let url = api.url(&["v1", "accounts", &args.account, "deliveries"], &query)?;
        let page = api.call(reqwest::Method::GET, url, None).await?;
        for d in page["data"].as_array().into_iter().flatten() {
            let created: Timestamp = d["created_at"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| anyhow!("the server listed a delivery without `created_at`: {d}"))?;
            if created < args.since {
                return Ok(out);
            }
            if args.until.is_none_or(|u| created < u) {
                out.push(d.clone());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

/// A delivery as it was before the replay.
struct Before {
    attempts: u64,
    updated_at: String,
}

/// Where a followed delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Succeeded,
    Failing,
    Dead,
    Skipped,
    /// No longer listed (purged by retention, or its webhook was deleted).
    Gone,
    /// Not attempted since the replay yet; `held`: waiting for a paused webhook.
    Waiting {
        held: bool,
    },
}

fn outcome(now: Option<&Value>, before: &Before) -> Outcome {
    let Some(d) = now else {
        return Outcome::Gone;
    };
    let status = d["status"].as_str().unwrap_or("");
    let changed = d["attempt_count"].as_u64().unwrap_or(0) > before.attempts
        || d["updated_at"].as_str().unwrap_or("") != before.updated_at;
    match status {
        "succeeded" if changed => Outcome::Succeeded,
        "failed" if changed => Outcome::Failing,
        "dead" if changed => Outcome::Dead,
        "skipped" if changed => Outcome::Skipped,
        _ => Outcome::Waiting {
            held: d["held"].as_bool().unwrap_or(false),
        },
    }
}

/// Counts of outcomes, and the deliveries that did not succeed.
#[derive(Default)]
struct Tally {
    counts: HashMap<Outcome, usize>,
    problems: Vec<String>,
}

impl Tally {
    fn of(&self, o: Outcome) -> usize {
        self.counts.get(&o).copied().unwrap_or(0)
    }
    fn waiting(&self) -> usize {
        self.of(Outcome::Waiting { held: false }) + self.of(Outcome::Waiting { held: true })
    }
    fn line(&self) -> String {
        format!(
            "{} succeeded · {} failing · {} dead",
            self.of(Outcome::Succeeded),
            self.of(Outcome::Failing),
            self.of(Outcome::Dead)
        )
    }
}

async fn follow(
    api: &Api,
    args: &ReplayArgs,
    before: &HashMap<String, Before>,
) -> anyhow::Result<Tally> {
    let bar = ProgressBar::new(before.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} replaying [{bar:30}] {pos}/{len} attempted · {msg} · {elapsed}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let deadline = Instant::now() + args.wait;
    let tally = loop {
        let listed = deliveries(api, args, None).await?;
        let by_id: HashMap<&str, &Value> = listed
            .iter()
            .filter_map(|d| Some((d["id"].as_str()?, d)))
            .collect();
        let mut tally = Tally::default();
        for (id, b) in before {
            let d = by_id.get(id.as_str()).copied();
            let o = outcome(d, b);
            *tally.counts.entry(o).or_default() += 1;
            if matches!(o, Outcome::Failing | Outcome::Dead)
                && let Some(d) = d
            {
                tally.problems.push(problem(id, d));
            }
        }
        let waiting = tally.waiting();
        bar.set_position((before.len() - waiting) as u64);
        bar.set_message(tally.line());
        let all_held = waiting > 0 && waiting == tally.of(Outcome::Waiting { held: true });
        if waiting == 0 || all_held || Instant::now() >= deadline {
            break tally;
        }
        tokio::time::sleep(POLL).await;
    };
    bar.finish_and_clear();
    Ok(tally)
}

/// "dlv_… dead: HTTP 500" — why a delivery did not succeed.
fn problem(id: &str, d: &Value) -> String {
    let status = d["status"].as_str().unwrap_or("?");
    let why = match (
        d["last_status_code"].as_u64(),
        d["last_error"].as_str(),
        d["reason"].as_str(),
    ) {
        (_, _, Some(r)) if status == "dead" => r.to_string(),
        (Some(code), _, _) => format!("HTTP {code}"),
        (None, Some(e), _) => e.to_string(),
        _ => "no answer recorded".to_string(),
    };
    format!("{id} {status}: {why}")
}

/// Runs `shophook replay`.
pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    if args.until.is_some_and(|u| u <= args.since) {
        bail!("--until must be later than --since");
    }
    let api = Api::new(args.server.clone(), args.key.clone())?;
    let hook_url = api.url(
        &["v1", "accounts", &args.account, "webhooks", &args.webhook],
        &[],
    )?;
    let hook = api.call(reqwest::Method::GET, hook_url, None).await?;
    let status = args.status.as_deref().filter(|s| !s.is_empty());
    let before: HashMap<String, Before> = deliveries(&api, &args, status)
        .await?
        .iter()
        .filter_map(|d| {
            Some((
                d["id"].as_str()?.to_string(),
                Before {
                    attempts: d["attempt_count"].as_u64().unwrap_or(0),
                    updated_at: d["updated_at"].as_str().unwrap_or("").to_string(),
                },
            ))
        })
        .collect();

    let mut body = json!({"since": args.since.to_string()});
    if let Some(u) = args.until {
        body["until"] = json!(u.to_string());
    }
    if let Some(s) = status {
        body["status"] = json!(s);
    }
    let replay_url = api.url(
        &[
            "v1",
            "accounts",
            &args.account,
            "webhooks",
            &args.webhook,
            "replay",
        ],
        &[],
    )?;
    let answer = api
        .call(reqwest::Method::POST, replay_url, Some(body))
        .await?;
    let queued = answer["replayed"].as_u64().unwrap_or(0);

    // Whole seconds read better; the request above carries the exact times.
    let shown = |t: Timestamp| t.round(jiff::Unit::Second).unwrap_or(t);
    let mut range = format!("created since {}", shown(args.since));
    if let Some(u) = args.until {
        range += &format!(" and before {}", shown(u));
    }
    if let Some(s) = status {
        range += &format!(", status {s}");
    }
    println!(
        "replay of webhook {} ({}), deliveries {range}",
        args.webhook,
        hook["name"].as_str().unwrap_or("unnamed")
    );
    if before.is_empty() && queued == 0 {
        println!("  nothing matched: no delivery was replayed");
        return Ok(ExitCode::SUCCESS);
    }
    if hook["status"].as_str().is_some_and(|s| s != "active") {
        println!(
            "  note: the webhook is {}; replayed deliveries wait until it is resumed",
            hook["status"].as_str().unwrap_or("")
        );
    }
    if args.wait.is_zero() {
        println!("  replayed        {queued:>6}   (not followed: --wait 0)");
        return Ok(ExitCode::SUCCESS);
    }
    let tally = follow(&api, &args, &before).await?;
    Ok(summary(queued, before.len(), &tally, args.wait))
}

fn summary(queued: u64, followed: usize, t: &Tally, wait: Duration) -> ExitCode {
    println!("  replayed        {queued:>6}");
    if followed as u64 != queued {
        println!(
            "  followed        {followed:>6}   (listed before the replay; the difference was being sent or arrived meanwhile)"
        );
    }
    println!("  succeeded       {:>6}", t.of(Outcome::Succeeded));
    println!(
        "  still failing   {:>6}   (retried on the webhook's schedule)",
        t.of(Outcome::Failing)
    );
    println!("  dead            {:>6}", t.of(Outcome::Dead));
    for (label, o) in [("skipped", Outcome::Skipped), ("gone", Outcome::Gone)] {
        if t.of(o) > 0 {
            println!("  {label:<15} {:>6}", t.of(o));
        }
    }
    let held = t.of(Outcome::Waiting { held: true });
    if held > 0 {
        println!("  held            {held:>6}   (the webhook is paused; resume it to send them)");
    }
    let waiting = t.of(Outcome::Waiting { held: false });
    if waiting > 0 {
        println!(
            "  not finished    {waiting:>6}   (still queued after {}; see GET …/deliveries)",
            humantime(wait)
        );
    }
    let mut problems = t.problems.clone();
    problems.sort();
    for p in problems.iter().take(LIST_AT_MOST) {
        println!("    {p}");
    }
    if problems.len() > LIST_AT_MOST {
        println!("    … and {} more", problems.len() - LIST_AT_MOST);
    }
    let ok = t.of(Outcome::Succeeded) + t.of(Outcome::Skipped) + t.of(Outcome::Gone);
    if ok == followed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        _ => format!("{} min", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-01-01T00:00:00Z").unwrap().to_string(),
            "2026-01-01T00:00:00Z"
        );
        let two_hours_ago = parse_time("2h").unwrap();
        let age = Timestamp::now().duration_since(two_hours_ago).as_secs();
        assert!((7200..7260).contains(&age), "{age}");
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn outcomes() {
        let before = Before {
            attempts: 4,
            updated_at: "2026-01-01T00:00:00Z".into(),
        };
        let d = |status: &str, attempts: u64, updated: &str, held: bool| json!({"status": status, "attempt_count": attempts, "updated_at": updated, "held": held});
        let same = "2026-01-01T00:00:00Z";
        let later = "2026-01-01T00:00:09Z";
        let table = [
            (d("dead", 4, same, false), Outcome::Waiting { held: false }),
            (
                d("pending", 4, later, false),
                Outcome::Waiting { held: false },
            ),
            (
                d("scheduled", 4, later, true),
                Outcome::Waiting { held: true },
            ),
            (d("succeeded", 5, later, false), Outcome::Succeeded),
            (d("failed", 5, later, false), Outcome::Failing),
            (d("dead", 5, later, false), Outcome::Dead),
            (d("skipped", 4, later, false), Outcome::Skipped),
        ];
        for (now, expect) in table {
            assert_eq!(outcome(Some(&now), &before), expect, "{now}");
        }
        assert_eq!(outcome(None, &before), Outcome::Gone);
    }

    #[test]
    fn problems() {
        assert_eq!(
            problem(
                "dlv_1",
                &json!({"status": "failed", "last_status_code": 500})
            ),
            "dlv_1 failed: HTTP 500"
        );
        assert_eq!(
            problem(
                "dlv_2",
                &json!({"status": "dead", "last_status_code": 410, "reason": "410 Gone"})
            ),
            "dlv_2 dead: 410 Gone"
        );
        assert_eq!(
            problem(
                "dlv_3",
                &json!({"status": "failed", "last_error": "connection refused"})
            ),
            "dlv_3 failed: connection refused"
        );
    }
}
