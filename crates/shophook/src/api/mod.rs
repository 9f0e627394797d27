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
pub mod json;
pub mod openapi;
pub mod preview;
pub mod rest_hooks;
pub mod snapshots;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::ApiError;

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

/// The whole HTTP surface, without state: the API, its description, the web UI.
pub fn routes() -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let (api, doc) = api_routes().split_for_parts();
    let doc = openapi::finish(doc);
    let router = api
        .layer(axum::Extension(Arc::new(openapi::Docs::new(&doc))))
        .merge(crate::ui::routes())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(json::MAX_BODY));
    (router, doc)
}

/// The whole HTTP surface, ready to serve, with request durations measured by route.
pub fn router(state: Arc<AppState>) -> Router {
    routes()
        .0
        // What the UI's header middleware sends (`--ui-frame-ancestors`).
        .layer(axum::Extension(state.ui.headers.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .with_state(state)
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// Paths of the web UI (HTML for browsers, not the API).
    fn is_ui(path: &str) -> bool {
        matches!(path, "/" | "/login" | "/logout" | "/accounts")
            || ["/a/", "/assets/", "/portal/"]
                .iter()
                .any(|p| path.starts_with(p))
    }

    /// Every route the router serves, with its methods, read from the router itself
    /// (axum lists its paths and each route's `Allow` header in its `Debug` output).
    fn served() -> BTreeMap<String, BTreeSet<String>> {
        let (router, _) = super::routes();
        let dump = format!("{router:?}");
        let mut methods: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for part in dump.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once(')') else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            if let Some(allow) = rest
                .strip_prefix(": MethodRouter(")
                .and_then(|r| r.split_once("allow_header: Bytes(b\""))
                .and_then(|(_, r)| r.split_once('"'))
            {
                let set = allow
                    .0
                    .split(',')
                    .filter(|m| *m != "HEAD")
                    .map(str::to_string)
                    .collect();
                methods.insert(id, set);
            }
        }
        let mut out = BTreeMap::new();
        for part in dump.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once(')') else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            if let Some(path) = rest.strip_prefix(": \"").and_then(|r| r.split_once('"')) {
                let m = methods.get(&id).cloned().unwrap_or_default();
                out.insert(path.0.to_string(), m);
            }
        }
        out
    }

    #[test]
    fn every_api_route_is_in_the_openapi_document() {
        let (_, doc) = super::routes();
        let doc = serde_json::to_value(&doc).unwrap();
        let served = served();
        assert!(
            served.len() > 30 && served.values().all(|m| !m.is_empty()),
            "could not read the router's routes: {served:?}"
        );
        let mut checked = 0;
        for (path, methods) in &served {
            if is_ui(path) || path.contains("__private__axum") {
                continue;
            }
            let item = doc["paths"][path]
                .as_object()
                .unwrap_or_else(|| panic!("{path} is served but not in /openapi.json"));
            let documented: BTreeSet<String> = item.keys().map(|m| m.to_uppercase()).collect();
            assert_eq!(&documented, methods, "methods of {path}");
            checked += 1;
        }
        let documented = doc["paths"].as_object().unwrap();
        assert_eq!(checked, documented.len(), "every documented path is served");
        for path in [
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/v1/accounts/{account}/events",
        ] {
            assert!(documented.contains_key(path), "{path}");
        }
    }

    #[test]
    fn every_operation_documents_its_errors_and_bodies() {
        let (_, doc) = super::routes();
        let doc = serde_json::to_value(&doc).unwrap();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_string()),
                    "{method} {path}: operationId {id} repeats"
                );
                let responses = op["responses"].as_object().unwrap();
                for status in ["400", "404", "422", "503"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: a success response"
                );
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path}: a summary (the handler's doc comment)"
                );
            }
        }
    }
}
