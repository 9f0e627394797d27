//! Integration tests: the real server over HTTP, a real receiver on 127.0.0.1.
//! One test binary (see rust-analyzer's "one tests/it"), one module per feature.

/// The golden fixture of the core's tests, shared with them.
#[path = "../../../shophook-core/tests/golden/fixture.rs"]
mod fixture;
mod support;

mod accounts;
mod bad_input;
mod cli;
mod commerce;
mod delivery;
mod dialects;
mod disable;
mod events;
mod fairness;
mod formats;
mod golden;
mod history;
mod hostile;
mod isolation;
mod limits;
mod metrics;
mod multinode;
mod openapi;
mod php;
mod receivers;
mod rest_hooks;
mod restart;
mod secrets;
mod ssrf;
mod tenants;
mod ui;
mod ui_security;
mod webhooks;

/// Says a check was skipped and how to enable it, once per message. Written to
/// stderr directly, so it shows under `cargo test` too (the harness hides a
/// passing test's `eprintln!`); the line starts with `skipped: `.
#[macro_export]
macro_rules! skipped {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let line = format!("skipped: {}", format_args!($($arg)*));
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        if !said.contains(&line) {
            let _ = writeln!(std::io::stderr(), "{line}");
            said.push(line);
        }
    }};
}
