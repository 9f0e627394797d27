//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Routes `/healthz`, `/readyz` and `/metrics`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::metrics::scrape))
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
