//! Event derivation: from the previous and the new snapshot of an order, checkout or
//! product to the events the spec's table names. Pure; the store calls it inside the
//! transaction that saves the snapshot, so events and snapshot never disagree.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::condition::as_decimal;
use crate::event::EventType;

/// A kind of shop resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// An order.
    Order,
    /// A checkout (cart on its way to becoming an order).
    Checkout,
    /// A product.
    Product,
}

impl ResourceKind {
    /// Key of the snapshot in event data and the subject prefix (`order:1001`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Order => "order",
            ResourceKind::Checkout => "checkout",
            ResourceKind::Product => "product",
        }
    }

    /// Parses `order`, `checkout`, `product`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "order" => Some(ResourceKind::Order),
            "checkout" => Some(ResourceKind::Checkout),
            "product" => Some(ResourceKind::Product),
            _ => None,
        }
    }
}

/// An event derived from a change, before it gets an id and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedEvent {
    /// What happened.
    pub event_type: EventType,
    /// Event data: `{"order": {…}, "previous_status": …}`.
    pub data: Value,
}

fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// `true`, `"true"`, `1`, `"1"`, `"yes"` are paid; anything else is not.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => {
            matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        }
        _ => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn same_number(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(as_decimal), b.and_then(as_decimal)) {
        (Some(x), Some(y)) => x == y,
        _ => a.filter(|v| !v.is_null()) == b.filter(|v| !v.is_null()),
    }
}

/// Keys whose values differ (a missing key equals `null`).
fn changed_keys(before: &Map<String, Value>, after: &Map<String, Value>) -> BTreeSet<String> {
    let null = Value::Null;
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k).unwrap_or(&null) != after.get(*k).unwrap_or(&null))
        .cloned()
        .collect()
}

fn event(t: EventType, kind: ResourceKind, after: &Value, extra: &[(&str, Value)]) -> DerivedEvent {
    let mut data = Map::new();
    data.insert(kind.as_str().to_string(), after.clone());
    for (k, v) in extra {
        data.insert((*k).to_string(), v.clone());
    }
    DerivedEvent {
        event_type: t,
        data: Value::Object(data),
    }
}

/// The events a new snapshot derives, given the previous one (`None` = new).
/// Identical snapshots derive nothing.
pub fn derive_events(
    kind: ResourceKind,
    before: Option<&Value>,
    after: &Value,
) -> Vec<DerivedEvent> {
    let empty = Map::new();
    let b = before.and_then(Value::as_object);
    let a = after.as_object().unwrap_or(&empty);
    match kind {
        ResourceKind::Order => order_events(b, a, after),
        ResourceKind::Checkout => checkout_events(b, a, after),
        ResourceKind::Product => product_events(b, a, after),
    }
}

fn order_events(
    before: Option<&Map<String, Value>>,
    a: &Map<String, Value>,
    after: &Value,
) -> Vec<DerivedEvent> {
    use EventType::*;
    let k = ResourceKind::Order;
    let Some(b) = before else {
        let mut out = vec![event(OrderCreated, k, after, &[])];
        if truthy(a.get("paid")) {
            out.push(event(OrderPaid, k, after, &[]));
        }
        return out;
    };
    let changed = changed_keys(b, a);
    if changed.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut explained: BTreeSet<&str> = BTreeSet::new();
    if !truthy(b.get("paid")) && truthy(a.get("paid")) {
        out.push(event(OrderPaid, k, after, &[]));
        explained.extend(["paid", "paid_at"]);
    }
    if changed.contains("status") {
        let previous = b.get("status").cloned().unwrap_or(Value::Null);
        out.push(event(
            OrderStatusChanged,
            k,
            after,
            &[("previous_status", previous.clone())],
        ));
        if text(a.get("status")).as_deref() == Some("cancelled") {
            out.push(event(
                OrderCancelled,
                k,
                after,
                &[("previous_status", previous)],
            ));
        }
        explained.extend(["status", "cancelled_at"]);
    }
    if !present(b.get("tracking_number")) && present(a.get("tracking_number")) {
        out.push(event(OrderShipped, k, after, &[]));
        explained.extend(["tracking_number", "carrier"]);
    }
    if !present(b.get("refunded_at")) && present(a.get("refunded_at")) {
        out.push(event(OrderRefunded, k, after, &[]));
        explained.insert("refunded_at");
    }
    if changed.iter().any(|c| !explained.contains(c.as_str())) {
        out.push(event(OrderUpdated, k, after, &[]));
    }
    out
}

fn is_completed(m: &Map<String, Value>) -> bool {
    text(m.get("status")).as_deref() == Some("completed")
}

fn checkout_events(
    before: Option<&Map<String, Value>>,
    a: &Map<String, Value>,
    after: &Value,
) -> Vec<DerivedEvent> {
    use EventType::*;
    let k = ResourceKind::Checkout;
    let Some(b) = before else {
        let mut out = vec![event(CheckoutCreated, k, after, &[])];
        if is_completed(a) {
            out.push(event(CheckoutCompleted, k, after, &[]));
        }
        return out;
    };
    let changed = changed_keys(b, a);
    if changed.is_empty() || is_completed(b) {
        // A completed checkout is history: later edits derive nothing.
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut explained: BTreeSet<&str> = BTreeSet::new();
    if is_completed(a) {
        out.push(event(CheckoutCompleted, k, after, &[]));
        explained.extend(["status", "completed_at"]);
    }
    if changed.iter().any(|c| !explained.contains(c.as_str())) {
        out.push(event(CheckoutUpdated, k, after, &[]));
    }
    out
}

fn product_events(
    before: Option<&Map<String, Value>>,
    a: &Map<String, Value>,
    after: &Value,
) -> Vec<DerivedEvent> {
    use EventType::*;
    let k = ResourceKind::Product;
    let is_zero = |v: Option<&Value>| v.and_then(as_decimal).is_some_and(|d| d.is_zero());
    let Some(b) = before else {
        let mut out = vec![event(ProductCreated, k, after, &[])];
        if is_zero(a.get("stock")) {
            out.push(event(
                ProductOutOfStock,
                k,
                after,
                &[("previous_stock", Value::Null)],
            ));
        }
        return out;
    };
    let changed = changed_keys(b, a);
    if changed.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let stock_changed = !same_number(b.get("stock"), a.get("stock"));
    if stock_changed {
        let previous = b.get("stock").cloned().unwrap_or(Value::Null);
        out.push(event(
            ProductStockChanged,
            k,
            after,
            &[("previous_stock", previous.clone())],
        ));
        if is_zero(a.get("stock")) {
            out.push(event(
                ProductOutOfStock,
                k,
                after,
                &[("previous_stock", previous)],
            ));
        }
    }
    // `stock` written differently but equal ("5" vs 5) explains nothing else either.
    if changed.iter().any(|c| c != "stock") {
        out.push(event(ProductUpdated, k, after, &[]));
    }
    out
}

/// `product.deleted` for the last snapshot.
pub fn deleted_event(last: &Value) -> DerivedEvent {
    event(EventType::ProductDeleted, ResourceKind::Product, last, &[])
}

/// `checkout.abandoned` for the current snapshot.
pub fn abandoned_event(current: &Value) -> DerivedEvent {
    event(
        EventType::CheckoutAbandoned,
        ResourceKind::Checkout,
        current,
        &[],
    )
}

/// Writes the snapshot's stored `version` into each event's resource
/// (`data.order.version`), so receivers, conditions and profiles (SalesDrive's
/// `data.version`) see which version of the resource an event is about. The stored
/// snapshot keeps no `version` key: the API takes it off the body as the
/// optimistic-concurrency check, and shophook sets it.
pub fn stamp_version(events: &mut [DerivedEvent], kind: ResourceKind, version: i64) {
    for e in events {
        if let Some(Value::Object(r)) = e.data.get_mut(kind.as_str()) {
            r.insert("version".to_string(), Value::from(version));
        }
    }
}

/// Whether a checkout still counts as open (abandonment applies).
pub fn checkout_open(snapshot: &Value) -> bool {
    snapshot.as_object().is_none_or(|m| !is_completed(m))
}

/// A short human description of what a value now is, for skip reasons:
/// `order.paid is now true`.
pub fn describe_now(path: &str, values: &[&Value]) -> String {
    match values {
        [] => format!("{path} is now absent"),
        [v] => format!("{path} is now {}", json!(v)),
        vs => format!(
            "{path} is now {}",
            Value::Array(vs.iter().map(|v| (*v).clone()).collect())
        ),
    }
}

#[cfg(test)]
mod tests;
