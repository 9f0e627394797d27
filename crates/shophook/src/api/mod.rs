//! The HTTP API (`/v1/…`), the health endpoints and the API's own description
//! (`/openapi.json`, `/docs`). One module per resource; each holds its routes,
//! request and response types and validation.
//!
//! Every API route is registered through its `#[utoipa::path]` annotation
//! ([`utoipa_axum::routes!`]), so the routes served and the routes documented come
//! from the same place and cannot drift apart.

pub mod accounts;
pub mod deliveries;
pub mod events;
pub mod health;

pub mod openapi;
pub mod preview;
pub mod rest_hooks;
pub mod snapshots;
pub mod webhooks;

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The API routes with their OpenAPI description, before state is attached.
pub fn api_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(accounts::routes())
        .merge(webhooks::routes())
        .merge(events::routes())
        .merge(deliveries::routes())
        .merge(snapshots::routes())
        .merge(preview::routes())
        .merge(rest_hooks::routes())
}

/// A list: `{"data": [...], "next_cursor": …}` (`next_cursor` is the `before` of
/// the next page, `null` on the last one).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `before` for the next page; `null` when there is none.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page that is the whole list.
    pub fn all(data: Vec<T>) -> Page<T> {
        Page {
            data,
            next_cursor: None,
        }
    }
}
