//! Webhooks: create, list, read, change, delete, pause/resume, test send, rotate
//! the signing secret.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::signing::Secret;
use shophook_core::webhook::{WebhookInput, WebhookStatus};
use shophook_store::{
    ClaimedDelivery, DeliveryUpdate, IngestOutcome, NewEvent, StatusChange, StoredEvent,
    StoredWebhook, Target,
};

use super::json::ApiJson;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, secret_bytes};

/// Routes under `/v1/accounts/{account}/webhooks`.
pub fn routes() -> Router<Arc<AppState>> {
    let base = "/v1/accounts/{account}/webhooks";
    Router::new()
        .route(base, post(create).get(list))
        .route(
            &format!("{base}/{{id}}"),
            get(show).patch(update).delete(remove),
        )
        .route(&format!("{base}/{{id}}/pause"), post(pause))
        .route(&format!("{base}/{{id}}/resume"), post(resume))
        .route(&format!("{base}/{{id}}/test"), post(test))
        .route(&format!("{base}/{{id}}/rotate-secret"), post(rotate_secret))
        .route(&format!("{base}/{{id}}/replay"), post(replay_route))
}

/// The API view of a webhook: its config plus id, account, status, secret, times.
pub fn view(w: &StoredWebhook) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(w.id));
    out.insert("account".into(), json!(w.account_id));
    if let Value::Object(config) = json!(w.config) {
        out.extend(config);
    }
    out.insert("status".into(), json!(w.status.as_str()));
    out.insert("secret".into(), json!(w.secret));
    if let (Some(_), Some(until)) = (&w.previous_secret, w.previous_secret_until) {
        out.insert("previous_secret_expires_at".into(), json!(until));
    }
    out.insert("created_at".into(), json!(w.created_at));
    out.insert("updated_at".into(), json!(w.updated_at));
    Value::Object(out)
}

fn secret_from(given: Option<String>) -> ApiResult<String> {
    match given {
        Some(text) => Ok(Secret::parse(&text)?.as_str().to_string()),
        None => Ok(Secret::generate(secret_bytes()).as_str().to_string()),
    }
}

/// Creates a webhook from API input: plan gating, secret, limit. Shared with the UI.
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
    let now = s.clock.now();
    let hook = StoredWebhook {
        id: new_id("wh"),
        account_id: account.id.clone(),
        status: status.unwrap_or(WebhookStatus::Active),
        config,
        secret: secret_from(secret)?,
        previous_secret: None,
        previous_secret_until: None,
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

async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let account = caller.account(&s, &account).await?;
    let hook = create_webhook(&s, &account, input).await?;
    Ok((StatusCode::CREATED, Json(view(&hook))))
}

async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &account).await?;
    let hooks = s.store.list_webhooks(&account.id).await?;
    Ok(Json(super::page(hooks.iter().map(view).collect(), None)))
}

async fn find(s: &AppState, caller: &Caller, account: &str, id: &str) -> ApiResult<StoredWebhook> {
    let account = caller.account(s, account).await?;
    s.store
        .webhook(&account.id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&find(&s, &caller, &account, &id).await?)))
}

async fn update(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(mut input): ApiJson<WebhookInput>,
) -> ApiResult<Json<Value>> {
    let mut hook = find(&s, &caller, &account, &id).await?;
    if input.secret.is_some() {
        return Err(ApiError::field(
            "secret",
            "read_only",
            "change the secret with POST …/rotate-secret, which keeps the old one signing for 24 h",
        ));
    }
    let status = input.status.take();
    hook.config = input.apply_to(hook.config)?;
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

async fn pause(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResumeInput {
    #[serde(default)]
    discard_held: bool,
}

async fn resume(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ResumeInput>,
) -> ApiResult<Json<Value>> {
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateInput {
    #[serde(default)]
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

async fn rotate_secret(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<RotateInput>,
) -> ApiResult<Json<Value>> {
    let hook = find(&s, &caller, &account, &id).await?;
    Ok(Json(view(&rotate(&s, hook, input.secret).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayInput {
    since: jiff::Timestamp,
    #[serde(default)]
    until: Option<jiff::Timestamp>,
    #[serde(default)]
    status: Option<String>,
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

async fn replay_route(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReplayInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    Ok((StatusCode::ACCEPTED, Json(json!({"replayed": n}))))
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
        part: None,
        webhook: Arc::new(hook),
        event: Arc::new(StoredEvent {
            event,
            envelope: envelope.clone(),
        }),
        latest: None,
    };
    let out = s.sender.attempt(&claimed).await;
    let status = super::deliveries::next_status_name(&out.next);
    s.store
        .record(vec![DeliveryUpdate {
            delivery_id: delivery_id.clone(),
            attempt: Some(out.attempt.clone()),
            next: out.next,
            now: s.clock.now(),
        }])
        .await?;
    Ok(TestOutcome {
        delivery_id,
        status,
        attempt: out.attempt,
        envelope,
    })
}

/// Sends `webhook.test` to this webhook now and answers with the attempt.
async fn test(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &account).await?;
    let hook = s
        .store
        .webhook(&account.id, &id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let t = send_test(&s, &account, hook).await?;
    Ok(Json(json!({
        "delivery_id": t.delivery_id,
        "status": t.status,
        "attempt": super::deliveries::attempt_view(&t.attempt, &t.envelope),
    })))
}
