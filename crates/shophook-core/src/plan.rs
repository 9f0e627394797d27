//! Which webhooks an event reaches, and in what state each delivery starts.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::condition::CompiledCondition;
use crate::context::EventContext;
use crate::event::Event;
use crate::schedule;
use crate::webhook::{WebhookConfig, WebhookStatus};

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for a delay, a schedule window or a paused webhook.
    Scheduled,
    /// Due (or being sent).
    Pending,
    /// A request succeeded.
    Succeeded,
    /// The last attempt failed; another is scheduled.
    Failed,
    /// Gave up.
    Dead,
    /// Not sent: conditions no longer held, or the webhook went away.
    Skipped,
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status equals its wire name (`status == "succeeded"`).
impl PartialEq<&str> for DeliveryStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl DeliveryStatus {
    /// All statuses.
    pub const ALL: &'static [DeliveryStatus] = &[
        DeliveryStatus::Scheduled,
        DeliveryStatus::Pending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Dead,
        DeliveryStatus::Skipped,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Scheduled => "scheduled",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        DeliveryStatus::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s)
    }

    /// Whether no further attempt will be made.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Succeeded | DeliveryStatus::Dead | DeliveryStatus::Skipped
        )
    }
}

/// Whether `event` reaches a webhook with this config: its event filter, its
/// product scope and all its conditions.
pub fn reaches(
    config: &WebhookConfig,
    conditions: &[CompiledCondition],
    event: &Event,
    ctx: &EventContext<'_>,
) -> bool {
    config.wants(event.event_type)
        && (config.products.is_empty() || touches_products(&event.data, &config.products))
        && conditions.iter().all(|c| c.holds(ctx))
}

/// Whether the event's order/checkout holds one of `products` (by id or SKU), or the
/// event is about one of those products itself.
pub fn touches_products(data: &Value, products: &[String]) -> bool {
    let listed = |v: Option<&Value>| {
        v.is_some_and(|v| match v {
            Value::String(s) => products.iter().any(|p| p == s),
            Value::Number(n) => products.iter().any(|p| *p == n.to_string()),
            _ => false,
        })
    };
    if let Some(p) = data.get("product")
        && (listed(p.get("id")) || listed(p.get("sku")))
    {
        return true;
    }
    ["order", "checkout"].iter().any(|kind| {
        data.get(kind)
            .and_then(|r| r.get("items"))
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|i| listed(i.get("product_id")) || listed(i.get("sku")))
            })
    })
}

/// The first state of a new delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialState {
    /// `pending` when due now, else `scheduled`.
    pub status: DeliveryStatus,
    /// When it becomes due (after `delay_minutes`, in the next schedule window).
    pub due_at: Timestamp,
    /// Held because the webhook is paused or disabled: not sent until resumed.
    pub held: bool,
}

/// The first state of a new delivery: delayed by `delay_minutes`, moved into the
/// next schedule window, and held (as `scheduled`) while the webhook is not active.
pub fn initial_state(
    status: WebhookStatus,
    config: &WebhookConfig,
    now: Timestamp,
) -> InitialState {
    let delayed = now
        .checked_add(SignedDuration::from_mins(i64::from(config.delay_minutes)))
        .unwrap_or(now);
    let due_at = match &config.schedule {
        Some(s) => schedule::next_open(s, delayed),
        None => delayed,
    };
    let held = status != WebhookStatus::Active;
    let status = if held || due_at > now {
        DeliveryStatus::Scheduled
    } else {
        DeliveryStatus::Pending
    };
    InitialState {
        status,
        due_at,
        held,
    }
}

/// One delivery to store for a webhook an event reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedDelivery {
    /// Starting status.
    pub status: DeliveryStatus,
    /// When it becomes due; `None` while it waits behind an earlier delivery of
    /// the same subject (`ordered` webhooks).
    pub due_at: Option<Timestamp>,
    /// Held while the webhook is paused or disabled.
    pub held: bool,
    /// The order item it is about, for per-item profiles (ekademia).
    pub part: Option<u32>,
}

/// The deliveries to store for one webhook that `event` reaches. `blocked` says the
/// webhook is `ordered` and the subject still has an unfinished delivery (the store
/// looks that up). Per-item profiles get one delivery per order item, each with its
/// own id, retries and history.
pub fn deliveries_for(
    status: WebhookStatus,
    config: &WebhookConfig,
    event: &Event,
    blocked: bool,
    now: Timestamp,
) -> Vec<PlannedDelivery> {
    let s = initial_state(status, config, now);
    let (status, due_at) = if blocked {
        (DeliveryStatus::Scheduled, None)
    } else {
        (s.status, Some(s.due_at))
    };
    let items = event
        .data
        .get("order")
        .and_then(|o| o.get("items"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let parts: Vec<Option<u32>> = if crate::profiles::per_item(&config.format) && items > 1 {
        (0..items as u32).map(Some).collect()
    } else {
        vec![None]
    };
    parts
        .into_iter()
        .map(|part| PlannedDelivery {
            status,
            due_at,
            held: s.held,
            part,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::webhook::WebhookInput;
    use serde_json::json;

    fn config(json: Value) -> WebhookConfig {
        serde_json::from_value::<WebhookInput>(json)
            .unwrap()
            .into_new_config()
            .unwrap()
            .0
    }

    fn ev(t: EventType, data: Value) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: t,
            account: "a".into(),
            subject: None,
            created_at: Timestamp::UNIX_EPOCH,
            data,
        }
    }

    #[test]
    fn filters() {
        let order = json!({"order": {"id": "1", "status": "new", "items": [{"product_id": "p1", "sku": "A1"}]}});
        let table = [
            (
                json!({"url": "https://x/", "events": ["*"]}),
                EventType::OrderCreated,
                true,
            ),
            (
                json!({"url": "https://x/", "events": ["order.paid"]}),
                EventType::OrderCreated,
                false,
            ),
            (
                json!({"url": "https://x/", "events": ["*"], "products": ["A1"]}),
                EventType::OrderCreated,
                true,
            ),
            (
                json!({"url": "https://x/", "events": ["*"], "products": ["p1"]}),
                EventType::OrderCreated,
                true,
            ),
            (
                json!({"url": "https://x/", "events": ["*"], "products": ["Z9"]}),
                EventType::OrderCreated,
                false,
            ),
            (
                json!({"url": "https://x/", "events": ["*"], "conditions": [{"field": "order.status", "op": "eq", "value": "new"}]}),
                EventType::OrderCreated,
                true,
            ),
            (
                json!({"url": "https://x/", "events": ["*"], "conditions": [{"field": "order.status", "op": "eq", "value": "paid"}]}),
                EventType::OrderCreated,
                false,
            ),
        ];
        for (c, t, expect) in table {
            let c = config(c);
            let e = ev(t, order.clone());
            let ctx = EventContext::new(&e, "A");
            assert_eq!(
                reaches(&c, &c.compiled_conditions().unwrap(), &e, &ctx),
                expect,
                "{c:?}"
            );
        }
        assert!(touches_products(
            &json!({"product": {"id": "p1"}}),
            &["p1".into()]
        ));
        assert!(!touches_products(
            &json!({"product": {"id": "p2", "sku": "X"}}),
            &["p1".into()]
        ));
    }

    #[test]
    fn planned_deliveries() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let two_items = ev(
            EventType::OrderPaid,
            json!({"order": {"id": "1", "items": [{"sku": "a"}, {"sku": "b"}]}}),
        );
        let plain = config(json!({"url": "https://x/", "events": ["*"]}));
        let ekademia = config(json!({"url": "https://x/", "events": ["*"], "format": "ekademia"}));
        let one = deliveries_for(WebhookStatus::Active, &plain, &two_items, false, now);
        assert_eq!(
            one,
            [PlannedDelivery {
                status: DeliveryStatus::Pending,
                due_at: Some(now),
                held: false,
                part: None
            }]
        );
        let parts: Vec<_> =
            deliveries_for(WebhookStatus::Active, &ekademia, &two_items, false, now)
                .iter()
                .map(|p| p.part)
                .collect();
        assert_eq!(parts, [Some(0), Some(1)]);
        let blocked = deliveries_for(WebhookStatus::Paused, &plain, &two_items, true, now);
        assert_eq!(
            blocked,
            [PlannedDelivery {
                status: DeliveryStatus::Scheduled,
                due_at: None,
                held: true,
                part: None
            }]
        );
    }

    #[test]
    fn initial_states() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let s = |status, due_at: &str, held| InitialState {
            status,
            due_at: due_at.parse().unwrap(),
            held,
        };
        let plain = config(json!({"url": "https://x/", "events": ["*"]}));
        assert_eq!(
            initial_state(WebhookStatus::Active, &plain, now),
            s(DeliveryStatus::Pending, "2026-03-02T10:00:00Z", false)
        );
        assert_eq!(
            initial_state(WebhookStatus::Paused, &plain, now),
            s(DeliveryStatus::Scheduled, "2026-03-02T10:00:00Z", true)
        );
        let delayed = config(json!({"url": "https://x/", "events": ["*"], "delay_minutes": 30}));
        assert_eq!(
            initial_state(WebhookStatus::Active, &delayed, now),
            s(DeliveryStatus::Scheduled, "2026-03-02T10:30:00Z", false)
        );
        let windowed = config(json!({"url": "https://x/", "events": ["*"],
            "schedule": {"timezone": "UTC", "windows": [{"days": ["mon"], "from": "12:00", "to": "13:00"}]}}));
        assert_eq!(
            initial_state(WebhookStatus::Active, &windowed, now),
            s(DeliveryStatus::Scheduled, "2026-03-02T12:00:00Z", false)
        );
    }
}
