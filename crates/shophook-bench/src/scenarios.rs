//! The scenarios of issue 10, each ending in a [`Report`] with its targets.

use std::cell::Cell;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::deploy::{Db, Deployment};
use crate::drive::{self, Delivered, Ingest, SendPlan};
use crate::loopback::{self, Loopback};
use crate::receiver::Receiver;
use crate::report::{Check, Machine, Nodes, Report, Resources, Setup};
use crate::server;
use crate::stats::Clock;
use crate::usage::{self, CpuUse, RssSampler};
use crate::{Opts, Scenario};

/// What every scenario shares.
pub(crate) struct Ctx<'a> {
    pub(crate) opts: &'a Opts,
    pub(crate) clock: Clock,
    machine: Machine,
    loopback: Loopback,
    runs: Cell<u32>,
}

impl Ctx<'_> {
    /// A fresh account id (unique across runs against one --target).
    pub(crate) fn account(&self) -> String {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("bench-{secs}-{}-{n}", std::process::id())
    }

    pub(crate) fn stall(&self) -> Duration {
        Duration::from_secs_f64(self.opts.stall_seconds)
    }

    /// When to stop waiting (`--max-wait` from now), if bounded.
    pub(crate) fn deadline(&self) -> Option<tokio::time::Instant> {
        self.opts
            .max_wait
            .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s))
    }

    pub(crate) async fn deploy(&self, db: Db, extra: &[String]) -> anyhow::Result<Deployment> {
        let o = self.opts;
        if let Some(url) = &o.target {
            if db == Db::Postgres(2) {
                bail!("postgres-2-nodes starts its own nodes; it cannot use --target");
            }
            return Deployment::external(url, o.key.as_deref().unwrap_or_default(), o.pid);
        }
        let binary = server::find_binary(o.shophook.as_deref())?;
        let mut flags = extra.to_vec();
        flags.extend(o.server_args.iter().cloned());
        Deployment::start(
            binary,
            db,
            &o.postgres,
            self.runs.get(),
            &flags,
            &o.server_log,
        )
        .await
    }
}

/// The loopback limit alone.
pub async fn loopback_only(opts: &Opts) -> anyhow::Result<Loopback> {
    loopback::measure(opts.loopback_connections, opts.loopback_seconds).await
}

/// Runs `opts.scenario`.
pub async fn run(opts: &Opts) -> anyhow::Result<Report> {
    let ctx = Ctx {
        opts,
        clock: Clock::start(),
        machine: Machine::this(),
        loopback: loopback_only(opts)
            .await
            .context("measuring the loopback limit")?,
        runs: Cell::new(0),
    };
    let plan = |default_events| SendPlan {
        events: opts.events.unwrap_or(default_events),
        senders: opts.senders,
        rate: None,
    };
    let hooks = |default| opts.webhooks.unwrap_or(default);
    let mut report = match opts.scenario {
        Scenario::Single => delivery(&ctx, "single", Db::Sqlite, hooks(1), plan(20_000)).await?,
        Scenario::FanOut => delivery(&ctx, "fan-out", Db::Sqlite, hooks(10), plan(5_000)).await?,
        Scenario::Paced => {
            let paced = SendPlan {
                rate: Some(opts.rate),
                ..plan((opts.rate * opts.duration).round() as u64)
            };
            delivery(&ctx, "paced", Db::Sqlite, hooks(1), paced).await?
        }
        Scenario::Postgres => {
            delivery(&ctx, "postgres", Db::Postgres(1), hooks(1), plan(20_000)).await?
        }
        Scenario::Postgres2Nodes => two_nodes(&ctx, hooks(1), plan(20_000)).await?,
        Scenario::Backlog => crate::backlog::backlog(&ctx, hooks(1), plan(1_000_000)).await?,
        Scenario::Loopback => bail!("the loopback scenario has no server report"),
    };
    // Measured again after the scenario: the machine is shared, and the mean of
    // both is a fairer yardstick than either alone.
    let after = loopback_only(opts)
        .await
        .context("measuring the loopback limit")?;
    report.loopback = ctx.loopback.and(&after);
    let limit = report.loopback.clone();
    if let Some(n) = &mut report.nodes {
        let mut one = (*n.one_node).clone();
        one.loopback = limit;
        *n.one_node = one.with_percentages();
    }
    report.checks = checks(&ctx, &report);
    Ok(report.with_percentages())
}

/// Figures of one measured stretch.
pub(crate) struct Measured {
    pub(crate) ingest: Ingest,
    pub(crate) delivered: Delivered,
    pub(crate) resources: Resources,
}

pub(crate) fn resources(
    cpu: CpuUse,
    peak_kib: u64,
    pids: &[u32],
    wall_ns: u64,
    received: u64,
) -> Resources {
    let mib = |kib: u64| kib as f64 / 1024.0;
    Resources {
        wall_s: wall_ns as f64 / 1e9,
        server_peak_rss_mib: mib(peak_kib),
        server_hwm_mib: mib(usage::hwm_kib(pids)),
        server_cpu_per_delivery_us: if received > 0 {
            cpu.server_cpu_s * 1e6 / received as f64
        } else {
            0.0
        },
        server_cpu_s: cpu.server_cpu_s,
        bench_cpu_s: cpu.bench_cpu_s,
        postgres_cpu_s: cpu.postgres_cpu_s,
        machine_cpu_s: cpu.machine_cpu_s,
        server_threads: cpu.server_threads,
    }
}

/// Where waiting ended: the last arrival, or now if the harness gave up.
pub(crate) fn end_ns(reached: bool, last_arrival: u64, clock: Clock) -> u64 {
    if reached {
        last_arrival
    } else {
        clock.now_ns()
    }
}

/// Posts events to `webhooks` webhooks and waits for every delivery.
async fn measure(
    ctx: &Ctx<'_>,
    dep: &Deployment,
    webhooks: u32,
    plan: SendPlan,
) -> anyhow::Result<Measured> {
    let rx = Receiver::start(ctx.clock).await?;
    let account = ctx.account();
    drive::setup(&dep.api, &account, webhooks, |n| rx.url(n)).await?;
    let sampler = RssSampler::start(dep.pids.clone());
    let mark = usage::cpu_mark(&dep.pids);
    let t0 = ctx.clock.now_ns();
    let sent = drive::send(&dep.api, &account, plan, ctx.clock).await?;
    let reached = rx
        .wait_for(sent.deliveries, ctx.stall(), ctx.deadline())
        .await;
    let cpu = usage::cpu_since(&mark);
    let arrivals = rx.arrivals();
    let last = arrivals.iter().map(|a| a.at_ns).max().unwrap_or(t0);
    let end = end_ns(reached, last, ctx.clock);
    let first_send = sent.sent_ns.iter().copied().filter(|t| *t > 0).min();
    let delivered = drive::delivered(&arrivals, &sent, first_send.unwrap_or(t0));
    let resources = resources(
        cpu,
        sampler.take_peak(),
        &dep.pids,
        end - t0,
        delivered.received,
    );
    if rx.malformed() > 0 {
        eprintln!("warning: {} requests without a bench mark", rx.malformed());
    }
    Ok(Measured {
        ingest: drive::ingest(&sent),
        delivered,
        resources,
    })
}

pub(crate) fn setup_of(ctx: &Ctx<'_>, dep: &Deployment, webhooks: u32, plan: SendPlan) -> Setup {
    Setup {
        database: dep.database.clone(),
        nodes: dep.api.nodes.len(),
        events: plan.events,
        senders: plan.senders,
        webhooks,
        rate: plan.rate,
        server_binary: dep.binary.as_ref().map(|b| b.display().to_string()),
        server_flags: ctx.opts.server_args.clone(),
    }
}

pub(crate) fn report(ctx: &Ctx<'_>, name: &str, setup: Setup, m: Measured) -> Report {
    Report {
        scenario: name.into(),
        machine: ctx.machine.clone(),
        setup,
        loopback: ctx.loopback.clone(),
        ingest: m.ingest,
        delivery: m.delivered,
        resources: m.resources,
        backlog: None,
        nodes: None,
        percent_of_loopback: Vec::new(),
        checks: Vec::new(),
    }
}

/// Starts servers on `db`, sends, waits, stops them.
async fn delivery(
    ctx: &Ctx<'_>,
    name: &str,
    db: Db,
    webhooks: u32,
    plan: SendPlan,
) -> anyhow::Result<Report> {
    let dep = ctx.deploy(db, &[]).await?;
    let measured = measure(ctx, &dep, webhooks, plan).await;
    let setup = setup_of(ctx, &dep, webhooks, plan);
    let logs = dep.logs();
    dep.stop().await?;
    let m = measured.with_context(|| format!("server log tail:\n{logs}"))?;
    Ok(report(ctx, name, setup, m))
}

/// One node, then two nodes on a fresh database each; the two-node report
/// carries the one-node one and the ratio.
async fn two_nodes(ctx: &Ctx<'_>, webhooks: u32, plan: SendPlan) -> anyhow::Result<Report> {
    let one = delivery(ctx, "postgres (1 node)", Db::Postgres(1), webhooks, plan).await?;
    let mut two = delivery(ctx, "postgres-2-nodes", Db::Postgres(2), webhooks, plan).await?;
    let (r1, r2) = (
        one.delivery.end_to_end_rate_per_s,
        two.delivery.end_to_end_rate_per_s,
    );
    two.nodes = Some(Nodes {
        one_node_rate_per_s: r1,
        two_nodes_rate_per_s: r2,
        ratio: if r1 > 0.0 { r2 / r1 } else { 0.0 },
        one_node: Box::new(one),
    });
    Ok(two)
}

fn check(what: &str, measured: f64, target: &str, pass: bool) -> Check {
    Check {
        what: what.into(),
        measured,
        target: target.into(),
        pass,
    }
}

/// The targets of issue 10 that apply to the report's scenario.
fn checks(ctx: &Ctx<'_>, r: &Report) -> Vec<Check> {
    let d = &r.delivery;
    let e2e = r.pct(d.end_to_end_rate_per_s);
    let mut out = vec![check(
        "deliveries lost",
        d.lost as f64,
        "0",
        d.lost == 0 && d.received > 0,
    )];
    match ctx.opts.scenario {
        Scenario::Single => out.push(check(
            "end-to-end delivery rate, % of loopback",
            e2e,
            ">= 10",
            e2e >= 10.0,
        )),
        Scenario::FanOut => out.push(check(
            "end-to-end deliveries/s, % of loopback",
            e2e,
            ">= 25",
            e2e >= 25.0,
        )),
        Scenario::Paced => {
            let l = d.accepted_to_receive;
            let p99 = l.map_or(f64::INFINITY, |l| l.p99_ms);
            let p50 = l.map_or(f64::INFINITY, |l| l.p50_ms);
            out.push(check("202 → receiver p99, ms", p99, "<= 3", p99 <= 3.0));
            out.push(check("202 → receiver p50, ms", p50, "<= 1", p50 <= 1.0));
        }
        Scenario::Backlog => {
            if let Some(b) = &r.backlog {
                let rss = r.resources.server_hwm_mib;
                out.push(check(
                    "server peak RSS (VmHWM), MiB",
                    rss,
                    "< 100",
                    rss < 100.0,
                ));
                let p99 = [b.probe.list_webhooks, b.probe.post_event]
                    .iter()
                    .map(|l| l.map_or(f64::INFINITY, |l| l.p99_ms))
                    .fold(0.0, f64::max);
                out.push(check(
                    "API p99 while draining (worst probe), ms",
                    p99,
                    "< 10",
                    p99 < 10.0,
                ));
                let drain = r.pct(b.drain_rate_per_s);
                out.push(check(
                    "drain rate, % of loopback (single-webhook target)",
                    drain,
                    ">= 10",
                    drain >= 10.0,
                ));
            }
        }
        Scenario::Postgres => out.push(check(
            "end-to-end delivery rate, % of loopback",
            e2e,
            ">= 5",
            e2e >= 5.0,
        )),
        Scenario::Postgres2Nodes => {
            if let Some(n) = &r.nodes {
                out.push(check(
                    "two nodes ÷ one node, end-to-end rate",
                    n.ratio,
                    "> 1",
                    n.ratio > 1.0,
                ));
            }
        }
        Scenario::Loopback => {}
    }
    out
}
