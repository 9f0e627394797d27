//! Event types and the event record: something that happened in a shop.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

macro_rules! event_types {
    ($($variant:ident => $name:literal, $subject:expr;)*) => {
        /// Every event type of the spec's table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType { $($variant),* }

        impl EventType {
            /// All event types, in the order the spec lists them.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The wire name (`order.paid`).
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name),* }
            }

            /// Parses a wire name; `None` for anything not in the spec.
            pub fn parse(name: &str) -> Option<EventType> {
                match name { $($name => Some(EventType::$variant),)* _ => None }
            }

            /// The kind of resource the event is about (`order`, `checkout`, `product`),
            /// which is also the key of its snapshot in the event context.
            pub fn subject_kind(self) -> Option<&'static str> {
                match self { $(EventType::$variant => $subject),* }
            }
        }
    };
}

event_types! {
    OrderCreated => "order.created", Some("order");
    OrderPaid => "order.paid", Some("order");
    OrderStatusChanged => "order.status_changed", Some("order");
    OrderShipped => "order.shipped", Some("order");
    OrderCancelled => "order.cancelled", Some("order");
    OrderRefunded => "order.refunded", Some("order");
    OrderUpdated => "order.updated", Some("order");
    CheckoutCreated => "checkout.created", Some("checkout");
    CheckoutUpdated => "checkout.updated", Some("checkout");
    CheckoutCompleted => "checkout.completed", Some("checkout");
    CheckoutAbandoned => "checkout.abandoned", Some("checkout");
    ProductCreated => "product.created", Some("product");
    ProductUpdated => "product.updated", Some("product");
    ProductDeleted => "product.deleted", Some("product");
    ProductStockChanged => "product.stock_changed", Some("product");
    ProductOutOfStock => "product.out_of_stock", Some("product");
    WebhookTest => "webhook.test", None;
    WebhookDisabled => "webhook.disabled", None;
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EventType::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type `{name}`")))
    }
}

/// Something that happened, as stored and as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `evt_` + ULID.
    pub id: String,
    /// What happened.
    pub event_type: EventType,
    /// The account (merchant) it happened in.
    pub account: String,
    /// The resource it is about, e.g. `order:1001`.
    pub subject: Option<String>,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// The snapshot at that moment, keyed by resource kind: `{"order": {…}}`.
    pub data: serde_json::Value,
}

/// The id prefix of events.
pub const EVENT_ID_PREFIX: &str = "evt_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(EventType::ALL.len(), 18);
        assert_eq!(EventType::parse("order.Paid"), None);
        assert_eq!(EventType::parse("*"), None);
    }
}
