//! Webhooks: create, list, read, change, delete, pause/resume, test send, rotate
//! the signing secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::signing::Secret;
use shophook_core::webhook::{WebhookConfig, WebhookInput, WebhookStatus};
use shophook_store::{
    Attempt, ClaimedDelivery, DeliveryUpdate, IngestOutcome, NewEvent, StatusChange, StoredEvent,
    StoredWebhook, Target,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Page;
use super::json::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, secret_bytes};
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
    }
}

fn secret_from(given: Option<String>) -> ApiResult<String> {
    match given {
        Some(text) => Ok(Secret::parse(&text)?.as_str().to_string()),
        None => Ok(Secret::generate(secret_bytes()).as_str().to_string()),
    }
}

/// Creates a webhook from API input: plan gating, secret, limit. Shared with the UI.
/// What a valid webhook config must also pass on this server (shared with the UI):
/// a destination the address policy allows (`127.0.0.1` is refused here, with the
/// flag that allows it, rather than at every send), and at most
/// [`MAX_REGEX_PER_ACCOUNT`](shophook_core::condition::MAX_REGEX_PER_ACCOUNT)
/// `matches` conditions over all the account's webhooks. `before`: the webhook
/// being changed, whose URL is judged again only if it changes.
pub async fn check_config(
    s: &AppState,
    account: &str,
    before: Option<&StoredWebhook>,
    config: &WebhookConfig,
) -> ApiResult<()> {
    use shophook_core::condition::{MAX_REGEX_PER_ACCOUNT, regex_count};
    let webhook = before.map(|h| h.id.as_str());
    let url_changed = before.is_none_or(|h| h.config.url != config.url);
    if let Some(refused) = url_changed
        .then(|| s.sender.refuses_target(&config.url))
        .flatten()
    {
        return Err(ApiError::field(
            "url",
            "private_target",
            format!(
                "this server does not deliver to {} ({}): run it with --allow-private-targets (development) or --allow-cidr for that range",
                refused.class.describe(),
                refused.addr
            ),
        ));
    }
    let mine = regex_count(&config.conditions);
    if mine == 0 {
        return Ok(());
    }
    let others: usize = s
        .store
        .list_webhooks(account)
        .await?
        .iter()
        .filter(|h| Some(h.id.as_str()) != webhook)
        .map(|h| regex_count(&h.config.conditions))
        .sum();
    if others + mine > MAX_REGEX_PER_ACCOUNT {
        return Err(ApiError::field(
            "conditions",
            "too_many",
            format!(
                "an account may have at most {MAX_REGEX_PER_ACCOUNT} `matches` conditions over all its webhooks; its other webhooks have {others}"
            ),
        ));
    }
    Ok(())
}

pub async fn create_webhook(
    s: &AppState,
    account: &shophook_core::account::Account,
    input: WebhookInput,
) -> ApiResult<StoredWebhook> {
    if !account.features.webhooks {
        return Err(ApiError::Forbidden {
            code: "feature_disabled",
            message: "webhooks are not part of this account's plan (features.webhooks is false); the operator can enable them".into(),
        });
    }
    let (config, status, secret) = input.into_new_config()?;
    check_config(s, &account.id, None, &config).await?;
    let now = s.clock.now();
    let hook = StoredWebhook {
        id: new_id("wh"),
        account_id: account.id.clone(),
        status: status.unwrap_or(WebhookStatus::Active),
        config,
        secret: secret_from(secret)?,
        previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let hook = s
        .store
        .create_webhook(hook, account.limits.max_webhooks)
        .await?;
    // Not the URL: its path or query may hold a token (Telegram bot URLs do).
    tracing::info!(account = %account.id, webhook = %hook.id, "webhook created");
    Ok(hook)
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
    let hook = create_webhook(&s, &account, input).await?;
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
    let mut hook = find(&s, &caller, &account, &id).await?;
    if input.secret.is_some() {
        return Err(ApiError::field(
            "secret",
            "read_only",
            "change the secret with POST …/rotate-secret, which keeps the old one signing for 24 h",
        ));
    }
    let status = input.status.take();
    let config = input.apply_to(hook.config.clone())?;
    check_config(&s, &hook.account_id, Some(&hook), &config).await?;
    hook.config = config;
    hook.updated_at = s.clock.now();
    let mut hook = s.store.update_webhook(hook).await?;
    if let Some(status) = status.filter(|st| *st != hook.status) {
        hook = s
            .store
            .set_webhook_status(StatusChange {
                account: hook.account_id.clone(),
                webhook: hook.id.clone(),
                status,
                discard_held: false,
                now: s.clock.now(),
            })
            .await?;
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
    if !s
        .store
        .delete_webhook(&account.id, &id, s.clock.now())
        .await?
    {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(account = %account.id, webhook = %id, "webhook deleted");
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
    let hook = s
        .store
        .set_webhook_status(StatusChange {
            account: hook.account_id,
            webhook: hook.id,
            status: WebhookStatus::Paused,
            discard_held: false,
            now: s.clock.now(),
        })
        .await?;
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
    let hook = s
        .store
        .set_webhook_status(StatusChange {
            account: hook.account_id,
            webhook: hook.id,
            status: WebhookStatus::Active,
            discard_held: input.discard_held,
            now: s.clock.now(),
        })
        .await?;
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

/// Rotates a webhook's secret; the old one keeps signing for 24 h. Shared with the UI.
pub async fn rotate(
    s: &AppState,
    mut hook: StoredWebhook,
    secret: Option<String>,
) -> ApiResult<StoredWebhook> {
    let now = s.clock.now();
    hook.previous_secret = Some(std::mem::replace(&mut hook.secret, secret_from(secret)?));
    hook.previous_secret_until = now.checked_add(SignedDuration::from_hours(24)).ok();
    hook.updated_at = now;
    let hook = s.store.update_webhook(hook).await?;
    tracing::info!(webhook = %hook.id, "webhook secret rotated; the previous one signs too for 24 h");
    Ok(hook)
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
    Ok(Json(view(&rotate(&s, hook, input.secret).await?)))
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

/// Re-queues a webhook's deliveries created in `[since, until)` (optionally only
/// those with `status`); returns how many. Deliveries in flight are left alone.
pub async fn replay(
    s: &AppState,
    account: &str,
    webhook: &str,
    since: jiff::Timestamp,
    until: Option<jiff::Timestamp>,
    status: Option<shophook_core::plan::DeliveryStatus>,
) -> ApiResult<usize> {
    s.store
        .webhook(account, webhook)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let mut before: Option<String> = None;
    let mut ids = Vec::new();
    'pages: loop {
        let page = s
            .store
            .list_deliveries(
                account,
                shophook_store::DeliveryFilter {
                    webhook: Some(webhook.to_string()),
                    status,
                    before: before.clone(),
                    limit: 500,
                    ..Default::default()
                },
            )
            .await?;
        for d in &page {
            if d.created_at < since {
                break 'pages;
            }
            if until.is_none_or(|u| d.created_at < u) {
                ids.push(d.id.clone());
            }
        }
        match page.last() {
            Some(last) if page.len() == 500 => before = Some(last.id.clone()),
            _ => break,
        }
    }
    let now = s.clock.now();
    let mut n = 0;
    // Oldest first, so they go out in their original order.
    for id in ids.iter().rev() {
        match s.store.retry_delivery(account, id, now).await {
            Ok(Some(_)) => n += 1,
            Ok(None) | Err(shophook_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(%account, %webhook, replayed = n, "replay queued");
    Ok(n)
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
    let n = replay(&s, &account.id, &id, input.since, input.until, status).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: n })))
}

/// The result of a test send.
pub struct TestOutcome {
    /// The delivery created for the test.
    pub delivery_id: String,
    /// Its status after the attempt.
    pub status: &'static str,
    /// The attempt.
    pub attempt: shophook_store::Attempt,
    /// The event's JSON envelope.
    pub envelope: Arc<str>,
}

/// Sends `webhook.test` to `hook` now (whatever its filters or status) and records
/// the attempt like any delivery's. Shared by the API and the web UI.
pub async fn send_test(
    s: &AppState,
    account: &shophook_core::account::Account,
    hook: StoredWebhook,
) -> ApiResult<TestOutcome> {
    let now = s.clock.now();
    let event = Event {
        id: new_id("evt"),
        event_type: EventType::WebhookTest,
        account: account.id.clone(),
        subject: None,
        created_at: now,
        data: json!({"webhook": {"id": hook.id, "name": hook.config.name}, "message": "Test delivery from shophook"}),
    };
    let envelope: Arc<str> = json_envelope(&event).into();
    let lease_until = crate::worker::lease_end(now, s.lease);
    let target = Target::Only {
        webhook: hook.id.clone(),
        node: s.node.clone(),
        lease_until,
    };
    let outcome = s
        .store
        .ingest(vec![NewEvent {
            event: event.clone(),
            envelope: envelope.clone(),
            idempotency_key: None,
            target,
            dispatch: None,
        }])
        .await?;
    let delivery_id = match outcome.into_iter().next() {
        Some(IngestOutcome::Stored { deliveries, .. }) if deliveries.len() == 1 => {
            deliveries[0].clone()
        }
        Some(IngestOutcome::NoWebhook) => return Err(ApiError::NotFound("webhook")),
        Some(IngestOutcome::NoAccount) => return Err(ApiError::NotFound("account")),
        other => {
            return Err(ApiError::Internal(format!(
                "unexpected test ingest outcome: {other:?}"
            )));
        }
    };
    let claimed = ClaimedDelivery {
        id: delivery_id.clone(),
        status: shophook_core::plan::DeliveryStatus::Pending,
        attempts: 0,
        succeeded_before: false,
        account_name: account.name.clone(),
        account_timezone: account.timezone.clone(),
        account_max_in_flight: account.limits.max_in_flight,
        part: None,
        webhook: Arc::new(hook),
        event: Arc::new(StoredEvent {
            event,
            envelope: envelope.clone(),
        }),
        latest: None,
        lease_until,
        // webhook.test carries no order, so there is nothing to list options for.
        field_options: None,
    };
    let out = s.sender.attempt(&claimed).await;
    let status = super::deliveries::next_status_name(&out.next);
    s.store
        .record(vec![DeliveryUpdate {
            delivery_id: delivery_id.clone(),
            attempt: Some(out.attempt.clone()),
            next: out.next,
            now: s.clock.now(),
            claim: Some(shophook_store::ClaimRef {
                node: s.node.clone(),
                lease_until,
            }),
        }])
        .await?;
    Ok(TestOutcome {
        delivery_id,
        status,
        attempt: out.attempt,
        envelope,
    })
}

/// The outcome of a test send.
#[derive(Serialize, ToSchema)]
struct TestSent {
    /// The delivery made for the test (it is in the history too).
    delivery_id: String,
    /// Its status after the attempt: `succeeded`, `failed` (retrying) or `dead`.
    status: &'static str,
    /// The attempt: request sent, response received.
    attempt: Attempt,
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
    let t = send_test(&s, &account, hook).await?;
    Ok(Json(TestSent {
        delivery_id: t.delivery_id,
        status: t.status,
        attempt: super::deliveries::attempt_view(&t.attempt, &t.envelope),
    }))
}
