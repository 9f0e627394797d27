//! [`WebhookInput`]: what the API accepts on create and patch, and how it merges
//! into a [`WebhookConfig`] (defaults on create, the stored config on patch).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::*;
use crate::FieldError;
use crate::condition::Condition;

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
        // A format's own method (Sellasist's "Call URL" is a GET) unless the
        // merchant picks one.
        let default_method = self
            .method
            .is_none()
            .then(|| self.format.as_deref().and_then(crate::format::get))
            .flatten()
            .map(|f| f.default_method);
        let mut config = self.apply_to(base)?;
        if let Some(m) = default_method {
            config.method = m;
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
