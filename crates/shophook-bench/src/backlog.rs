//! The backlog scenario: a backlog builds while the receiver is down (or the
//! webhook paused); then it comes back, and the harness measures the drain,
//! the server's RSS and the API's latency meanwhile.

use anyhow::Context;
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::BacklogMode;
use crate::deploy::{Db, Deployment};
use crate::drive::{self, Probe, SendPlan};
use crate::receiver::Receiver;
use crate::report::{Backlog, Report};
use crate::scenarios::{Ctx, Measured, end_ns, report, resources, setup_of};
use crate::usage::{self, RssSampler};

/// 50 retries of 5 s: every failed attempt is due again 5 s later, and none
/// goes dead while a large backlog builds.
fn down_schedule() -> String {
    vec!["5s"; 50].join(",")
}

/// Builds a backlog while the receiver is down (or the webhook paused), brings
/// it back, and measures the drain, RSS, and API latency meanwhile.
pub async fn backlog(ctx: &Ctx<'_>, webhooks: u32, plan: SendPlan) -> anyhow::Result<Report> {
    let mode = ctx.opts.backlog_mode;
    let extra = match mode {
        BacklogMode::Down => vec![
            "--retry-schedule".to_string(),
            ctx.opts
                .retry_schedule
                .clone()
                .unwrap_or_else(down_schedule),
        ],
        BacklogMode::Paused => Vec::new(),
    };
    let dep = ctx.deploy(Db::Sqlite, &extra).await?;
    let result = backlog_on(ctx, &dep, webhooks, plan, mode).await;
    let mut setup = setup_of(ctx, &dep, webhooks, plan);
    setup.server_flags.splice(0..0, extra);
    let logs = dep.logs();
    dep.stop().await?;
    let (m, b) = result.with_context(|| format!("server log tail:\n{logs}"))?;
    let mut r = report(ctx, "backlog", setup, m);
    r.backlog = Some(b);
    Ok(r)
}

async fn backlog_on(
    ctx: &Ctx<'_>,
    dep: &Deployment,
    webhooks: u32,
    plan: SendPlan,
    mode: BacklogMode,
) -> anyhow::Result<(Measured, Backlog)> {
    let clock = ctx.clock;
    let rx = Receiver::start(clock).await?;
    let account = ctx.account();
    let ids = drive::setup(&dep.api, &account, webhooks, |n| rx.url(n)).await?;
    let quiet = format!("{account}-probe");
    let mut admin = dep.api.conn(0).await?;
    admin
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": quiet, "name": quiet})),
        )
        .await?;
    let hook_path = |id: &str, what: &str| format!("/v1/accounts/{account}/webhooks/{id}/{what}");
    match mode {
        BacklogMode::Down => rx.set_up(false),
        BacklogMode::Paused => {
            for id in &ids {
                admin
                    .expect(StatusCode::OK, Method::POST, &hook_path(id, "pause"), None)
                    .await?;
            }
        }
    }
    let sampler = RssSampler::start(dep.pids.clone());
    let mark = usage::cpu_mark(&dep.pids);
    let t0 = clock.now_ns();
    let sent = drive::send(&dep.api, &account, plan, clock).await?;
    let build_end = clock.now_ns();
    let build_peak = sampler.take_peak();
    let probe = Probe::start(&dep.api, &account, &quiet, clock).await?;
    let up = clock.now_ns();
    let resume_ms = match mode {
        BacklogMode::Down => {
            rx.set_up(true);
            None
        }
        BacklogMode::Paused => {
            for id in &ids {
                admin
                    .expect(
                        StatusCode::OK,
                        Method::POST,
                        &hook_path(id, "resume"),
                        Some(json!({})),
                    )
                    .await?;
            }
            Some((clock.now_ns() - up) as f64 / 1e6)
        }
    };
    let reached = rx
        .wait_for(sent.deliveries, ctx.stall(), ctx.deadline())
        .await;
    let probe = probe.finish().await?;
    let drain_peak = sampler.take_peak();
    let cpu = usage::cpu_since(&mark);
    let arrivals = rx.arrivals();
    let last = arrivals.iter().map(|a| a.at_ns).max().unwrap_or(up);
    let end = end_ns(reached, last, clock);
    let delivered = drive::delivered(&arrivals, &sent, up);
    let backlog = Backlog {
        mode: match mode {
            BacklogMode::Down => "down",
            BacklogMode::Paused => "paused",
        }
        .into(),
        pending: sent.deliveries,
        build_peak_rss_mib: build_peak as f64 / 1024.0,
        drain_peak_rss_mib: drain_peak as f64 / 1024.0,
        build_s: (build_end - t0) as f64 / 1e9,
        drain_s: (end.saturating_sub(up)) as f64 / 1e9,
        drain_rate_per_s: delivered.end_to_end_rate_per_s,
        resume_ms,
        refused: rx.refused(),
        probe,
    };
    let resources = resources(
        cpu,
        build_peak.max(drain_peak),
        &dep.pids,
        end - t0,
        delivered.received,
    );
    Ok((
        Measured {
            ingest: drive::ingest(&sent),
            delivered,
            resources,
        },
        backlog,
    ))
}
