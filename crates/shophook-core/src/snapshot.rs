//! Checks on an incoming order, checkout or product snapshot: the shapes of the
//! spec's "Resource shapes". Money must be a decimal string (`"10.00"`) — a JSON
//! number would pass through a float — and timestamps must be RFC 3339. Fields the
//! spec does not name are kept as they are (visible to conditions and templates).

use serde_json::{Map, Value};

use crate::FieldError;
use crate::derive::ResourceKind;

// Exactly the money fields of SPEC.md; `shipping_rate` (order) and `rate` (checkout)
// are the shipping rate's *name* ("POS LAJU"), free strings like every other field.
const ORDER_MONEY: &[&str] = &["total", "shipping_total", "discount_total"];
const CHECKOUT_MONEY: &[&str] = &["total", "shipping"];
const PRODUCT_MONEY: &[&str] = &["price"];
const ITEM_MONEY: &[&str] = &["price", "subtotal", "discount"];
const TIMES: &[&str] = &[
    "created_at",
    "paid_at",
    "cancelled_at",
    "refunded_at",
    "completed_at",
];
const OBJECTS: &[&str] = &[
    "customer",
    "billing_address",
    "shipping_address",
    "source",
    "utm",
    "custom",
];

/// Largest accepted snapshot nesting depth (JSON bodies are limited to 1 MiB).
pub const MAX_DEPTH: usize = 32;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn money(field: String, v: Option<&Value>) -> Result<(), FieldError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s))
            if s.trim()
                .parse::<rust_decimal::Decimal>()
                .is_ok_and(|d| d.is_sign_negative() && !d.is_zero()) =>
        {
            Err(FieldError::new(
                field,
                "invalid_money",
                format!(
                    "money is not negative (a discount or refund is a positive amount in its own field), got \"{s}\""
                ),
            ))
        }
        Some(Value::String(s)) if s.trim().parse::<rust_decimal::Decimal>().is_ok() => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(other) => Err(FieldError::new(
            field,
            "invalid_money",
            format!("money is a decimal string such as \"10.00\", got {other}"),
        )),
    }
}

/// Validates `snapshot` of `kind` stored under `id` (the path id). The body's `id`,
/// when present, must equal it.
pub fn validate(kind: ResourceKind, id: &str, snapshot: &Value) -> Result<(), FieldError> {
    let Value::Object(m) = snapshot else {
        return Err(FieldError::new(
            "",
            "invalid_snapshot",
            format!("send the {} as a JSON object", kind.as_str()),
        ));
    };
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(FieldError::new(
            "id",
            "invalid_id",
            "an id of 1–128 printable characters",
        ));
    }
    match m.get("id") {
        None => {}
        Some(Value::String(s)) if s == id => {}
        Some(Value::Number(n)) if n.to_string() == id => {}
        Some(other) => {
            return Err(FieldError::new(
                "id",
                "id_mismatch",
                format!("the body's id {other} differs from the id in the URL (`{id}`)"),
            ));
        }
    }
    if depth(snapshot) > MAX_DEPTH {
        return Err(FieldError::new(
            "",
            "too_deep",
            format!("nested more than {MAX_DEPTH} levels"),
        ));
    }
    let money_fields = match kind {
        ResourceKind::Order => ORDER_MONEY,
        ResourceKind::Checkout => CHECKOUT_MONEY,
        ResourceKind::Product => PRODUCT_MONEY,
    };
    for f in money_fields {
        money((*f).to_string(), m.get(*f))?;
    }
    for f in TIMES {
        if let Some(v) = m.get(*f).filter(|v| !v.is_null() && v.as_str() != Some("")) {
            let ok = v
                .as_str()
                .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok());
            if !ok {
                return Err(FieldError::new(
                    *f,
                    "invalid_timestamp",
                    format!("an RFC 3339 time such as \"2026-03-01T10:00:00+01:00\", got {v}"),
                ));
            }
        }
    }
    for f in OBJECTS {
        if let Some(v) = m.get(*f)
            && !(v.is_object() || v.is_null())
        {
            return Err(FieldError::new(
                *f,
                "invalid_field",
                format!("`{f}` is an object"),
            ));
        }
    }
    if let Some(v) = m.get("paid")
        && !(v.is_boolean() || v.is_null())
    {
        return Err(FieldError::new(
            "paid",
            "invalid_field",
            "`paid` is true or false",
        ));
    }
    if kind == ResourceKind::Product
        && let Some(v) = m.get("stock").filter(|v| !v.is_null())
        && !(v.is_i64() || v.is_u64())
    {
        return Err(FieldError::new(
            "stock",
            "invalid_field",
            "`stock` is a whole number",
        ));
    }
    items(m)
}

fn items(m: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(v) = m.get("items") else {
        return Ok(());
    };
    let Value::Array(items) = v else {
        return Err(FieldError::new(
            "items",
            "invalid_field",
            "`items` is a list",
        ));
    };
    if items.len() > 1000 {
        return Err(FieldError::new("items", "too_many", "at most 1000 items"));
    }
    for (i, item) in items.iter().enumerate() {
        let Value::Object(it) = item else {
            return Err(FieldError::new(
                format!("items[{i}]"),
                "invalid_field",
                "each item is an object",
            ));
        };
        for f in ITEM_MONEY {
            money(format!("items[{i}].{f}"), it.get(*f))?;
        }
        if let Some(q) = it.get("quantity").filter(|v| !v.is_null())
            && !q.as_f64().is_some_and(|n| n >= 0.0)
        {
            return Err(FieldError::new(
                format!("items[{i}].quantity"),
                "invalid_field",
                "`quantity` is a number, 0 or more",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let o = ResourceKind::Order;
        let ok = [
            json!({"id": "1001", "total": "10.00", "paid": true, "items": [{"sku": "A1", "price": "5.00", "quantity": 2}]}),
            json!({"total": "99999999999999999.99", "created_at": "2026-03-01T10:00:00+01:00", "custom": {"x": [1, 2]}}),
            json!({"id": 1001, "total": null, "paid_at": ""}),
            json!({"id": "1001", "shipping_address": {"city": "Łódź"}, "comment": "Zażółć 🚚"}),
            json!({"shipping_rate": "Kurier DPD 24h", "shipping_total": "14.99", "comment": "a + b & c = d"}),
        ];
        for s in ok {
            validate(o, "1001", &s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let bad = [
            (json!({"id": "1002"}), "id"),
            (json!({"total": 10.5}), "total"),
            (json!({"total": "ten"}), "total"),
            (json!({"items": [{"price": 5}]}), "items[0].price"),
            (json!({"items": [{"quantity": "2"}]}), "items[0].quantity"),
            (json!({"items": [{"quantity": -1}]}), "items[0].quantity"),
            (json!({"total": "-149.00"}), "total"),
            (json!({"items": [{"price": "-0.01"}]}), "items[0].price"),
            (json!({"items": {"a": 1}}), "items"),
            (json!({"paid_at": "yesterday"}), "paid_at"),
            (json!({"customer": "Jan"}), "customer"),
            (json!({"paid": "yes"}), "paid"),
            (json!([1, 2]), ""),
        ];
        for (s, field) in bad {
            assert_eq!(validate(o, "1001", &s).unwrap_err().field, field, "{s}");
        }
        assert_eq!(
            validate(ResourceKind::Product, "p", &json!({"stock": 1.5}))
                .unwrap_err()
                .field,
            "stock"
        );
        assert_eq!(
            validate(ResourceKind::Checkout, "c", &json!({"shipping": 4}))
                .unwrap_err()
                .field,
            "shipping"
        );
        validate(
            ResourceKind::Checkout,
            "c",
            &json!({"rate": "POS LAJU", "shipping": "8.00"}),
        )
        .unwrap();
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!({"a": deep});
        }
        assert_eq!(
            validate(o, "1", &json!({"custom": deep})).unwrap_err().code,
            "too_deep"
        );
    }
}
