//! Shoppegram (shop builder, Malay): `{"checkout": {…}}` with `+HH:MM` offsets in the
//! account's zone; an item's `name` is its variant when it has one. Orders are
//! addressed through their checkout, so order events build the same object from
//! the order. Fields: `reference/shoppegram-webhooks.ms.txt`.

use serde_json::{Value, json};

use super::{Doc, ProfileInput, resource, site_url, with_offset};

/// The body.
pub fn body(input: &ProfileInput<'_>) -> Value {
    let tz = input.timezone;
    let (r, is_order) = match input.event.data.get("checkout") {
        Some(_) => (resource(input.event, "checkout"), false),
        None => (resource(input.event, "order"), true),
    };
    let currency = r.s("currency");
    let items: Vec<Value> = r
        .items()
        .iter()
        .map(|i: &Doc<'_>| {
            json!({
                "product": {"name": i.s("name"), "sku": i.s("sku")},
                "name": i.first(&["variant", "name"]),
                "currency": currency,
                "price": i.s("price"),
                "quantity": i.get("quantity").cloned().unwrap_or(json!("")),
                "subtotal": i.s("subtotal"),
            })
        })
        .collect();
    let person = |prefix: &str| {
        json!({
            "first_name": r.s(&format!("{prefix}.first_name")),
            "last_name": r.s(&format!("{prefix}.last_name")),
            "phone": r.s(&format!("{prefix}.phone")),
            "email": r.s(&format!("{prefix}.email")),
        })
    };
    let domain = if is_order {
        r.first(&["source.domain", "source.site"])
    } else {
        r.s("domain")
    };
    // "Link kedai anda": the shop's own address (a checkout has it; for an order,
    // the address of the shop it came from).
    let url = match is_order {
        false if !r.s("url").is_empty() => r.s("url"),
        _ => site_url(&domain),
    };
    let (shipping, rate, completed) = if is_order {
        (
            r.s("shipping_total"),
            r.first(&["shipping_rate", "shipping_method"]),
            r.s("paid_at"),
        )
    } else {
        (r.s("shipping"), r.s("rate"), r.s("completed_at"))
    };
    let mut shipping_address = person("shipping_address");
    for k in ["address1", "address2", "zip", "city", "state"] {
        shipping_address[k] = json!(r.s(&format!("shipping_address.{k}")));
    }
    json!({
        "checkout": {
            "id": if is_order { r.custom("checkout_id").chars().next().map(|_| r.custom("checkout_id")).unwrap_or_else(|| r.s("id")) } else { r.s("id") },
            "domain": domain,
            "url": url,
            "currency": currency,
            "total": r.s("total"),
            "shipping": shipping,
            "rate": rate,
            "completed_at": with_offset(&completed, tz),
            "created_at": with_offset(&r.s("created_at"), tz),
            "items": items,
            "customer": person("customer"),
            "shipping_address": shipping_address,
        }
    })
}
