//! Liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::AppState;

/// A database that has not answered by then is as good as down for a load balancer.
const READY_WITHIN: Duration = Duration::from_secs(5);

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers: a read on the store (a pooled connection checked
/// before use on PostgreSQL, a read connection on SQLite), within [`READY_WITHIN`].
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let read = state.store.setting(shophook_store::ADMIN_KEY_SETTING);
    let error = match tokio::time::timeout(READY_WITHIN, read).await {
        Ok(Ok(_)) => return (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "the database did not answer within {} s",
            READY_WITHIN.as_secs()
        ),
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "error": error})),
    )
}
