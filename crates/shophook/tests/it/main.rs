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
mod rest_hooks;
mod restart;
mod secrets;
mod ssrf;
mod tenants;
mod ui;
mod ui_security;
mod webhooks;
