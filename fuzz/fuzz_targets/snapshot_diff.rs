//! Two snapshots of a resource, `[kind, before, after]` (kind 0 order, 1 checkout,
//! 2 product; `before` null for a new one; both objects): validation and event derivation never
//! panic; the same snapshot twice derives nothing; a new one derives its
//! `*.created` first; every event carries the new snapshot; no type repeats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shophook_core::derive::{ResourceKind, derive_events};
use shophook_core::snapshot;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(data) else { return };
    let [kind, before, after] = &parts[..] else { return };
    let kind = match kind.as_u64() {
        Some(0) => ResourceKind::Order,
        Some(1) => ResourceKind::Checkout,
        Some(2) => ResourceKind::Product,
        _ => return,
    };
    // What the store passes: the new snapshot is an object (validation refuses
    // anything else) and the stored one, if any, was such an object too.
    if !after.is_object() || !(before.is_null() || before.is_object()) {
        return;
    }
    let id = after.get("id").and_then(Value::as_str).unwrap_or("1");
    let _ = snapshot::validate(kind, id, after);
    let before = (!before.is_null()).then_some(before);
    if let Some(b) = before {
        let _ = snapshot::validate(kind, id, b);
        assert!(derive_events(kind, Some(b), b).is_empty(), "the same snapshot twice derived events");
    }
    let events = derive_events(kind, before, after);
    assert_eq!(events, derive_events(kind, before, after));
    if before.is_none() {
        let first = events.first().expect("a new resource derives its created event");
        assert_eq!(first.event_type.as_str(), format!("{}.created", kind.as_str()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &events {
        assert_eq!(e.event_type.subject_kind(), Some(kind.as_str()), "{e:?}");
        assert_eq!(e.data.get(kind.as_str()), Some(after), "{e:?}");
        assert!(seen.insert(e.event_type.as_str()), "{:?} twice", e.event_type);
    }
});
