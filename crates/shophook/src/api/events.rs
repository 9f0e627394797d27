//! Events posted by the operator or an account: stored with their deliveries in
//! one transaction, idempotent with `Idempotency-Key`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_store::{IngestOutcome, NewEvent, Target};

use super::json::ApiJson;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;

/// Routes under `/v1/accounts/{account}/events`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/accounts/{account}/events", post(create))
        .route("/v1/accounts/{account}/events/{id}", get(show))
        .route("/v1/accounts/{account}/catalog", get(catalog))
}

/// Event types, field paths with descriptions and examples, operators.
async fn catalog(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.account(&s, &account).await?;
    Ok(Json(shophook_core::catalog::catalog()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventInput {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255);
    key.map(|k| Some(k.to_string())).ok_or_else(|| {
        ApiError::bad(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1–255 visible ASCII characters",
        )
    })
}

/// Checks the input and builds the event.
fn validate(input: EventInput, account: &str, now: jiff::Timestamp) -> ApiResult<Event> {
    let event_type = EventType::parse(&input.event_type).ok_or_else(|| {
        ApiError::field(
            "type",
            "unknown_event_type",
            format!(
                "`{}` is not an event type (e.g. order.created, order.paid)",
                input.event_type
            ),
        )
    })?;
    if event_type.subject_kind().is_none() {
        return Err(ApiError::field(
            "type",
            "reserved_event_type",
            format!("`{event_type}` is sent by shophook itself and cannot be posted"),
        ));
    }
    if let Some(subject) = &input.subject
        && (subject.is_empty() || subject.len() > 256)
    {
        return Err(ApiError::field(
            "subject",
            "invalid_subject",
            "1–256 characters, e.g. order:1001",
        ));
    }
    let data = input.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(ApiError::field(
            "data",
            "invalid_field",
            "`data` must be a JSON object, e.g. {\"order\": {…}}",
        ));
    }
    let subject = input.subject.or_else(|| {
        let kind = event_type.subject_kind()?;
        let id = data.get(kind)?.get("id")?;
        Some(format!(
            "{kind}:{}",
            id.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| id.to_string())
        ))
    });
    Ok(Event {
        id: new_id("evt"),
        event_type,
        account: account.to_string(),
        subject,
        created_at: now,
        data,
    })
}

async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = caller.account(&s, &account).await?;
    let key = idempotency_key(&headers)?;
    let event = validate(input, &account.id, s.clock.now())?;
    let envelope: Arc<str> = json_envelope(&event).into();
    let outcome = s
        .store
        .ingest(vec![NewEvent {
            event,
            envelope,
            idempotency_key: key,
            target: Target::Matching,
        }])
        .await?;
    match outcome.into_iter().next() {
        Some(IngestOutcome::Stored {
            event_id,
            deliveries,
        }) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"id": event_id, "deliveries": deliveries.len()})),
        )),
        Some(IngestOutcome::Replayed {
            event_id,
            deliveries,
        }) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"id": event_id, "deliveries": deliveries})),
        )),
        Some(IngestOutcome::NoAccount) => Err(ApiError::NotFound("account")),
        other => Err(ApiError::Internal(format!(
            "unexpected ingest outcome: {other:?}"
        ))),
    }
}

async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &account).await?;
    let (ev, deliveries) = s
        .store
        .event(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let e = &ev.event;
    Ok(Json(json!({
        "id": e.id, "type": e.event_type.as_str(), "account": e.account, "subject": e.subject,
        "created_at": e.created_at, "data": e.data, "deliveries": deliveries,
    })))
}
