//! `POST /webhooks/{id}/preview`: the exact request a webhook would send for an
//! event type and a sample, inline or stored order/checkout/product — rendered and
//! signed like a real delivery, but nothing is sent or stored.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shophook_core::derive::ResourceKind;
use shophook_core::event::{Event, EventType};
use shophook_core::render::{RenderInput, json_envelope, render_request};
use shophook_core::signing::Secret;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The preview route.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(preview))
}

/// What to preview: an event type and the resource to render it with — inline, a
/// stored one by `id`, or (neither) a built-in sample.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewInput {
    /// Event type, e.g. `order.paid`.
    #[schema(schema_with = shophook_core::openapi::event_type)]
    event_type: String,
    /// An inline order.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    order: Option<Value>,
    /// An inline checkout.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    checkout: Option<Value>,
    /// An inline product.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    product: Option<Value>,
    /// Use the stored resource with this id instead of an inline one.
    #[serde(default)]
    id: Option<String>,
}

/// The request a webhook would send. Header values that carry credentials are masked.
#[derive(Serialize, ToSchema)]
struct Preview {
    /// HTTP method.
    method: &'static str,
    /// The URL with placeholders filled.
    url: String,
    /// Headers in order, as `[name, value]` pairs.
    #[schema(schema_with = header_pairs)]
    headers: Vec<(String, String)>,
    /// The body.
    body: String,
}

/// `[[name, value], …]`: each pair as an array of exactly two strings. (The derive
/// writes a tuple as `prefixItems` with `items: false`, valid OpenAPI 3.1 that
/// Schemathesis 4 cannot read, so it could not test this operation.)
fn header_pairs() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
    let pair = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(2))
        .max_items(Some(2))
        .build();
    ArrayBuilder::new()
        .items(RefOr::T(Schema::from(pair)))
        .build()
}

/// Renders the exact request this webhook would send for an event — URL, headers,
/// signature, body in its format — without sending or storing anything.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/preview", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    request_body = PreviewInput,
    responses((status = 200, description = "The request", body = Preview)))]
async fn preview(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<PreviewInput>,
) -> ApiResult<Json<Preview>> {
    let account = caller.account(&s, &account).await?;
    let hook = s
        .store
        .webhook(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    for (name, v) in [
        ("order", &input.order),
        ("checkout", &input.checkout),
        ("product", &input.product),
    ] {
        if v.as_ref().is_some_and(|v| !v.is_object()) {
            return Err(ApiError::field(
                name,
                "invalid_field",
                format!("`{name}` is a JSON object"),
            ));
        }
    }
    let inline = input.order.or(input.checkout).or(input.product);
    let req = render_preview(
        &s,
        &account,
        &hook.config,
        &hook.secret,
        &hook.id,
        &input.event_type,
        inline,
        input.id,
    )
    .await?;
    let headers = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), crate::worker::mask::mask(k, v)))
        .collect();
    Ok(Json(Preview {
        method: req.method.as_str(),
        url: crate::worker::mask::mask_url(&req.url),
        headers,
        body: req.body.to_string(),
    }))
}

/// An event's `data` made of the built-in sample: the subject under its own name,
/// plus `previous_status` / `previous_stock` for the events that carry one.
pub fn sample_data(event_type: EventType) -> Value {
    let sample = shophook_core::template::sample_context();
    let mut data = json!({});
    if let Some(kind) = event_type.subject_kind() {
        data[kind] = sample[kind].clone();
    }
    if event_type == EventType::OrderStatusChanged {
        data["previous_status"] = sample["previous_status"].clone();
    }
    if event_type == EventType::ProductStockChanged {
        data["previous_stock"] = sample["previous_stock"].clone();
    }
    data
}

/// Renders the request `config` would send for `event_type` with an inline
/// resource, a stored one (`stored_id`) or the built-in sample. Sends nothing.
#[allow(clippy::too_many_arguments)]
pub async fn render_preview(
    s: &AppState,
    account: &shophook_core::account::Account,
    config: &shophook_core::webhook::WebhookConfig,
    secret: &str,
    webhook_id: &str,
    event_type: &str,
    inline: Option<Value>,
    stored_id: Option<String>,
) -> ApiResult<shophook_core::render::OutgoingRequest> {
    let event_type = EventType::parse(event_type).ok_or_else(|| {
        ApiError::field(
            "event_type",
            "unknown_event_type",
            format!("`{event_type}` is not an event type"),
        )
    })?;
    let resource = match event_type.subject_kind() {
        None => None,
        Some(kind) => Some(match (inline, stored_id.filter(|i| !i.trim().is_empty())) {
            (Some(v), _) => v,
            (None, Some(rid)) => {
                let k = ResourceKind::parse(kind).expect("subject kinds are resource kinds");
                s.store
                    .snapshot(&account.id, k, rid.trim())
                    .await?
                    .map(|(doc, _)| doc)
                    .ok_or(ApiError::NotFound("resource"))?
            }
            (None, None) => sample_data(event_type)[kind].clone(),
        }),
    };
    if let (Some(kind), Some(r)) = (event_type.subject_kind(), &resource)
        && !r.is_object()
    {
        return Err(ApiError::field(
            kind,
            "invalid_field",
            format!("`{kind}` is an object"),
        ));
    }
    let mut data = sample_data(event_type);
    if let (Some(kind), Some(r)) = (event_type.subject_kind(), resource) {
        data[kind] = r;
    }
    let now = s.clock.now();
    let subject = event_type
        .subject_kind()
        .map(|k| format!("{k}:{}", data[k]["id"].as_str().unwrap_or("")));
    let event = Event {
        id: "evt_preview".into(),
        event_type,
        account: account.id.clone(),
        subject,
        created_at: now,
        data,
    };
    let envelope: Arc<str> = json_envelope(&event).into();
    let secret = Secret::parse(secret).map_err(ApiError::Invalid)?;
    let field_options = if shophook_core::profiles::uses_field_options(&config.format) {
        Some(s.store.field_options(&account.id).await?)
    } else {
        None
    };
    render_request(&RenderInput {
        config,
        event: &event,
        envelope: &envelope,
        account_name: &account.name,
        account_timezone: &account.timezone,
        part: None,
        webhook_id,
        delivery_id: "dlv_preview",
        secrets: &[&secret],
        timestamp: now.as_second(),
        user_agent: crate::USER_AGENT,
        field_options: field_options.as_ref(),
    })
    .map_err(|e| ApiError::field("template", "render_failed", e.to_string()))
}
