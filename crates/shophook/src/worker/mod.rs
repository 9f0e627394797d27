//! Delivery workers: send due deliveries concurrently within global and
//! per-webhook bounds, and record each outcome.
//!
//! Deliveries reach the worker two ways. **Dispatched**: an API ingest that finds
//! the worker with free slots claims the deliveries due at once in its own
//! transaction and hands them over ([`Worker::dispatch`]) — no claim query, no
//! second read of the event. **Claimed**: everything else (retries, delays,
//! schedule windows, resumed webhooks, work other nodes stored, whatever did not
//! fit when dispatched) waits in the database, and the loop claims it in batches
//! when the store signals new work, the next due time comes, or a slot frees up
//! while due work is waiting. A webhook at its concurrency limit, or paced, is left
//! out of claims, so one slow receiver never starves the others; and so is every
//! webhook of an account at its ceiling (`--account-concurrency`, or the account's
//! `limits.max_in_flight`), so one account's receivers never take the slots the
//! other accounts' due deliveries need. On shutdown it
//! stops taking work, lets in-flight attempts finish within the grace period, then
//! releases whatever is left so it is sent again (at least once, never lost).

mod deliver;
pub mod guard;
pub mod health;
pub mod journal;

pub mod pacing;
pub mod send;
mod slots;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use shophook_store::{Claim, ClaimedDelivery, Lease, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::metrics::Metrics;
use send::Sender;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Requests in flight, all webhooks together.
    pub concurrency: usize,
    /// Requests in flight to one webhook.
    pub webhook_concurrency: usize,
    /// Requests in flight for one account (its `limits.max_in_flight` may lower it).
    pub account_concurrency: usize,
    /// A claimed delivery is due again after this if its node never records it.
    pub lease: Duration,
    /// Most deliveries claimed at once.
    pub batch: u32,
    /// How long in-flight work may finish on shutdown.
    pub grace: Duration,
    /// A webhook failing this long is disabled (zero: never).
    pub disable_after: Duration,
}

/// The delivery worker of one node.
pub struct Worker {
    store: Arc<dyn Store>,
    sender: Arc<Sender>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    node: String,
    cfg: WorkerConfig,
    /// Global, per-webhook and per-account slots, and pacing.
    slots: slots::Slots,
    /// Records outcomes in groups.
    recorder: crate::batch::Recorder,
    /// Every delivery task, dispatched or claimed.
    tasks: TaskTracker,
    /// Cancelled when the shutdown grace period is over: sends still running stop.
    abort: CancellationToken,
    /// A slot was freed while due work was waiting (see `work_waiting`).
    freed: Notify,
    /// The last claim left due work behind (it was full, or webhooks were left out).
    work_waiting: AtomicBool,
    /// Dispatch is accepted (false once shutdown begins).
    accepting: AtomicBool,
}

/// A claimed delivery with the slots it holds.
struct Claimed {
    delivery: ClaimedDelivery,
    slots: slots::Taken,
}

impl Worker {
    /// A worker for `node`.
    pub fn new(
        store: Arc<dyn Store>,
        sender: Arc<Sender>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        node: String,
        cfg: WorkerConfig,
    ) -> Worker {
        let slots = slots::Slots::new(
            cfg.concurrency,
            cfg.webhook_concurrency,
            cfg.account_concurrency,
        );
        let recorder = crate::batch::recorder(store.clone());
        Worker {
            store,
            sender,
            clock,
            metrics,
            node,
            cfg,
            slots,
            recorder,
            tasks: TaskTracker::new(),
            abort: CancellationToken::new(),
            freed: Notify::new(),
            work_waiting: AtomicBool::new(false),
            accepting: AtomicBool::new(false),
        }
    }

    /// Admits what it can of `deliveries` and starts sending those; returns the
    /// rest (to be given back).
    fn start(self: &Arc<Self>, deliveries: Vec<ClaimedDelivery>) -> Vec<String> {
        let (admitted, rejected) = self.slots.admit(deliveries);
        for (delivery, slots) in admitted {
            let me = self.clone();
            self.tasks
                .spawn(async move { me.handle(Claimed { delivery, slots }).await });
        }
        rejected
    }

    /// The claim an API ingest may make for this worker: `Some` while it runs and
    /// has a free slot (the deliveries then skip the queue), `None` otherwise.
    pub fn dispatch_claim(&self) -> Option<Lease> {
        (self.accepting.load(Ordering::Relaxed) && self.slots.available() > 0).then(|| Lease {
            node: self.node.clone(),
            until: lease_end(self.clock.now(), self.cfg.lease),
        })
    }

    /// Sends deliveries an ingest claimed for this worker. What no longer fits
    /// (the slots filled meanwhile, a webhook is paced) is given back to the
    /// queue at once; if even that fails, its lease runs out and it is claimed
    /// again — a delay, never a loss.
    pub async fn dispatch(self: &Arc<Self>, deliveries: Vec<ClaimedDelivery>) {
        if deliveries.is_empty() {
            return;
        }
        let rejected = if self.accepting.load(Ordering::Relaxed) {
            self.start(deliveries)
        } else {
            deliveries.into_iter().map(|d| d.id).collect()
        };
        if rejected.is_empty() {
            return;
        }
        self.work_waiting.store(true, Ordering::Relaxed);
        if let Err(e) = self
            .store
            .unclaim(&self.node, rejected, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "could not give back dispatched deliveries; they are sent when their lease ends");
        }
    }

    /// Claims what is due now, as many as free slots allow and each webhook within
    /// its free slots, and starts sending it; returns how many it started and
    /// whether due work may have been left behind (the batch or a webhook's room
    /// was filled, or webhooks were left out). What a pacing change meanwhile
    /// refuses is given back at once.
    async fn claim(self: &Arc<Self>) -> Result<(usize, bool), shophook_store::StoreError> {
        let free = self.slots.available().min(self.cfg.batch as usize);
        if free == 0 {
            return Ok((0, true));
        }
        let now = self.clock.now();
        let slots::Rooms {
            skip: skip_webhooks,
            busy: busy_webhooks,
        } = self.slots.rooms();
        let skipped = !skip_webhooks.is_empty();
        let request = Claim {
            node: self.node.clone(),
            now,
            lease_until: lease_end(now, self.cfg.lease),
            limit: free as u32,
            skip_webhooks,
            per_webhook: self.cfg.webhook_concurrency as u32,
            busy_webhooks,
        };
        let claimed = self.store.claim_due(request.clone()).await?;
        let mut per_hook: HashMap<&str, u32> = HashMap::new();
        for d in &claimed {
            *per_hook.entry(d.webhook.id.as_str()).or_insert(0) += 1;
        }
        let room_filled = per_hook.iter().any(|(w, n)| *n >= request.room(w));
        drop(per_hook);
        let full = claimed.len() == free || room_filled;
        let n = claimed.len();
        let give_back = self.start(claimed);
        let started = n - give_back.len();
        let left_behind = full || skipped || !give_back.is_empty();
        if !give_back.is_empty() {
            self.store.unclaim(&self.node, give_back, now).await?;
        }
        Ok((started, left_behind))
    }

    /// Called when a delivery task ends: wakes the loop if due work waits for a slot.
    fn slot_freed(&self) {
        if self.work_waiting.load(Ordering::Relaxed) {
            self.freed.notify_one();
        }
    }

    /// Runs until `shutdown` is cancelled, then drains and releases.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let signal = self.store.work_signal();
        self.accepting.store(true, Ordering::Relaxed);
        tracing::info!(node = %self.node, concurrency = self.cfg.concurrency, webhook_concurrency = self.cfg.webhook_concurrency, "delivery worker started");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let left_behind = match self.claim().await {
                Ok((_, left_behind)) => left_behind,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim deliveries; retrying in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    continue;
                }
            };
            self.work_waiting.store(left_behind, Ordering::Relaxed);
            if left_behind && self.slots.available() > 0 && !self.slots.saturated() {
                continue; // a full batch and room for more
            }
            let wait = self.until_next_due().await;
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.freed.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.drain().await;
    }

    async fn until_next_due(&self) -> Duration {
        const IDLE: Duration = Duration::from_secs(30);
        match self.store.next_due_at().await {
            Ok(Some(at)) => {
                let now = self.clock.now();
                let wait = at.duration_since(now);
                if wait.is_negative() {
                    // Due but not claimable: its webhook is saturated (a freed slot
                    // wakes the loop) or paced (wait until it may send).
                    let instant = Instant::now();
                    self.slots
                        .pacing
                        .next_ready(instant)
                        .map_or(Duration::from_millis(50), |t| t - instant)
                        .clamp(Duration::from_millis(1), Duration::from_secs(1))
                } else {
                    Duration::try_from(wait).unwrap_or(IDLE).min(IDLE)
                }
            }
            Ok(None) => IDLE,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the next due time");
                Duration::from_secs(1)
            }
        }
    }

    async fn drain(&self) {
        self.accepting.store(false, Ordering::Relaxed);
        self.tasks.close();
        let in_flight = self.tasks.len();
        if in_flight > 0 {
            tracing::info!(
                in_flight,
                grace_s = self.cfg.grace.as_secs(),
                "shutting down: letting in-flight deliveries finish"
            );
        }
        if tokio::time::timeout(self.cfg.grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tasks.len(),
                "grace period over; releasing unfinished deliveries for a later attempt"
            );
            self.abort.cancel();
            self.tasks.wait().await;
        }
        match self
            .store
            .release_claims(Some(&self.node), self.clock.now())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "released claimed deliveries"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release claims; they become due when their lease ends")
            }
        }
        tracing::info!("delivery worker stopped");
    }
}

/// When a lease ends: the timestamp `lease` after `now`.
pub fn lease_end(now: Timestamp, lease: Duration) -> Timestamp {
    now.checked_add(SignedDuration::try_from(lease).unwrap_or(SignedDuration::from_secs(60)))
        .unwrap_or(now)
}
