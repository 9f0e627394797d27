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
mod tests {
    use super::*;
    use EventType::*;

    fn check(kind: ResourceKind, before: Option<Value>, after: Value, expect: &[EventType]) {
        let got: Vec<EventType> = derive_events(kind, before.as_ref(), &after)
            .iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(got, expect, "{before:?} -> {after}");
    }

    #[test]
    fn orders() {
        let o = ResourceKind::Order;
        check(
            o,
            None,
            json!({"id": "1", "status": "new", "paid": false}),
            &[OrderCreated],
        );
        check(
            o,
            None,
            json!({"id": "1", "paid": true}),
            &[OrderCreated, OrderPaid],
        );
        check(
            o,
            Some(json!({"id": "1", "paid": false})),
            json!({"id": "1", "paid": false}),
            &[],
        );
        check(
            o,
            Some(json!({"id": "1", "paid": false})),
            json!({"id": "1", "paid": true, "paid_at": "2026-01-01T00:00:00Z"}),
            &[OrderPaid],
        );
        check(
            o,
            Some(json!({"id": "1", "paid": "0"})),
            json!({"id": "1", "paid": "1"}),
            &[OrderPaid],
        );
        check(
            o,
            Some(json!({"id": "1", "paid": true})),
            json!({"id": "1", "paid": false}),
            &[OrderUpdated],
        );
        check(
            o,
            Some(json!({"id": "1", "status": "new"})),
            json!({"id": "1", "status": "packed"}),
            &[OrderStatusChanged],
        );
        check(
            o,
            Some(json!({"id": "1", "status": "new"})),
            json!({"id": "1", "status": "cancelled", "cancelled_at": "x"}),
            &[OrderStatusChanged, OrderCancelled],
        );
        check(
            o,
            Some(json!({"id": "1"})),
            json!({"id": "1", "tracking_number": "EN123", "carrier": "dpd"}),
            &[OrderShipped],
        );
        check(
            o,
            Some(json!({"id": "1", "tracking_number": ""})),
            json!({"id": "1", "tracking_number": "EN1"}),
            &[OrderShipped],
        );
        check(
            o,
            Some(json!({"id": "1", "tracking_number": "EN1"})),
            json!({"id": "1", "tracking_number": "EN2"}),
            &[OrderUpdated],
        );
        check(
            o,
            Some(json!({"id": "1"})),
            json!({"id": "1", "refunded_at": "2026-02-01T00:00:00Z"}),
            &[OrderRefunded],
        );
        check(
            o,
            Some(json!({"id": "1", "items": []})),
            json!({"id": "1", "items": [{"sku": "A"}]}),
            &[OrderUpdated],
        );
        check(
            o,
            Some(json!({"id": "1", "custom": {"a": 1}})),
            json!({"id": "1", "custom": {"a": 2}}),
            &[OrderUpdated],
        );
        check(
            o,
            Some(json!({"id": "1", "status": "new", "paid": false, "total": "10.00"})),
            json!({"id": "1", "status": "processing", "paid": true, "total": "12.00"}),
            &[OrderPaid, OrderStatusChanged, OrderUpdated],
        );
        let ev = derive_events(
            o,
            Some(&json!({"id": "1", "status": "new"})),
            &json!({"id": "1", "status": "shipped"}),
        );
        assert_eq!(ev[0].data["previous_status"], "new");
        assert_eq!(ev[0].data["order"]["status"], "shipped");
    }

    #[test]
    fn checkouts() {
        let c = ResourceKind::Checkout;
        check(
            c,
            None,
            json!({"id": "c1", "status": "open"}),
            &[CheckoutCreated],
        );
        check(
            c,
            Some(json!({"id": "c1", "status": "open"})),
            json!({"id": "c1", "status": "open", "total": "5"}),
            &[CheckoutUpdated],
        );
        check(
            c,
            Some(json!({"id": "c1", "status": "open"})),
            json!({"id": "c1", "status": "completed", "completed_at": "t"}),
            &[CheckoutCompleted],
        );
        check(
            c,
            Some(json!({"id": "c1", "status": "completed"})),
            json!({"id": "c1", "status": "completed", "total": "9"}),
            &[],
        );
        check(c, Some(json!({"id": "c1"})), json!({"id": "c1"}), &[]);
        assert!(checkout_open(&json!({"status": "open"})));
        assert!(!checkout_open(&json!({"status": "completed"})));
    }

    #[test]
    fn products() {
        let p = ResourceKind::Product;
        check(p, None, json!({"id": "p", "stock": 3}), &[ProductCreated]);
        check(
            p,
            None,
            json!({"id": "p", "stock": 0}),
            &[ProductCreated, ProductOutOfStock],
        );
        check(
            p,
            Some(json!({"id": "p", "stock": 3})),
            json!({"id": "p", "stock": 2}),
            &[ProductStockChanged],
        );
        check(
            p,
            Some(json!({"id": "p", "stock": 3})),
            json!({"id": "p", "stock": 0}),
            &[ProductStockChanged, ProductOutOfStock],
        );
        check(
            p,
            Some(json!({"id": "p", "stock": 3})),
            json!({"id": "p", "stock": "3"}),
            &[],
        );
        check(
            p,
            Some(json!({"id": "p", "stock": 3, "price": "1.00"})),
            json!({"id": "p", "stock": 3, "price": "2.00"}),
            &[ProductUpdated],
        );
        check(
            p,
            Some(json!({"id": "p", "name": "Kubek"})),
            json!({"id": "p", "name": "Kubek ☕"}),
            &[ProductUpdated],
        );
        let ev = derive_events(
            p,
            Some(&json!({"id": "p", "stock": 3})),
            &json!({"id": "p", "stock": 0}),
        );
        assert_eq!(ev[0].data["previous_stock"], 3);
        assert_eq!(
            deleted_event(&json!({"id": "p"})).event_type,
            ProductDeleted
        );
        assert_eq!(
            abandoned_event(&json!({"id": "c"})).data["checkout"]["id"],
            "c"
        );
    }

    #[test]
    fn the_stored_version_goes_into_each_events_resource() {
        let mut ev = derive_events(
            ResourceKind::Order,
            Some(&json!({"id": "1", "status": "new"})),
            &json!({"id": "1", "status": "cancelled"}),
        );
        stamp_version(&mut ev, ResourceKind::Order, 4);
        assert_eq!(ev.len(), 2);
        for e in &ev {
            assert_eq!(e.data["order"]["version"], 4);
            assert_eq!(e.data["previous_status"], "new");
        }
    }

    #[test]
    fn describe() {
        assert_eq!(
            describe_now("order.paid", &[&json!(true)]),
            "order.paid is now true"
        );
        assert_eq!(describe_now("order.x", &[]), "order.x is now absent");
    }
}
