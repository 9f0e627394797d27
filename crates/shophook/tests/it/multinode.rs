//! Several `shophook serve` processes on one PostgreSQL database (SPEC "Scale-out"):
//! every accepted event is delivered, no delivery is sent twice while the nodes
//! are healthy, a killed node's claimed work is taken over after its lease, a
//! database outage loses nothing accepted (the API answers 503 meanwhile, never
//! 500 and never a false 202), and a delivery stored through one node wakes
//! another. Receivers count by the order id each event carries. Every test skips
//! with a printed reason without PostgreSQL (`SHOPHOOK_REQUIRE_POSTGRES=1` makes
//! that a failure) and holds [`POSTGRES_TESTS`], so the restart test runs alone.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use tokio::sync::MutexGuard;

use crate::support::{
    POSTGRES_TESTS, Received, ServerProcess, TestDatabase, TestReceiver, pg_ctlcluster,
    postgres_required,
};

const EVENTS: usize = 2000;
/// Concurrent API clients posting events.
const POSTERS: usize = 16;
/// Generous: a debug build on two cores; the figures are printed, not asserted.
const DELIVERED_WITHIN: Duration = Duration::from_secs(240);
const FLAGS: [&str; 4] = [
    "--allow-private-targets",
    "--retry-schedule",
    "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
    "--shutdown-grace=1s",
];

/// A fresh database, held alone among this binary's PostgreSQL tests.
struct Pg {
    db: TestDatabase,
    _alone: MutexGuard<'static, ()>,
}

async fn postgres(what: &str) -> Option<Pg> {
    let alone = POSTGRES_TESTS.lock().await;
    let db = TestDatabase::create(what).await?;
    Some(Pg { db, _alone: alone })
}

/// `n` nodes on the database, with `extra` flags.
fn nodes(pg: &Pg, n: usize, extra: &[&str]) -> Vec<ServerProcess> {
    let flags: Vec<&str> = FLAGS.iter().chain(extra).copied().collect();
    (0..n)
        .map(|_| ServerProcess::start_on(&pg.db.url, &flags))
        .collect()
}

/// Account `acme` with one webhook for every event, to `url`.
async fn given_webhook(node: &ServerProcess, url: String) {
    let api = node.client();
    let (s, v) = api
        .call(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(json!({"url": url, "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// What posting orders came to, by order number.
#[derive(Debug, Default)]
struct Posted {
    /// Answered 202: must be delivered.
    accepted: HashSet<usize>,
    /// Answered 503, or no answer (the node died mid-request): may or may not be.
    unsure: HashSet<usize>,
    /// How many answers were 503.
    unavailable: usize,
}

impl Posted {
    fn merge(&mut self, other: Posted) {
        self.accepted.extend(other.accepted);
        self.unsure.extend(other.unsure);
        self.unavailable += other.unavailable;
    }
}

/// Posts `order.created` for each order number in `orders`, [`POSTERS`] at a time,
/// spread over `nodes`; a node that does not answer is replaced by the next. Any
/// answer but 202 or 503 fails the test.
async fn post_orders(nodes: &[SocketAddr], orders: Range<usize>) -> Posted {
    let mut posters = tokio::task::JoinSet::new();
    for p in 0..POSTERS {
        let nodes = nodes.to_vec();
        let mine: Vec<usize> = orders.clone().filter(|n| n % POSTERS == p).collect();
        posters.spawn(async move {
            let client = reqwest::Client::new();
            let mut posted = Posted::default();
            for n in mine {
                for attempt in 0..nodes.len() {
                    let node = nodes[(n + attempt) % nodes.len()];
                    match post_order(&client, node, n).await {
                        Ok(StatusCode::ACCEPTED) => {
                            posted.accepted.insert(n);
                            posted.unsure.remove(&n);
                            break;
                        }
                        Ok(StatusCode::SERVICE_UNAVAILABLE) => {
                            posted.unavailable += 1;
                            posted.unsure.insert(n);
                            break;
                        }
                        Ok(other) => panic!("order {n}: {other} from {node}; expected 202 or 503"),
                        Err(_) => {
                            posted.unsure.insert(n);
                        }
                    }
                }
            }
            posted
        });
    }
    let mut all = Posted::default();
    while let Some(p) = posters.join_next().await {
        all.merge(p.expect("a poster"));
    }
    all
}

async fn post_order(
    client: &reqwest::Client,
    node: SocketAddr,
    n: usize,
) -> Result<StatusCode, reqwest::Error> {
    let resp = client
        .post(format!("http://{node}/v1/accounts/acme/events"))
        .bearer_auth(crate::support::ADMIN_KEY)
        .json(
            &json!({"type": "order.created", "subject": format!("order:{n}"),
                      "data": {"order": {"id": n.to_string()}}}),
        )
        .send()
        .await?;
    Ok(resp.status())
}

fn order_of(r: &Received) -> usize {
    r.json()["data"]["order"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an order number in the payload")
}

/// How often each order reached the receiver.
fn by_order(got: &[Received]) -> HashMap<usize, usize> {
    let mut m = HashMap::new();
    for r in got {
        *m.entry(order_of(r)).or_insert(0) += 1;
    }
    m
}

/// Deliveries (by `webhook-id`) the receiver got more than once.
fn sent_twice(got: &[Received]) -> Vec<String> {
    let mut m: HashMap<&str, usize> = HashMap::new();
    for r in got {
        *m.entry(r.header("webhook-id")).or_insert(0) += 1;
    }
    m.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Waits until every accepted order reached the receiver; returns what it got.
async fn wait_delivered(rx: &TestReceiver, posted: &Posted) -> Vec<Received> {
    let deadline = Instant::now() + DELIVERED_WITHIN;
    let mut need = posted.accepted.len();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let arrived = rx.wait_for_within(need, left).await;
        let got = rx.received();
        let orders = by_order(&got);
        let missing = posted
            .accepted
            .iter()
            .filter(|n| !orders.contains_key(n))
            .count();
        if missing == 0 {
            let posted_at_all =
                |n: &usize| posted.accepted.contains(n) || posted.unsure.contains(n);
            assert!(
                orders.keys().all(posted_at_all),
                "the receiver got orders that were never posted"
            );
            return got;
        }
        assert!(
            arrived && Instant::now() < deadline,
            "{missing} of {} accepted events never arrived (receiver got {})",
            posted.accepted.len(),
            got.len()
        );
        need = got.len() + missing;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_every_event_exactly_once() {
    let Some(pg) = postgres("two nodes on PostgreSQL").await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let nodes = nodes(&pg, 2, &[]);
    given_webhook(&nodes[0], rx.url("/in")).await;
    let started = Instant::now();
    let posted = post_orders(&[nodes[0].addr, nodes[1].addr], 0..EVENTS).await;
    let posted_in = started.elapsed();
    assert_eq!(
        posted.accepted.len(),
        EVENTS,
        "healthy nodes accept every event: {posted:?}"
    );
    let got = wait_delivered(&rx, &posted).await;
    let twice = sent_twice(&got);
    assert!(
        twice.is_empty(),
        "no delivery is sent twice while both nodes are healthy: {twice:?}"
    );
    assert_eq!(got.len(), EVENTS, "one request per event");
    eprintln!(
        "two nodes: {EVENTS} events posted in {posted_in:.2?}, all delivered {:.2?} after the first post; duplicates: 0",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_nodes_claims_are_delivered_by_the_other() {
    let Some(pg) = postgres("SIGKILL of one of two nodes").await else {
        return;
    };
    let rx = TestReceiver::start().await;
    // Slow answers keep the killed node's claims in flight when it dies.
    rx.set_delay(Duration::from_millis(200));
    let mut nodes = nodes(&pg, 2, &["--lease", "2s"]);
    given_webhook(&nodes[0], rx.url("/in")).await;
    let both = [nodes[0].addr, nodes[1].addr];
    let mut posted = post_orders(&both, 0..EVENTS / 2).await;
    assert!(
        rx.wait_for_within(1, crate::support::WAIT).await,
        "deliveries started"
    );
    let killed = nodes.remove(0);
    killed.signal("KILL");
    killed.wait();
    posted.merge(post_orders(&[nodes[0].addr], EVENTS / 2..EVENTS).await);
    assert_eq!(posted.accepted.len(), EVENTS, "{posted:?}");
    let got = wait_delivered(&rx, &posted).await;
    eprintln!(
        "SIGKILL: all {EVENTS} events delivered; {} sent again after the lease (at least once)",
        sent_twice(&got).len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_database_connections_lose_nothing() {
    let Some(pg) = postgres("PostgreSQL connection drops").await else {
        return;
    };
    let rx = TestReceiver::start().await;
    // A claim whose commit was cut off unanswered comes back after the lease.
    let nodes = nodes(&pg, 2, &["--lease", "3s"]);
    given_webhook(&nodes[0], rx.url("/in")).await;
    let both = [nodes[0].addr, nodes[1].addr];
    let posting = tokio::spawn(async move { post_orders(&both, 0..EVENTS / 2).await });
    assert!(rx.wait_for_within(1, crate::support::WAIT).await);
    // For about two seconds, every connection of both nodes is killed again and again.
    let mut killed = 0;
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        killed += pg.db.terminate_connections().await.expect("terminating");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let posted = posting.await.expect("posting");
    let got = wait_delivered(&rx, &posted).await;
    eprintln!(
        "connection drops: {killed} connections killed; {} accepted, {} answered 503, all accepted delivered ({} requests, {} sent again)",
        posted.accepted.len(),
        posted.unavailable,
        got.len(),
        sent_twice(&got).len()
    );
}

/// Starts the cluster again if a test stopped it and then failed.
struct RunningAgain;

impl Drop for RunningAgain {
    fn drop(&mut self) {
        pg_ctlcluster(&["start"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_loses_nothing_and_answers_503_meanwhile() {
    let Some(pg) = postgres("PostgreSQL restart").await else {
        return;
    };
    if !pg_ctlcluster(&["status"]) {
        assert!(
            !postgres_required(),
            "SHOPHOOK_REQUIRE_POSTGRES=1 but `pg_ctlcluster 15 main` cannot control the local PostgreSQL"
        );
        crate::skipped!("PostgreSQL restart (needs the local cluster: pg_ctlcluster 15 main)");
        return;
    }
    let _restarted = RunningAgain;
    let rx = TestReceiver::start().await;
    // A claim whose commit was cut off unanswered comes back after the lease.
    let nodes = nodes(&pg, 2, &["--lease", "3s"]);
    given_webhook(&nodes[0], rx.url("/in")).await;
    let both = [nodes[0].addr, nodes[1].addr];

    // A restart while events arrive and deliveries are sent.
    let posting = tokio::spawn(async move { post_orders(&both, 0..EVENTS / 2).await });
    assert!(rx.wait_for_within(1, crate::support::WAIT).await);
    let restarted = tokio::task::spawn_blocking(|| pg_ctlcluster(&["restart", "-m", "fast"]));
    assert!(restarted.await.unwrap(), "PostgreSQL restarted");
    let mut posted = posting.await.expect("posting");

    // While it is down, every node answers 503: nothing is stored, nothing claimed.
    let stopped = tokio::task::spawn_blocking(|| pg_ctlcluster(&["stop", "-m", "fast"]));
    assert!(stopped.await.unwrap(), "PostgreSQL stopped");
    let down = post_orders(&both, EVENTS / 2..EVENTS / 2 + POSTERS).await;
    assert!(
        down.accepted.is_empty(),
        "no 202 while the database is down: {down:?}"
    );
    assert_eq!(
        down.unavailable, POSTERS,
        "every node answers 503 while the database is down"
    );
    posted.merge(down);
    let started = tokio::task::spawn_blocking(|| pg_ctlcluster(&["start"]));
    assert!(started.await.unwrap(), "PostgreSQL started again");

    // Back: the nodes recover by themselves.
    posted.merge(post_orders(&both, EVENTS / 2 + POSTERS..EVENTS).await);
    let got = wait_delivered(&rx, &posted).await;
    eprintln!(
        "restart: {} accepted, {} answered 503, all accepted delivered ({} requests, {} sent again)",
        posted.accepted.len(),
        posted.unavailable,
        got.len(),
        sent_twice(&got).len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_stored_through_a_busy_node_wakes_the_idle_one() {
    let Some(pg) = postgres("LISTEN/NOTIFY wake-up").await else {
        return;
    };
    let slow = TestReceiver::start().await;
    slow.set_delay(Duration::from_secs(60));
    let fast = TestReceiver::start().await;
    // Node A sends one request at a time; the slow receiver keeps it busy.
    let a = nodes(&pg, 1, &["--concurrency", "1"]).remove(0);
    given_webhook(&a, slow.url("/slow")).await;
    let (s, _) = a
        .client()
        .call(
            Method::POST,
            "/v1/accounts/acme/events",
            Some(json!({"type": "order.created", "data": {"order": {"id": "1"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    slow.wait_for(1).await;
    // Node B starts only now, so the slow delivery is A's; B is idle, and with
    // nothing due before A's lease ends (a minute) it sleeps until woken.
    let b = nodes(&pg, 1, &[]).remove(0);
    let (s, v) = a
        .client()
        .call(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(json!({"url": fast.url("/fast"), "events": ["order.paid"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = a
        .client()
        .call(
            Method::POST,
            "/v1/accounts/acme/events",
            Some(json!({"type": "order.paid", "data": {"order": {"id": "2"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // B's own timer would not look before half a minute: only the notification
    // from A's commit can bring the delivery out this soon.
    assert!(
        fast.wait_for_within(1, Duration::from_secs(10)).await,
        "the idle node was not woken by the busy node's commit"
    );
    drop(b);
}
