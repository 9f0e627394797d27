//! History: deliveries newest first with filters and paging, one delivery with its
//! rendered request and every attempt, and a manual retry.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use shophook_core::event::EventType;
use shophook_core::plan::DeliveryStatus;
use shophook_store::{Delivery, DeliveryFilter, RequestRecord};

use super::session::Session;
use super::{Nav, UiError, check_csrf, guard, pairs, render};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/a/{account}/deliveries", get(list))
        .route("/a/{account}/deliveries/{id}", get(detail))
        .route("/a/{account}/deliveries/{id}/retry", post(retry))
}

struct Row {
    id: String,
    created: String,
    event: String,
    subject: String,
    webhook: String,
    status: String,
    attempts: u32,
    last: String,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    webhooks: Vec<(String, String)>,
    statuses: Vec<String>,
    all_events: Vec<String>,
    filter_webhook: String,
    filter_status: String,
    filter_event: String,
    filter_order: String,
    next: String,
}

struct AttemptView {
    number: u32,
    started: String,
    duration_ms: u32,
    status: String,
    error: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DetailPage {
    nav: Nav,
    d: Delivery,
    created: String,
    reason: String,
    subject: String,
    webhook_name: String,
    next_attempt: String,
    request: Option<RequestRecord>,
    request_body: String,
    attempts: Vec<AttemptView>,
    /// A retry can change the outcome: not when the last attempt could not even be
    /// made (its template failed, its URL was refused) and the webhook has not
    /// changed since.
    can_retry: bool,
}

/// A body for people: JSON pretty-printed, a form decoded into `key = value` lines.
pub fn pretty(body: &str) -> String {
    if body.is_empty() {
        return "(no body)".into();
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        return serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_string());
    }
    let looks_like_form = body.contains('=') && !body.contains(char::is_whitespace);
    if looks_like_form {
        return form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    body.to_string()
}

async fn list(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(account): Path<String>,
    crate::input::SingleParams(q): crate::input::SingleParams,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "history").await?;
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let hooks = s.store.list_webhooks(&nav.account).await?;
    let names: HashMap<String, String> = hooks
        .iter()
        .map(|h| (h.id.clone(), h.config.name.clone()))
        .collect();
    let filter = DeliveryFilter {
        webhook: get("webhook"),
        status: get("status").and_then(|x| DeliveryStatus::parse(&x)),
        event_type: get("event_type"),
        subject: get("order").map(|o| format!("order:{o}")),
        before: get("before"),
        limit: 50,
    };
    let page = s.store.list_deliveries(&nav.account, filter).await?;
    let next = match page.last() {
        Some(last) if page.len() == 50 => {
            let mut params: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| *k != "before")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            params.push(("before".into(), last.id.clone()));
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &params {
                ser.append_pair(k, v);
            }
            format!("/a/{}/deliveries?{}", nav.account, ser.finish())
        }
        _ => String::new(),
    };
    let rows = page
        .iter()
        .map(|d| Row {
            id: d.id.clone(),
            created: nav.when(d.created_at),
            event: d.event_type.clone(),
            subject: d.subject.clone().unwrap_or_default(),
            webhook: names
                .get(&d.webhook_id)
                .cloned()
                .unwrap_or_else(|| format!("{} (deleted)", d.webhook_id)),
            status: d.status.to_string(),
            attempts: d.attempts,
            last: match (d.last_status_code, &d.last_error) {
                (Some(c), _) => format!("HTTP {c}"),
                (None, Some(e)) => e.chars().take(60).collect(),
                _ => String::new(),
            },
        })
        .collect();
    Ok(render(&ListPage {
        rows,
        webhooks: hooks
            .iter()
            .map(|h| (h.id.clone(), h.config.name.clone()))
            .collect(),
        statuses: DeliveryStatus::ALL
            .iter()
            .map(|x| x.as_str().to_string())
            .collect(),
        all_events: EventType::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        filter_webhook: get("webhook").unwrap_or_default(),
        filter_status: get("status").unwrap_or_default(),
        filter_event: get("event_type").unwrap_or_default(),
        filter_order: get("order").unwrap_or_default(),
        next,
        nav,
    }))
}

async fn detail(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "history").await?;
    let detail = s
        .store
        .delivery(&nav.account, &id)
        .await?
        .ok_or(UiError(ApiError::NotFound("delivery")))?;
    let hook = s
        .store
        .webhook(&nav.account, &detail.delivery.webhook_id)
        .await?;
    let can_retry = match (detail.attempts.last(), &hook) {
        (Some(last), Some(h)) if !last.request.sent => h.updated_at >= last.started_at,
        _ => true,
    };
    let webhook_name = hook
        .map(|w| w.config.name)
        .unwrap_or_else(|| "(deleted)".into());
    let request = detail.attempts.last().map(|a| a.request.clone());
    let request_body = request
        .as_ref()
        .map(|r| pretty(r.body.as_deref().unwrap_or(&detail.envelope)))
        .unwrap_or_default();
    let attempts = detail
        .attempts
        .iter()
        .map(|a| AttemptView {
            number: a.number,
            started: nav.when(a.started_at),
            duration_ms: a.duration_ms,
            status: a
                .response
                .as_ref()
                .map(|r| r.status.to_string())
                .unwrap_or_default(),
            error: a.error.clone().unwrap_or_default(),
            headers: a
                .response
                .as_ref()
                .map(|r| r.headers.clone())
                .unwrap_or_default(),
            body: a
                .response
                .as_ref()
                .map(|r| pretty(&r.body))
                .filter(|b| b != "(no body)")
                .unwrap_or_default(),
        })
        .collect();
    let d = detail.delivery;
    Ok(render(&DetailPage {
        created: nav.when(d.created_at),
        reason: d.reason.clone().unwrap_or_default(),
        subject: d.subject.clone().unwrap_or_else(|| "—".into()),
        next_attempt: d.next_attempt_at.map(|t| nav.when(t)).unwrap_or_else(|| {
            if d.held {
                "held until the webhook is resumed".into()
            } else {
                "—".into()
            }
        }),
        webhook_name,
        request,
        request_body,
        attempts,
        can_retry,
        d,
        nav,
    }))
}

async fn retry(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "history").await?;
    check_csrf(&s, &session, &pairs(&body)).await?;
    crate::service::deliveries::retry(&s, &nav.account, &id).await?;
    Ok(Redirect::to(&format!("/a/{}/deliveries/{id}", nav.account)).into_response())
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn bodies_for_people() {
        assert_eq!(pretty(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("a=1&b%5Bc%5D=x+y"), "a = 1\nb[c] = x y");
        assert_eq!(pretty("Hello there"), "Hello there");
        assert_eq!(pretty(""), "(no body)");
    }
}
