//! Ekademia (online courses, Polish): a flat form, one request per product of the
//! order; `paid=0` when the order is placed and `paid=1` when it is paid.
//! Field list and formats: `reference/ekademia-order-webhook.pl.txt`.

use super::{ProfileInput, money, resource, site_url, unix};
use crate::event::EventType;

/// The form fields, in the documented order.
pub fn fields(input: &ProfileInput<'_>) -> Vec<(String, String)> {
    let o = resource(input.event, "order");
    let items = o.items();
    let item = input
        .part
        .and_then(|i| items.get(i).copied())
        .or_else(|| items.first().copied());
    let it = |path: &str| item.map(|d| d.s(path)).unwrap_or_default();
    let c = |path: &str| {
        o.first(&[
            &format!("customer.{path}"),
            &format!("billing_address.{path}"),
        ])
    };
    let address = o.address(&["billing_address", "shipping_address"]);
    let addr = |path: &str| address.s(path);
    let paid = match input.event.event_type {
        EventType::OrderCreated => "0".to_string(),
        EventType::OrderPaid => "1".to_string(),
        _ => o.s("paid").replace("true", "1").replace("false", "0"),
    };
    let paid = if paid.is_empty() {
        "0".to_string()
    } else {
        paid
    };
    let amount = match item {
        Some(d) => money(&d.first(&["subtotal", "price"])),
        None => money(&o.s("total")),
    };
    let f = |k: &str, v: String| (k.to_string(), v);
    vec![
        f("order_id", o.s("id")),
        f("product_id", it("product_id")),
        f(
            "product_shortname",
            item.map(|d| d.first(&["slug", "custom.slug"]))
                .unwrap_or_default(),
        ),
        f("product_fullname", it("name")),
        f("product_category", it("category")),
        f("product_type", it("type")),
        f("product_lang", it("language")),
        // "adres platformy np. http://www.ekademia.pl": the shop's address as a URL.
        f(
            "product_wwwroot",
            site_url(&o.first(&["source.domain", "source.site"])),
        ),
        // "adres wnętrza produktu pełen url": the item's own page, never another one.
        f("product_url", it("url")),
        f("creator_id", o.custom("creator_id")),
        f("coach_id", o.custom("coach_id")),
        f("amount", amount),
        f("session_id", o.s("source.session")),
        f("paid", paid),
        f("order_date", unix(&o.s("created_at"))),
        f("paid_date", unix(&o.s("paid_at"))),
        f("return_date", unix(&o.s("refunded_at"))),
        f("client_id", o.s("customer.id")),
        f("email", c("email")),
        f("phone", c("phone")),
        f("first_name", c("first_name")),
        f("last_name", c("last_name")),
        f("street", addr("address1")),
        f("street_hn", addr("house")),
        f("street_an", addr("flat")),
        f("post_code", addr("zip")),
        f("city", addr("city")),
        f("country", addr("country")),
        f("company", o.s("customer.company")),
        f("nip", o.s("customer.tax_id")),
        f("language", o.s("customer.language")),
        f("client_ip", o.s("customer.ip")),
        f("payback_login", String::new()),
        f("send_first_name", String::new()),
        f("send_last_name", String::new()),
        f("send_street", String::new()),
        f("send_street_hn", String::new()),
        f("send_street_an", String::new()),
        f("send_post_code", String::new()),
        f("send_city", String::new()),
        f("send_country", String::new()),
        f("utm_source", o.s("utm.source")),
        f("utm_medium", o.s("utm.medium")),
        f("utm_content", o.s("utm.content")),
        f("utm_term", o.s("utm.term")),
        f("utm_campaign", o.s("utm.campaign")),
        f("track", o.custom("track")),
        f("group", String::new()),
    ]
}
