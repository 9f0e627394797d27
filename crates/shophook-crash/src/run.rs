//! One crash run: start the receiver and the server nodes, set up an account and
//! a webhook, run the load while killing and restarting nodes, stop the load,
//! wait until everything accepted was delivered, and tally.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shophook_core::signing::Secret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::args::{Args, Backend};
use crate::backend::Database;
use crate::drain::{Queue, wait_delivered, wait_queue_empty};
use crate::ledger::{Ledger, Tally};
use crate::load::{ACCOUNT, Cluster, Load};
use crate::node::{ADMIN_KEY, Node, NodeSpec};
use crate::receiver::{Behaviour, Receiver};

/// The webhooks' signing secret (the receiver checks every signature with it).
const SECRET: &str = "crash-harness-signing-secret";

/// The run's webhooks, each subscribed to every event: a plain one, and an
/// `ordered` one (a snapshot's second event waits until its first is delivered,
/// so a release lost in a crash would leave it stuck, and show as lost).
const TARGETS: [(&str, bool); 2] = [("plain", false), ("ordered", true)];

/// How long the clients may take to finish their last requests after the load stops.
const CLIENTS_STOP: Duration = Duration::from_secs(60);

/// What a run saw.
pub struct Outcome {
    /// The run's seed.
    pub seed: u64,
    /// The verdict on deliveries.
    pub tally: Tally,
    /// Kills made.
    pub kills: u32,
    /// Client requests sent.
    pub requests: u64,
    /// Client requests that got no answer.
    pub unanswered: u64,
    /// 503 answers.
    pub unavailable: u64,
    /// Other 5xx answers.
    pub server_errors: u64,
    /// 4xx answers, with the first few.
    pub rejected: (u64, Vec<String>),
    /// Snapshot PUTs that derived no events.
    pub eventless_snapshots: u64,
    /// Requests the receiver could not read.
    pub unreadable: u64,
    /// Accepted events still not delivered when the wait ended.
    pub undelivered: usize,
    /// The server's queue at the end (`None`: it could not be read).
    pub queue: Option<Queue>,
    /// Mean time from SIGKILL to serving again.
    pub mean_restart: Duration,
    /// Time under load.
    pub load_time: Duration,
    /// Time from the end of the load until everything was delivered.
    pub drain_time: Duration,
    /// Where the database and logs are, if kept.
    pub kept: Option<PathBuf>,
}

impl Outcome {
    /// The run passed: nothing lost, no phantom, nothing contradictory, and the
    /// harness itself ran cleanly (no refused request, nothing unreadable).
    pub fn passed(&self) -> bool {
        self.tally.passed()
            && self.rejected.0 == 0
            && self.unreadable == 0
            && self.eventless_snapshots == 0
            && self.queue.is_some_and(|q| q.unfinished == 0)
    }
}

/// Runs the harness as `args` say.
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let binary = shophook_binary(&args)?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::Builder::new()
        .prefix("shophook-crash-")
        .tempdir()
        .context("creating a working directory")?;
    let database = match args.backend {
        Backend::Sqlite => Database::sqlite(dir.path()),
        Backend::Postgres => Database::postgres(&args.postgres).await?,
    };
    let result = run_on(&args, &binary, &database, dir.path(), seed, &mut rng).await;
    let removed = database.remove().await;
    let mut outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let kept = dir.keep();
            return Err(e.context(format!(
                "crash run failed (seed {seed}); server logs kept in {}",
                kept.display()
            )));
        }
    };
    removed.context("removing the run's database")?;
    if args.keep || !outcome.passed() {
        outcome.kept = Some(dir.keep());
    }
    Ok(outcome)
}

fn shophook_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let path = match &args.shophook {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the harness's own directory")?
            .join("shophook"),
    };
    if !path.is_file() {
        bail!(
            "no shophook binary at {}: build it next to this one (`cargo build -p shophook -p shophook-crash`, add --release for both) or pass --shophook PATH",
            path.display()
        );
    }
    Ok(path)
}

async fn run_on(
    args: &Args,
    binary: &std::path::Path,
    database: &Database,
    dir: &std::path::Path,
    seed: u64,
    rng: &mut StdRng,
) -> anyhow::Result<Outcome> {
    let ledger = Arc::new(Mutex::new(Ledger::new(&TARGETS.map(|(t, _)| t))));
    let secret = Secret::parse(SECRET).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (rx_addr, receiver) = Receiver::start(
        ledger.clone(),
        secret,
        Behaviour {
            fail_rate: args.fail_rate,
            max_delay: args.receiver_delay,
            seed: seed ^ 0x5eed,
        },
    )
    .await?;

    let flags = vec![
        "--allow-private-targets".to_string(),
        "--lease".into(),
        format!("{}ms", args.lease.as_millis()),
        "--retry-schedule".into(),
        args.retry_schedule.clone(),
        // Shorter than the lease: a slow answer must not look like a dead node.
        "--request-timeout".into(),
        "1s".into(),
        "--connect-timeout".into(),
        "1s".into(),
        // Fewer PostgreSQL connections per node (other suites share the server).
        "--concurrency".into(),
        "64".into(),
    ];
    let mut nodes: Vec<Node> = free_ports(args.nodes)?
        .into_iter()
        .enumerate()
        .map(|(i, port)| {
            Node::new(NodeSpec {
                binary: binary.to_path_buf(),
                database: database.url().to_string(),
                port,
                flags: flags.clone(),
                log: dir.join(format!("node-{i}.log")),
            })
        })
        .collect();
    let cluster = Arc::new(Cluster::new(nodes.iter().map(Node::base_url).collect()));
    for (i, node) in nodes.iter_mut().enumerate() {
        node.start().await?;
        cluster.set(i, true);
    }
    setup(&nodes[0].base_url(), &format!("http://{rx_addr}/hook")).await?;

    let run_id = ulid::Ulid::new().to_string().to_lowercase();
    let load = Arc::new(Load::new(
        cluster.clone(),
        ledger.clone(),
        args.snapshot_share,
        run_id,
    )?);
    let stop = CancellationToken::new();
    let mut clients = JoinSet::new();
    for i in 0..args.clients {
        clients.spawn(
            load.clone()
                .client(i, seed.wrapping_add(1 + i as u64), stop.clone()),
        );
    }

    let started = Instant::now();
    let mut restarts = Duration::ZERO;
    let uptime = |rng: &mut StdRng| {
        Duration::from_millis(
            rng.gen_range(args.kill_min.as_millis() as u64..=args.kill_max.as_millis() as u64),
        )
    };
    for k in 1..=args.kills {
        tokio::time::sleep(uptime(rng)).await;
        let victim = rng.gen_range(0..nodes.len());
        cluster.set(victim, false);
        let t = Instant::now();
        nodes[victim].kill().await?;
        nodes[victim].start().await?;
        restarts += t.elapsed();
        cluster.set(victim, true);
        let accepted = ledger.lock().expect("ledger").accepted();
        eprintln!(
            "kill {k}/{}: node {victim} killed and serving again after {} ms; {accepted} events accepted so far",
            args.kills,
            t.elapsed().as_millis()
        );
    }
    tokio::time::sleep(uptime(rng)).await;
    stop.cancel();
    let finished = tokio::time::timeout(CLIENTS_STOP, async {
        while clients.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        bail!("the clients did not finish their last requests within {CLIENTS_STOP:?}");
    }
    let load_time = started.elapsed();

    // Everything accepted must arrive. A backlog may take a while; a delivery
    // that is stuck never comes. The wait gives up once nothing has progressed
    // for a lease (a killed node's claims), the whole retry schedule, and a
    // margin for a busy machine.
    let drain_start = Instant::now();
    let stall = args.lease + args.retry_total() + Duration::from_secs(30);
    let base = nodes[0].base_url();
    let undelivered = wait_delivered(&ledger, &receiver, &base, stall).await;
    let drain_time = drain_start.elapsed();
    let queue = wait_queue_empty(&base, stall).await;

    for node in &mut nodes {
        node.kill().await?;
    }
    let tally = ledger.lock().expect("ledger").tally();
    let s = &load.stats;
    Ok(Outcome {
        seed,
        tally,
        kills: args.kills,
        requests: s.requests.load(Ordering::Relaxed),
        unanswered: s.unanswered.load(Ordering::Relaxed),
        unavailable: s.unavailable.load(Ordering::Relaxed),
        server_errors: s.server_errors.load(Ordering::Relaxed),
        rejected: (
            s.rejected.load(Ordering::Relaxed),
            s.rejections.lock().expect("rejections").clone(),
        ),
        eventless_snapshots: s.eventless_snapshots.load(Ordering::Relaxed),
        unreadable: receiver.unreadable(),
        undelivered,
        queue,
        mean_restart: restarts / args.kills.max(1),
        load_time,
        drain_time,
        kept: None,
    })
}

/// `n` ports free right now on 127.0.0.1 (held together while choosing, so they differ).
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("finding a free port")?;
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

pub(crate) async fn admin_call(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN_KEY)
        .timeout(Duration::from_secs(10));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.with_context(|| format!("calling {url}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// The account and its webhooks ([`TARGETS`]): every event type, to the
/// receiver at `{hook_url}/<target>`, signed with [`SECRET`].
async fn setup(base: &str, hook_url: &str) -> anyhow::Result<()> {
    let (s, v) = admin_call(
        reqwest::Method::POST,
        &format!("{base}/v1/accounts"),
        Some(json!({"id": ACCOUNT, "name": "Crash harness"})),
    )
    .await?;
    anyhow::ensure!(s == 201, "creating the account: {s} {v}");
    for (target, ordered) in TARGETS {
        let (s, v) = admin_call(
            reqwest::Method::POST,
            &format!("{base}/v1/accounts/{ACCOUNT}/webhooks"),
            Some(json!({
                "name": target, "url": format!("{hook_url}/{target}"), "events": ["*"],
                "secret": SECRET, "ordered": ordered,
            })),
        )
        .await?;
        anyhow::ensure!(s == 201, "creating the webhook {target}: {s} {v}");
    }
    Ok(())
}
