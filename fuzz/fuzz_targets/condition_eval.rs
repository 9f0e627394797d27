//! A condition (field path, operator, operand) evaluated against event data, all
//! from the input `[field, op, value, data]`: never a panic; each operator and its
//! negation never agree; on a field with one value, `gt`/`lte` and `lt`/`gte` never
//! both hold; evaluating twice gives the same answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use shophook_core::condition::{Condition, Op};
use shophook_core::context::{EventContext, FieldPath};
use shophook_core::event::{Event, EventType};

fn op(name: &str) -> Option<Op> {
    serde_json::from_value(json!(name)).ok()
}

fn holds(field: &str, op: Op, value: &Option<Value>, ctx: &EventContext<'_>) -> Option<bool> {
    let c = Condition { field: field.to_string(), op, value: value.clone() };
    let compiled = c.compile().ok()?;
    let _ = compiled.describe();
    let first = compiled.holds(ctx);
    assert_eq!(first, compiled.holds(ctx), "{c:?}");
    Some(first)
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(data) else { return };
    let [Value::String(field), Value::String(op_name), value, event_data] = &parts[..] else {
        return;
    };
    let Some(op_) = op(op_name) else { return };
    if let Ok(path) = FieldPath::parse(field) {
        assert!(!path.segments().is_empty());
    }
    let event = Event {
        id: "evt_fuzz".into(),
        event_type: EventType::OrderPaid,
        account: "fuzz".into(),
        subject: None,
        created_at: jiff::Timestamp::UNIX_EPOCH,
        data: event_data.clone(),
    };
    let ctx = EventContext::new(&event, "Fuzz");
    let _ = ctx.to_value();
    let value = (!value.is_null()).then(|| value.clone());
    let Some(result) = holds(field, op_, &value, &ctx) else { return };

    let negation = match op_ {
        Op::Eq => Some(Op::Ne),
        Op::Ne => Some(Op::Eq),
        Op::In => Some(Op::NotIn),
        Op::NotIn => Some(Op::In),
        Op::Contains => Some(Op::NotContains),
        Op::NotContains => Some(Op::Contains),
        Op::Exists => Some(Op::NotExists),
        Op::NotExists => Some(Op::Exists),
        _ => None,
    };
    if let Some(neg) = negation {
        let other = holds(field, neg, &value, &ctx).expect("the negation compiles too");
        assert_ne!(result, other, "{op_:?} and {neg:?} agree on {field} {value:?}");
    }
    let path = FieldPath::parse(field).expect("compiled");
    if ctx.resolve(&path).len() == 1 {
        let h = |o| holds(field, o, &value, &ctx);
        if let (Some(gt), Some(lte)) = (h(Op::Gt), h(Op::Lte)) {
            assert!(!(gt && lte), "gt and lte both hold: {field} {value:?}");
        }
        if let (Some(lt), Some(gte)) = (h(Op::Lt), h(Op::Gte)) {
            assert!(!(lt && gte), "lt and gte both hold: {field} {value:?}");
        }
        if let (Some(true), Some(true), Some(eq)) = (h(Op::Gte), h(Op::Lte), h(Op::Eq)) {
            assert!(eq, "gte and lte hold but eq does not: {field} {value:?}");
        }
    }
});
