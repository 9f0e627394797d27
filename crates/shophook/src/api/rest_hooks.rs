//! REST Hooks (<https://resthooks.org>), the convention Zapier, Make and n8n use to
//! subscribe to a service's events by API: `subscribe` creates a JSON webhook for
//! one event and answers its id, `DELETE hooks/{id}` removes it, and a receiver
//! that answers `410 Gone` unsubscribes itself. `sample` gives the integration
//! platform an example payload to map fields from.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::webhook::WebhookInput;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Routes under `/v1/accounts/{account}/hooks`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(sample))
}

/// A subscription request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    /// Where to send the events (the platform's hook URL).
    #[schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)]
    target_url: String,
    /// One event type (`order.paid`), or `*` for every event.
    #[schema(schema_with = shophook_core::openapi::event_type_or_all)]
    event: String,
}

/// A subscription: keep `id` to unsubscribe.
#[derive(Serialize, ToSchema)]
struct Subscription {
    /// The webhook made for it (`wh_…`).
    id: String,
    /// Where events go.
    target_url: String,
    /// The event type subscribed to.
    event: String,
    /// The signing secret of its deliveries (Standard Webhooks headers).
    secret: String,
}

/// Subscribes `target_url` to one event type: creates a JSON webhook that a
/// `410 Gone` from the target deletes again.
#[utoipa::path(post, path = "/v1/accounts/{account}/hooks/subscribe", tag = "rest-hooks",
    params(("account" = String, Path, description = "Account id")),
    request_body = Subscribe,
    responses((status = 201, description = "Subscribed", body = Subscription)))]
async fn subscribe(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    ApiJson(input): ApiJson<Subscribe>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let account = caller.account(&s, &account).await?;
    let webhook = WebhookInput {
        name: Some(format!("REST hook: {}", input.event)),
        url: Some(input.target_url.clone()),
        events: Some(vec![input.event.clone()]),
        unsubscribe_on_410: Some(true),
        ..Default::default()
    };
    let hook = crate::service::webhooks::create(&s, &account, webhook)
        .await
        .map_err(|e| match e {
            // The subscription's names for the webhook's fields.
            ApiError::Invalid(mut f) => {
                f.field = match f.field.as_str() {
                    "url" => "target_url".into(),
                    "events" | "events[0]" => "event".into(),
                    other => other.to_string(),
                };
                ApiError::Invalid(f)
            }
            other => other,
        })?;
    Ok((
        StatusCode::CREATED,
        Json(Subscription {
            id: hook.id,
            target_url: input.target_url,
            event: input.event,
            secret: hook.secret,
        }),
    ))
}

/// Unsubscribes: deletes the subscription's webhook (any webhook of the account,
/// by id); its unfinished deliveries end `skipped`.
#[utoipa::path(delete, path = "/v1/accounts/{account}/hooks/{id}", tag = "rest-hooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The subscription's id (`wh_…`)")),
    responses((status = 204, description = "Unsubscribed")))]
async fn unsubscribe(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let account = caller.account(&s, &account).await?;
    if !s
        .store
        .delete_webhook(&account.id, &id, s.clock.now())
        .await?
    {
        return Err(ApiError::NotFound("subscription"));
    }
    tracing::info!(account = %account.id, webhook = %id, "REST hook unsubscribed");
    Ok(StatusCode::NO_CONTENT)
}

/// Which sample to show.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SampleQuery {
    /// Event type, e.g. `order.paid`.
    #[param(value_type = EventType, inline)]
    event: String,
}

/// A sample of what a subscription to `event` receives (the JSON body of one
/// delivery), as a one-element list — what Zapier's "Perform List" expects.
#[utoipa::path(get, path = "/v1/accounts/{account}/hooks/sample", tag = "rest-hooks",
    params(("account" = String, Path, description = "Account id"), SampleQuery),
    responses((status = 200, description = "One sample body", body = Vec<Object>)))]
async fn sample(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    ApiQuery(q): ApiQuery<SampleQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let account = caller.account(&s, &account).await?;
    let event_type = EventType::parse(&q.event).ok_or_else(|| {
        ApiError::field(
            "event",
            "unknown_event_type",
            format!("`{}` is not an event type (e.g. order.paid)", q.event),
        )
    })?;
    let data = crate::service::preview::sample_data(event_type);
    let event = Event {
        id: "evt_sample".into(),
        event_type,
        account: account.id,
        subject: event_type
            .subject_kind()
            .map(|k| format!("{k}:{}", data[k]["id"].as_str().unwrap_or(""))),
        created_at: s.clock.now(),
        data,
    };
    let body: Value = serde_json::from_str(&json_envelope(&event))
        .map_err(|e| ApiError::Internal(format!("sample envelope: {e}")))?;
    Ok(Json(vec![body]))
}
