//! What both backends decide the same way about the queue, without SQL: which
//! webhooks a claim reads and in what order, how their candidates merge, and the
//! deliveries an ingest hands to its worker.

use std::sync::Arc;

use jiff::Timestamp;
use shophook_core::account::Account;
use shophook_core::field_options::FieldOptions;
use shophook_core::plan::DeliveryStatus;

use crate::{ClaimedDelivery, NewEvent, StoredEvent, StoredWebhook};

/// A delivery's stored state after an outcome.
pub(crate) struct NextRow {
    pub status: DeliveryStatus,
    /// When it is due next (ms), if it waits.
    pub due_at: Option<i64>,
    /// Waiting for its webhook to be resumed.
    pub held: bool,
    /// Why it ended (dead, skipped).
    pub reason: Option<String>,
}

/// The row for `next`. For a next state that [`waits`](crate::NextState::waits),
/// `webhook_status` is its webhook's status now (`None`: deleted meanwhile); for
/// the others it is not read.
pub(crate) fn next_row(next: &crate::NextState, webhook_status: Option<&str>) -> NextRow {
    use crate::NextState;
    let done = |status, reason: Option<&String>| NextRow {
        status,
        due_at: None,
        held: false,
        reason: reason.cloned(),
    };
    match next {
        NextState::Succeeded => done(DeliveryStatus::Succeeded, None),
        NextState::Dead(r) => done(DeliveryStatus::Dead, Some(r)),
        NextState::Skipped(r) => done(DeliveryStatus::Skipped, Some(r)),
        NextState::Retry(at) | NextState::Defer(at) => match webhook_status {
            // Deleted while this attempt was in flight (deleting a webhook leaves
            // claimed deliveries alone): held, it would wait forever for a resume.
            None => done(
                DeliveryStatus::Skipped,
                Some(&"webhook deleted".to_string()),
            ),
            Some(hook) => {
                let active = hook == "active";
                let status = if active && matches!(next, NextState::Retry(_)) {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Scheduled
                };
                NextRow {
                    status,
                    due_at: Some(at.as_millisecond()),
                    held: !active,
                    reason: None,
                }
            }
        },
    }
}

/// The webhooks with a delivery due at `now` (ms), the one whose earliest is due
/// longest first. `waiting` is each webhook with waiting deliveries and its
/// earliest due time (`None`: only `ordered` ones waiting for a predecessor).
pub(crate) fn due_webhooks(waiting: Vec<(String, Option<i64>)>, now: i64) -> Vec<(String, i64)> {
    let mut hooks: Vec<(String, i64)> = waiting
        .into_iter()
        .filter_map(|(hook, due)| due.filter(|d| *d <= now).map(|d| (hook, d)))
        .collect();
    hooks.sort_by_key(|(_, due)| *due);
    hooks
}

/// Claim candidates from several webhooks, merged by (due time, id), at most
/// `limit` of them.
pub(crate) struct Candidates<T> {
    limit: usize,
    items: Vec<(i64, String, T)>,
}

impl<T> Candidates<T> {
    pub fn new(limit: usize) -> Candidates<T> {
        Candidates {
            limit,
            items: Vec::new(),
        }
    }

    fn settle(&mut self) {
        self.items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.items.truncate(self.limit);
    }

    /// Whether a webhook whose earliest delivery is due at `head` could still
    /// place one among the `limit` earliest. Webhooks come earliest head first, so
    /// once this is false it is false for every later one.
    pub fn wants(&mut self, head: i64) -> bool {
        if self.items.len() < self.limit {
            return true;
        }
        self.settle();
        self.items.last().is_some_and(|last| head <= last.0)
    }

    pub fn push(&mut self, due: i64, id: String, extra: T) {
        self.items.push((due, id, extra));
    }

    /// The `limit` earliest, in (due time, id) order.
    pub fn into_sorted(mut self) -> Vec<(String, T)> {
        self.settle();
        self.items
            .into_iter()
            .map(|(_, id, extra)| (id, extra))
            .collect()
    }
}

/// Whether any of these webhooks sends the account's option lists, which a claim
/// then loads (`ClaimedDelivery::field_options`).
pub(crate) fn need_field_options<'a>(hooks: impl IntoIterator<Item = &'a StoredWebhook>) -> bool {
    hooks
        .into_iter()
        .any(|h| shophook_core::profiles::uses_field_options(&h.config.format))
}

/// The option lists for a delivery of `hook`, when its format sends them.
pub(crate) fn field_options_for(
    hook: &StoredWebhook,
    options: Option<&Arc<FieldOptions>>,
) -> Option<Arc<FieldOptions>> {
    shophook_core::profiles::uses_field_options(&hook.config.format)
        .then(|| options.cloned().unwrap_or_default())
}

/// The deliveries an ingest claimed for its caller's worker (`NewEvent.dispatch`),
/// ready to send: `(delivery id, part, webhook)` each, with the account's option
/// lists when one of them needs them ([`need_field_options`]).
pub(crate) fn dispatched(
    new: &NewEvent,
    account: &Account,
    lease_until: Timestamp,
    picked: Vec<(String, Option<u32>, Arc<StoredWebhook>)>,
    options: Option<Arc<FieldOptions>>,
) -> Vec<ClaimedDelivery> {
    if picked.is_empty() {
        return Vec::new();
    }
    let event = Arc::new(StoredEvent {
        event: new.event.clone(),
        envelope: new.envelope.clone(),
    });
    picked
        .into_iter()
        .map(|(id, part, webhook)| ClaimedDelivery {
            field_options: field_options_for(&webhook, options.as_ref()),
            id,
            status: DeliveryStatus::Pending,
            attempts: 0,
            succeeded_before: false,
            account_name: account.name.clone(),
            account_timezone: account.timezone.clone(),
            account_max_in_flight: account.limits.max_in_flight,
            part,
            webhook,
            event: event.clone(),
            latest: None,
            lease_until,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_webhooks_are_the_due_ones_earliest_first() {
        let waiting = vec![
            ("late".to_string(), Some(30)),
            ("ordered-only".to_string(), None),
            ("future".to_string(), Some(100)),
            ("early".to_string(), Some(10)),
        ];
        assert_eq!(
            due_webhooks(waiting, 50),
            vec![("early".to_string(), 10), ("late".to_string(), 30)]
        );
    }

    #[test]
    fn candidates_keep_the_earliest_and_say_when_a_webhook_cannot_place_one() {
        let mut c = Candidates::new(3);
        assert!(c.wants(10));
        c.push(10, "b".into(), 'x');
        c.push(20, "c".into(), 'x');
        c.push(10, "a".into(), 'y');
        c.push(30, "d".into(), 'y');
        assert!(c.wants(20), "20 can still beat the third earliest (20, c)");
        assert!(!c.wants(21), "21 cannot");
        assert_eq!(
            c.into_sorted(),
            vec![
                ("a".to_string(), 'y'),
                ("b".to_string(), 'x'),
                ("c".to_string(), 'x')
            ]
        );
    }

    #[test]
    fn the_row_after_an_outcome_depends_on_the_webhook_only_when_it_waits() {
        use crate::NextState;
        let at: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let row = |next: &NextState, hook: Option<&str>| {
            let r = next_row(next, hook);
            (r.status, r.due_at.is_some(), r.held, r.reason)
        };
        assert_eq!(
            row(&NextState::Succeeded, None),
            (DeliveryStatus::Succeeded, false, false, None)
        );
        assert_eq!(
            row(&NextState::Dead("gave up".into()), None),
            (DeliveryStatus::Dead, false, false, Some("gave up".into()))
        );
        assert_eq!(
            row(&NextState::Retry(at), Some("active")),
            (DeliveryStatus::Failed, true, false, None)
        );
        assert_eq!(
            row(&NextState::Retry(at), Some("paused")),
            (DeliveryStatus::Scheduled, true, true, None)
        );
        assert_eq!(
            row(&NextState::Defer(at), Some("active")),
            (DeliveryStatus::Scheduled, true, false, None)
        );
        assert_eq!(
            row(&NextState::Retry(at), None),
            (
                DeliveryStatus::Skipped,
                false,
                false,
                Some("webhook deleted".into())
            )
        );
        assert!(NextState::Defer(at).waits() && !NextState::Succeeded.waits());
    }
}
