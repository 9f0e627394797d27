//! The one validation error type of the core: which field is wrong and why, in words
//! a merchant can act on. The server maps it to a 422 with the spec's error body.

use std::fmt;

/// A rejected input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the offending field (`conditions[1].op`).
    pub field: String,
    /// Stable machine-readable code (`invalid_url`, `unknown_event_type`, …).
    pub code: &'static str,
    /// Human-readable explanation saying what to fix.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field` with a code and message.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// Prefixes the field path, e.g. `op` inside `conditions[1]`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}
