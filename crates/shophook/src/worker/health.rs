//! Persistent failure: a webhook whose every attempt has failed for
//! `--disable-after` (5 days) is disabled — its deliveries wait, held, until the
//! merchant resumes it — and `webhook.disabled` goes to the account's
//! `notify_url`, as a delivery of the account's notification webhook (retried and
//! in the history like any other). Dead deliveries stay replayable.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::signing::Secret;
use shophook_store::{IngestOutcome, NewEvent, StoredWebhook, Target};

use super::Worker;
use crate::ids::{new_id, secret_bytes};
use shophook_core::mask::mask_url;

/// The failure start before which a webhook failing now is disabled; `None` when
/// disabling is off (`--disable-after 0s`).
pub fn disable_cutoff(now: Timestamp, disable_after: Duration) -> Option<Timestamp> {
    if disable_after.is_zero() {
        return None;
    }
    let after = SignedDuration::try_from(disable_after).ok()?;
    now.checked_sub(after).ok()
}

/// The `webhook.disabled` event for `hook`, disabled at `now`.
pub fn disabled_event(hook: &StoredWebhook, disable_after: Duration, now: Timestamp) -> Event {
    let days = disable_after.as_secs_f64() / 86_400.0;
    let period = if days >= 1.0 {
        format!("{days:.0} days")
    } else {
        format!("{} s", disable_after.as_secs())
    };
    Event {
        id: new_id("evt"),
        event_type: EventType::WebhookDisabled,
        account: hook.account_id.clone(),
        subject: Some(format!("webhook:{}", hook.id)),
        created_at: now,
        data: json!({
            "webhook": {"id": hook.id, "name": hook.config.name, "url": mask_url(&hook.config.url)},
            "failing_since": hook.failing_since,
            "disabled_at": now,
            "reason": format!("every attempt failed for {period}; resume the webhook to send again (held deliveries go out in order)"),
        }),
    }
}

impl Worker {
    /// After a failed attempt of `hook` (as claimed): disables it if it has been
    /// failing for `--disable-after`, and notifies the account.
    pub(super) async fn after_failure(&self, hook: &StoredWebhook, now: Timestamp) {
        let Some(cutoff) = disable_cutoff(now, self.cfg.disable_after) else {
            return;
        };
        if hook.failing_since.is_none_or(|since| since > cutoff) {
            return;
        }
        let disabled = match self
            .store
            .disable_webhook(&hook.account_id, &hook.id, cutoff, now)
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not disable a persistently failing webhook; the next failure tries again");
                return;
            }
        };
        tracing::warn!(failing_since = ?disabled.failing_since, "webhook disabled: every attempt failed for the --disable-after period");
        self.notify_disabled(&disabled, now).await;
    }

    async fn notify_disabled(&self, hook: &StoredWebhook, now: Timestamp) {
        let url = match self.store.account(&hook.account_id).await {
            Ok(Some(a)) => a.notify_url,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the account to notify it");
                return;
            }
        };
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            tracing::info!(
                "the account has no notify_url; nobody is told the webhook was disabled"
            );
            return;
        };
        let event = disabled_event(hook, self.cfg.disable_after, now);
        let envelope = json_envelope(&event).into();
        let secret = Secret::generate(secret_bytes()).as_str().to_string();
        let stored = self
            .store
            .ingest(vec![NewEvent {
                event,
                envelope,
                idempotency_key: None,
                target: Target::Notify { url, secret },
                dispatch: None,
            }])
            .await;
        match stored.map(|mut o| o.pop()) {
            Ok(Some(IngestOutcome::Stored { deliveries, .. })) => {
                tracing::info!(
                    deliveries = deliveries.len(),
                    "webhook.disabled sent to the account's notify_url"
                )
            }
            Ok(other) => tracing::warn!(outcome = ?other, "webhook.disabled was not stored"),
            Err(e) => tracing::warn!(error = %e, "could not store webhook.disabled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff() {
        let now: Timestamp = "2026-03-06T10:00:00Z".parse().unwrap();
        assert_eq!(
            disable_cutoff(now, Duration::from_secs(5 * 86_400)),
            Some("2026-03-01T10:00:00Z".parse().unwrap())
        );
        assert_eq!(disable_cutoff(now, Duration::ZERO), None, "0 turns it off");
    }
}
