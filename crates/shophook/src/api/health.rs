//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes `/healthz`, `/readyz` and `/metrics`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(scrape))
}

/// A database that has not answered by then is as good as down for a load balancer.
const READY_WITHIN: Duration = Duration::from_secs(5);

/// Health of the process or its database.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
    /// Why the database cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        error: None,
    })
}

/// Readiness: the database answers (a read on the store — a pooled connection
/// checked before use on PostgreSQL, a read connection on SQLite — within
/// [`READY_WITHIN`]). Load balancers send traffic only to ready nodes.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database cannot be reached", body = Health),
    ))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Health>) {
    let read = state.store.setting(shophook_store::ADMIN_KEY_SETTING);
    let error = match tokio::time::timeout(READY_WITHIN, read).await {
        Ok(Ok(_)) => {
            return (
                StatusCode::OK,
                Json(Health {
                    status: "ready",
                    error: None,
                }),
            );
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "the database did not answer within {} s",
            READY_WITHIN.as_secs()
        ),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: "unavailable",
            error: Some(error),
        }),
    )
}

/// Prometheus metrics: events stored, deliveries by outcome, attempts by status
/// class, delivery latency, queue depth and oldest due age, API request durations.
/// Text format 0.0.4, or OpenMetrics when the `Accept` header asks for it.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub async fn scrape(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let openmetrics = crate::metrics::wants_openmetrics(&headers);
    let body = s
        .metrics
        .render(&*s.store, s.clock.now(), openmetrics)
        .await;
    let content_type = if openmetrics {
        crate::metrics::OPENMETRICS
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    };
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
