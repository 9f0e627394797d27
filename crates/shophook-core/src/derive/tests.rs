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
