//! What a merchant does to one webhook from its row: delete, pause and resume,
//! send a test, reveal and rotate the secret, replay deliveries — each a form
//! post with its CSRF token (and a confirmation page where it cannot be undone),
//! through the same services as the API.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use shophook_core::webhook::WebhookStatus;

use super::session::Session;
use super::{Nav, UiError, check_csrf, escape, field, find_webhook as find, guard, pairs, render};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of a webhook's actions.
pub fn routes() -> Router<Arc<AppState>> {
    let base = "/a/{account}/webhooks/{id}";
    Router::new()
        .route(&format!("{base}/delete"), get(confirm_delete).post(delete))
        .route(&format!("{base}/pause"), post(pause))
        .route(&format!("{base}/resume"), post(resume))
        .route(&format!("{base}/test"), post(test))
        .route(&format!("{base}/secret"), get(secret))
        .route(&format!("{base}/rotate"), get(confirm_rotate).post(rotate))
        .route(&format!("{base}/replay"), post(replay))
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Nav,
    heading: String,
    text: String,
    action: String,
    button: String,
    back: String,
}

#[derive(Template)]
#[template(path = "test_result.html")]
struct TestFragment {
    status: String,
    code: String,
    duration_ms: u32,
    error: String,
    account: String,
    delivery: String,
}

async fn confirm_delete(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let hook = find(&s, &nav.account, &id).await?;
    let back = format!("/a/{}/webhooks", nav.account);
    Ok(render(&ConfirmPage {
        heading: format!("Delete “{}”?", hook.config.name),
        text: format!(
            "Nothing more will be sent to {}. Its history stays; unsent deliveries end as skipped.",
            hook.config.url
        ),
        action: format!("/a/{}/webhooks/{id}/delete", nav.account),
        button: "Delete webhook".into(),
        back,
        nav,
    }))
}

async fn delete(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    check_csrf(&s, &session, &pairs(&body)).await?;
    crate::service::webhooks::delete(&s, &nav.account, &id).await?;
    Ok(Redirect::to(&format!("/a/{}/webhooks", nav.account)).into_response())
}

async fn set_status(
    s: &AppState,
    session: &Session,
    account: &str,
    id: &str,
    body: &[u8],
    status: WebhookStatus,
) -> Result<Response, UiError> {
    let nav = guard(s, session, account, "webhooks").await?;
    check_csrf(s, session, &pairs(body)).await?;
    let hook = find(s, &nav.account, id).await?;
    crate::service::webhooks::set_status(s, hook, status, false).await?;
    Ok(Redirect::to(&format!("/a/{}/webhooks", nav.account)).into_response())
}

async fn pause(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    set_status(&s, &session, &account, &id, &body, WebhookStatus::Paused).await
}

async fn resume(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    set_status(&s, &session, &account, &id, &body, WebhookStatus::Active).await
}

async fn test(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    check_csrf(&s, &session, &pairs(&body)).await?;
    let acct = s
        .store
        .account(&nav.account)
        .await?
        .ok_or(UiError(ApiError::NotFound("account")))?;
    let hook = find(&s, &nav.account, &id).await?;
    let t = crate::service::webhooks::send_test(&s, &acct, hook).await?;
    let fragment = TestFragment {
        status: t.status.into(),
        code: t
            .attempt
            .response
            .as_ref()
            .map(|r| r.status.to_string())
            .unwrap_or_default(),
        duration_ms: t.attempt.duration_ms,
        error: t.attempt.error.clone().unwrap_or_default(),
        account: nav.account.clone(),
        delivery: t.delivery_id.clone(),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&fragment));
    }
    let html = fragment.render().unwrap_or_default();
    Ok(render(&super::MessagePage {
        heading: "Test sent".into(),
        body: html,
        back: format!("/a/{}/webhooks", nav.account),
        nav,
    }))
}

async fn secret(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let hook = find(&s, &nav.account, &id).await?;
    let html = format!(
        "<p><label for=\"secret-value\">Signing secret</label><input id=\"secret-value\" readonly value=\"{}\"> <button type=\"button\" class=\"small copy\" data-copy=\"#secret-value\">Copy</button></p>",
        escape(&hook.secret)
    );
    if headers.contains_key("hx-request") {
        return Ok(axum::response::Html(html).into_response());
    }
    Ok(render(&super::MessagePage {
        heading: format!("Secret of {}", hook.config.name),
        body: html,
        back: format!("/a/{}/webhooks/{id}", nav.account),
        nav,
    }))
}

async fn confirm_rotate(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let hook = find(&s, &nav.account, &id).await?;
    Ok(render(&ConfirmPage {
        heading: format!("Rotate the secret of “{}”?", hook.config.name),
        text: "A new secret is generated. For 24 hours both the old and the new one sign every request, so you can update your receiver without losing anything.".into(),
        action: format!("/a/{}/webhooks/{id}/rotate", nav.account),
        button: "Rotate secret".into(),
        back: format!("/a/{}/webhooks/{id}", nav.account),
        nav,
    }))
}

async fn rotate(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    check_csrf(&s, &session, &pairs(&body)).await?;
    let hook = find(&s, &nav.account, &id).await?;
    crate::service::webhooks::rotate(&s, hook, None).await?;
    Ok(Redirect::to(&format!("/a/{}/webhooks/{id}", nav.account)).into_response())
}

async fn replay(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let p = pairs(&body);
    check_csrf(&s, &session, &p).await?;
    let acct = s
        .store
        .account(&nav.account)
        .await?
        .ok_or(UiError(ApiError::NotFound("account")))?;
    let since = field(&p, "since");
    let local: jiff::civil::DateTime = since.parse().map_err(|_| {
        UiError(ApiError::field(
            "since",
            "invalid_time",
            "pick a date and time to replay from",
        ))
    })?;
    let since = local
        .to_zoned(jiff::tz::TimeZone::get(&acct.timezone).unwrap_or(jiff::tz::TimeZone::UTC))
        .map_err(|e| UiError(ApiError::bad("invalid_time", e.to_string())))?
        .timestamp();
    let status = shophook_core::plan::DeliveryStatus::parse(field(&p, "status"));
    let n = crate::service::webhooks::replay(&s, &acct.id, &id, since, None, status).await?;
    let back = format!("/a/{}/webhooks/{id}", nav.account);
    Ok(render(&super::MessagePage {
        heading: "Replay queued".into(),
        body: format!("<p>{n} deliveries will be sent again.</p>"),
        back,
        nav,
    }))
}
