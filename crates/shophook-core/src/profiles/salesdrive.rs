//! SalesDrive (sales CRM, Ukrainian): `{"info": {…}, "data": {…}, "meta": {"fields": …}}`.
//! `webhookEvent` is `new_order` for a new order and `status_change` for any later
//! change (SalesDrive sends only those two). Custom order fields are sent at the top
//! of `data`, as SalesDrive sends its user-defined fields.
//! Fields: `reference/salesdrive-webhooks.uk.txt`.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{Doc, ProfileInput, local, money, resource};
use crate::event::EventType;

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

fn carrier(o: &Doc<'_>, name: &str, number_key: &str) -> Value {
    let is = o
        .s("carrier")
        .to_ascii_lowercase()
        .replace([' ', '_', '-'], "")
        == name;
    if !is {
        return json!({});
    }
    let mut m = Map::new();
    m.insert(number_key.to_string(), json!(o.s("tracking_number")));
    m.insert("delivery".into(), json!(o.s("shipping_method")));
    m.insert("city".into(), json!(o.s("shipping_address.city")));
    m.insert("house".into(), json!(o.s("shipping_address.house")));
    m.insert("flat".into(), json!(o.s("shipping_address.flat")));
    Value::Object(m)
}

/// The body.
pub fn body(input: &ProfileInput<'_>) -> Value {
    let o = resource(input.event, "order");
    let tz = input.timezone;
    let total: Decimal = o.s("total").parse().unwrap_or_default();
    let paid = o.get("paid").is_some_and(|v| v.as_bool() == Some(true));
    let payed = if paid { total } else { Decimal::ZERO };
    let event = if input.event.event_type == EventType::OrderCreated {
        "new_order"
    } else {
        "status_change"
    };
    let contact = json!({
        "id": o.s("customer.id"), "formId": "", "version": "", "createTime": "",
        "fName": o.s("customer.first_name"), "lName": o.s("customer.last_name"), "mName": o.s("customer.middle_name"),
        "phone": o.first(&["customer.phone", "shipping_address.phone"]), "email": o.s("customer.email"),
        "company": o.s("customer.company"), "comment": "", "userId": "",
        "counterparty": {"id": "", "name": o.s("customer.company"), "code": o.s("customer.tax_id")},
        "leadsCount": "", "leadsSalesCount": "", "leadsSalesAmount": "",
    });
    let mut data = json!({
        "id": o.s("id"), "version": o.custom("version"), "formId": o.custom("formId"),
        "orderTime": local(&o.s("created_at"), tz), "typeId": o.custom("typeId"), "statusId": o.s("status"),
        "rejectionReason": o.custom("rejectionReason"), "paymentAmount": money(&o.s("total")),
        "commissionAmount": o.custom("commissionAmount"), "costPriceAmount": o.custom("costPriceAmount"),
        "expensesAmount": o.custom("expensesAmount"), "profitAmount": o.custom("profitAmount"),
        "payedAmount": format!("{:.2}", payed), "restPay": format!("{:.2}", total - payed),
        "paymentDate": local(&o.s("paid_at"), tz), "userId": o.custom("userId"),
        "products": o.items().iter().map(product).collect::<Vec<_>>(),
        "comment": o.s("comment"), "payment_method": o.s("payment_method"), "shipping_method": o.s("shipping_method"),
        "ord_delivery": o.s("shipping_method"), "timeEntryOrder": local(&o.s("created_at"), tz), "holderTime": "",
        "utmPage": o.s("source.url"), "utmMedium": o.s("utm.medium"), "campaignId": "", "utmSourceFull": o.s("source.url"),
        "utmSource": o.s("utm.source"), "utmCampaign": o.s("utm.campaign"),
        "contacts": [contact],
        "ord_novaposhta": carrier(&o, "novaposhta", "EN"),
        "ord_ukrposhta": carrier(&o, "ukrposhta", "barcode"),
    });
    if let (Some(Value::Object(custom)), Value::Object(d)) = (o.get("custom"), &mut data) {
        for (k, v) in custom {
            d.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({
        "info": {"webhookType": "order", "webhookEvent": event, "account": input.event.account},
        "data": data,
        "meta": {"fields": {"contacts": {"fields": {}}}},
    })
}
