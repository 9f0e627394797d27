//! The rules every stored [`WebhookConfig`] follows: URL, headers, formats,
//! conditions, schedule, limits.

use super::*;
use crate::FieldError;
use crate::condition::{CompiledCondition, compile_all};
use crate::event::EventType;
use crate::schedule::validate_schedule;

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
        use crate::format::{self, TemplateUse};
        let Some(fmt) = format::get(&self.format) else {
            return Err(FieldError::new(
                "format",
                "unsupported_format",
                format!(
                    "`{}` is not a format; use one of: {}",
                    self.format,
                    format::names()
                ),
            ));
        };
        if fmt.template == TemplateUse::Optional {
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
        } else if fmt.template == TemplateUse::Required {
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

    /// What may fail on real events although the configuration is valid: a template
    /// that renders the full sample but not a resource with only its id (see
    /// [`crate::template::sparse_warning`]). Shown, never refused.
    pub fn warnings(&self) -> Vec<String> {
        use crate::format::{self, TemplateUse};
        let uses_template =
            format::get(&self.format).is_some_and(|f| f.template != TemplateUse::Refused);
        match (&self.template, uses_template) {
            (Some(t), true) => crate::template::sparse_warning(t)
                .map(|w| format!("template: {w}"))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
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
