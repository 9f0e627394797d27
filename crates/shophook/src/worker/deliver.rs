//! One claimed delivery, from its claim to its recorded outcome: decide (paused,
//! outside its schedule window, conditions no longer hold after a delay), send,
//! record under the claim, then the after-effects (metrics, logs, a REST hook's
//! 410 unsubscribing it, persistent failure disabling the webhook).

use std::time::Instant;

use shophook_core::plan::DeliveryStatus;
use shophook_core::schedule::next_open;
use shophook_core::webhook::WebhookStatus;
use shophook_store::{ClaimedDelivery, DeliveryUpdate, Lease, NextState, StoredWebhook};
use tracing::Instrument;

use super::{Claimed, Worker};

impl Worker {
    /// Sends one claimed delivery, records its outcome, frees its slots.
    pub(super) async fn handle(&self, claimed: Claimed) {
        let Claimed {
            delivery: d,
            mut slots,
        } = claimed;
        let span = tracing::info_span!("delivery", account = %d.webhook.account_id, webhook = %d.webhook.id, delivery = %d.id, event = %d.event.event.id, attempt = d.attempts + 1);
        async {
            // Past the shutdown grace period the send is abandoned, unrecorded: the
            // claim is released and the delivery sent again later.
            let update = tokio::select! {
                update = self.process(&d) => update,
                _ = self.abort.cancelled() => return,
            };
            // The receiver is done with us: free the webhook's slot before the commit.
            slots.release_webhook();
            let next = update.next.clone();
            let now = update.now;
            let status = match self.record(&d, update).await {
                Ok(status) => status,
                Err(e) => {
                    // Not recorded: the claim's lease runs out and the delivery is
                    // sent again — a duplicate at worst, never a loss.
                    tracing::error!(error = %e, "could not record the outcome; the delivery will be retried after its lease");
                    return;
                }
            };
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
        drop(slots);
        self.slot_freed();
    }

    /// Records the outcome of `d` through the recorder (grouped with the others
    /// finishing now) and counts it; returns the attempt's response status
    /// (`Some(None)`: an attempt without a response, `None`: no attempt).
    async fn record(
        &self,
        d: &ClaimedDelivery,
        update: DeliveryUpdate,
    ) -> Result<Option<Option<u16>>, shophook_store::StoreError> {
        let (next, now) = (update.next.clone(), update.now);
        let status = update
            .attempt
            .as_ref()
            .map(|a| a.response.as_ref().map(|r| r.status));
        self.recorder.call(update).await?;
        let first_success_of = (!d.succeeded_before).then_some(d.event.event.created_at);
        self.metrics
            .delivery_recorded(status, &next, first_success_of, now);
        Ok(status)
    }

    /// Sends `d` now, whatever its webhook's status, schedule or filters (a test
    /// send), and records the outcome as every delivery's is; returns it.
    pub async fn send_now(
        &self,
        d: &ClaimedDelivery,
    ) -> Result<super::send::Outcome, shophook_store::StoreError> {
        let out = self.sender.attempt(d).await;
        let update = DeliveryUpdate {
            delivery_id: d.id.clone(),
            attempt: Some(out.attempt.clone()),
            next: out.next.clone(),
            now: self.clock.now(),
            claim: Some(Lease {
                node: self.node.clone(),
                until: d.lease_until,
            }),
        };
        self.record(d, update).await?;
        Ok(out)
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
        let claim = Lease {
            node: self.node.clone(),
            until: d.lease_until,
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
            self.slots.pacing.hold(&d.webhook.id, wait, Instant::now());
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
