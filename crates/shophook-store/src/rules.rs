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

/// One hour of a webhook's attempts.
const HOUR_MS: i64 = 3_600_000;

/// The start of the hour `at` is in, in ms (the key of `webhook_stats`).
pub(crate) fn hour_of(at: Timestamp) -> i64 {
    let ms = at.as_millisecond();
    ms - ms.rem_euclid(HOUR_MS)
}

/// The attempts one record batch made, per webhook and hour: what it adds to
/// `webhook_stats` (one upsert per webhook and hour, not one per attempt).
#[derive(Default)]
pub(crate) struct Tally {
    /// Few distinct webhooks per batch: a vector searched from the end beats a map.
    rows: Vec<TallyRow>,
}

/// One webhook's attempts in one hour of a batch.
pub(crate) struct TallyRow {
    pub webhook: String,
    pub hour: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// The latest attempt's time (ms), the delivery's status after it, and its
    /// response status.
    pub last_at: i64,
    pub last_status: DeliveryStatus,
    pub last_code: Option<u16>,
}

impl Tally {
    /// Counts an attempt to `webhook` made at `at` that left its delivery in
    /// `status` (a success when `succeeded`).
    pub fn add(&mut self, webhook: &str, at: Timestamp, status: DeliveryStatus, code: Option<u16>) {
        let hour = hour_of(at);
        let at = at.as_millisecond();
        let ok = status == DeliveryStatus::Succeeded;
        let row = match self
            .rows
            .iter()
            .rposition(|r| r.hour == hour && r.webhook == webhook)
        {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(TallyRow {
                    webhook: webhook.to_string(),
                    hour,
                    succeeded: 0,
                    failed: 0,
                    last_at: i64::MIN,
                    last_status: status,
                    last_code: code,
                });
                self.rows.last_mut().expect("pushed")
            }
        };
        if ok {
            row.succeeded += 1;
        } else {
            row.failed += 1;
        }
        if at >= row.last_at {
            (row.last_at, row.last_status, row.last_code) = (at, status, code);
        }
    }

    /// The rows in (webhook, hour) order: the order every writer takes their locks
    /// in (PostgreSQL row locks of concurrent nodes never cross).
    pub fn into_rows(mut self) -> Vec<TallyRow> {
        self.rows
            .sort_unstable_by(|a, b| (&a.webhook, a.hour).cmp(&(&b.webhook, b.hour)));
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_batch_tallies_each_webhook_and_hour_once() {
        let mut tally = Tally::default();
        let at = |m: &str| t(&format!("2026-03-01T{m}Z"));
        tally.add("wh_b", at("10:59:59"), DeliveryStatus::Failed, Some(503));
        tally.add("wh_a", at("10:00:00"), DeliveryStatus::Succeeded, Some(200));
        tally.add("wh_b", at("10:10:00"), DeliveryStatus::Succeeded, Some(200));
        tally.add("wh_b", at("11:00:00"), DeliveryStatus::Dead, None);
        let rows: Vec<_> = tally
            .into_rows()
            .into_iter()
            .map(|r| {
                (
                    r.webhook,
                    r.hour,
                    r.succeeded,
                    r.failed,
                    r.last_status,
                    r.last_code,
                )
            })
            .collect();
        let h10 = hour_of(at("10:30:00"));
        let h11 = hour_of(at("11:00:00"));
        assert_eq!(h11 - h10, HOUR_MS);
        assert_eq!(
            rows,
            [
                (
                    "wh_a".to_string(),
                    h10,
                    1,
                    0,
                    DeliveryStatus::Succeeded,
                    Some(200)
                ),
                (
                    "wh_b".to_string(),
                    h10,
                    1,
                    1,
                    DeliveryStatus::Failed,
                    Some(503)
                ),
                ("wh_b".to_string(), h11, 0, 1, DeliveryStatus::Dead, None),
            ],
            "the latest attempt of an hour is its last, whatever order the batch had"
        );
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
