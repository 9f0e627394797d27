//! Compatibility profiles and presets: each reproduces one platform's documented
//! request so a receiver written for that platform works unchanged (field names,
//! nesting, value formats, method). Fields the shop does not know are sent empty,
//! as those platforms do; a field a profile cannot derive from the spec's resource
//! shapes is read from the resource's `custom` object under the platform's own name
//! (e.g. `order.custom.creator_id` for Ekademia's `creator_id`).

mod ekademia;
mod justclick;
mod presets;
mod salesdrive;
mod shoppegram;

use serde_json::Value;

use crate::event::Event;

/// Profile and preset names accepted as `format`.
pub const PROFILES: &[&str] = &[
    "ekademia",
    "shoppegram",
    "salesdrive",
    "justclick",
    "sellasist",
    "telegram",
    "slack",
    "sheets",
];

/// What a profile needs besides the event.
pub struct ProfileInput<'a> {
    /// The event.
    pub event: &'a Event,
    /// The account's IANA time zone (local times and `+HH:MM` offsets).
    pub timezone: &'a str,
    /// The webhook's secret as the merchant sees it (legacy hashes).
    pub secret: &'a str,
    /// Which order item this request is about (profiles with one request per item).
    pub part: Option<usize>,
    /// The merchant's text template (presets).
    pub template: Option<&'a str>,
    /// The final URL (presets read `chat_id` from it).
    pub url: &'a str,
    /// The whole event context as JSON (templates).
    pub context: &'a Value,
    /// The option lists the account's orders have used (SalesDrive's `meta.fields`).
    pub field_options: Option<&'a crate::field_options::FieldOptions>,
}

/// A rendered profile body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileBody {
    /// Body bytes; empty = no body.
    pub body: String,
    /// Content type of the body.
    pub content_type: &'static str,
}

/// Renders profile `name`; `None` when the name is not a profile.
pub fn render(name: &str, input: &ProfileInput<'_>) -> Option<Result<ProfileBody, String>> {
    Some(match name {
        "ekademia" => Ok(form(crate::form::encode_pairs(&ekademia::fields(input)))),
        "justclick" => Ok(form(crate::form::encode(&justclick::body(input)))),
        "shoppegram" => Ok(json(&shoppegram::body(input))),
        "salesdrive" => Ok(json(&salesdrive::body(input))),
        "sellasist" => Ok(ProfileBody {
            body: String::new(),
            content_type: "",
        }),
        "telegram" => presets::telegram(input).map(|v| json(&v)),
        "slack" => presets::slack(input).map(|v| json(&v)),
        "sheets" => Ok(json(&presets::sheets(input))),
        _ => return None,
    })
}

/// Profiles that send one request per order item.
pub fn per_item(name: &str) -> bool {
    crate::format::get(name).is_some_and(|f| f.per_item)
}

/// Profiles that send the account's option lists
/// ([`crate::field_options::FieldOptions`]): the store loads them only for these.
pub fn uses_field_options(name: &str) -> bool {
    crate::format::get(name).is_some_and(|f| f.field_options)
}

fn form(body: String) -> ProfileBody {
    ProfileBody {
        body,
        content_type: "application/x-www-form-urlencoded",
    }
}

fn json(v: &Value) -> ProfileBody {
    ProfileBody {
        body: v.to_string(),
        content_type: "application/json",
    }
}

/// Reads fields of a resource as the text a form or a legacy receiver expects.
#[derive(Clone, Copy)]
pub(crate) struct Doc<'a>(pub &'a Value);

impl<'a> Doc<'a> {
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        #[cfg(test)]
        reads::note(self.0, path);
        let mut v = self.0;
        for key in path.split('.') {
            v = v.get(key)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// Text of a field; empty when absent.
    pub fn s(&self, path: &str) -> String {
        match self.get(path) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }

    /// The first non-empty of several paths.
    pub fn first(&self, paths: &[&str]) -> String {
        paths
            .iter()
            .map(|p| self.s(p))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    }

    /// A field the spec's shapes do not have: `custom.<name>`.
    pub fn custom(&self, name: &str) -> String {
        self.get("custom")
            .and_then(|c| c.get(name))
            .map(|v| Doc(v).s_self())
            .unwrap_or_default()
    }

    fn s_self(&self) -> String {
        match self.0 {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            other => other.to_string(),
        }
    }

    /// The first of these address objects that has a street or a city (fields are
    /// never mixed from two addresses).
    pub fn address(&self, prefer: &[&str]) -> Doc<'a> {
        static EMPTY: Value = Value::Null;
        prefer
            .iter()
            .filter_map(|p| self.get(p))
            .find(|a| {
                ["address1", "city", "zip"]
                    .iter()
                    .any(|k| !Doc(a).s(k).is_empty())
            })
            .map(Doc)
            .unwrap_or(Doc(&EMPTY))
    }

    pub fn items(&self) -> Vec<Doc<'a>> {
        self.get("items")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Doc).collect())
            .unwrap_or_default()
    }
}

/// The event's resource (`order` or `checkout`), or an empty object.
pub(crate) fn resource<'a>(event: &'a Event, kind: &str) -> Doc<'a> {
    static EMPTY: Value = Value::Null;
    Doc(event.data.get(kind).unwrap_or(&EMPTY))
}

fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.trim().parse().ok()
}

/// Unix seconds of an RFC 3339 time; empty when absent.
pub(crate) fn unix(text: &str) -> String {
    parse_time(text)
        .map(|t| t.as_second().to_string())
        .unwrap_or_default()
}

/// `2021-03-03T22:58:32+08:00` in the account's zone; empty when absent.
pub(crate) fn with_offset(text: &str, tz: &str) -> String {
    let (Some(t), Ok(zone)) = (parse_time(text), jiff::tz::TimeZone::get(tz)) else {
        return String::new();
    };
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%:z", &t.to_zoned(zone)).unwrap_or_default()
}

/// `2021-03-03 22:58:32` local time in the account's zone; empty when absent.
pub(crate) fn local(text: &str, tz: &str) -> String {
    let (Some(t), Ok(zone)) = (parse_time(text), jiff::tz::TimeZone::get(tz)) else {
        return String::new();
    };
    jiff::fmt::strtime::format("%Y-%m-%d %H:%M:%S", &t.to_zoned(zone)).unwrap_or_default()
}

/// A shop's address as a URL: `https://` + a bare domain, a URL as it is; empty
/// when absent.
pub(crate) fn site_url(domain: &str) -> String {
    let d = domain.trim();
    if d.is_empty() || d.contains("://") {
        d.to_string()
    } else {
        format!("https://{d}")
    }
}

/// A decimal as `0.00`; empty when absent or not a number.
pub(crate) fn money(text: &str) -> String {
    text.trim()
        .parse::<rust_decimal::Decimal>()
        .map(|d| {
            format!(
                "{:.2}",
                d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            )
        })
        .unwrap_or_default()
}

/// What profiles read, noted while a test renders them, so the catalog can be
/// checked to know every field a profile reads.
#[cfg(test)]
mod reads {
    use std::cell::RefCell;

    use serde_json::Value;

    thread_local! {
        static NOTED: RefCell<Vec<(usize, String)>> = const { RefCell::new(Vec::new()) };
    }

    /// `path` was read relative to the value at `base`.
    pub fn note(base: &Value, path: &str) {
        NOTED.with(|n| {
            n.borrow_mut()
                .push((base as *const Value as usize, path.to_string()))
        });
    }

    /// Everything noted since the last call.
    pub fn take() -> Vec<(usize, String)> {
        NOTED.with(|n| std::mem::take(&mut *n.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_formats() {
        assert_eq!(unix("2026-03-02T10:00:00+01:00"), "1772442000");
        assert_eq!(unix(""), "");
        assert_eq!(
            with_offset("2026-03-02T10:00:00Z", "Asia/Kuala_Lumpur"),
            "2026-03-02T18:00:00+08:00"
        );
        assert_eq!(
            local("2026-03-02T10:00:00Z", "Europe/Kyiv"),
            "2026-03-02 12:00:00"
        );
        assert_eq!(money("10"), "10.00");
        assert_eq!(money("7.005"), "7.01");
        assert_eq!(money(""), "");
        assert_eq!(site_url("shop.example"), "https://shop.example");
        assert_eq!(site_url("http://shop.example"), "http://shop.example");
        assert_eq!(site_url(" "), "");
    }

    /// Every value's address in `v`, with its path in catalog notation
    /// (`order.items[*].sku`).
    fn paths(v: &Value, at: String, out: &mut std::collections::HashMap<usize, String>) {
        out.insert(v as *const Value as usize, at.clone());
        let join = |k: &str| {
            if at.is_empty() {
                k.to_string()
            } else {
                format!("{at}.{k}")
            }
        };
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| paths(x, join(k), out)),
            Value::Array(a) => a.iter().for_each(|x| paths(x, format!("{at}[*]"), out)),
            _ => {}
        }
    }

    /// The catalog's name for a path: anything under `custom` is `….custom.*`.
    fn catalog_name(path: &str) -> String {
        match path.find(".custom") {
            Some(i) => format!("{}.custom.*", &path[..i]),
            None => path.to_string(),
        }
    }

    #[test]
    fn the_catalog_knows_every_field_a_profile_reads() {
        use crate::event::EventType::*;
        let fixture: Value =
            serde_json::from_str(include_str!("../../tests/golden/fixture.json")).unwrap();
        let first = |kind: &str| {
            fixture["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["kind"] == kind)
                .map(|r| r["steps"][0]["snapshot"].clone())
                .unwrap()
        };
        let product = serde_json::json!({"id": "p-1", "sku": "A1", "name": "Kubek", "price": "1.00", "stock": 3});
        let catalog: std::collections::BTreeSet<&str> =
            crate::catalog::FIELDS.iter().map(|f| f.0).collect();
        let mut missing = std::collections::BTreeSet::new();
        let mut read = 0;
        for (event_type, kind, resource) in [
            (OrderCreated, "order", first("order")),
            (OrderPaid, "order", first("order")),
            (OrderCancelled, "order", first("order")),
            (CheckoutCompleted, "checkout", first("checkout")),
            (ProductStockChanged, "product", product),
        ] {
            let event = Event {
                id: "evt_1".into(),
                event_type,
                account: "acme".into(),
                subject: None,
                created_at: "2026-03-02T10:00:00Z".parse().unwrap(),
                data: serde_json::json!({ kind: resource }),
            };
            let mut at = std::collections::HashMap::new();
            paths(&event.data, String::new(), &mut at);
            let context = crate::template::sample_context();
            for name in PROFILES {
                let input = ProfileInput {
                    event: &event,
                    timezone: "Europe/Warsaw",
                    secret: "s",
                    part: Some(0),
                    template: None,
                    url: "https://x.example/?chat_id=1",
                    context: &context,
                    field_options: None,
                };
                let _ = reads::take();
                render(name, &input).unwrap().unwrap();
                for (base, path) in reads::take() {
                    let Some(base) = at.get(&base) else { continue };
                    read += 1;
                    let full = catalog_name(&format!("{base}.{path}"));
                    // An object or a list read whole (an address, the items)
                    // is known when its fields are.
                    let container = catalog.iter().any(|c| {
                        c.starts_with(&format!("{full}.")) || c.starts_with(&format!("{full}[*]."))
                    });
                    if !catalog.contains(full.as_str()) && !container {
                        missing.insert(format!("{name}: {full}"));
                    }
                }
            }
        }
        assert!(read > 100, "the profiles' reads were noted ({read})");
        assert!(missing.is_empty(), "not in the catalog: {missing:#?}");
    }
}
