//! SalesDrive's carrier blocks, `data.ord_novaposhta` and `data.ord_ukrposhta`, with
//! every key the doc lists, in its order. The block of the order's `carrier` is
//! filled from what the snapshot has (tracking number, delivery type, address
//! parts, recipient, cash on delivery, delivery cost); the other block has every key
//! empty. What only the carrier's systems know (refs and ids of cities, branches and
//! streets, delivery statuses) comes from `order.custom.ord_novaposhta.<key>` /
//! `order.custom.ord_ukrposhta.<key>` when the shop sends it — and such a value
//! wins over a derived one — otherwise it is empty.

use serde_json::{Map, Value, json};

use crate::profiles::{Doc, money};

/// Where one key of a block comes from, after the shop's own `custom` value.
#[derive(Clone, Copy)]
enum Source {
    /// Only the shop's `custom.ord_<carrier>.<key>`.
    Custom,
    /// `shipping_method`, when it is one of the doc's delivery types for this carrier.
    DeliveryType,
    /// A field of the shipping address.
    Address(&'static str),
    /// The shipping address's region, else its state.
    Region,
    /// A field of the recipient: the shipping address when it names someone, else
    /// the customer (never mixed).
    Recipient(&'static str),
    /// The tracking number.
    Tracking,
    /// `1` when the tracking number came from the shop (entered, not made in SalesDrive).
    TrackingEntered,
    /// `Money` for cash on delivery, `None` for another known payment method.
    BackDelivery,
    /// The sum collected on delivery (the order total) for cash on delivery.
    CashOnDelivery,
    /// The order's shipping cost.
    ShippingCost,
    /// The order total (declared value).
    Total,
    /// Nova Poshta's `legal`: `1` when the customer has a tax id, else `0`.
    Legal,
    /// Ukrposhta's recipient `type`: `COMPANY` with a tax id, else `INDIVIDUAL`.
    RecipientType,
    /// The customer's company, for a company recipient.
    Company,
    /// The customer's tax id (ЄДРПОУ), for a company recipient.
    TaxId,
}

use Source::*;

/// `data[ord_novaposhta][…]`, in the doc's order.
const NOVAPOSHTA: &[(&str, Source)] = &[
    ("delivery", DeliveryType),
    ("city", Custom),
    ("branch", Custom),
    ("street", Custom),
    ("house", Address("house")),
    ("flat", Address("flat")),
    ("note", Address("address2")),
    ("typeSend", Custom),
    ("typePay", Custom),
    ("methodPay", Custom),
    ("EN", Tracking),
    ("ENref", Custom),
    ("branchNumber", Custom),
    ("backDelivery", BackDelivery),
    ("backDeliveryType", Custom),
    ("backDeliverySum", CashOnDelivery),
    ("status", Custom),
    ("statusCode", Custom),
    ("dateStatusUpdate", Custom),
    ("recipientDateTime", Custom),
    ("deliveryDateAndTime", Custom),
    ("manualEN", TrackingEntered),
    ("idEntity", Custom),
    ("cost", ShippingCost),
    ("legal", Legal),
    ("companyName", Company),
    ("egrpou", TaxId),
    ("ownershipFormId", Custom),
    ("packing", Custom),
];

/// `data[ord_ukrposhta][…]`, in the doc's order.
const UKRPOSHTA: &[(&str, Source)] = &[
    ("delivery", DeliveryType),
    ("region", Custom),
    ("district", Custom),
    ("city", Custom),
    ("branch", Custom),
    ("street", Custom),
    ("house", Address("house")),
    ("flat", Address("flat")),
    ("typePay", Custom),
    ("typeUkrPoshta", Custom),
    ("barcode", Tracking),
    ("barcodeUuid", Custom),
    ("deliverySum", CashOnDelivery),
    ("status", Custom),
    ("statusCode", Custom),
    ("dateStatusUpdate", Custom),
    ("deliveryDateAndTime", Custom),
    ("manual", TrackingEntered),
    ("idEntity", Custom),
    ("cost", ShippingCost),
    ("sum", Total),
    ("mass", Custom),
    ("length", Custom),
    ("description", Custom),
    ("phone", Recipient("phone")),
    ("email", Recipient("email")),
    ("firstName", Recipient("first_name")),
    ("lastName", Recipient("last_name")),
    ("middleName", Recipient("middle_name")),
    ("companyName", Company),
    ("egrpou", TaxId),
    ("tin", Custom),
    ("backDelivery", BackDelivery),
    ("fragile", Custom),
    ("backDeliveryType", Custom),
    ("type", RecipientType),
    ("regionName", Region),
    ("districtName", Custom),
    ("cityName", Address("city")),
    ("branchName", Custom),
    ("streetName", Address("address1")),
    ("branchString", Custom),
    ("addressBranch", Address("zip")),
];

/// One carrier: its block's key in `data`, the `carrier` spellings that pick it,
/// its delivery types and its keys.
struct Carrier {
    block: &'static str,
    names: &'static [&'static str],
    delivery_types: &'static [&'static str],
    keys: &'static [(&'static str, Source)],
}

const CARRIERS: &[Carrier] = &[
    Carrier {
        block: "ord_novaposhta",
        names: &["novaposhta", "np", "новапошта", "novapochta"],
        delivery_types: &[
            "WarehouseWarehouse",
            "WarehouseDoors",
            "DoorsDoors",
            "DoorsWarehouse",
        ],
        keys: NOVAPOSHTA,
    },
    Carrier {
        block: "ord_ukrposhta",
        names: &["ukrposhta", "ukrpost", "укрпошта"],
        delivery_types: &["W2W", "W2D", "D2W", "D2D"],
        keys: UKRPOSHTA,
    },
];

/// `carrier` (or a payment method) lower-cased, without spaces, `_`, `-` and `.`.
fn normalise(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .collect()
}

/// Payment methods that mean cash on delivery (normalised).
const CASH_ON_DELIVERY: &[&str] = &[
    "cod",
    "cashondelivery",
    "pobranie",
    "післяплата",
    "накладенийплатіж",
    "наложенныйплатеж",
    "наложенийплатіж",
];

fn value(o: &Doc<'_>, from: Source) -> Value {
    let text = |s: String| Value::String(s);
    let cod = || CASH_ON_DELIVERY.contains(&normalise(&o.s("payment_method")).as_str());
    let company = || !o.s("customer.tax_id").is_empty();
    match from {
        Custom | DeliveryType => text(String::new()),
        Address(k) => text(o.s(&format!("shipping_address.{k}"))),
        Region => text(o.first(&["shipping_address.region", "shipping_address.state"])),
        Recipient(k) => {
            let named = ["first_name", "last_name"]
                .iter()
                .any(|n| !o.s(&format!("shipping_address.{n}")).is_empty());
            let person = if named {
                "shipping_address"
            } else {
                "customer"
            };
            text(o.s(&format!("{person}.{k}")))
        }
        Tracking => text(o.s("tracking_number")),
        TrackingEntered => text(if o.s("tracking_number").is_empty() {
            String::new()
        } else {
            "1".into()
        }),
        BackDelivery => text(match (cod(), o.s("payment_method").is_empty()) {
            (true, _) => "Money".into(),
            (false, false) => "None".into(),
            (false, true) => String::new(),
        }),
        CashOnDelivery => text(if cod() {
            money(&o.s("total"))
        } else {
            String::new()
        }),
        ShippingCost => text(money(&o.s("shipping_total"))),
        Total => text(money(&o.s("total"))),
        Legal => text(if company() { "1" } else { "0" }.into()),
        RecipientType => text(if company() { "COMPANY" } else { "INDIVIDUAL" }.into()),
        Company => text(if company() {
            o.s("customer.company")
        } else {
            String::new()
        }),
        TaxId => text(o.s("customer.tax_id")),
    }
}

/// Both blocks, `(key in data, block)`: the carrier's filled, the other's empty.
pub fn blocks(o: &Doc<'_>) -> Vec<(&'static str, Value)> {
    let carrier = normalise(&o.s("carrier"));
    let method = o.s("shipping_method");
    CARRIERS
        .iter()
        .map(|c| {
            let ours = c.names.contains(&carrier.as_str());
            let custom = o.get(&format!("custom.{}", c.block));
            let mut m = Map::new();
            for (key, from) in c.keys {
                let given = custom
                    .and_then(|b| b.get(*key))
                    .filter(|v| !v.is_null() && v.as_str() != Some(""));
                let v = match (ours, given) {
                    (false, _) => json!(""),
                    (true, Some(v)) => v.clone(),
                    (true, None) if matches!(from, DeliveryType) => {
                        json!(if c.delivery_types.contains(&method.as_str()) {
                            method.clone()
                        } else {
                            String::new()
                        })
                    }
                    (true, None) => value(o, *from),
                };
                m.insert((*key).to_string(), v);
            }
            (c.block, Value::Object(m))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(order: Value, name: &str) -> Map<String, Value> {
        blocks(&Doc(&order))
            .into_iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.as_object().cloned())
            .unwrap()
    }

    #[test]
    fn the_carriers_block_is_filled_and_the_other_has_every_key_empty() {
        let order = json!({
            "carrier": "Nova Poshta", "tracking_number": "20450000000001", "shipping_method": "WarehouseDoors",
            "payment_method": "cod", "total": "1250", "shipping_total": "70",
            "shipping_address": {"first_name": "Олена", "house": "12", "flat": "3", "address2": "під'їзд 2", "city": "Київ"},
            "customer": {"tax_id": "", "company": "ТОВ Ромашка"},
            "custom": {"ord_novaposhta": {"city": "8d5a980d-391c-11dd-90d9-001a92567626", "EN": "override"}}
        });
        let np = block(order.clone(), "ord_novaposhta");
        assert_eq!(np.len(), NOVAPOSHTA.len());
        assert_eq!(np["EN"], "override", "the shop's own value wins");
        assert_eq!(np["city"], "8d5a980d-391c-11dd-90d9-001a92567626");
        assert_eq!(np["delivery"], "WarehouseDoors");
        assert_eq!(np["house"], "12");
        assert_eq!(np["note"], "під'їзд 2");
        assert_eq!(np["backDelivery"], "Money");
        assert_eq!(np["backDeliverySum"], "1250.00");
        assert_eq!(np["manualEN"], "1");
        assert_eq!(np["cost"], "70.00");
        assert_eq!(np["legal"], "0");
        assert_eq!(np["companyName"], "", "no tax id: a private recipient");
        assert_eq!(np["branch"], "");
        let up = block(order, "ord_ukrposhta");
        assert_eq!(up.len(), UKRPOSHTA.len());
        assert!(up.values().all(|v| v == ""), "{up:?}");
    }

    #[test]
    fn ukrposhta_reads_the_recipient_and_the_address() {
        let order = json!({
            "carrier": "ukrposhta", "tracking_number": "0503456789012", "shipping_method": "courier",
            "payment_method": "card", "total": "99.5",
            "shipping_address": {"address1": "вул. Хрещатик", "house": "1", "zip": "01001", "city": "Київ", "state": "Київська"},
            "customer": {"first_name": "Іван", "last_name": "Петренко", "middle_name": "Іванович", "phone": "+380501112233",
                         "company": "ТОВ Ромашка", "tax_id": "12345678"}
        });
        let up = block(order.clone(), "ord_ukrposhta");
        assert_eq!(up["barcode"], "0503456789012");
        assert_eq!(up["delivery"], "", "courier is none of W2W, W2D, D2W, D2D");
        assert_eq!(
            up["firstName"], "Іван",
            "no name on the address: the customer"
        );
        assert_eq!(up["middleName"], "Іванович");
        assert_eq!(up["phone"], "+380501112233");
        assert_eq!(up["streetName"], "вул. Хрещатик");
        assert_eq!(up["cityName"], "Київ");
        assert_eq!(up["regionName"], "Київська");
        assert_eq!(up["addressBranch"], "01001");
        assert_eq!(up["sum"], "99.50");
        assert_eq!(up["backDelivery"], "None");
        assert_eq!(up["deliverySum"], "");
        assert_eq!(up["type"], "COMPANY");
        assert_eq!(up["companyName"], "ТОВ Ромашка");
        assert_eq!(up["egrpou"], "12345678");
        let np = block(order, "ord_novaposhta");
        assert!(np.values().all(|v| v == ""));
    }

    #[test]
    fn no_carrier_leaves_both_blocks_empty_with_every_key() {
        let b = blocks(&Doc(&json!({"tracking_number": "X1", "carrier": "dpd"})));
        assert_eq!(b.len(), 2);
        for (_, v) in b {
            let m = v.as_object().unwrap();
            assert!(m.len() >= NOVAPOSHTA.len().min(UKRPOSHTA.len()));
            assert!(m.values().all(|v| v == ""));
        }
    }
}
