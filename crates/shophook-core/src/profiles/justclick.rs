//! JustClick (sales funnels): a PHP-bracket form — `status`, customer fields,
//! `utm[…]`, `items[n][id|title|sum|price]` and `hash = md5(id . email . paid . secret)`
//! as the doc's PHP example computes it. The created-order notification has no
//! `paid` key (receivers recognise it by that absence); the paid one carries the
//! payment time. Field list: `reference/justclick-invoice-notifications.en.txt`.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use super::{ProfileInput, local, money, resource};
use crate::event::EventType;

/// The body as a nested value (encoded with PHP brackets by the caller).
pub fn body(input: &ProfileInput<'_>) -> Value {
    let o = resource(input.event, "order");
    let tz = input.timezone;
    let cancel = input.event.event_type == EventType::OrderCancelled;
    let paid_event = input.event.event_type == EventType::OrderPaid;
    let status = match input.event.event_type {
        EventType::OrderCancelled => "cancel_order",
        EventType::OrderPaid => "paid",
        _ => "new order",
    };
    let addr = o.address(&["shipping_address", "billing_address"]);
    let ship = |k: &str| addr.s(k);
    let address = {
        let mut a = ship("address1");
        let (house, flat) = (ship("house"), ship("flat"));
        if !house.is_empty() {
            a = format!("{a} {house}").trim().to_string();
            if !flat.is_empty() {
                a = format!("{a}/{flat}");
            }
        }
        a
    };
    let id = o.s("id");
    let email = o.first(&["customer.email", "shipping_address.email"]);
    let paid = if paid_event {
        local(&o.s("paid_at"), tz)
    } else {
        String::new()
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("status", json!(status));
    put("id", json!(id));
    put("first_name", json!(o.s("customer.first_name")));
    put("last_name", json!(o.s("customer.last_name")));
    put("middle_name", json!(o.s("customer.middle_name")));
    put("email", json!(email));
    put(
        "phone",
        json!(o.first(&["customer.phone", "shipping_address.phone"])),
    );
    put("city", json!(ship("city")));
    put("country", json!(ship("country")));
    if !cancel {
        put("address", json!(address));
    }
    put("region", json!(addr.first(&["region", "state"])));
    put("postalcode", json!(ship("zip")));
    put("created", json!(local(&o.s("created_at"), tz)));
    put("comment", json!(o.s("comment")));
    if !cancel {
        put("tag", json!(o.s("tag")));
        put("kupon", json!(o.s("coupon")));
        put("domain", json!(o.first(&["source.domain", "source.site"])));
        put("link", json!(o.custom("link")));
    }
    if paid_event {
        put("paid", json!(paid));
    }
    put(
        "utm",
        json!({"medium": o.s("utm.medium"), "source": o.s("utm.source"), "campaign": o.s("utm.campaign"),
               "content": o.s("utm.content"), "term": o.s("utm.term")}),
    );
    let items: Vec<Value> = o
        .items()
        .iter()
        .map(|i| json!({"id": i.first(&["sku", "product_id"]), "title": i.s("name"), "sum": money(&i.first(&["subtotal", "price"])), "price": money(&i.s("price"))}))
        .collect();
    put("items", Value::Array(items));
    let digest = Md5::digest(format!("{id}{email}{paid}{}", input.secret).as_bytes());
    put(
        "hash",
        json!(
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    );
    Value::Object(m)
}
