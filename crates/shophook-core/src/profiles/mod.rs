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
    name == "ekademia"
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
    }
}
