//! Previews: the exact request a webhook config would send for an event type —
//! with an inline resource, a stored one or the built-in sample — rendered and
//! signed like a real delivery, but not sent and not stored. The API's
//! `POST …/preview` and the UI's editor both show it.

use std::sync::Arc;

use serde_json::{Value, json};
use shophook_core::derive::ResourceKind;
use shophook_core::event::{Event, EventType};
use shophook_core::render::{RenderInput, json_envelope, render_request};
use shophook_core::signing::Secret;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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
pub async fn render(
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
