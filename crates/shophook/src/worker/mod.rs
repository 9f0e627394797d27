//! Delivery workers: claim due deliveries in batches, send them concurrently within
//! global and per-webhook bounds, record each outcome.
//!
//! The loop sleeps until the store signals new work (an insert wakes it at once),
//! the next retry falls due, or an in-flight delivery finishes. A webhook at its
//! concurrency limit is left out of the next claim, so one slow receiver holds at
//! most `webhook_concurrency` slots and never starves the others. On shutdown it
//! stops claiming, lets in-flight attempts finish within the grace period, then
//! releases whatever is left so it is sent again (at least once, never lost).

pub mod guard;
pub mod health;
pub mod pacing;
pub mod send;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use shophook_core::plan::DeliveryStatus;
use shophook_core::schedule::next_open;
use shophook_core::webhook::WebhookStatus;
use shophook_store::{
    Claim, ClaimRef, ClaimedDelivery, DeliveryUpdate, NextState, Store, StoredWebhook,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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
    slots: Arc<Semaphore>,
    per_webhook: Arc<Mutex<HashMap<String, usize>>>,
    pacing: pacing::Pacing,
}

/// A claimed delivery with its global slot and its webhook's slot.
struct Claimed {
    delivery: ClaimedDelivery,
    permit: OwnedSemaphorePermit,
    slot: WebhookSlot,
}

/// Releases a webhook's in-flight count when dropped.
struct WebhookSlot {
    map: Arc<Mutex<HashMap<String, usize>>>,
    webhook: String,
}

impl Drop for WebhookSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock()
            && let Some(n) = m.get_mut(&self.webhook)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.webhook);
            }
        }
    }
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
        let slots = Arc::new(Semaphore::new(cfg.concurrency));
        Worker {
            store,
            sender,
            clock,
            metrics,
            node,
            cfg,
            slots,
            per_webhook: Arc::new(Mutex::new(HashMap::new())),
            pacing: pacing::Pacing::default(),
        }
    }

    /// Webhooks to leave out of the next claim: at their concurrency limit, or
    /// paced (rate limit, a receiver's `Retry-After`).
    fn saturated(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .per_webhook
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, n)| **n >= self.cfg.webhook_concurrency)
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        out.extend(self.pacing.waiting(Instant::now()));
        out
    }

    /// A slot of the delivery's webhook, or `None` if the webhook is at its limit.
    fn take_webhook_slot(
        &self,
        map: &mut HashMap<String, usize>,
        webhook: &str,
    ) -> Option<WebhookSlot> {
        let n = map.entry(webhook.to_string()).or_insert(0);
        if *n >= self.cfg.webhook_concurrency {
            return None;
        }
        *n += 1;
        Some(WebhookSlot {
            map: self.per_webhook.clone(),
            webhook: webhook.to_string(),
        })
    }

    /// Claims what is due now, as many as free slots allow; returns the claimed
    /// deliveries with their slots, and whether the claim was full (more may wait).
    /// A batch may hold more deliveries for one webhook than it has free slots;
    /// those are given back at once, and the next claim leaves that webhook out.
    async fn claim(&self) -> Result<(Vec<Claimed>, bool), shophook_store::StoreError> {
        let free = self.slots.available_permits().min(self.cfg.batch as usize);
        if free == 0 {
            return Ok((Vec::new(), false));
        }
        let now = self.clock.now();
        let lease_until = now
            .checked_add(
                SignedDuration::try_from(self.cfg.lease).unwrap_or(SignedDuration::from_secs(60)),
            )
            .unwrap_or(now);
        let claimed = self
            .store
            .claim_due(Claim {
                node: self.node.clone(),
                now,
                lease_until,
                limit: free as u32,
                skip_webhooks: self.saturated(),
            })
            .await?;
        let full = claimed.len() == free;
        let mut out = Vec::with_capacity(claimed.len());
        let mut give_back = Vec::new();
        {
            let mut map = self.per_webhook.lock().map_err(|_| {
                shophook_store::StoreError::Unavailable("worker state poisoned".into())
            })?;
            let instant = Instant::now();
            for d in claimed {
                // Pacing is asked only when a slot is free, and a slot taken only
                // when pacing admits (a slot dropped here would re-take `map`).
                let free =
                    map.get(&d.webhook.id).copied().unwrap_or(0) < self.cfg.webhook_concurrency;
                let admitted = free
                    && self.pacing.admit(
                        &d.webhook.id,
                        d.webhook.config.rate_limit_per_second,
                        instant,
                    );
                let slot = admitted
                    .then(|| self.take_webhook_slot(&mut map, &d.webhook.id))
                    .flatten();
                match slot {
                    Some(slot) => {
                        let permit = self.slots.clone().try_acquire_owned().expect(
                            "claimed no more than the free slots, and only this loop takes slots",
                        );
                        out.push(Claimed {
                            delivery: d,
                            permit,
                            slot,
                        });
                    }
                    None => give_back.push(d.id),
                }
            }
        }
        if !give_back.is_empty() {
            self.store.unclaim(&self.node, give_back, now).await?;
        }
        Ok((out, full))
    }

    /// Claims and delivers one batch, waiting for every attempt to be recorded.
    /// Returns how many deliveries were handled. (The loop in [`Worker::run`] does
    /// the same without waiting; tests and tools can drive the worker step by step.)
    pub async fn run_once(self: &Arc<Self>) -> Result<usize, shophook_store::StoreError> {
        let (batch, _) = self.claim().await?;
        let n = batch.len();
        let mut set = JoinSet::new();
        for c in batch {
            let me = self.clone();
            set.spawn(async move { me.handle(c).await });
        }
        while set.join_next().await.is_some() {}
        Ok(n)
    }

    /// Runs until `shutdown` is cancelled, then drains and releases.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let signal = self.store.work_signal();
        let mut tasks: JoinSet<()> = JoinSet::new();
        tracing::info!(node = %self.node, concurrency = self.cfg.concurrency, webhook_concurrency = self.cfg.webhook_concurrency, "delivery worker started");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let full = match self.claim().await {
                Ok((batch, full)) => {
                    for c in batch {
                        let me = self.clone();
                        tasks.spawn(async move { me.handle(c).await });
                    }
                    full
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim deliveries; retrying in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    continue;
                }
            };
            if full {
                continue;
            }
            let wait = self.until_next_due().await;
            tokio::select! {
                _ = signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.drain(tasks).await;
    }

    async fn until_next_due(&self) -> Duration {
        const IDLE: Duration = Duration::from_secs(30);
        match self.store.next_due_at().await {
            Ok(Some(at)) => {
                let now = self.clock.now();
                let wait = at.duration_since(now);
                if wait.is_negative() {
                    // Due but not claimable: its webhook is saturated (a finished
                    // attempt wakes the loop) or paced (wait until it may send).
                    let instant = Instant::now();
                    self.pacing
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

    async fn drain(&self, mut tasks: JoinSet<()>) {
        let in_flight = tasks.len();
        if in_flight > 0 {
            tracing::info!(
                in_flight,
                grace_s = self.cfg.grace.as_secs(),
                "shutting down: letting in-flight deliveries finish"
            );
        }
        let finished = tokio::time::timeout(self.cfg.grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                left = tasks.len(),
                "grace period over; releasing unfinished deliveries for a later attempt"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
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

    async fn handle(&self, claimed: Claimed) {
        let Claimed {
            delivery: d,
            permit,
            slot,
        } = claimed;
        let span = tracing::info_span!("delivery", account = %d.webhook.account_id, webhook = %d.webhook.id, delivery = %d.id, event = %d.event.event.id, attempt = d.attempts + 1);
        async {
            let update = self.process(&d).await;
            // The receiver is done with us: free the webhook's slot before the commit.
            drop(slot);
            let next = update.next.clone();
            let now = update.now;
            // The attempt's response status (`Some(None)`: an attempt without one).
            let status = update
                .attempt
                .as_ref()
                .map(|a| a.response.as_ref().map(|r| r.status));
            if let Err(e) = self.store.record(vec![update]).await {
                // Not recorded: the claim's lease runs out and the delivery is sent
                // again — a duplicate at worst, never a loss.
                tracing::error!(error = %e, "could not record the outcome; the delivery will be retried after its lease");
                return;
            }
            let first_success_of = (!d.succeeded_before).then_some(d.event.event.created_at);
            self.metrics
                .delivery_recorded(status, &next, first_success_of, now);
            match &next {
                NextState::Succeeded => tracing::debug!("delivered"),
                NextState::Retry(at) => tracing::info!(retry_at = %at, status = status.flatten(), "attempt failed; will retry"),
                NextState::Dead(reason) => tracing::warn!(%reason, "delivery dead"),
                NextState::Skipped(reason) => tracing::info!(%reason, "delivery skipped"),
                NextState::Defer(at) => tracing::debug!(until = %at, "deferred"),
            }
            if status == Some(Some(410)) && d.webhook.config.unsubscribe_on_410 {
                self.unsubscribe(&d.webhook).await;
            } else if status.is_some() && matches!(next, NextState::Retry(_) | NextState::Dead(_)) {
                self.after_failure(&d.webhook, now).await;
            }
        }
        .instrument(span)
        .await;
        drop(permit);
    }

    /// A REST hook whose receiver answered `410 Gone` is deleted: the receiver
    /// said it wants nothing more. If this fails, the next 410 tries again.
    async fn unsubscribe(&self, hook: &StoredWebhook) {
        match self
            .store
            .delete_webhook(&hook.account_id, &hook.id, self.clock.now())
            .await
        {
            Ok(_) => {
                tracing::info!("the receiver answered 410 Gone; webhook unsubscribed (deleted)")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not unsubscribe the webhook after 410 Gone")
            }
        }
    }

    /// Decides and, if it is time, sends one claimed delivery.
    async fn process(&self, d: &ClaimedDelivery) -> DeliveryUpdate {
        let now = self.clock.now();
        let claim = ClaimRef {
            node: self.node.clone(),
            lease_until: d.lease_until,
        };
        let update = |next| DeliveryUpdate {
            delivery_id: d.id.clone(),
            attempt: None,
            next,
            now,
            claim: Some(claim.clone()),
        };
        let hook = &d.webhook;
        if hook.status != WebhookStatus::Active {
            return update(NextState::Defer(now));
        }
        if let Some(s) = &hook.config.schedule {
            let open = next_open(s, now);
            if open > now {
                return update(NextState::Defer(open));
            }
        }
        if d.status == DeliveryStatus::Scheduled
            && d.attempts == 0
            && hook.config.delay_minutes > 0
            && !hook.config.conditions.is_empty()
            && let Some(reason) = conditions_no_longer_hold(d)
        {
            return update(NextState::Skipped(reason));
        }
        let outcome = self.sender.attempt(d).await;
        if let Some(wait) = outcome.retry_after {
            // The receiver asked for a pause: every delivery of this webhook waits.
            self.pacing.hold(&d.webhook.id, wait, Instant::now());
        }
        DeliveryUpdate {
            delivery_id: d.id.clone(),
            attempt: Some(outcome.attempt),
            next: outcome.next,
            now: self.clock.now(),
            claim: Some(claim),
        }
    }
}

/// After a delay, the conditions are checked again against the subject's latest
/// snapshot (the event's own data when there is none); the first that fails is the
/// reason the delivery is skipped: "order.paid is now true (condition: order.paid eq false)".
fn conditions_no_longer_hold(d: &ClaimedDelivery) -> Option<String> {
    let mut event = d.event.event.clone();
    if let (Some(latest), Some(kind)) = (&d.latest, event.event_type.subject_kind())
        && let Some(map) = event.data.as_object_mut()
    {
        map.insert(kind.to_string(), latest.clone());
    }
    let ctx = shophook_core::context::EventContext::new(&event, &d.account_name)
        .with_webhook(&d.webhook.id, &d.webhook.config.name)
        .with_delivery(&d.id);
    let compiled = d.webhook.config.compiled_conditions().ok()?;
    let failed = compiled
        .iter()
        .zip(&d.webhook.config.conditions)
        .find(|(c, _)| !c.holds(&ctx))?;
    let path = shophook_core::context::FieldPath::parse(&failed.1.field).ok()?;
    let now = shophook_core::derive::describe_now(&failed.1.field, &ctx.resolve(&path));
    Some(format!("{now} (condition: {})", failed.0.describe()))
}

/// When a lease ends: the timestamp `lease` after `now`.
pub fn lease_end(now: Timestamp, lease: Duration) -> Timestamp {
    now.checked_add(SignedDuration::try_from(lease).unwrap_or(SignedDuration::from_secs(60)))
        .unwrap_or(now)
}
