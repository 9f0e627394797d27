//! Delivery history: list with filters and cursor paging, one delivery with its
//! attempts, manual retry.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use shophook_core::plan::DeliveryStatus;
use shophook_store::{Attempt, DeliveryFilter};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Routes under `/v1/accounts/{account}/deliveries`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(retry))
}

/// A delivery as the history shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// `dlv_` + ULID.
    pub id: String,
    /// Account.
    pub account: String,
    /// Webhook.
    pub webhook_id: String,
    /// Event.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Event subject.
    pub subject: Option<String>,
    /// Status.
    pub status: DeliveryStatus,
    /// Whether it waits for its webhook to be resumed.
    pub held: bool,
    /// Attempts made.
    pub attempt_count: u32,
    /// When the next attempt is due, for waiting deliveries.
    pub next_attempt_at: Option<jiff::Timestamp>,
    /// Created.
    pub created_at: jiff::Timestamp,
    /// Last change.
    pub updated_at: jiff::Timestamp,
    /// Status code of the last response.
    pub last_status_code: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Why it was skipped or gave up.
    pub reason: Option<String>,
}

impl From<shophook_store::Delivery> for Delivery {
    fn from(d: shophook_store::Delivery) -> Delivery {
        Delivery {
            id: d.id,
            account: d.account_id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type,
            subject: d.subject,
            status: d.status,
            held: d.held,
            attempt_count: d.attempts,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            reason: d.reason,
        }
    }
}

/// A delivery with every attempt, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryWithAttempts {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Its attempts, oldest first; each with the request as sent.
    pub attempts: Vec<AttemptView>,
}

/// One HTTP request of a delivery, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// `att_` + ULID.
    pub id: String,
    /// 1-based attempt number.
    pub number: u32,
    /// When the request started.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: jiff::Timestamp,
    /// How long it took.
    pub duration_ms: u32,
    /// What was sent.
    pub request: RequestView,
    /// What came back, if anything.
    pub response: Option<ResponseView>,
    /// Why it failed, if it did (network error, unexpected status, refused target…).
    pub error: Option<String>,
}

/// The request of an attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    /// Method.
    pub method: String,
    /// Final URL.
    pub url: String,
    /// Headers as sent (secrets masked), as `[name, value]` pairs.
    #[schema(schema_with = crate::api::openapi::header_pairs)]
    pub headers: Vec<(String, String)>,
    /// The body as sent; `null` when nothing was sent.
    pub body: Option<String>,
    /// Whether the request went out: `false` when the attempt failed before
    /// sending (its template failed, its URL was refused — see `error`).
    pub sent: bool,
}

/// The response of an attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseView {
    /// Status code.
    pub status: u16,
    /// Headers, as `[name, value]` pairs.
    #[schema(schema_with = crate::api::openapi::header_pairs)]
    pub headers: Vec<(String, String)>,
    /// First 64 KiB of the body (lossy UTF-8).
    pub body: String,
}

/// An attempt as the API shows it; a body not recorded is the event's envelope
/// (what was sent: the store keeps a body only when it differs).
pub fn attempt_view(a: &Attempt, envelope: &str) -> AttemptView {
    AttemptView {
        id: a.id.clone(),
        number: a.number,
        started_at: a.started_at,
        duration_ms: a.duration_ms,
        request: RequestView {
            method: a.request.method.clone(),
            url: a.request.url.clone(),
            headers: a.request.headers.clone(),
            body: a.request.sent.then(|| {
                a.request
                    .body
                    .clone()
                    .unwrap_or_else(|| envelope.to_string())
            }),
            sent: a.request.sent,
        },
        response: a.response.as_ref().map(|r| ResponseView {
            status: r.status,
            headers: r.headers.clone(),
            body: r.body.clone(),
        }),
        error: a.error.clone(),
    }
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
    // not `get`: an empty `limit=` is not a number (the document says integer)
    let limit = match q.get("limit").cloned() {
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

/// Lists deliveries, newest first, with filters and cursor paging: pass a page's
/// `next_cursor` as `before` for the next one.
#[utoipa::path(get, path = "/v1/accounts/{account}/deliveries", tag = "deliveries",
    params(("account" = String, Path, description = "Account id"),
           ("webhook" = Option<String>, Query, description = "Only this webhook"),
           ("status" = Option<String>, Query, description = "scheduled, pending, succeeded, failed, dead or skipped; empty for any",
            pattern = "^(scheduled|pending|succeeded|failed|dead|skipped)?$"),
           ("event_type" = Option<String>, Query, description = "Only this event type, e.g. order.paid"),
           ("subject" = Option<String>, Query, description = "Only this subject, e.g. order:1001"),
           ("before" = Option<String>, Query, description = "Cursor: deliveries older than this delivery id"),
           ("limit" = Option<u32>, Query, description = "Page size, 1–1000 (50)", minimum = 1, maximum = 1000)),
    responses((status = 200, description = "A page of deliveries", body = Page<Delivery>)))]
async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    crate::input::SingleParams(q): crate::input::SingleParams,
) -> ApiResult<Json<Page<Delivery>>> {
    let account = caller.account(&s, &account).await?;
    let f = filter(q)?;
    let limit = f.limit as usize;
    let items = s.store.list_deliveries(&account.id, f).await?;
    let next = (items.len() == limit)
        .then(|| items.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Json(Page {
        data: items.into_iter().map(Delivery::from).collect(),
        next_cursor: next,
    }))
}

/// Reads one delivery with its attempts: the exact request sent each time and
/// what came back.
#[utoipa::path(get, path = "/v1/accounts/{account}/deliveries/{id}", tag = "deliveries",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Delivery id (`dlv_…`)")),
    responses((status = 200, description = "The delivery", body = DeliveryWithAttempts)))]
async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryWithAttempts>> {
    let account = caller.account(&s, &account).await?;
    let d = s
        .store
        .delivery(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let attempts = d
        .attempts
        .iter()
        .map(|a| attempt_view(a, &d.envelope))
        .collect();
    Ok(Json(DeliveryWithAttempts {
        delivery: d.delivery.into(),
        attempts,
    }))
}

/// Sends a finished or waiting delivery again now (same delivery id).
#[utoipa::path(post, path = "/v1/accounts/{account}/deliveries/{id}/retry", tag = "deliveries",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Delivery id (`dlv_…`)")),
    responses((status = 202, description = "Queued", body = Delivery),
              (status = 409, description = "The delivery is being sent right now", body = crate::error::ErrorBody)))]
async fn retry(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let account = caller.account(&s, &account).await?;
    let d = crate::service::deliveries::retry(&s, &account.id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(d.into())))
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
            ("limit", ""),
            ("colour", "red"),
        ] {
            assert!(filter(q(&[bad])).is_err(), "{bad:?}");
        }
    }
}
