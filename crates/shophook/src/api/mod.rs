//! The HTTP API (`/v1/…`) and the health endpoints. One module per resource; each
//! holds its routes, request types and validation.

pub mod accounts;
pub mod deliveries;
pub mod events;
pub mod health;
pub mod json;
pub mod preview;
pub mod snapshots;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::app::AppState;
use crate::error::ApiError;

/// The whole HTTP surface.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .merge(accounts::routes())
        .merge(webhooks::routes())
        .merge(events::routes())
        .merge(deliveries::routes())
        .merge(snapshots::routes())
        .merge(preview::routes())
        .merge(crate::ui::routes())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(json::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .with_state(state)
}

/// A list response: `{"data": [...], "next_cursor": …}`.
pub fn page(items: Vec<serde_json::Value>, next_cursor: Option<String>) -> serde_json::Value {
    serde_json::json!({ "data": items, "next_cursor": next_cursor })
}
