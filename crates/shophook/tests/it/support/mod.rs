//! Test support: `TestApp` (the server in-process on port 0 with a temp SQLite file),
//! `TestReceiver` (records requests, answers with scripted statuses), and
//! `ServerProcess` (the real binary as a child process, for signal tests).
//! Waiting is on signals with a timeout, never on fixed sleeps. One file each:
//! `app.rs`, `receiver.rs`, `process.rs` (and `Remote`), `postgres.rs`.

#![allow(dead_code)]

mod app;
mod postgres;
mod process;
mod receiver;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

pub use app::*;
pub use postgres::*;
pub use process::*;
pub use receiver::*;

pub const ADMIN_KEY: &str = "test-operator-key-0123456789";
pub const WAIT: Duration = Duration::from_secs(20);

/// Checks an error answer: its status, and the spec's body shape
/// `{"error": {"code", "message", "field"?}}` with `code`; returns the inner object.
pub fn assert_error<'a>(
    got: &'a (StatusCode, Value),
    status: StatusCode,
    code: &str,
) -> &'a serde_json::Map<String, Value> {
    let (s, body) = got;
    assert_eq!(*s, status, "expected {status} `{code}`, got {s}: {body}");
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(top.len(), 1, "error body has more than `error`: {body}");
    let err = top
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no `error` object: {body}"));
    assert_eq!(
        err.get("code").and_then(Value::as_str),
        Some(code),
        "{body}"
    );
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    assert!(
        err.keys()
            .all(|k| ["code", "message", "field"].contains(&k.as_str())),
        "unexpected keys: {body}"
    );
    if let Some(f) = err.get("field") {
        assert!(
            f.as_str().is_some_and(|f| !f.is_empty()),
            "`field` must be a non-empty string: {body}"
        );
    }
    err
}
