use super::*;
use crate::event::{Event, EventType};
use serde_json::json;

fn holds(cond: Value) -> bool {
    let ev = Event {
        id: "evt_1".into(),
        event_type: EventType::OrderCreated,
        account: "acme".into(),
        subject: None,
        created_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        data: json!({"order": {
            "status": "new", "paid": false, "total": "120.50", "number": 1001,
            "source": {"site": "shop-a.example"}, "tag": "vip,wholesale",
            "items": [{"sku": "A1", "category": "books", "price": "10.00"},
                      {"sku": "B2", "category": "toys", "price": "99.99"}],
            "custom": {"gift": true, "note": "Zażółć gęślą jaźń"}
        }}),
    };
    let c: Condition = serde_json::from_value(cond).unwrap();
    c.compile().unwrap().holds(&EventContext::new(&ev, "Acme"))
}

#[test]
fn operators() {
    let table = [
        (
            json!({"field": "order.status", "op": "eq", "value": "new"}),
            true,
        ),
        (
            json!({"field": "order.status", "op": "ne", "value": "new"}),
            false,
        ),
        (
            json!({"field": "order.total", "op": "eq", "value": "120.5"}),
            true,
        ),
        (
            json!({"field": "order.total", "op": "gt", "value": 100}),
            true,
        ),
        (
            json!({"field": "order.total", "op": "gt", "value": "120.50"}),
            false,
        ),
        (
            json!({"field": "order.total", "op": "gte", "value": "120.50"}),
            true,
        ),
        (
            json!({"field": "order.total", "op": "lt", "value": "9"}),
            false,
        ),
        (
            json!({"field": "order.number", "op": "lte", "value": "1001"}),
            true,
        ),
        (
            json!({"field": "order.number", "op": "eq", "value": "1001"}),
            true,
        ),
        (
            json!({"field": "order.paid", "op": "eq", "value": false}),
            true,
        ),
        (
            json!({"field": "order.paid", "op": "eq", "value": "false"}),
            true,
        ),
        (
            json!({"field": "order.status", "op": "in", "value": ["new", "processing"]}),
            true,
        ),
        (
            json!({"field": "order.status", "op": "not_in", "value": ["new"]}),
            false,
        ),
        (
            json!({"field": "order.tag", "op": "contains", "value": "vip"}),
            true,
        ),
        (
            json!({"field": "order.tag", "op": "not_contains", "value": "vip"}),
            false,
        ),
        (
            json!({"field": "order.items[*].category", "op": "eq", "value": "books"}),
            true,
        ),
        (
            json!({"field": "order.items[*].category", "op": "ne", "value": "books"}),
            false,
        ),
        (
            json!({"field": "order.items.category", "op": "eq", "value": "garden"}),
            false,
        ),
        (
            json!({"field": "order.items[*].price", "op": "gt", "value": "50"}),
            true,
        ),
        (json!({"field": "order.custom.gift", "op": "exists"}), true),
        (
            json!({"field": "order.custom.missing", "op": "exists"}),
            false,
        ),
        (
            json!({"field": "order.custom.missing", "op": "not_exists"}),
            true,
        ),
        (
            json!({"field": "order.source.site", "op": "starts_with", "value": "shop-a"}),
            true,
        ),
        (
            json!({"field": "order.source.site", "op": "ends_with", "value": ".example"}),
            true,
        ),
        (
            json!({"field": "order.custom.note", "op": "matches", "value": "^Zażółć"}),
            true,
        ),
        (
            json!({"field": "order.source.site", "op": "matches", "value": "^shop-[bc]"}),
            false,
        ),
        (
            json!({"field": "event.type", "op": "eq", "value": "order.created"}),
            true,
        ),
        (
            json!({"field": "checkout.id", "op": "eq", "value": "1"}),
            false,
        ),
        (
            json!({"field": "order.total", "op": "gt", "value": "99999999999999999999999"}),
            false,
        ),
    ];
    for (cond, expect) in table {
        assert_eq!(holds(cond.clone()), expect, "{cond}");
    }
}

#[test]
fn bad_conditions_name_their_field() {
    let table = [
        (json!({"field": "", "op": "eq", "value": 1}), "field"),
        (
            json!({"field": "order.x", "op": "in", "value": "new"}),
            "value",
        ),
        (
            json!({"field": "order.x", "op": "exists", "value": 1}),
            "value",
        ),
        (
            json!({"field": "order.x", "op": "matches", "value": "("}),
            "value",
        ),
        (json!({"field": "order.x", "op": "eq"}), "value"),
        (
            json!({"field": "order.x", "op": "gt", "value": [1]}),
            "value",
        ),
    ];
    for (cond, field) in table {
        let c: Condition = serde_json::from_value(cond.clone()).unwrap();
        assert_eq!(c.compile().unwrap_err().field, field, "{cond}");
    }
    let list = vec![
        serde_json::from_value(json!({"field": "a", "op": "exists"})).unwrap(),
        serde_json::from_value(json!({"field": "a", "op": "eq"})).unwrap(),
    ];
    assert_eq!(compile_all(&list).unwrap_err().field, "conditions[1].value");
}

#[test]
fn regexes_are_bounded_in_size_and_count_and_compiled_once() {
    let m = |v: &str| -> Condition {
        serde_json::from_value(json!({"field": "order.x", "op": "matches", "value": v})).unwrap()
    };
    // the issue's `\w{20}`: Unicode word characters repeated compile past the bound
    let e = m("\\w{20}").compile().unwrap_err();
    assert!(
        e.message.contains("smaller regular expression"),
        "{}",
        e.message
    );
    assert!(m("[a-zA-Z0-9_]{20}").compile().is_ok());
    // ten per webhook, not eleven
    let ten: Vec<Condition> = (0..10).map(|i| m(&format!("^a{i}"))).collect();
    assert!(compile_all(&ten).is_ok());
    let mut eleven = ten.clone();
    eleven.push(m("^b"));
    let e = compile_all(&eleven).unwrap_err();
    assert_eq!((e.field.as_str(), e.code), ("conditions", "too_many"));
    assert_eq!(regex_count(&eleven), 11);
    // compiled once: the second compile of the same source is the cached one
    let first = cached_regex("^cache-me$").unwrap();
    let again = cached_regex("^cache-me$").unwrap();
    assert_eq!(first.as_str(), again.as_str());
    assert!(again.is_match("cache-me"));
}

#[test]
fn every_operator_has_one_name_both_ways() {
    for op in Op::ALL {
        let via_serde = serde_json::to_value(op).unwrap();
        assert_eq!(via_serde, op.name(), "{op:?}");
        assert_eq!(Op::parse(op.name()), Some(op));
    }
    assert_eq!(Op::parse("bigger_than"), None);
    assert_eq!(Op::Exists.value_kind(), ValueKind::None);
    assert_eq!(Op::NotIn.value_kind(), ValueKind::List);
    assert_eq!(Op::Matches.value_kind(), ValueKind::One);
}
