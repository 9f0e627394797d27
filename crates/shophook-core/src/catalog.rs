//! The catalog: every event type and every field path of the event context, with a
//! description and an example. It feeds the condition builder and the template
//! editor, and `GET /catalog`.

use serde_json::{Value, json};

use crate::event::EventType;

/// What an event type means.
pub fn describe_event(t: EventType) -> &'static str {
    use EventType::*;
    match t {
        OrderCreated => "A new order is stored (paid or not).",
        OrderPaid => {
            "An order's `paid` becomes true (also sent with order.created for an order stored already paid)."
        }
        OrderStatusChanged => "An order's status changes; data carries previous_status.",
        OrderShipped => "An order's tracking number becomes set.",
        OrderCancelled => "An order's status becomes cancelled.",
        OrderRefunded => "An order's refunded_at becomes set.",
        OrderUpdated => {
            "Any other change of an order (items, totals, upsell accepted, custom fields…)."
        }
        CheckoutCreated => "A new checkout is stored.",
        CheckoutUpdated => "A stored, still open checkout changes (e.g. an upsell is accepted).",
        CheckoutCompleted => "A checkout's status becomes completed.",
        CheckoutAbandoned => {
            "A checkout is still not completed abandon_after_minutes after it was created."
        }
        ProductCreated => "A new product is stored.",
        ProductUpdated => "A product changes (other than its stock).",
        ProductDeleted => "A product is deleted.",
        ProductStockChanged => "A product's stock changes; data carries previous_stock.",
        ProductOutOfStock => "A product's stock becomes 0.",
        WebhookTest => "A test send from the API or the web UI.",
        WebhookDisabled => {
            "Sent to the account's notify_url when a webhook is disabled after persistent failure."
        }
    }
}

/// (path, description, example) of every documented field.
pub const FIELDS: &[(&str, &str, &str)] = &[
    ("event.id", "Event id", "\"evt_01J2Z3…\""),
    ("event.type", "Event type", "\"order.paid\""),
    (
        "event.created_at",
        "When the event happened (RFC 3339)",
        "\"2026-03-02T10:00:00Z\"",
    ),
    ("account.id", "Account (shop) id", "\"acme\""),
    ("account.name", "Account name", "\"Acme Shop\""),
    ("webhook.id", "Webhook id", "\"wh_01J2Z3…\""),
    ("webhook.name", "Webhook name", "\"Warehouse\""),
    (
        "delivery.id",
        "Delivery id, the {id_job}",
        "\"dlv_01J2Z3…\"",
    ),
    (
        "previous_status",
        "Status before an order.status_changed",
        "\"new\"",
    ),
    (
        "previous_stock",
        "Stock before a product.stock_changed",
        "3",
    ),
    ("order.id", "Order id", "\"1001\""),
    (
        "order.version",
        "The order snapshot's version, set by shophook on each change",
        "3",
    ),
    (
        "order.number",
        "Order number shown to the customer",
        "\"2026/03/1001\"",
    ),
    (
        "order.status",
        "Status (new, processing, packed, ready_for_pickup, shipped, completed, cancelled…)",
        "\"processing\"",
    ),
    ("order.paid", "Whether the order is paid", "true"),
    ("order.currency", "ISO 4217 currency", "\"PLN\""),
    ("order.total", "Gross total (decimal string)", "\"149.00\""),
    ("order.shipping_total", "Shipping cost", "\"12.00\""),
    ("order.discount_total", "Discounts", "\"10.00\""),
    (
        "order.created_at",
        "When the order was placed",
        "\"2026-03-02T10:00:00+01:00\"",
    ),
    (
        "order.paid_at",
        "When it was paid",
        "\"2026-03-02T10:05:00+01:00\"",
    ),
    ("order.cancelled_at", "When it was cancelled", "null"),
    ("order.refunded_at", "When it was refunded", "null"),
    ("order.customer.id", "Customer id", "\"c-77\""),
    ("order.customer.first_name", "First name", "\"Jan\""),
    ("order.customer.last_name", "Last name", "\"Kowalski\""),
    ("order.customer.middle_name", "Middle name", "\"\""),
    ("order.customer.email", "E-mail", "\"jan@example.pl\""),
    ("order.customer.phone", "Phone", "\"+48600100200\""),
    (
        "order.customer.company",
        "Company",
        "\"Kowalski sp. z o.o.\"",
    ),
    (
        "order.customer.tax_id",
        "Tax id (NIP, VAT)",
        "\"5260250274\"",
    ),
    ("order.customer.language", "Language (2 letters)", "\"pl\""),
    ("order.customer.ip", "IP address", "\"203.0.113.7\""),
    (
        "order.shipping_address.first_name",
        "Recipient first name",
        "\"Jan\"",
    ),
    (
        "order.shipping_address.last_name",
        "Recipient last name",
        "\"Kowalski\"",
    ),
    (
        "order.shipping_address.phone",
        "Recipient phone",
        "\"+48600100200\"",
    ),
    (
        "order.shipping_address.email",
        "Recipient e-mail",
        "\"jan@example.pl\"",
    ),
    ("order.shipping_address.address1", "Street", "\"ul. Długa\""),
    ("order.shipping_address.address2", "Address line 2", "\"\""),
    ("order.shipping_address.house", "House number", "\"5\""),
    ("order.shipping_address.flat", "Flat number", "\"12\""),
    ("order.shipping_address.zip", "Postal code", "\"00-001\""),
    ("order.shipping_address.city", "City", "\"Warszawa\""),
    ("order.shipping_address.state", "State", "\"\""),
    ("order.shipping_address.region", "Region", "\"mazowieckie\""),
    (
        "order.shipping_address.country",
        "Country (2 letters)",
        "\"PL\"",
    ),
    (
        "order.billing_address.first_name",
        "Billing first name",
        "\"Jan\"",
    ),
    (
        "order.billing_address.last_name",
        "Billing last name",
        "\"Kowalski\"",
    ),
    (
        "order.billing_address.phone",
        "Billing phone",
        "\"+48600100200\"",
    ),
    (
        "order.billing_address.email",
        "Billing e-mail",
        "\"jan@example.pl\"",
    ),
    (
        "order.billing_address.address1",
        "Billing street",
        "\"ul. Długa\"",
    ),
    (
        "order.billing_address.address2",
        "Billing address line 2",
        "\"\"",
    ),
    (
        "order.billing_address.house",
        "Billing house number",
        "\"5\"",
    ),
    (
        "order.billing_address.flat",
        "Billing flat number",
        "\"12\"",
    ),
    (
        "order.billing_address.zip",
        "Billing postal code",
        "\"00-001\"",
    ),
    ("order.billing_address.city", "Billing city", "\"Warszawa\""),
    ("order.billing_address.state", "Billing state", "\"\""),
    (
        "order.billing_address.region",
        "Billing region",
        "\"mazowieckie\"",
    ),
    (
        "order.billing_address.country",
        "Billing country (2 letters)",
        "\"PL\"",
    ),
    (
        "order.items[*].product_id",
        "Product id of any item",
        "\"p-1\"",
    ),
    ("order.items[*].sku", "SKU of any item", "\"A1\""),
    ("order.items[*].name", "Item name", "\"Kubek\""),
    ("order.items[*].variant", "Variant", "\"2 Unit/ Hitam\""),
    ("order.items[*].category", "Category", "\"books\""),
    ("order.items[*].quantity", "Quantity", "2"),
    ("order.items[*].price", "Unit price", "\"49.50\""),
    ("order.items[*].subtotal", "Line total", "\"99.00\""),
    ("order.items[*].discount", "Line discount", "\"0.00\""),
    (
        "order.items[*].url",
        "Item's product page",
        "\"https://shop-a.example/p/kubek\"",
    ),
    ("order.items[*].slug", "Item's product slug", "\"kubek\""),
    (
        "order.items[*].type",
        "Item's product type (e.g. course)",
        "\"course\"",
    ),
    (
        "order.items[*].language",
        "Item's product language (2 letters)",
        "\"pl\"",
    ),
    (
        "order.items[*].custom.*",
        "Item custom fields (SalesDrive reads costPrice, stockId, mass… here)",
        "{\"costPrice\": \"20.00\"}",
    ),
    ("order.shipping_method", "Shipping method", "\"courier\""),
    (
        "order.shipping_rate",
        "Shipping rate name",
        "\"Kurier DPD 24h\"",
    ),
    ("order.payment_method", "Payment method", "\"blik\""),
    (
        "order.tracking_number",
        "Tracking number",
        "\"EN123456789PL\"",
    ),
    (
        "order.carrier",
        "Carrier (nova_poshta and ukrposhta fill SalesDrive's carrier blocks)",
        "\"nova_poshta\"",
    ),
    ("order.coupon", "Coupon code", "\"SPRING10\""),
    ("order.comment", "Customer comment", "\"Please ring twice\""),
    ("order.tag", "Tag", "\"vip\""),
    (
        "order.source.site",
        "Shop site the order came from",
        "\"shop-a.example\"",
    ),
    ("order.source.form", "Order form", "\"checkout\""),
    ("order.source.domain", "Domain", "\"shop-a.example\""),
    (
        "order.source.url",
        "Page URL",
        "\"https://shop-a.example/p/kubek\"",
    ),
    ("order.source.session", "Session id", "\"s-1\""),
    ("order.utm.source", "UTM source", "\"newsletter\""),
    ("order.utm.medium", "UTM medium", "\"email\""),
    ("order.utm.campaign", "UTM campaign", "\"spring\""),
    ("order.utm.content", "UTM content", "\"\""),
    ("order.utm.term", "UTM term", "\"\""),
    (
        "order.custom.*",
        "Custom fields, any name; profiles read the fields the spec has no name for here under the platform's own name (creator_id, track, link, ord_novaposhta…)",
        "{\"gift_wrap\": true}",
    ),
    ("checkout.id", "Checkout id", "\"c-1\""),
    ("checkout.version", "The checkout snapshot's version", "2"),
    ("checkout.status", "open or completed", "\"open\""),
    ("checkout.domain", "Shop domain", "\"shop-a.example\""),
    (
        "checkout.url",
        "Checkout URL",
        "\"https://shop-a.example/checkout/c-1\"",
    ),
    ("checkout.currency", "Currency", "\"MYR\""),
    ("checkout.total", "Total (decimal string)", "\"120.00\""),
    ("checkout.shipping", "Shipping cost", "\"8.00\""),
    ("checkout.rate", "Shipping rate name", "\"Poslaju\""),
    (
        "checkout.created_at",
        "When the checkout was created",
        "\"2026-03-02T18:00:00+08:00\"",
    ),
    ("checkout.completed_at", "When it was completed", "null"),
    ("checkout.items[*].sku", "SKU of any item", "\"A1\""),
    ("checkout.items[*].name", "Item name", "\"Kubek\""),
    ("checkout.items[*].variant", "Variant", "\"2 Unit/ Hitam\""),
    ("checkout.items[*].quantity", "Quantity", "1"),
    ("checkout.items[*].price", "Unit price", "\"10.00\""),
    ("checkout.items[*].subtotal", "Line total", "\"10.00\""),
    (
        "checkout.customer.first_name",
        "Customer first name",
        "\"Aminah\"",
    ),
    (
        "checkout.customer.last_name",
        "Customer last name",
        "\"Ali\"",
    ),
    (
        "checkout.customer.phone",
        "Customer phone",
        "\"60123456789\"",
    ),
    (
        "checkout.customer.email",
        "Customer e-mail",
        "\"aminah@example.my\"",
    ),
    (
        "checkout.shipping_address.first_name",
        "Recipient first name",
        "\"Nur\"",
    ),
    (
        "checkout.shipping_address.last_name",
        "Recipient last name",
        "\"Aishah\"",
    ),
    (
        "checkout.shipping_address.phone",
        "Recipient phone",
        "\"601122334455\"",
    ),
    (
        "checkout.shipping_address.email",
        "Recipient e-mail",
        "\"nuraishah@example.my\"",
    ),
    (
        "checkout.shipping_address.address1",
        "Street",
        "\"Persiaran Permata Perdana\"",
    ),
    (
        "checkout.shipping_address.address2",
        "Address line 2",
        "\"-\"",
    ),
    ("checkout.shipping_address.zip", "Postal code", "\"63000\""),
    (
        "checkout.shipping_address.city",
        "Shipping city",
        "\"Kuala Lumpur\"",
    ),
    ("checkout.shipping_address.state", "State", "\"Selangor\""),
    ("checkout.custom.*", "Custom fields", "{}"),
    ("product.id", "Product id", "\"p-1\""),
    ("product.version", "The product snapshot's version", "4"),
    ("product.sku", "SKU", "\"A1\""),
    ("product.slug", "Slug", "\"kubek\""),
    ("product.name", "Name", "\"Kubek\""),
    ("product.category", "Category", "\"home\""),
    ("product.type", "Type", "\"physical\""),
    ("product.language", "Language", "\"pl\""),
    (
        "product.url",
        "Product page",
        "\"https://shop-a.example/p/kubek\"",
    ),
    ("product.price", "Price (decimal string)", "\"19.99\""),
    ("product.stock", "Units in stock", "0"),
    ("product.active", "Whether it is on sale", "true"),
    ("product.custom.*", "Custom fields", "{}"),
];

/// The catalog as JSON: `{"event_types": [...], "fields": [...], "operators": [...]}`.
pub fn catalog() -> Value {
    let events: Vec<Value> = EventType::ALL
        .iter()
        .map(|t| json!({"type": t.as_str(), "subject": t.subject_kind(), "description": describe_event(*t)}))
        .collect();
    let fields: Vec<Value> = FIELDS
        .iter()
        .map(|(path, description, example)| {
            json!({"path": path, "description": description, "example": serde_json::from_str::<Value>(example).unwrap_or(Value::Null)})
        })
        .collect();
    json!({
        "event_types": events,
        "fields": fields,
        "operators": ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "not_contains", "exists", "not_exists", "starts_with", "ends_with", "matches"],
        "placeholders": crate::url_template::PLACEHOLDERS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FieldPath;

    #[test]
    fn every_field_path_parses_and_every_example_is_json() {
        for (path, _, example) in FIELDS {
            let p = path.replace(".*", "");
            FieldPath::parse(&p).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::from_str::<Value>(example)
                .unwrap_or_else(|e| panic!("{path} example: {e}"));
        }
        let c = catalog();
        assert_eq!(
            c["event_types"].as_array().unwrap().len(),
            EventType::ALL.len()
        );
    }
}
