//! Integration tests: the real server over HTTP, a real receiver on 127.0.0.1.
//! One test binary (see rust-analyzer's "one tests/it"), one module per feature.

mod support;

mod accounts;
mod bad_input;
mod cli;
mod commerce;
mod delivery;
mod disable;
mod events;
mod fairness;
mod formats;
mod history;
mod hostile;
mod isolation;
mod limits;
mod metrics;
mod multinode;
mod openapi;
mod rest_hooks;
mod restart;
mod secrets;
mod ssrf;
mod ui;
mod webhooks;
