//! Option lists: the values an account's orders have used for their status, payment
//! method and shipping method. A CRM shows such lists next to its fields (SalesDrive
//! sends them as `meta.fields`); shophook learns them from the orders it is given,
//! since the shop never sends the lists themselves.
//!
//! The store records what [`observed`] finds in each order snapshot (bounded per
//! field, so a shop sending a new status with every order cannot grow it without
//! end); profiles read the lists, merged with the current order's own values.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::derive::ResourceKind;

/// The order fields whose values are recorded, in the order profiles list them.
pub const FIELDS: &[&str] = &["status", "payment_method", "shipping_method"];

/// At most this many values per field and account are kept.
pub const MAX_VALUES: usize = 100;

/// Values longer than this (in bytes) are not recorded.
pub const MAX_VALUE_LEN: usize = 200;

/// The `(field, value)` pairs of a snapshot worth recording: the non-empty text of
/// each of [`FIELDS`] in an order. Other resources record nothing.
pub fn observed(kind: ResourceKind, snapshot: &Value) -> Vec<(&'static str, String)> {
    if kind != ResourceKind::Order {
        return Vec::new();
    }
    FIELDS
        .iter()
        .filter_map(|f| {
            let v = snapshot.get(*f)?.as_str()?.trim();
            (!v.is_empty() && v.len() <= MAX_VALUE_LEN).then(|| (*f, v.to_string()))
        })
        .collect()
}

/// The values seen per field, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldOptions {
    values: BTreeMap<String, BTreeSet<String>>,
}

impl FieldOptions {
    /// Adds `value` to `field`'s list; `false` when it was there already or the list
    /// is full ([`MAX_VALUES`]).
    pub fn insert(&mut self, field: &str, value: &str) -> bool {
        let list = self.values.entry(field.to_string()).or_default();
        if list.len() >= MAX_VALUES || list.contains(value) {
            return false;
        }
        list.insert(value.to_string())
    }

    /// Whether `value` is in `field`'s list.
    pub fn contains(&self, field: &str, value: &str) -> bool {
        self.values.get(field).is_some_and(|l| l.contains(value))
    }

    /// How many values `field` has.
    pub fn count(&self, field: &str) -> usize {
        self.values.get(field).map_or(0, BTreeSet::len)
    }

    /// `field`'s values, sorted.
    pub fn values(&self, field: &str) -> impl Iterator<Item = &str> {
        self.values
            .get(field)
            .into_iter()
            .flat_map(|l| l.iter().map(String::as_str))
    }

    /// Adds what [`observed`] finds in `snapshot` (a profile adds the current
    /// order's own values this way, recorded or not).
    pub fn observe(&mut self, kind: ResourceKind, snapshot: &Value) {
        for (f, v) in observed(kind, snapshot) {
            self.insert(f, &v);
        }
    }

    /// Whether no field has a value.
    pub fn is_empty(&self) -> bool {
        self.values.values().all(BTreeSet::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_record_their_status_and_methods() {
        let order = json!({"status": "new", "payment_method": " blik ", "shipping_method": "",
                           "carrier": "dpd", "total": "1.00"});
        assert_eq!(
            observed(ResourceKind::Order, &order),
            vec![("status", "new".into()), ("payment_method", "blik".into())]
        );
        assert!(observed(ResourceKind::Product, &json!({"status": "x"})).is_empty());
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        assert!(observed(ResourceKind::Order, &json!({"status": long})).is_empty());
        assert!(observed(ResourceKind::Order, &json!({"status": 3})).is_empty());
    }

    #[test]
    fn lists_are_sorted_deduplicated_and_bounded() {
        let mut o = FieldOptions::default();
        assert!(o.is_empty());
        assert!(o.insert("status", "processing"));
        assert!(o.insert("status", "new"));
        assert!(!o.insert("status", "new"));
        assert_eq!(
            o.values("status").collect::<Vec<_>>(),
            ["new", "processing"]
        );
        assert_eq!(o.values("payment_method").count(), 0);
        for i in 0..MAX_VALUES * 2 {
            o.insert("shipping_method", &format!("m{i}"));
        }
        assert_eq!(o.count("shipping_method"), MAX_VALUES);
        assert!(o.contains("status", "new") && !o.contains("status", "x"));
    }
}
