//! What every handler reaches: the store, the clock, the caches, this node's worker
//! and sender, its metrics and the UI's security settings. Built by
//! [`crate::app::App::build`]; the API, the UI and the services take it as
//! `Arc<AppState>`.

use std::sync::Arc;
use std::time::Duration;

use shophook_store::Store;

use crate::clock::Clock;

/// What every handler can reach.
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// SHA-256 of the operator key.
    pub admin_hash: String,
    /// Hashes bearer keys (keyed by `--encryption-key` when it is set).
    pub key_hasher: crate::ids::KeyHasher,
    /// Account key cache.
    pub keys: crate::caches::KeyCache,
    /// Account cache.
    pub accounts: crate::caches::AccountCache,
    /// Per-key request rate.
    pub api_rate: crate::caches::ApiRate,
    /// The attempt sender (for test sends).
    pub sender: Arc<crate::worker::send::Sender>,
    /// This node's delivery worker (ingests hand it what is due at once).
    pub worker: Arc<crate::worker::Worker>,
    /// API event ingests, stored in groups.
    pub ingester: crate::batch::Ingester,
    /// This node's id (claims).
    pub node: String,
    /// Claim lease.
    pub lease: Duration,
    /// This server's metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The web UI's secret, cookie flags and response headers.
    pub ui: crate::security::UiSecurity,
    /// The embedding platform's name, logo and colour on the UI's pages.
    pub brand: Arc<crate::ui::brand::Brand>,
}
