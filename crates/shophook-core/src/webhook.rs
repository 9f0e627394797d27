//! The webhook: a merchant's subscription — where, when and how to call.
//!
//! [`WebhookInput`] is what the API accepts (every field optional, unknown fields
//! refused); [`WebhookConfig`] is the validated whole that is stored and sent by.
//! Create = defaults + input; patch = stored config + input; both then validate the
//! result, so a config that is stored is always a valid one.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::FieldError;
use crate::condition::{CompiledCondition, Condition, compile_all};
use crate::event::EventType;

/// Whether a webhook sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Sends.
    Active,
    /// Holds new deliveries as `scheduled` until resumed.
    Paused,
    /// Set by shophook after persistent failure; resume re-enables.
    Disabled,
}

impl WebhookStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Paused => "paused",
            WebhookStatus::Disabled => "disabled",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(WebhookStatus::Active),
            "paused" => Some(WebhookStatus::Paused),
            "disabled" => Some(WebhookStatus::Disabled),
            _ => None,
        }
    }
}

/// HTTP method of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum Method {
    Post,
    Put,
    Patch,
    Get,
}

impl Method {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Get => "GET",
        }
    }
}

/// One time window of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, inclusive.
    pub from: String,
    /// `HH:MM`, exclusive.
    pub to: String,
}

/// When deliveries may go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// IANA zone the windows are in.
    pub timezone: String,
    /// Allowed windows.
    pub windows: Vec<Window>,
}

/// A legacy "hash" field for receivers that check an md5/sha1/sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LegacyHash {
    /// Name of the added field.
    pub field: String,
    /// `md5` | `sha1` | `sha256`.
    pub algorithm: String,
    /// Context paths whose values are concatenated, then the secret appended.
    pub parts: Vec<String>,
}

/// The validated webhook configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookConfig {
    /// Display name (defaults to the URL's host).
    pub name: String,
    /// Where to call: `http(s)://…`; placeholders `{id_order}`, `{id_job}`, `{id_event}`, `{event}`, `{account}`, `{id_product}`, `{id_checkout}` and `{{ … }}` expressions, percent-encoded.
    pub url: String,
    /// HTTP method; `GET` sends the form fields as the query.
    pub method: Method,
    /// Event types to send, or `["*"]` for all.
    pub events: Vec<String>,
    /// Product ids or SKUs; non-empty makes it a per-product webhook.
    pub products: Vec<String>,
    /// All must hold for an event to be sent.
    pub conditions: Vec<Condition>,
    /// Wait this long, then re-check `conditions` against the latest snapshot.
    pub delay_minutes: u32,
    /// Deliveries outside every window wait for the next one.
    pub schedule: Option<Schedule>,
    /// `json` | `form` | `template` | a compatibility profile (`ekademia`, `justclick`, `shoppegram`, `salesdrive`, `sellasist`) | a preset (`telegram`, `slack`, `sheets`).
    pub format: String,
    /// MiniJinja template of the body (`format: template`, presets).
    pub template: Option<String>,
    /// `Content-Type` of a template body.
    pub content_type: Option<String>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Success iff the response status is in the list; empty = any 2xx.
    pub expect_status: Vec<u16>,
    /// Adds a field with a hex digest of some values + the secret, for receivers that check one.
    pub legacy_hash: Option<LegacyHash>,
    /// Deliveries of one subject go out strictly in event order.
    pub ordered: bool,
    /// A `410 Gone` from the receiver deletes the webhook (REST Hooks; set by
    /// `hooks/subscribe`). Otherwise a 410 only ends that delivery `dead`.
    #[serde(default)]
    pub unsubscribe_on_410: bool,
    /// Most requests per second to this webhook (per node); `null`: no limit
    /// beyond `--webhook-concurrency`. A receiver's `429` with `Retry-After` is
    /// honoured either way.
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
}

/// What the API accepts on create and patch. `null` clears a nullable field.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WebhookInput {
    /// Display name (defaults to the URL's host).
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub name: Option<String>,
    /// Where to call: `http(s)://…`; placeholders `{id_order}`, `{id_job}`, `{id_event}`, `{event}`, `{account}`, `{id_product}`, `{id_checkout}` and `{{ … }}` expressions, percent-encoded.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)
    )]
    pub url: Option<String>,
    /// HTTP method; `GET` sends the form fields as the query.
    pub method: Option<Method>,
    /// `active` | `paused` | `disabled` (set by shophook after persistent failure).
    pub status: Option<WebhookStatus>,
    /// Event types to send, or `["*"]` for all.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::webhook_events))]
    pub events: Option<Vec<String>>,
    /// Product ids or SKUs; non-empty makes it a per-product webhook.
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub products: Option<Vec<String>>,
    /// All must hold for an event to be sent.
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub conditions: Option<Vec<Condition>>,
    /// Wait this long, then re-check `conditions` against the latest snapshot.
    #[cfg_attr(feature = "openapi", schema(maximum = 525_600))]
    pub delay_minutes: Option<u32>,
    /// Deliveries outside every window wait for the next one.
    #[serde(default, deserialize_with = "nullable")]
    pub schedule: Option<Option<Schedule>>,
    /// `json` | `form` | `template` | a compatibility profile (`ekademia`, `justclick`, `shoppegram`, `salesdrive`, `sellasist`) | a preset (`telegram`, `slack`, `sheets`).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::webhook_format))]
    pub format: Option<String>,
    /// MiniJinja template of the body (`format: template`, presets).
    #[serde(default, deserialize_with = "nullable")]
    pub template: Option<Option<String>>,
    /// `Content-Type` of a template body.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub content_type: Option<Option<String>>,
    /// Extra request headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// Success iff the response status is in the list; empty = any 2xx.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::expect_status))]
    pub expect_status: Option<Vec<u16>>,
    /// Adds a field with a hex digest of some values + the secret, for receivers that check one.
    #[serde(default, deserialize_with = "nullable")]
    pub legacy_hash: Option<Option<LegacyHash>>,
    /// Deliveries of one subject go out strictly in event order.
    pub ordered: Option<bool>,
    /// A `410 Gone` from the receiver deletes the webhook (REST Hooks).
    pub unsubscribe_on_410: Option<bool>,
    /// Most requests per second to this webhook; `null` clears the limit.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100_000))]
    pub rate_limit_per_second: Option<Option<u32>>,
    /// A merchant-chosen secret (create only; rotate has its own route).
    #[cfg_attr(feature = "openapi", schema(min_length = 16, max_length = 128))]
    pub secret: Option<String>,
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Payload formats this build can render. The rest of the spec's formats are
/// refused at save time with a clear message until they exist.
pub const FORMATS: &[&str] = &["json", "form", "template"];

/// Limits on a webhook's shape.
pub const MAX_URL_LEN: usize = 2048;
/// Longest webhook name, in characters.
pub const MAX_NAME: usize = 200;
/// Most status codes in `expect_status`.
pub const MAX_EXPECT_STATUS: usize = 20;
/// Most conditions per webhook.
pub const MAX_CONDITIONS: usize = 50;
/// Most custom headers per webhook.
pub const MAX_HEADERS: usize = 50;
/// Highest `rate_limit_per_second`.
pub const MAX_RATE_PER_SECOND: u32 = 100_000;
/// Most product ids/SKUs per webhook.
pub const MAX_PRODUCTS: usize = 1000;

/// Headers shophook sets itself; a merchant may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
    "content-type",
    "upgrade",
    "te",
    "keep-alive",
    "proxy-authorization",
    "expect",
];

impl WebhookInput {
    /// Builds a new config from the input and defaults; `url` and `events` are required.
    pub fn into_new_config(
        self,
    ) -> Result<(WebhookConfig, Option<WebhookStatus>, Option<String>), FieldError> {
        let url = self
            .url
            .clone()
            .ok_or_else(|| FieldError::new("url", "required", "the URL to call is required"))?;
        if self.events.is_none() {
            return Err(FieldError::new(
                "events",
                "required",
                "choose at least one event type, or [\"*\"] for all",
            ));
        }
        let base = WebhookConfig {
            name: String::new(),
            url,
            method: Method::Post,
            events: Vec::new(),
            products: Vec::new(),
            conditions: Vec::new(),
            delay_minutes: 0,
            schedule: None,
            format: "json".into(),
            template: None,
            content_type: None,
            headers: BTreeMap::new(),
            expect_status: Vec::new(),
            legacy_hash: None,
            ordered: false,
            unsubscribe_on_410: false,
            rate_limit_per_second: None,
        };
        let status = self.status;
        let secret = self.secret.clone();
        // Sellasist's "Call URL" is a GET unless the merchant picks another method.
        let sellasist_get = self.method.is_none() && self.format.as_deref() == Some("sellasist");
        let mut config = self.apply_to(base)?;
        if sellasist_get {
            config.method = Method::Get;
        }
        if config.name.is_empty() {
            config.name = url::Url::parse(&config.url.replace(['{', '}'], ""))
                .ok()
                // a host may be longer than a name may be: keep the default valid,
                // or every later patch of this webhook would fail on `name`
                .and_then(|u| u.host_str().map(|h| h.chars().take(MAX_NAME).collect()))
                .unwrap_or_else(|| "webhook".into());
        }
        Ok((config, status, secret))
    }

    /// Applies the input on top of `config` and validates the result.
    pub fn apply_to(self, mut c: WebhookConfig) -> Result<WebhookConfig, FieldError> {
        if let Some(v) = self.name {
            c.name = v;
        }
        if let Some(v) = self.url {
            c.url = v;
        }
        if let Some(v) = self.method {
            c.method = v;
        }
        if let Some(v) = self.events {
            c.events = v;
        }
        if let Some(v) = self.products {
            c.products = v;
        }
        if let Some(v) = self.conditions {
            c.conditions = v;
        }
        if let Some(v) = self.delay_minutes {
            c.delay_minutes = v;
        }
        if let Some(v) = self.schedule {
            c.schedule = v;
        }
        if let Some(v) = self.format {
            c.format = v;
        }
        if let Some(v) = self.template {
            c.template = v;
        }
        if let Some(v) = self.content_type {
            c.content_type = v;
        }
        if let Some(v) = self.headers {
            c.headers = v;
        }
        if let Some(v) = self.expect_status {
            c.expect_status = v;
        }
        if let Some(v) = self.legacy_hash {
            c.legacy_hash = v;
        }
        if let Some(v) = self.ordered {
            c.ordered = v;
        }
        if let Some(v) = self.unsubscribe_on_410 {
            c.unsubscribe_on_410 = v;
        }
        if let Some(v) = self.rate_limit_per_second {
            c.rate_limit_per_second = v;
        }
        if self.status == Some(WebhookStatus::Disabled) {
            return Err(FieldError::new(
                "status",
                "invalid_status",
                "`disabled` is set by shophook; use `active` or `paused`",
            ));
        }
        c.validate()?;
        Ok(c)
    }
}

impl WebhookConfig {
    /// Checks every field; the first problem found is returned with its field path.
    pub fn validate(&self) -> Result<(), FieldError> {
        let n = self.name.chars().count();
        if n > MAX_NAME {
            return Err(FieldError::new(
                "name",
                "too_long",
                "at most 200 characters",
            ));
        }
        validate_http_url(&self.url).map_err(|e| e.within("url"))?;
        self.validate_events()?;
        if self.products.len() > MAX_PRODUCTS {
            return Err(FieldError::new(
                "products",
                "too_many",
                format!("at most {MAX_PRODUCTS} products"),
            ));
        }
        for (i, p) in self.products.iter().enumerate() {
            if p.trim().is_empty() || p.len() > 128 {
                return Err(FieldError::new(
                    format!("products[{i}]"),
                    "invalid_product",
                    "a product id or SKU of 1–128 characters",
                ));
            }
        }
        if self.conditions.len() > MAX_CONDITIONS {
            return Err(FieldError::new(
                "conditions",
                "too_many",
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
        }
        compile_all(&self.conditions)?;
        if self.delay_minutes > 525_600 {
            return Err(FieldError::new(
                "delay_minutes",
                "out_of_range",
                "at most 525600 minutes (one year)",
            ));
        }
        if self
            .rate_limit_per_second
            .is_some_and(|r| !(1..=MAX_RATE_PER_SECOND).contains(&r))
        {
            return Err(FieldError::new(
                "rate_limit_per_second",
                "out_of_range",
                format!(
                    "between 1 and {MAX_RATE_PER_SECOND} requests per second, or null for no limit"
                ),
            ));
        }
        if let Some(s) = &self.schedule {
            validate_schedule(s).map_err(|e| e.within("schedule"))?;
        }
        if !FORMATS.contains(&self.format.as_str())
            && !crate::profiles::PROFILES.contains(&self.format.as_str())
        {
            return Err(FieldError::new(
                "format",
                "unsupported_format",
                format!(
                    "`{}` is not a format; use one of: {}, {}",
                    self.format,
                    FORMATS.join(", "),
                    crate::profiles::PROFILES.join(", ")
                ),
            ));
        }
        if matches!(self.format.as_str(), "telegram" | "slack") {
            if let Some(t) = &self.template {
                crate::template::check(t)
                    .map_err(|e| FieldError::new("template", "invalid_template", e.message))?;
            }
            if self.format == "telegram" && !self.url.contains("chat_id=") {
                return Err(FieldError::new(
                    "url",
                    "missing_chat_id",
                    "the telegram preset reads the chat from the URL: https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<CHAT>",
                ));
            }
        } else if self.format == "template" {
            let Some(t) = &self.template else {
                return Err(FieldError::new(
                    "template",
                    "required",
                    "`format: \"template\"` needs a `template`, e.g. \"Order {{ order.id }} paid\"",
                ));
            };
            crate::template::check(t)
                .map_err(|e| FieldError::new("template", "invalid_template", e.message))?;
        } else if self.template.is_some() {
            return Err(FieldError::new(
                "template",
                "template_without_format",
                "a template is used only with `format: \"template\"`",
            ));
        }
        if let Some(ct) = &self.content_type
            && (ct.is_empty() || ct.len() > 200 || !is_header_value(ct))
        {
            return Err(FieldError::new(
                "content_type",
                "invalid_content_type",
                "a media type such as `text/plain; charset=utf-8`",
            ));
        }
        self.validate_headers()?;
        if self.expect_status.len() > MAX_EXPECT_STATUS {
            return Err(FieldError::new(
                "expect_status",
                "too_many",
                format!("at most {MAX_EXPECT_STATUS} status codes"),
            ));
        }
        for (i, s) in self.expect_status.iter().enumerate() {
            if !(100..=599).contains(s) {
                return Err(FieldError::new(
                    format!("expect_status[{i}]"),
                    "invalid_status_code",
                    "an HTTP status code between 100 and 599",
                ));
            }
        }
        if let Some(h) = &self.legacy_hash {
            validate_legacy_hash(h).map_err(|e| e.within("legacy_hash"))?;
        }
        Ok(())
    }

    fn validate_events(&self) -> Result<(), FieldError> {
        if self.events.is_empty() {
            return Err(FieldError::new(
                "events",
                "required",
                "choose at least one event type, or [\"*\"] for all",
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            if e != "*" && EventType::parse(e).is_none() {
                return Err(FieldError::new(
                    format!("events[{i}]"),
                    "unknown_event_type",
                    format!(
                        "`{e}` is not an event type; see GET /v1/accounts/{{account}}/catalog or use \"*\""
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_headers(&self) -> Result<(), FieldError> {
        if self.headers.len() > MAX_HEADERS {
            return Err(FieldError::new(
                "headers",
                "too_many",
                format!("at most {MAX_HEADERS} headers"),
            ));
        }
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            if name.is_empty() || name.len() > 100 || !name.bytes().all(is_token_byte) {
                return Err(FieldError::new(
                    field,
                    "invalid_header_name",
                    "header names use letters, digits and `-`",
                ));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(FieldError::new(
                    field,
                    "reserved_header",
                    format!("`{name}` is set by shophook and cannot be overridden"),
                ));
            }
            if value.len() > 4096 || !is_header_value(value) {
                return Err(FieldError::new(
                    field,
                    "invalid_header_value",
                    "header values are one line of at most 4096 characters",
                ));
            }
        }
        Ok(())
    }

    /// Whether this webhook subscribes to `event_type` (by type only).
    pub fn wants(&self, event_type: EventType) -> bool {
        self.events
            .iter()
            .any(|e| e == "*" || e == event_type.as_str())
    }

    /// The compiled conditions. Only valid configs are stored, so this cannot fail
    /// for a stored config; a failure here is reported, not hidden.
    pub fn compiled_conditions(&self) -> Result<Vec<CompiledCondition>, FieldError> {
        compile_all(&self.conditions)
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Checks a destination URL: absolute `http`/`https`, a host, no credentials,
/// at most 2048 characters. Placeholders (`{id_order}`, `{{ … }}`) are allowed in
/// the path and query.
pub fn validate_http_url(raw: &str) -> Result<(), FieldError> {
    if raw.len() > MAX_URL_LEN {
        return Err(FieldError::new(
            "",
            "url_too_long",
            format!("at most {MAX_URL_LEN} characters"),
        ));
    }
    let probe = crate::url_template::blank_placeholders(raw);
    let parsed = url::Url::parse(&probe).map_err(|e| {
        FieldError::new(
            "",
            "invalid_url",
            format!("`{raw}` is not an absolute URL ({e}); write e.g. https://example.com/hook"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FieldError::new(
            "",
            "invalid_url",
            "use an http:// or https:// URL",
        ));
    }
    // literally, not after the URL parser's forgiving clean-up (" http:x" parses)
    let has_scheme = |s: &str| {
        raw.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
    };
    if !has_scheme("http://") && !has_scheme("https://") {
        return Err(FieldError::new(
            "",
            "invalid_url",
            "use an http:// or https:// URL, e.g. https://example.com/hook",
        ));
    }
    let host_part = raw
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("");
    if host_part.contains('{') {
        return Err(FieldError::new(
            "",
            "invalid_url",
            "placeholders are allowed in the path and query, not in the host",
        ));
    }
    crate::url_template::check(raw)?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new("", "invalid_url", "the URL needs a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::new(
            "",
            "invalid_url",
            "put credentials in a header, not in the URL",
        ));
    }
    Ok(())
}

/// Weekday names of schedules.
pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn validate_schedule(s: &Schedule) -> Result<(), FieldError> {
    if jiff::tz::TimeZone::get(&s.timezone).is_err() {
        return Err(FieldError::new(
            "timezone",
            "invalid_timezone",
            format!("`{}` is not an IANA time zone name", s.timezone),
        ));
    }
    if s.windows.is_empty() || s.windows.len() > 50 {
        return Err(FieldError::new(
            "windows",
            "invalid_schedule",
            "give 1–50 windows, or set `schedule` to null",
        ));
    }
    for (i, w) in s.windows.iter().enumerate() {
        let at = |f: &str| format!("windows[{i}].{f}");
        if w.days.is_empty() {
            return Err(FieldError::new(
                at("days"),
                "invalid_schedule",
                "pick at least one day",
            ));
        }
        for d in &w.days {
            if !DAYS.contains(&d.as_str()) {
                return Err(FieldError::new(
                    at("days"),
                    "invalid_day",
                    format!("`{d}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                ));
            }
        }
        let from = parse_hhmm(&w.from).ok_or_else(|| {
            FieldError::new(
                at("from"),
                "invalid_time",
                "a time of day as HH:MM (00:00–23:59)",
            )
        })?;
        let to = parse_hhmm(&w.to).ok_or_else(|| {
            FieldError::new(
                at("to"),
                "invalid_time",
                "a time of day as HH:MM (00:00–24:00)",
            )
        })?;
        if from >= to {
            return Err(FieldError::new(
                at("to"),
                "invalid_time",
                "`to` must be later than `from` (split overnight windows in two)",
            ));
        }
    }
    Ok(())
}

/// Parses `HH:MM` into minutes after midnight; `24:00` is the end of the day.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn validate_legacy_hash(h: &LegacyHash) -> Result<(), FieldError> {
    if h.field.is_empty() || h.field.len() > 64 {
        return Err(FieldError::new(
            "field",
            "invalid_legacy_hash",
            "name the field that carries the digest, e.g. `hash`",
        ));
    }
    if !matches!(h.algorithm.as_str(), "md5" | "sha1" | "sha256") {
        return Err(FieldError::new(
            "algorithm",
            "invalid_legacy_hash",
            "one of md5, sha1, sha256",
        ));
    }
    if h.parts.is_empty() || h.parts.len() > 20 {
        return Err(FieldError::new(
            "parts",
            "invalid_legacy_hash",
            "1–20 field paths, e.g. [\"order.id\", \"order.customer.email\"]",
        ));
    }
    for (i, p) in h.parts.iter().enumerate() {
        crate::context::FieldPath::parse(p).map_err(|e| e.within(&format!("parts[{i}]")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(json: serde_json::Value) -> Result<WebhookConfig, String> {
        let input: WebhookInput = serde_json::from_value(json).map_err(|e| e.to_string())?;
        input
            .into_new_config()
            .map(|(c, _, _)| c)
            .map_err(|e| e.field)
    }

    #[test]
    fn a_url_starts_with_its_scheme_literally() {
        for bad in [
            " https://example.com/x",
            "http:example.com/x",
            "https:/example.com/x",
        ] {
            let err = validate_http_url(bad).unwrap_err();
            assert_eq!(err.code, "invalid_url", "{bad}");
        }
        validate_http_url("HTTPS://example.com/x").unwrap();
        validate_http_url("http://example.com/{id_order}").unwrap();
    }

    #[test]
    fn a_long_host_makes_a_valid_default_name() {
        let host = format!("{}.example", "a".repeat(300));
        let c = create(json!({"url": format!("https://{host}/x"), "events": ["*"]})).unwrap();
        assert_eq!(c.name.chars().count(), MAX_NAME);
        c.validate().unwrap();
        // …so a later patch of another field still validates
        let patched = WebhookInput {
            delay_minutes: Some(5),
            ..Default::default()
        }
        .apply_to(c);
        assert!(patched.is_ok(), "{patched:?}");
    }

    #[test]
    fn the_spec_example_is_valid_with_json() {
        let c = create(json!({
            "name": "Warehouse",
            "url": "https://wms.example.com/in?order={id_order}&job={id_job}",
            "method": "POST", "status": "active",
            "events": ["order.created", "order.paid"], "products": [],
            "conditions": [
                {"field": "order.source.site", "op": "eq", "value": "shop-a.example"},
                {"field": "order.status", "op": "in", "value": ["new", "processing"]}
            ],
            "delay_minutes": 0,
            "schedule": {"timezone": "Europe/Warsaw",
                "windows": [{"days": ["mon","tue","wed","thu","fri"], "from": "08:00", "to": "16:00"}]},
            "format": "json", "template": null, "content_type": null,
            "headers": {"X-Api-Key": "k"}, "expect_status": [], "legacy_hash": null, "ordered": false
        }))
        .unwrap();
        assert_eq!(c.name, "Warehouse");
        assert!(c.wants(EventType::OrderPaid));
        assert!(!c.wants(EventType::OrderShipped));
    }

    #[test]
    fn defaults_and_name_from_host() {
        let c = create(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})).unwrap();
        assert_eq!(c.name, "127.0.0.1");
        assert_eq!(c.method, Method::Post);
        assert_eq!(c.format, "json");
        assert!(c.wants(EventType::ProductDeleted));
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let base = || json!({"url": "https://x.example/h", "events": ["order.paid"]});
        let with = |k: &str, v: serde_json::Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let table = [
            (json!({"events": ["order.paid"]}), "url"),
            (json!({"url": "https://x.example"}), "events"),
            (with("url", json!("ftp://x.example")), "url"),
            (with("url", json!("not a url")), "url"),
            (with("url", json!("https://{id_order}.example/")), "url"),
            (with("url", json!("https://u:p@x.example/")), "url"),
            (
                with(
                    "url",
                    json!(format!("https://x.example/{}", "a".repeat(2100))),
                ),
                "url",
            ),
            (with("events", json!([])), "events"),
            (
                with("events", json!(["order.paid", "order.exploded"])),
                "events[1]",
            ),
            (
                with(
                    "conditions",
                    json!([{"field": "order.status", "op": "in", "value": 3}]),
                ),
                "conditions[0].value",
            ),
            (
                with("schedule", json!({"timezone": "Nowhere", "windows": []})),
                "schedule.timezone",
            ),
            (
                with(
                    "schedule",
                    json!({"timezone": "UTC", "windows": [{"days": ["mon"], "from": "16:00", "to": "08:00"}]}),
                ),
                "schedule.windows[0].to",
            ),
            (
                with(
                    "schedule",
                    json!({"timezone": "UTC", "windows": [{"days": ["funday"], "from": "08:00", "to": "09:00"}]}),
                ),
                "schedule.windows[0].days",
            ),
            (with("format", json!("yaml")), "format"),
            (with("format", json!("template")), "template"),
            (with("template", json!("x")), "template"),
            (
                with("headers", json!({"webhook-signature": "x"})),
                "headers.webhook-signature",
            ),
            (
                with("headers", json!({"X-Ok": "a\r\nInjected: 1"})),
                "headers.X-Ok",
            ),
            (with("expect_status", json!([200, 700])), "expect_status[1]"),
            (
                with(
                    "legacy_hash",
                    json!({"field": "hash", "algorithm": "crc32", "parts": ["order.id"]}),
                ),
                "legacy_hash.algorithm",
            ),
            (with("status", json!("disabled")), "status"),
            (with("delay_minutes", json!(600000)), "delay_minutes"),
        ];
        for (input, field) in table {
            assert_eq!(create(input.clone()).unwrap_err(), field, "{input}");
        }
        assert!(
            create(with("colour", json!("red")))
                .unwrap_err()
                .contains("unknown field")
        );
        let mut bad_template = base();
        bad_template["format"] = json!("template");
        bad_template["template"] = json!("ok\n{{ order.id | nope }}");
        let input: WebhookInput = serde_json::from_value(bad_template).unwrap();
        let err = input.into_new_config().unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("template", "invalid_template")
        );
        assert!(err.message.starts_with("line 2"), "{}", err.message);
        assert!(
            create(with("method", json!("DELETE")))
                .unwrap_err()
                .contains("unknown variant")
        );
    }

    #[test]
    fn patch_merges_and_null_clears() {
        let c = create(json!({"url": "https://x.example/h", "events": ["*"],
            "schedule": {"timezone": "UTC", "windows": [{"days": ["mon"], "from": "08:00", "to": "09:00"}]}})).unwrap();
        let patch: WebhookInput =
            serde_json::from_value(json!({"name": "New", "schedule": null})).unwrap();
        let c2 = patch.apply_to(c.clone()).unwrap();
        assert_eq!(c2.name, "New");
        assert_eq!(c2.schedule, None);
        assert_eq!(c2.url, c.url);
        let empty: WebhookInput = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty.apply_to(c.clone()).unwrap(), c);
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:01"), None);
        assert_eq!(parse_hhmm("8:00"), None);
    }
}
