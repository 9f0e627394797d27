//! The event context: what conditions, URL placeholders and templates see.
//!
//! `event{id, type, created_at}`, `account{id, name}`, `webhook{id, name}`,
//! `delivery{id}` and the event's data keys (`order`, `checkout`, `product`,
//! `previous_status`, …) at the top level. The data is borrowed, never copied: a
//! context is built per event and per webhook on the hot path.

use serde_json::{Map, Value, json};

use crate::FieldError;
use crate::event::Event;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key (`order`, `custom`, `delivery-date`).
    Key(String),
    /// An array index (`items[0]` or `items.0`).
    Index(usize),
    /// Every element (`items[*]` or `items.*`).
    Any,
}

/// A parsed field path such as `order.items[*].category`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

impl FieldPath {
    /// Parses `a.b[0].c`, `a.b[*].c`, `a.b.*.c`. Keys may hold any character but
    /// `.`, `[` and `]`.
    pub fn parse(path: &str) -> Result<FieldPath, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                "",
                "invalid_field_path",
                format!("`{path}` is not a field path ({why}); write e.g. `order.items[*].sku`"),
            )
        };
        if path.is_empty() || path.len() > 256 {
            return Err(bad("1–256 characters"));
        }
        let mut segments = Vec::new();
        for part in path.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            match name {
                "" if rest.is_empty() => return Err(bad("empty segment")),
                "" => {}
                "*" => segments.push(Segment::Any),
                n if n.contains(']') => return Err(bad("unbalanced `]`")),
                n => segments.push(Segment::Key(n.to_string())),
            }
            while !rest.is_empty() {
                let close = rest.find(']').ok_or_else(|| bad("unclosed `[`"))?;
                let inner = &rest[1..close];
                segments.push(match inner {
                    "*" => Segment::Any,
                    n => Segment::Index(n.parse().map_err(|_| bad("`[…]` takes a number or `*`"))?),
                });
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(bad("text after `]`"));
                }
            }
        }
        match segments.first() {
            Some(Segment::Key(_)) => Ok(FieldPath { segments }),
            _ => Err(bad("it must start with a name such as `order`")),
        }
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

/// What an event looks like to conditions, templates and placeholders.
#[derive(Debug, Clone)]
pub struct EventContext<'a> {
    data: &'a Value,
    event: Value,
    account: Value,
    webhook: Value,
    delivery: Value,
}

impl<'a> EventContext<'a> {
    /// The context of `event` in the account named `account_name`.
    pub fn new(event: &'a Event, account_name: &str) -> Self {
        EventContext {
            data: &event.data,
            event: json!({
                "id": event.id,
                "type": event.event_type.as_str(),
                "created_at": event.created_at.to_string(),
            }),
            account: json!({"id": event.account, "name": account_name}),
            webhook: Value::Null,
            delivery: Value::Null,
        }
    }

    /// Adds the webhook the event is being delivered to.
    pub fn with_webhook(mut self, id: &str, name: &str) -> Self {
        self.webhook = json!({"id": id, "name": name});
        self
    }

    /// Adds the delivery (the `{id_job}`).
    pub fn with_delivery(mut self, id: &str) -> Self {
        self.delivery = json!({"id": id});
        self
    }

    /// A top-level value of the context.
    pub fn root(&self, name: &str) -> Option<&Value> {
        let v = match name {
            "event" => &self.event,
            "account" => &self.account,
            "webhook" => &self.webhook,
            "delivery" => &self.delivery,
            other => self.data.get(other)?,
        };
        (!v.is_null()).then_some(v)
    }

    /// Every value the path reaches. A key applied to an array looks inside each
    /// element, so `order.items.sku` reads like `order.items[*].sku`.
    pub fn resolve(&self, path: &FieldPath) -> Vec<&Value> {
        let mut segs = path.segments().iter();
        let Some(Segment::Key(root)) = segs.next() else {
            return Vec::new();
        };
        let mut current: Vec<&Value> = self.root(root).into_iter().collect();
        for seg in segs {
            let mut next = Vec::with_capacity(current.len());
            for v in current {
                step(v, seg, &mut next);
            }
            current = next;
        }
        current.retain(|v| !v.is_null());
        current
    }

    /// The whole context as one JSON object (for templates and previews).
    pub fn to_value(&self) -> Value {
        let mut map = match self.data {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        map.insert("event".into(), self.event.clone());
        map.insert("account".into(), self.account.clone());
        map.insert("webhook".into(), self.webhook.clone());
        map.insert("delivery".into(), self.delivery.clone());
        Value::Object(map)
    }
}

fn step<'v>(v: &'v Value, seg: &Segment, out: &mut Vec<&'v Value>) {
    match (seg, v) {
        (Segment::Key(k), Value::Object(m)) => out.extend(m.get(k)),
        (Segment::Key(_), Value::Array(items)) => {
            for item in items {
                step(item, seg, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => out.extend(items.get(*i)),
        (Segment::Index(i), Value::Object(m)) => out.extend(m.get(&i.to_string())),
        (Segment::Any, Value::Array(items)) => out.extend(items.iter()),
        (Segment::Any, Value::Object(m)) => out.extend(m.values()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    fn event(data: Value) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: EventType::OrderPaid,
            account: "acme".into(),
            subject: Some("order:1".into()),
            created_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            data,
        }
    }

    fn check(path: &str, expect: &[Value]) {
        let ev = event(json!({"order": {"id": "1", "items": [
            {"sku": "A1", "category": "books"}, {"sku": "B2", "category": "toys"}
        ], "custom": {"delivery-date": "2026-05-01"}}}));
        let ctx = EventContext::new(&ev, "Acme").with_delivery("dlv_1");
        let got: Vec<Value> = ctx
            .resolve(&FieldPath::parse(path).unwrap())
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(got, expect, "{path}");
    }

    #[test]
    fn paths_resolve() {
        check("order.id", &[json!("1")]);
        check("order.items[*].sku", &[json!("A1"), json!("B2")]);
        check("order.items.*.sku", &[json!("A1"), json!("B2")]);
        check("order.items.category", &[json!("books"), json!("toys")]);
        check("order.items[1].sku", &[json!("B2")]);
        check("order.items[7].sku", &[]);
        check("order.custom.delivery-date", &[json!("2026-05-01")]);
        check("event.type", &[json!("order.paid")]);
        check("account.name", &[json!("Acme")]);
        check("delivery.id", &[json!("dlv_1")]);
        check("webhook.id", &[]);
        check("checkout.id", &[]);
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in [
            "", ".a", "a..b", "[0]", "a[x]", "a[1", "a]b", "*.a", "a[0]b",
        ] {
            assert!(FieldPath::parse(p).is_err(), "{p:?} should be refused");
        }
    }
}
