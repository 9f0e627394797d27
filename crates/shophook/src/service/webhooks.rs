//! Webhooks: what a merchant can do to one — create it, save a changed config,
//! pause or resume it, delete it, rotate its secret, replay its deliveries, send
//! it a test — with the rules the API and the UI share.

use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::json;
use shophook_core::event::{Event, EventType};
use shophook_core::render::json_envelope;
use shophook_core::signing::Secret;
use shophook_core::webhook::{WebhookConfig, WebhookInput, WebhookStatus};
use shophook_store::{IngestOutcome, Lease, NewEvent, StatusChange, StoredWebhook, Target};

use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, secret_bytes};
use crate::state::AppState;

fn secret_from(given: Option<String>) -> ApiResult<String> {
    match given {
        Some(text) => Ok(Secret::parse(&text)?.as_str().to_string()),
        None => Ok(Secret::generate(secret_bytes()).as_str().to_string()),
    }
}

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

/// Creates a webhook from API input: plan gating, secret, limit.
pub async fn create(
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

/// Saves a changed config (already merged and validated) after the server's own
/// checks ([`check_config`]).
pub async fn save_config(
    s: &AppState,
    mut hook: StoredWebhook,
    config: WebhookConfig,
) -> ApiResult<StoredWebhook> {
    check_config(s, &hook.account_id, Some(&hook), &config).await?;
    hook.config = config;
    hook.updated_at = s.clock.now();
    Ok(s.store.update_webhook(hook).await?)
}

/// Pauses (deliveries of new events are held) or resumes a webhook; resuming
/// sends what was held, or ends it `skipped` with `discard_held`.
pub async fn set_status(
    s: &AppState,
    hook: StoredWebhook,
    status: WebhookStatus,
    discard_held: bool,
) -> ApiResult<StoredWebhook> {
    Ok(s.store
        .set_webhook_status(StatusChange {
            account: hook.account_id,
            webhook: hook.id,
            status,
            discard_held,
            now: s.clock.now(),
        })
        .await?)
}

/// Deletes a webhook; its unfinished deliveries end `skipped`.
pub async fn delete(s: &AppState, account: &str, id: &str) -> ApiResult<()> {
    if !s.store.delete_webhook(account, id, s.clock.now()).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(account = %account, webhook = %id, "webhook deleted");
    Ok(())
}

/// Rotates a webhook's secret; the old one keeps signing for 24 h.
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
/// the attempt like any delivery's.
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
    // Stored claimed by this node and handed back claimed, as an ingest hands its
    // worker what is due at once; then sent and recorded by the worker's own path.
    let target = Target::Only {
        webhook: hook.id.clone(),
    };
    let outcome = s
        .store
        .ingest(vec![NewEvent {
            event,
            envelope: envelope.clone(),
            idempotency_key: None,
            target,
            dispatch: Some(Lease {
                node: s.node.clone(),
                until: lease_until,
            }),
        }])
        .await?;
    let claimed = match outcome.into_iter().next() {
        Some(IngestOutcome::Stored { dispatched, .. }) if dispatched.0.len() == 1 => {
            dispatched.0.into_iter().next().expect("one delivery")
        }
        Some(IngestOutcome::NoWebhook) => return Err(ApiError::NotFound("webhook")),
        Some(IngestOutcome::NoAccount) => return Err(ApiError::NotFound("account")),
        other => {
            return Err(ApiError::Internal(format!(
                "unexpected test ingest outcome: {other:?}"
            )));
        }
    };
    let out = s.worker.send_now(&claimed).await?;
    let status = out.next.status_name();
    let delivery_id = claimed.id.clone();
    Ok(TestOutcome {
        delivery_id,
        status,
        attempt: out.attempt,
        envelope,
    })
}
