//! Accounts (merchants, tenants): their settings and the rules a valid one follows.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// Plan features an operator switches per account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Features {
    /// Whether the account may create webhooks at all (plan gating).
    #[serde(default = "yes")]
    pub webhooks: bool,
}

/// Per-account limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Limits {
    /// How many webhooks the account may have.
    #[serde(default = "default_max_webhooks")]
    #[cfg_attr(feature = "openapi", schema(maximum = 10_000))]
    pub max_webhooks: u32,
    /// Most deliveries of the account in flight at once on one node (below the
    /// server's `--account-concurrency`, which applies when this is unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100_000))]
    pub max_in_flight: Option<u32>,
}

fn yes() -> bool {
    true
}
fn default_max_webhooks() -> u32 {
    50
}
fn default_abandon() -> u32 {
    60
}
fn default_timezone() -> String {
    "UTC".to_string()
}

impl Default for Features {
    fn default() -> Self {
        Features { webhooks: true }
    }
}
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_webhooks: default_max_webhooks(),
            max_in_flight: None,
        }
    }
}

/// A merchant account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Account {
    /// Slug: lowercase letters, digits, `-` and `_`, 1–64 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 64)
    )]
    pub id: String,
    /// Display name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub name: String,
    /// IANA time zone used for schedules and profile timestamps.
    #[serde(default = "default_timezone")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub timezone: String,
    /// Plan features.
    #[serde(default)]
    pub features: Features,
    /// Plan limits.
    #[serde(default)]
    pub limits: Limits,
    /// Minutes after which an open checkout counts as abandoned.
    #[serde(default = "default_abandon")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 525_600))]
    pub abandon_after_minutes: u32,
    /// Where `webhook.disabled` notifications go.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)
    )]
    pub notify_url: Option<String>,
}

/// Largest accepted `limits.max_webhooks`.
pub const MAX_WEBHOOKS_CEILING: u32 = 10_000;

impl Account {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_slug(&self.id).map_err(|e| e.within("id"))?;
        if self.name.chars().count() > 200 {
            return Err(FieldError::new(
                "name",
                "too_long",
                "at most 200 characters",
            ));
        }
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            return Err(FieldError::new(
                "timezone",
                "invalid_timezone",
                format!(
                    "`{}` is not an IANA time zone name (e.g. Europe/Warsaw)",
                    self.timezone
                ),
            ));
        }
        if self.limits.max_webhooks > MAX_WEBHOOKS_CEILING {
            return Err(FieldError::new(
                "limits.max_webhooks",
                "out_of_range",
                format!("at most {MAX_WEBHOOKS_CEILING}"),
            ));
        }
        if self
            .limits
            .max_in_flight
            .is_some_and(|n| !(1..=100_000).contains(&n))
        {
            return Err(FieldError::new(
                "limits.max_in_flight",
                "out_of_range",
                "between 1 and 100000 deliveries in flight",
            ));
        }
        if !(1..=525_600).contains(&self.abandon_after_minutes) {
            return Err(FieldError::new(
                "abandon_after_minutes",
                "out_of_range",
                "between 1 and 525600 minutes (one year)",
            ));
        }
        if let Some(url) = &self.notify_url {
            crate::webhook::validate_http_url(url).map_err(|e| e.within("notify_url"))?;
        }
        Ok(())
    }
}

/// Checks an account slug.
pub fn validate_slug(id: &str) -> Result<(), FieldError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "",
            "invalid_slug",
            "use 1–64 lowercase letters, digits, `-` or `_`, starting with a letter or digit (e.g. `acme`)",
        ))
    }
}

crate::object_only!(Features, Limits, Account);

#[cfg(test)]
mod tests {
    use super::*;

    fn account(json: serde_json::Value) -> Result<Account, String> {
        serde_json::from_value::<Account>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let a = account(serde_json::json!({"id": "acme"})).unwrap();
        assert!(a.features.webhooks);
        assert_eq!(a.limits.max_webhooks, 50);
        assert_eq!(a.abandon_after_minutes, 60);
        assert_eq!(a.timezone, "UTC");
        a.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (serde_json::json!({"id": "Acme"}), "id"),
            (serde_json::json!({"id": ""}), "id"),
            (serde_json::json!({"id": "-x"}), "id"),
            (
                serde_json::json!({"id": "a", "timezone": "Mars/Base"}),
                "timezone",
            ),
            (
                serde_json::json!({"id": "a", "abandon_after_minutes": 0}),
                "abandon_after_minutes",
            ),
            (
                serde_json::json!({"id": "a", "notify_url": "ftp://x"}),
                "notify_url",
            ),
        ];
        for (json, field) in cases {
            let err = account(json.clone()).unwrap().validate().unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
        assert!(account(serde_json::json!({"id": "a", "colour": "red"})).is_err());
    }
}
