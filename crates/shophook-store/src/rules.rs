//! What both backends decide the same way when they store events and snapshots,
//! without SQL: which webhooks an event reaches and the delivery rows it makes
//! ([`reached`], [`Planned`]), which of those an ingest claims for its caller
//! ([`claim_for_dispatch`]), and a checkout's abandonment timer
//! ([`abandon_timer`]). The backends only read what these need (a webhook's
//! unfinished predecessor, the stored checkout) and write what they answer.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use shophook_core::condition::CompiledCondition;
use shophook_core::context::EventContext;
use shophook_core::event::Event;
use shophook_core::plan::DeliveryStatus;

use crate::{Lease, NewEvent, StoredWebhook, Target};

/// The kind of timer that fires `checkout.abandoned`.
pub(crate) const ABANDON: &str = "checkout_abandon";

/// A webhook with its conditions compiled, as an ingest reads it.
pub(crate) struct WebhookEntry {
    pub hook: Arc<StoredWebhook>,
    pub conditions: Vec<CompiledCondition>,
}

/// A webhook an event reaches.
pub(crate) struct Reached<'a> {
    pub hook: &'a Arc<StoredWebhook>,
    /// The subject whose unfinished deliveries to this (`ordered`) webhook hold the
    /// new one back; the backend looks them up.
    pub ordered_subject: Option<&'a str>,
    /// Sent now whatever the webhook's filters, status, delay or schedule (a test
    /// send).
    now: bool,
}

/// The webhooks `new` reaches among the account's `hooks` (its target's rule),
/// or `None` when the target names a webhook that does not exist.
pub(crate) fn reached<'a>(
    new: &'a NewEvent,
    account_name: &str,
    hooks: &'a [WebhookEntry],
) -> Option<Vec<Reached<'a>>> {
    let event = &new.event;
    let only = |id: &str| {
        let entry = hooks.iter().find(|e| e.hook.id == id)?;
        Some(Reached {
            hook: &entry.hook,
            ordered_subject: None,
            now: matches!(new.target, Target::Only { .. }),
        })
    };
    match &new.target {
        Target::Matching => {
            let ctx = EventContext::new(event, account_name);
            Some(
                hooks
                    .iter()
                    .filter(|e| {
                        shophook_core::plan::reaches(&e.hook.config, &e.conditions, event, &ctx)
                    })
                    .map(|e| Reached {
                        hook: &e.hook,
                        ordered_subject: event.subject.as_deref().filter(|_| e.hook.config.ordered),
                        now: false,
                    })
                    .collect(),
            )
        }
        Target::Notify { .. } => only(&crate::notify_webhook_id(&event.account)).map(|r| vec![r]),
        Target::Only { webhook } => only(webhook).map(|r| vec![r]),
    }
}

impl<'a> Reached<'a> {
    /// The deliveries `event` makes for this webhook (`blocked`: an unfinished
    /// predecessor of its `ordered_subject` was found), not yet claimed by anyone.
    pub fn plan(
        self,
        event: &Event,
        blocked: bool,
        now: Timestamp,
    ) -> impl Iterator<Item = Planned<'a>> + use<'a> {
        let hook = self.hook;
        let plans = if self.now {
            vec![shophook_core::plan::PlannedDelivery {
                status: DeliveryStatus::Pending,
                due_at: Some(now),
                held: false,
                part: None,
            }]
        } else {
            shophook_core::plan::deliveries_for(hook.status, &hook.config, event, blocked, now)
        };
        plans.into_iter().map(move |p| Planned {
            hook,
            status: p.status,
            due_at: p.due_at.map(Timestamp::as_millisecond),
            held: p.held,
            claimed_by: None,
            part: p.part,
        })
    }
}

/// One delivery an ingest is about to insert.
pub(crate) struct Planned<'a> {
    pub hook: &'a Arc<StoredWebhook>,
    pub status: DeliveryStatus,
    pub due_at: Option<i64>,
    pub held: bool,
    pub claimed_by: Option<&'a str>,
    pub part: Option<u32>,
}

/// Claims for `dispatch` (when asked) the planned deliveries due at once, so they
/// are inserted claimed by the caller's node; returns their positions.
pub(crate) fn claim_for_dispatch<'a>(
    planned: &mut [Planned<'a>],
    dispatch: Option<&'a Lease>,
) -> Vec<usize> {
    let Some(d) = dispatch else {
        return Vec::new();
    };
    let mut claimed = Vec::new();
    for (i, p) in planned.iter_mut().enumerate() {
        if p.status == DeliveryStatus::Pending && !p.held && p.due_at.is_some() {
            p.claimed_by = Some(&d.node);
            p.due_at = Some(d.until.as_millisecond());
            claimed.push(i);
        }
    }
    claimed
}

/// What a checkout's new snapshot does to its abandonment timer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AbandonTimer {
    /// Set (or move) it to this time.
    Set(Timestamp),
    /// It is no longer open: no timer.
    Clear,
    /// Known and still open: the timer stays as it is.
    Keep,
}

/// The abandonment timer after a checkout's snapshot `after` (`was_live`: a live
/// snapshot was stored before): a checkout first seen open is abandoned
/// `abandon_after_minutes` after its own `created_at` (or `now`, without one).
pub(crate) fn abandon_timer(
    was_live: bool,
    after: &Value,
    abandon_after_minutes: u32,
    now: Timestamp,
) -> AbandonTimer {
    let open = shophook_core::derive::checkout_open(after);
    if !open {
        return AbandonTimer::Clear;
    }
    if was_live {
        return AbandonTimer::Keep;
    }
    let created = after
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .unwrap_or(now);
    AbandonTimer::Set(
        created
            .checked_add(SignedDuration::from_mins(i64::from(abandon_after_minutes)))
            .unwrap_or(now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_checkout_first_seen_open_is_abandoned_after_its_own_creation() {
        let now = t("2026-03-01T12:00:00Z");
        let open = json!({"status": "open", "created_at": "2026-03-01T10:00:00+02:00"});
        assert_eq!(
            abandon_timer(false, &open, 60, now),
            AbandonTimer::Set(t("2026-03-01T09:00:00Z"))
        );
        assert_eq!(
            abandon_timer(false, &json!({"status": "open"}), 15, now),
            AbandonTimer::Set(t("2026-03-01T12:15:00Z")),
            "without created_at it counts from now"
        );
        assert_eq!(abandon_timer(true, &open, 60, now), AbandonTimer::Keep);
        assert_eq!(
            abandon_timer(true, &json!({"status": "completed"}), 60, now),
            AbandonTimer::Clear
        );
        assert_eq!(
            abandon_timer(false, &json!({"status": "completed"}), 60, now),
            AbandonTimer::Clear
        );
    }
}
