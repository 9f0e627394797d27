//! SalesDrive (sales CRM, Ukrainian): `{"info": {…}, "data": {…}, "meta": {"fields": …}}`
//! with every key the doc lists. `webhookEvent` is `new_order` for a new order and
//! `status_change` for any later change (SalesDrive sends only those two); `data.version`
//! is the snapshot's version; custom order fields are sent at the top of `data`, as
//! SalesDrive sends its user-defined fields; `meta.fields` carries the option lists
//! shophook knows (statuses, payment and shipping methods the account's orders used).
//! Fields: `reference/salesdrive-webhooks.uk.txt`; the carrier blocks are in
//! [`carriers`].

mod carriers;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Doc, ProfileInput, local, money, resource};
use crate::derive::ResourceKind;
use crate::event::EventType;
use crate::field_options::FieldOptions;

fn product(i: &Doc<'_>) -> Value {
    let c = |k: &str| i.custom(k);
    json!({
        "id": c("id"), "formId": c("formId"), "productId": i.s("product_id"), "parameter": i.first(&["sku", "product_id"]),
        "name": i.s("name"), "sku": i.s("sku"), "amount": i.get("quantity").cloned().unwrap_or(json!("")),
        "price": i.s("price"), "costPrice": c("costPrice"), "discount": i.s("discount"), "percentDiscount": 0,
        "commission": c("commission"), "percentCommission": 0, "description": i.first(&["variant", "custom.description"]),
        "stockId": c("stockId"), "mass": c("mass"), "volume": c("volume"), "restCount": c("restCount"),
        "manufacturer": c("manufacturer"), "preSale": 0, "isComplect": 0, "categoryId": c("categoryId"),
        "categoryName": i.s("category"), "href": i.s("url"), "note": c("note"),
    })
}

fn contact(o: &Doc<'_>) -> Value {
    json!({
        "id": o.s("customer.id"), "formId": "", "version": "", "createTime": "",
        "fName": o.s("customer.first_name"), "lName": o.s("customer.last_name"), "mName": o.s("customer.middle_name"),
        "phone": o.first(&["customer.phone", "shipping_address.phone"]), "email": o.s("customer.email"),
        "company": o.s("customer.company"), "comment": "", "userId": "",
        "counterparty": {"id": "", "name": o.s("customer.company"), "code": o.s("customer.tax_id")},
        "leadsCount": "", "leadsSalesCount": "", "leadsSalesAmount": "",
    })
}

/// `meta.fields`: for `statusId`, `payment_method` and `shipping_method` the values
/// the account's orders used (and this order's own), each as `{"value", "text"}`;
/// `contacts.fields` has no option lists shophook could know.
fn meta_fields(o: &Doc<'_>, known: Option<&FieldOptions>) -> Value {
    let mut options = known.cloned().unwrap_or_default();
    options.observe(ResourceKind::Order, o.0);
    let list = |field: &str| {
        let options: Vec<Value> = options
            .values(field)
            .map(|v| json!({"value": v, "text": v}))
            .collect();
        json!({ "options": options })
    };
    json!({
        "statusId": list("status"),
        "payment_method": list("payment_method"),
        "shipping_method": list("shipping_method"),
        "contacts": {"fields": {}},
    })
}

/// The body.
pub fn body(input: &ProfileInput<'_>) -> Value {
    let o = resource(input.event, "order");
    let tz = input.timezone;
    let total: Decimal = o.s("total").trim().parse().unwrap_or_default();
    let paid = o.get("paid").is_some_and(|v| v.as_bool() == Some(true));
    let payed = if paid { total } else { Decimal::ZERO };
    let event = if input.event.event_type == EventType::OrderCreated {
        "new_order"
    } else {
        "status_change"
    };
    let mut data = json!({
        "id": o.s("id"), "version": o.first(&["version", "custom.version"]), "formId": o.custom("formId"),
        "orderTime": local(&o.s("created_at"), tz), "typeId": o.custom("typeId"), "statusId": o.s("status"),
        "rejectionReason": o.custom("rejectionReason"), "paymentAmount": money(&o.s("total")),
        "commissionAmount": o.custom("commissionAmount"), "costPriceAmount": o.custom("costPriceAmount"),
        "expensesAmount": o.custom("expensesAmount"), "profitAmount": o.custom("profitAmount"),
        "payedAmount": format!("{payed:.2}"), "restPay": format!("{:.2}", total - payed),
        "paymentDate": local(&o.s("paid_at"), tz), "userId": o.custom("userId"),
        "products": o.items().iter().map(product).collect::<Vec<_>>(),
        "comment": o.s("comment"), "payment_method": o.s("payment_method"), "shipping_method": o.s("shipping_method"),
        "ord_delivery": o.first(&["carrier", "shipping_method"]), "timeEntryOrder": local(&o.s("created_at"), tz),
        "holderTime": o.custom("holderTime"), "utmPage": o.s("source.url"), "utmMedium": o.s("utm.medium"),
        "campaignId": o.custom("campaignId"), "utmSourceFull": o.s("source.url"),
        "utmSource": o.s("utm.source"), "utmCampaign": o.s("utm.campaign"),
        "contacts": [contact(&o)],
    });
    if let Value::Object(d) = &mut data {
        for (key, block) in carriers::blocks(&o) {
            d.insert(key.to_string(), block);
        }
        if let Some(Value::Object(custom)) = o.get("custom") {
            for (k, v) in custom {
                d.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    json!({
        "info": {"webhookType": "order", "webhookEvent": event, "account": input.event.account},
        "data": data,
        "meta": {"fields": meta_fields(&o, input.field_options)},
    })
}
