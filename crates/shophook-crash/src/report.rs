//! The printed report of a run.

use std::fmt::Write;

use crate::args::{Args, Backend};
use crate::run::Outcome;

/// The first line: what is being run.
pub fn title(args: &Args) -> String {
    let backend = match args.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let nodes = if args.nodes == 1 { "node" } else { "nodes" };
    format!(
        "shophook-crash: {backend}, {} {nodes}, {} kills, {} clients",
        args.nodes, args.kills, args.clients
    )
}

/// The whole report.
pub fn render(title: &str, o: &Outcome) -> String {
    let t = &o.tally;
    let mut s = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(s, "  {label:<18}{value}");
    };
    line(
        "accepted",
        format!(
            "{} events ({} from POST /events, {} from order PUTs — {} of these read from the history after an unanswered PUT)",
            t.accepted,
            t.by_event,
            t.by_snapshot + t.by_history,
            t.by_history
        ),
    );
    line(
        "client requests",
        format!(
            "{} ({} unanswered and sent again, {} answered 503, {} other 5xx, {} refused with 4xx)",
            o.requests, o.unanswered, o.unavailable, o.server_errors, o.rejected.0
        ),
    );
    line(
        "receiver got",
        format!(
            "{} requests ({} answered 500 on purpose, {} unreadable) for {} of {} deliveries owed (events × webhooks)",
            t.requests, t.refused, o.unreadable, t.delivered, t.owed
        ),
    );
    line("lost", count_with_examples(t.lost.len(), &t.lost));
    line("phantom", count_with_examples(t.phantom.len(), &t.phantom));
    line(
        "duplicates",
        format!(
            "{} ({:.3} % of deliveries)",
            t.duplicates,
            100.0 * t.duplicate_rate()
        ),
    );
    line(
        "mismatched",
        count_with_examples(t.mismatched.len(), &t.mismatched),
    );
    line("bad signatures", t.bad_signatures.to_string());
    if o.eventless_snapshots > 0 {
        line(
            "eventless PUTs",
            format!(
                "{} (a new paid order derived no event)",
                o.eventless_snapshots
            ),
        );
    }
    if o.rejected.0 > 0 {
        line("rejections", o.rejected.1.join("; "));
    }
    line(
        "server queue",
        match o.queue {
            Some(q) => format!(
                "{}{} deliveries unfinished, {} dead at the end",
                if q.more { "at least " } else { "" },
                q.unfinished,
                q.dead
            ),
            None => "could not be read at the end".into(),
        },
    );
    line(
        "restart",
        format!(
            "{} ms on average from SIGKILL to serving again",
            o.mean_restart.as_millis()
        ),
    );
    let rate = t.accepted as f64 / o.load_time.as_secs_f64().max(0.001);
    line(
        "time",
        format!(
            "{:.1} s under load ({rate:.0} accepted events/s), then {:.1} s {}",
            o.load_time.as_secs_f64(),
            o.drain_time.as_secs_f64(),
            if o.undelivered == 0 {
                "until all were delivered"
            } else {
                "of waiting in vain"
            }
        ),
    );
    line("seed", format!("{} (--seed to repeat the choices)", o.seed));
    if let Some(dir) = &o.kept {
        line(
            "kept",
            format!("{} (database and server logs)", dir.display()),
        );
    }
    let verdict = if o.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(
        s,
        "{verdict}: {} lost, {} phantom, {} duplicates over {} kills",
        t.lost.len(),
        t.phantom.len(),
        t.duplicates,
        o.kills
    );
    format!("{title}\n{s}")
}

fn count_with_examples(n: usize, items: &[String]) -> String {
    if n == 0 {
        return "0".into();
    }
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    let more = if n > shown.len() { ", …" } else { "" };
    format!("{n} ({}{more})", shown.join(", "))
}
