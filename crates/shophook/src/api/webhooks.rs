//! Webhooks: create, list, read, change, delete, pause/resume, test send, rotate
//! the signing secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use shophook_core::webhook::{WebhookConfig, WebhookInput, WebhookStatus};
use shophook_store::StoredWebhook;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::ApiJson;
use crate::service::webhooks as service;
use crate::state::AppState;

/// Routes under `/v1/accounts/{account}/webhooks`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(test))
        .routes(routes!(rotate_secret))
        .routes(routes!(replay_route))
}

/// A webhook as the API shows it: its configuration plus id, account, status,
/// secret and times.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    /// `wh_…`
    pub id: String,
    /// Owning account.
    pub account: String,
    /// The configuration.
    #[serde(flatten)]
    pub config: WebhookConfig,
    /// `active`, `paused`, or `disabled` after persistent failure.
    pub status: WebhookStatus,
    /// The signing secret (`whsec_…`, or the merchant's own).
    pub secret: String,
    /// After a rotation the previous secret signs too, until this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Every attempt since this time has failed; after `--disable-after` (5 days)
    /// of that the webhook is disabled. Absent while it is healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// What may fail on real events although the webhook is valid — e.g. a
    /// template that needs a customer an order may not have. Empty when nothing is
    /// suspected.
    pub warnings: Vec<String>,
}

/// The API view of a webhook.
pub fn view(w: &StoredWebhook) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        account: w.account_id.clone(),
        config: w.config.clone(),
        status: w.status,
        secret: w.secret.clone(),
        previous_secret_expires_at: w.previous_secret.as_ref().and(w.previous_secret_until),
        failing_since: w.failing_since,
        created_at: w.created_at,
        updated_at: w.updated_at,
        warnings: w.config.warnings(),
    }
}

/// Creates a webhook. `url` and `events` are required; a `whsec_…` secret is
/// generated unless you give one.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks", tag = "webhooks",
    params(("account" = String, Path, description = "Account id")),
    request_body = WebhookInput,
    responses((status = 201, description = "Created", body = WebhookView)))]
async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let account = caller.account(&s, &account).await?;
    let hook = service::create(&s, &account, input).await?;
    Ok((StatusCode::CREATED, Json(view(&hook))))
}

/// Lists an account's webhooks, oldest first.
#[utoipa::path(get, path = "/v1/accounts/{account}/webhooks", tag = "webhooks",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 200, description = "The webhooks", body = Page<WebhookView>)))]
async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Page<WebhookView>>> {
    let account = caller.account(&s, &account).await?;
    let hooks = s.store.list_webhooks(&account.id).await?;
    Ok(Json(Page::all(hooks.iter().map(view).collect())))
}

async fn find(s: &AppState, caller: &Caller, account: &str, id: &str) -> ApiResult<StoredWebhook> {
    let account = caller.account(s, account).await?;
    s.store
        .webhook(&account.id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// Reads one webhook.
#[utoipa::path(get, path = "/v1/accounts/{account}/webhooks/{id}", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    responses((status = 200, description = "The webhook", body = WebhookView)))]
async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(view(&find(&s, &caller, &account, &id).await?)))
}

/// Changes a webhook: the fields given replace the stored ones (`null` clears a
/// nullable field); the result is validated as a whole. The secret changes only
/// with rotate-secret.
#[utoipa::path(patch, path = "/v1/accounts/{account}/webhooks/{id}", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    request_body = WebhookInput,
    responses((status = 200, description = "The changed webhook", body = WebhookView)))]
async fn update(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(mut input): ApiJson<WebhookInput>,
) -> ApiResult<Json<WebhookView>> {
    let hook = find(&s, &caller, &account, &id).await?;
    if input.secret.is_some() {
        return Err(ApiError::field(
            "secret",
            "read_only",
            "change the secret with POST …/rotate-secret, which keeps the old one signing for 24 h",
        ));
    }
    let status = input.status.take();
    let config = input.apply_to(hook.config.clone())?;
    let mut hook = service::save_config(&s, hook, config).await?;
    if let Some(status) = status.filter(|st| *st != hook.status) {
        hook = service::set_status(&s, hook, status, false).await?;
    }
    Ok(Json(view(&hook)))
}

/// Deletes a webhook; its unfinished deliveries end `skipped`.
#[utoipa::path(delete, path = "/v1/accounts/{account}/webhooks/{id}", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let account = caller.account(&s, &account).await?;
    service::delete(&s, &account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses a webhook: nothing is sent; deliveries of new events are held as
/// `scheduled` until it is resumed.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/pause", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    responses((status = 200, description = "The paused webhook", body = WebhookView)))]
async fn pause(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookView>> {
    let hook = find(&s, &caller, &account, &id).await?;
    let hook = service::set_status(&s, hook, WebhookStatus::Paused, false).await?;
    Ok(Json(view(&hook)))
}

/// Resume options (the body may be empty).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResumeInput {
    /// End the deliveries held while paused `skipped` instead of sending them.
    #[serde(default)]
    discard_held: bool,
}

/// Resumes a paused or disabled webhook; held deliveries go out in order (or
/// end `skipped` with `discard_held`).
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/resume", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    request_body(content = Option<ResumeInput>, description = "Optional"),
    responses((status = 200, description = "The resumed webhook", body = WebhookView)))]
async fn resume(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ResumeInput>,
) -> ApiResult<Json<WebhookView>> {
    let hook = find(&s, &caller, &account, &id).await?;
    let hook = service::set_status(&s, hook, WebhookStatus::Active, input.discard_held).await?;
    Ok(Json(view(&hook)))
}

/// Rotation options (the body may be empty).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateInput {
    /// Your own new secret (16–128 characters, or `whsec_` + base64 of 16–96
    /// bytes); generated if absent.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 134)]
    secret: Option<String>,
}

/// Replaces the signing secret; the previous one keeps signing too for 24 h
/// (two `v1,` signatures), so receivers can switch without missing a delivery.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    request_body(content = Option<RotateInput>, description = "Optional"),
    responses((status = 200, description = "The webhook with its new secret", body = WebhookView)))]
async fn rotate_secret(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<RotateInput>,
) -> ApiResult<Json<WebhookView>> {
    let hook = find(&s, &caller, &account, &id).await?;
    Ok(Json(view(&service::rotate(&s, hook, input.secret).await?)))
}

/// Which deliveries to send again.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplayInput {
    /// Deliveries created at or after this time (RFC 3339).
    since: jiff::Timestamp,
    /// …and before this time.
    #[serde(default)]
    until: Option<jiff::Timestamp>,
    /// Only deliveries with this status (e.g. `dead`); empty or `null` for any.
    #[serde(default)]
    #[schema(schema_with = shophook_core::openapi::delivery_status_filter)]
    status: Option<String>,
}

/// How many deliveries were queued again.
#[derive(Serialize, ToSchema)]
struct Replayed {
    /// Deliveries made due now (those in flight are left alone).
    replayed: usize,
}

/// Sends a webhook's deliveries of a time range again, oldest first — e.g. after
/// the receiver was down for a day: `{"since": "…", "status": "dead"}`.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/replay", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    request_body = ReplayInput,
    responses((status = 202, description = "Queued", body = Replayed)))]
async fn replay_route(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReplayInput>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    let account = caller.account(&s, &account).await?;
    let status = match input.status.as_deref() {
        None | Some("") => None,
        Some(x) => Some(
            shophook_core::plan::DeliveryStatus::parse(x).ok_or_else(|| {
                ApiError::field(
                    "status",
                    "invalid_status",
                    "one of scheduled, pending, succeeded, failed, dead, skipped",
                )
            })?,
        ),
    };
    let n = service::replay(&s, &account.id, &id, input.since, input.until, status).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: n })))
}

/// The outcome of a test send.
#[derive(Serialize, ToSchema)]
struct TestSent {
    /// The delivery made for the test (it is in the history too).
    delivery_id: String,
    /// Its status after the attempt: `succeeded`, `failed` (retrying) or `dead`.
    status: &'static str,
    /// The attempt: request sent, response received.
    attempt: super::deliveries::AttemptView,
}

/// Sends `webhook.test` to this webhook now, whatever its filters or status, and
/// answers with the attempt.
#[utoipa::path(post, path = "/v1/accounts/{account}/webhooks/{id}/test", tag = "webhooks",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Webhook id (`wh_…`)")),
    responses((status = 200, description = "Sent (see `status`)", body = TestSent)))]
async fn test(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<TestSent>> {
    let account = caller.account(&s, &account).await?;
    let hook = s
        .store
        .webhook(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let t = service::send_test(&s, &account, hook).await?;
    Ok(Json(TestSent {
        delivery_id: t.delivery_id,
        status: t.status,
        attempt: super::deliveries::attempt_view(&t.attempt, &t.envelope),
    }))
}
