//! The webhook form: between the HTML fields and the webhook configuration, and
//! validation errors back to the field they concern.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use shophook_core::FieldError;
use shophook_core::webhook::WebhookConfig;

/// One condition row.
#[derive(Debug, Clone, Default)]
pub struct CondRow {
    pub field: String,
    pub op: String,
    pub value: String,
    pub error: String,
}

/// One schedule window row.
#[derive(Debug, Clone, Default)]
pub struct WinRow {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
    pub error: String,
}

/// The form's values, as text.
#[derive(Debug, Clone, Default)]
pub struct WebhookForm {
    pub name: String,
    pub url: String,
    pub method: String,
    pub events: Vec<String>,
    pub products: String,
    pub conditions: Vec<CondRow>,
    pub delay: String,
    pub sched_on: bool,
    pub sched_tz: String,
    pub windows: Vec<WinRow>,
    pub format: String,
    pub template: String,
    pub content_type: String,
    /// (name, value, error)
    pub headers: Vec<(String, String, String)>,
    pub expect_status: String,
    pub ordered: bool,
}

const EMPTY_ROWS: usize = 2;

impl WinRow {
    /// Whether the window includes `day`.
    pub fn has_day(&self, day: &str) -> bool {
        self.days.iter().any(|d| d == day)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl WebhookForm {
    /// Whether the event type (or `*`) is ticked.
    pub fn has_event(&self, t: &str) -> bool {
        self.events.iter().any(|e| e == t)
    }

    /// A blank form for a new webhook.
    pub fn blank(timezone: &str) -> Self {
        let mut f = WebhookForm {
            method: "POST".into(),
            format: "json".into(),
            delay: "0".into(),
            sched_tz: timezone.into(),
            ..Default::default()
        };
        f.pad();
        f
    }

    /// The form of a stored webhook.
    pub fn from_config(c: &WebhookConfig, timezone: &str) -> Self {
        let mut f = WebhookForm {
            name: c.name.clone(),
            url: c.url.clone(),
            method: c.method.as_str().into(),
            events: c.events.clone(),
            products: c.products.join(", "),
            conditions: c
                .conditions
                .iter()
                .map(|k| CondRow {
                    field: k.field.clone(),
                    op: serde_json::to_value(k.op)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    value: k.value.as_ref().map(text).unwrap_or_default(),
                    error: String::new(),
                })
                .collect(),
            delay: c.delay_minutes.to_string(),
            sched_on: c.schedule.is_some(),
            sched_tz: c
                .schedule
                .as_ref()
                .map_or(timezone.to_string(), |s| s.timezone.clone()),
            windows: c
                .schedule
                .iter()
                .flat_map(|s| s.windows.iter())
                .map(|w| WinRow {
                    days: w.days.clone(),
                    from: w.from.clone(),
                    to: w.to.clone(),
                    error: String::new(),
                })
                .collect(),
            format: c.format.clone(),
            template: c.template.clone().unwrap_or_default(),
            content_type: c.content_type.clone().unwrap_or_default(),
            headers: c
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), String::new()))
                .collect(),
            expect_status: c
                .expect_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            ordered: c.ordered,
        };
        f.pad();
        f
    }

    /// Adds empty rows to fill in (the page works without JavaScript).
    fn pad(&mut self) {
        for _ in 0..EMPTY_ROWS {
            self.conditions.push(CondRow {
                op: "eq".into(),
                ..Default::default()
            });
            self.headers.push(Default::default());
        }
        self.windows.push(WinRow::default());
    }

    /// After a failed submit: make sure there is an empty row of each kind to fill.
    pub fn pad_for_display(&mut self) {
        if !self.conditions.iter().any(|c| c.field.trim().is_empty()) {
            self.conditions.push(CondRow {
                op: "eq".into(),
                ..Default::default()
            });
        }
        if !self.headers.iter().any(|h| h.0.trim().is_empty()) {
            self.headers.push(Default::default());
        }
        if !self
            .windows
            .iter()
            .any(|w| w.days.is_empty() && w.from.is_empty())
        {
            self.windows.push(WinRow::default());
        }
    }

    /// The form as submitted.
    pub fn from_pairs(p: &[(String, String)]) -> Self {
        let all = |name: &str| {
            p.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let one = |name: &str| super::field(p, name).to_string();
        let (cf, co, cv) = (all("cond_field"), all("cond_op"), all("cond_value"));
        let conditions = cf
            .iter()
            .enumerate()
            .map(|(i, f)| CondRow {
                field: f.clone(),
                op: co.get(i).cloned().unwrap_or_default(),
                value: cv.get(i).cloned().unwrap_or_default(),
                error: String::new(),
            })
            .collect();
        let (hn, hv) = (all("header_name"), all("header_value"));
        let headers = hn
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.clone(),
                    hv.get(i).cloned().unwrap_or_default(),
                    String::new(),
                )
            })
            .collect();
        let mut windows = Vec::new();
        for i in 0..50 {
            let from = one(&format!("win{i}_from"));
            let days = all(&format!("win{i}_days"));
            if from.is_empty()
                && days.is_empty()
                && !p.iter().any(|(k, _)| k == &format!("win{i}_to"))
            {
                break;
            }
            windows.push(WinRow {
                days,
                from,
                to: one(&format!("win{i}_to")),
                error: String::new(),
            });
        }
        WebhookForm {
            name: one("name"),
            url: one("url"),
            method: one("method"),
            events: all("events"),
            products: one("products"),
            conditions,
            delay: one("delay_minutes"),
            sched_on: one("sched_on") == "1",
            sched_tz: one("sched_tz"),
            windows,
            format: one("format"),
            template: one("template"),
            content_type: one("content_type"),
            headers,
            expect_status: one("expect_status"),
            ordered: one("ordered") == "1",
        }
    }

    /// The JSON the API would receive for this form (the API's validation then
    /// applies unchanged). Numbers the merchant typed wrongly become field errors.
    pub fn to_input(&self) -> Result<Value, FieldError> {
        let list = |s: &str| {
            s.split([',', '\n'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name.trim()));
        m.insert("url".into(), json!(self.url.trim()));
        m.insert(
            "method".into(),
            json!(if self.method.is_empty() {
                "POST"
            } else {
                self.method.as_str()
            }),
        );
        m.insert("events".into(), json!(self.events));
        m.insert("products".into(), json!(list(&self.products)));
        let mut conditions = Vec::new();
        for c in self
            .conditions
            .iter()
            .filter(|c| !c.field.trim().is_empty())
        {
            use shophook_core::condition::{Op, ValueKind};
            let value = match Op::parse(&c.op).map(Op::value_kind) {
                Some(ValueKind::None) => None,
                Some(ValueKind::List) => Some(json!(list(&c.value))),
                _ => Some(json!(c.value.trim())),
            };
            let mut cond = json!({"field": c.field.trim(), "op": c.op});
            if let Some(v) = value {
                cond["value"] = v;
            }
            conditions.push(cond);
        }
        m.insert("conditions".into(), Value::Array(conditions));
        let delay: u32 = if self.delay.trim().is_empty() {
            0
        } else {
            self.delay.trim().parse().map_err(|_| {
                FieldError::new(
                    "delay_minutes",
                    "invalid_field",
                    "a whole number of minutes",
                )
            })?
        };
        m.insert("delay_minutes".into(), json!(delay));
        let windows: Vec<Value> = self
            .windows
            .iter()
            .filter(|w| !w.days.is_empty() || !w.from.is_empty() || !w.to.is_empty())
            .map(|w| json!({"days": w.days, "from": w.from.trim(), "to": w.to.trim()}))
            .collect();
        m.insert(
            "schedule".into(),
            if self.sched_on {
                json!({"timezone": self.sched_tz.trim(), "windows": windows})
            } else {
                Value::Null
            },
        );
        m.insert(
            "format".into(),
            json!(if self.format.is_empty() {
                "json"
            } else {
                self.format.as_str()
            }),
        );
        let template = self.template.trim();
        m.insert(
            "template".into(),
            if template.is_empty() {
                Value::Null
            } else {
                json!(self.template)
            },
        );
        m.insert(
            "content_type".into(),
            if self.content_type.trim().is_empty() {
                Value::Null
            } else {
                json!(self.content_type.trim())
            },
        );
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .filter(|h| !h.0.trim().is_empty())
            .map(|h| (h.0.trim().to_string(), json!(h.1)))
            .collect();
        m.insert("headers".into(), Value::Object(headers));
        let mut codes = Vec::new();
        for c in list(&self.expect_status) {
            codes.push(c.parse::<u16>().map_err(|_| {
                FieldError::new(
                    "expect_status",
                    "invalid_status_code",
                    format!("`{c}` is not an HTTP status code"),
                )
            })?);
        }
        m.insert("expect_status".into(), json!(codes));
        m.insert("ordered".into(), json!(self.ordered));
        Ok(Value::Object(m))
    }

    /// Puts an error next to the field it concerns: row errors on their row, the
    /// rest in the returned map (keyed by the form field name; "" = top of form).
    pub fn place_error(&mut self, e: &FieldError) -> HashMap<String, String> {
        let mut errors = HashMap::new();
        let msg = e.message.clone();
        let index = |rest: &str| {
            rest.strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse::<usize>().ok())
        };
        let visible_conditions: Vec<usize> = self
            .conditions
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.field.trim().is_empty())
            .map(|(i, _)| i)
            .collect();
        if let Some(rest) = e.field.strip_prefix("conditions")
            && let Some(row) = index(rest).and_then(|i| visible_conditions.get(i))
        {
            self.conditions[*row].error = msg;
            return errors;
        }
        if let Some(rest) = e.field.strip_prefix("schedule.windows")
            && let Some(w) = index(rest).and_then(|i| self.windows.get_mut(i))
        {
            w.error = msg;
            return errors;
        }
        if let Some(name) = e.field.strip_prefix("headers.")
            && let Some(h) = self.headers.iter_mut().find(|h| h.0.trim() == name)
        {
            h.2 = msg;
            return errors;
        }
        let key = e.field.split(['.', '[']).next().unwrap_or("").to_string();
        let known = [
            "name",
            "url",
            "events",
            "products",
            "delay_minutes",
            "schedule",
            "format",
            "template",
            "expect_status",
        ];
        let key = if known.contains(&key.as_str()) {
            key
        } else {
            String::new()
        };
        let text = if key.is_empty() || e.field.contains(['.', '[']) {
            e.to_string()
        } else {
            msg
        };
        errors.insert(key, text);
        errors
    }
}

#[cfg(test)]
mod tests;
