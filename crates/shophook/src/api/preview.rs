//! `POST /webhooks/{id}/preview`: the exact request a webhook would send for an
//! event type and a sample, inline or stored order/checkout/product — rendered and
//! signed like a real delivery, but nothing is sent or stored.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::ApiJson;
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
    #[schema(schema_with = crate::api::openapi::header_pairs)]
    headers: Vec<(String, String)>,
    /// The body.
    body: String,
    /// What may fail on other events (a template that needs more than this one
    /// has); empty when nothing is suspected.
    warnings: Vec<String>,
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
    let req = crate::service::preview::render(
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
        .map(|(k, v)| (k.clone(), shophook_core::mask::mask(k, v)))
        .collect();
    Ok(Json(Preview {
        method: req.method.as_str(),
        url: shophook_core::mask::mask_url(&req.url),
        headers,
        body: req.body.to_string(),
        warnings: hook.config.warnings(),
    }))
}
