//! shophook as a library: the server ([`app::App`]), its HTTP API ([`api`]), the
//! delivery workers ([`worker`]) and the command line ([`cli`]). `main.rs` only
//! parses arguments and calls [`cli::run`], so tests start the very same server.

pub mod api;
pub mod app;
pub mod auth;
pub mod batch;
pub mod caches;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod ids;
pub mod input;
pub mod metrics;
pub mod retention;
pub mod security;
pub mod serve;
pub mod service;
pub mod state;
pub mod ui;
pub mod worker;

/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("shophook/", env!("CARGO_PKG_VERSION"));
