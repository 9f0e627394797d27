//! Events posted by the operator or an account: stored with their deliveries in
//! one transaction, idempotent with `Idempotency-Key`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shophook_core::event::{Event, EventType};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::input::ApiJson;
use crate::state::AppState;

/// Routes under `/v1/accounts/{account}/events` and the catalog.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(show))
        .routes(routes!(catalog))
}

/// What conditions and templates can use: event types, every field path with
/// description and example, the condition operators.
#[utoipa::path(get, path = "/v1/accounts/{account}/catalog", tag = "events",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 200, description = "The catalog", body = Object)))]
async fn catalog(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.account(&s, &account).await?;
    Ok(Json(shophook_core::catalog::catalog()))
}

/// An event to send to every webhook it reaches.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventInput {
    /// Event type, e.g. `order.paid`.
    #[serde(rename = "type")]
    #[schema(schema_with = shophook_core::openapi::postable_event_type)]
    event_type: String,
    /// What it is about (`order:1001`); derived from `data` when absent.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256)]
    subject: Option<String>,
    /// The resource under its own name: `{"order": {…}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// A stored event.
#[derive(Serialize, ToSchema)]
struct EventAccepted {
    /// Event id (`evt_…`).
    id: String,
    /// How many deliveries it made.
    deliveries: usize,
}

/// An event with its deliveries.
#[derive(Serialize, ToSchema)]
#[schema(as = Event)]
struct EventView {
    /// Event id (`evt_…`).
    id: String,
    /// Event type.
    #[serde(rename = "type")]
    event_type: &'static str,
    /// Account.
    account: String,
    /// What it is about, e.g. `order:1001`.
    subject: Option<String>,
    /// When it was stored.
    created_at: jiff::Timestamp,
    /// The resource at that moment.
    #[schema(value_type = Object)]
    data: Value,
    /// Its deliveries' ids.
    deliveries: Vec<String>,
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

/// Stores an event and its deliveries — durably, before answering. A repeated
/// `Idempotency-Key` answers the first event again and stores nothing.
#[utoipa::path(post, path = "/v1/accounts/{account}/events", tag = "events",
    params(("account" = String, Path, description = "Account id"),
           ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters (spaces around are ignored); a repeat returns the first answer",
            pattern = "^[\t ]*[!-~]([\t -~]{0,253}[!-~])?[\t ]*$")),
    request_body = EventInput,
    responses((status = 202, description = "Stored; deliveries are on their way", body = EventAccepted)))]
async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<(StatusCode, Json<EventAccepted>)> {
    let account = caller.account(&s, &account).await?;
    let key = idempotency_key(&headers)?;
    let event = validate(input, &account.id, s.clock.now())?;
    let accepted = crate::service::events::ingest(&s, event, key).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            id: accepted.event_id,
            deliveries: accepted.deliveries,
        }),
    ))
}

/// Reads one event with its delivery ids.
#[utoipa::path(get, path = "/v1/accounts/{account}/events/{id}", tag = "events",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Event id (`evt_…`)")),
    responses((status = 200, description = "The event", body = EventView)))]
async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<EventView>> {
    let account = caller.account(&s, &account).await?;
    let (ev, deliveries) = s
        .store
        .event(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let e = ev.event;
    Ok(Json(EventView {
        id: e.id,
        event_type: e.event_type.as_str(),
        account: e.account,
        subject: e.subject,
        created_at: e.created_at,
        data: e.data,
        deliveries,
    }))
}
