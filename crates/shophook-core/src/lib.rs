//! The pure core of shophook.
//!
//! Everything here is a function of its inputs: no IO, no async, no clock reads and
//! no randomness — time and random bytes come in as values. That is what lets the
//! store, the API and the delivery workers share one definition of "which webhooks
//! does this event reach", "what exactly is sent" and "when is the next try", and
//! what lets all of it be tested with plain table tests.

pub mod account;
pub mod catalog;
pub mod condition;
pub mod context;
pub mod derive;
pub mod event;
pub mod field_options;
pub mod form;
pub mod format;
pub mod mask;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod plan;
pub mod profiles;
pub mod render;
pub mod retry;
pub mod schedule;
pub mod signing;
pub mod snapshot;
pub mod ssrf;
pub mod template;
pub mod url_template;
pub mod validation;
pub mod webhook;

pub use validation::FieldError;
