//! Delivery history: list with filters and cursor paging, one delivery with its
//! attempts, manual retry.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use shophook_core::plan::DeliveryStatus;
use shophook_store::{Attempt, DeliveryFilter, NextState};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Routes under `/v1/accounts/{account}/deliveries`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/accounts/{account}/deliveries", get(list))
        .route("/v1/accounts/{account}/deliveries/{id}", get(show))
        .route("/v1/accounts/{account}/deliveries/{id}/retry", post(retry))
}

/// The status a delivery will have after this next state.
pub fn next_status_name(next: &NextState) -> &'static str {
    match next {
        NextState::Succeeded => "succeeded",
        NextState::Retry(_) => "failed",
        NextState::Dead(_) => "dead",
        NextState::Skipped(_) => "skipped",
        NextState::Defer(_) => "scheduled",
    }
}

/// An attempt as the API shows it; a body not recorded is the event's envelope.
pub fn attempt_view(a: &Attempt, envelope: &str) -> Value {
    let mut v = json!(a);
    if a.request.body.is_none() {
        v["request"]["body"] = json!(envelope);
    }
    v
}

const PARAMS: &[&str] = &[
    "webhook",
    "status",
    "event_type",
    "subject",
    "before",
    "limit",
];

fn filter(q: HashMap<String, String>) -> ApiResult<DeliveryFilter> {
    if let Some(unknown) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.clone(),
            "unknown_parameter",
            format!("filter by one of: {}", PARAMS.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let status = match get("status") {
        Some(s) => Some(DeliveryStatus::parse(&s).ok_or_else(|| {
            ApiError::field(
                "status",
                "invalid_status",
                "one of scheduled, pending, succeeded, failed, dead, skipped",
            )
        })?),
        None => None,
    };
    let limit = match get("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::field("limit", "invalid_limit", "a number from 1 to 1000"))?,
        None => 50,
    };
    Ok(DeliveryFilter {
        webhook: get("webhook"),
        status,
        event_type: get("event_type"),
        subject: get("subject"),
        before: get("before"),
        limit,
    })
}

async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &account).await?;
    let f = filter(q)?;
    let limit = f.limit as usize;
    let items = s.store.list_deliveries(&account.id, f).await?;
    let next = (items.len() == limit)
        .then(|| items.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Json(super::page(
        items.iter().map(|d| json!(d)).collect(),
        next,
    )))
}

async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &account).await?;
    let d = s
        .store
        .delivery(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let mut v = json!(d.delivery);
    v["attempts"] = Value::Array(
        d.attempts
            .iter()
            .map(|a| attempt_view(a, &d.envelope))
            .collect(),
    );
    Ok(Json(v))
}

async fn retry(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = caller.account(&s, &account).await?;
    let d = s
        .store
        .retry_delivery(&account.id, &id, s.clock.now())
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok((StatusCode::ACCEPTED, Json(json!(d))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters() {
        let f = filter(q(&[
            ("status", "dead"),
            ("limit", "10"),
            ("webhook", "wh_1"),
        ]))
        .unwrap();
        assert_eq!(f.status, Some(DeliveryStatus::Dead));
        assert_eq!(f.limit, 10);
        assert_eq!(filter(q(&[])).unwrap().limit, 50);
        for bad in [
            ("status", "lost"),
            ("limit", "0"),
            ("limit", "5000"),
            ("limit", "x"),
            ("colour", "red"),
        ] {
            assert!(filter(q(&[bad])).is_err(), "{bad:?}");
        }
    }
}
