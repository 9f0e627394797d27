//! The webhook: a merchant's subscription — where, when and how to call.
//!
//! [`WebhookInput`] is what the API accepts (every field optional, unknown fields
//! refused); [`WebhookConfig`] is the validated whole that is stored and sent by.
//! Create = defaults + input; patch = stored config + input; both then validate the
//! result, so a config that is stored is always a valid one.
//!
//! This module holds the types; `input.rs` the API input and its merge into a
//! config, `validate.rs` the rules a stored config follows. Schedules are in
//! [`crate::schedule`].

mod input;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::condition::Condition;

pub use crate::schedule::{Schedule, Window};
pub use input::WebhookInput;
pub use validate::validate_http_url;

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

/// A legacy "hash" field for receivers that check an md5/sha1/sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
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

crate::object_only!(LegacyHash);

#[cfg(test)]
mod tests;
