//! Presets for merchants' favourite targets, reached without middleware:
//! Telegram's Bot API `sendMessage`, a Slack incoming webhook, and a flat row for a
//! Google Apps Script web app that appends to a sheet.

use serde_json::{Value, json};

use super::{Doc, ProfileInput, resource};

/// The default message: a new (paid) order in one glance.
pub const DEFAULT_MESSAGE: &str = "🛒 {% if event.type == 'order.paid' %}Paid order{% else %}Order{% endif %} {{ order.number or order.id }}\n\
{{ order.customer.first_name }} {{ order.customer.last_name }} {{ order.customer.email }}\n\
{% for i in order['items'] or [] %}• {{ i.name }}{% if i.variant %} ({{ i.variant }}){% endif %} × {{ i.quantity }}\n{% endfor %}\
Total: {{ order.total }} {{ order.currency }}";

fn text(input: &ProfileInput<'_>) -> Result<String, String> {
    let source = input.template.unwrap_or(DEFAULT_MESSAGE);
    crate::template::render(source, input.context).map_err(|e| e.message)
}

/// `sendMessage` body; `chat_id` comes from the URL's `chat_id` query parameter
/// (`https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=123`).
pub fn telegram(input: &ProfileInput<'_>) -> Result<Value, String> {
    let chat_id = url::Url::parse(input.url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "chat_id")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or("the telegram preset needs `?chat_id=…` in the webhook URL")?;
    let chat: Value = chat_id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::String(chat_id));
    Ok(json!({"chat_id": chat, "text": text(input)?, "disable_web_page_preview": true}))
}

/// Slack incoming-webhook body.
pub fn slack(input: &ProfileInput<'_>) -> Result<Value, String> {
    Ok(json!({"text": text(input)?}))
}

/// One flat row: the columns a sheet gets, the same for every event; a column the
/// event's resource has no such field for is empty.
pub fn sheets(input: &ProfileInput<'_>) -> Value {
    const O: &[&str] = &["order"];
    const OC: &[&str] = &["order", "checkout"];
    const P: &[&str] = &["product"];
    let e = input.event;
    let kind = e.event_type.subject_kind().unwrap_or("order");
    let r: Doc<'_> = resource(e, kind);
    let col = |k: &str, kinds: &[&str]| {
        if kinds.contains(&kind) {
            r.s(k)
        } else {
            String::new()
        }
    };
    let items: Vec<String> = if kind == "product" {
        Vec::new()
    } else {
        r.items()
            .iter()
            .map(|i| format!("{} x{}", i.first(&["sku", "name"]), i.s("quantity")))
            .collect()
    };
    json!({
        "event": e.event_type.as_str(), "event_id": e.id, "date": e.created_at.to_string(),
        "id": r.s("id"), "number": col("number", O), "status": col("status", OC), "paid": col("paid", O),
        "first_name": col("customer.first_name", OC), "last_name": col("customer.last_name", OC),
        "email": col("customer.email", OC), "phone": col("customer.phone", OC),
        "total": col("total", OC), "currency": col("currency", OC), "items": items.join(", "),
        "city": col("shipping_address.city", OC), "tracking_number": col("tracking_number", O),
        "stock": col("stock", P), "sku": col("sku", P),
    })
}
