//! Webhook screens: the list (status, last result, 24 h success rate, pause,
//! test, delete), the add/edit form with its live preview, secret reveal and
//! rotation, and replay.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::SignedDuration;
use shophook_core::event::EventType;
use shophook_core::webhook::WebhookInput;
use shophook_store::{StoredWebhook, WebhookStats};

use super::form::WebhookForm;
use super::session::Session;
use super::{Nav, UiError, check_csrf, field, find_webhook as find, guard, pairs, render};
use crate::error::ApiError;
use crate::input::parse;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    let base = "/a/{account}/webhooks";
    Router::new()
        .route(base, get(list).post(create))
        .route(&format!("{base}/new"), get(new))
        .route(&format!("{base}/preview"), post(preview))
        .route(&format!("{base}/{{id}}"), post(update))
        .route(&format!("{base}/{{id}}/edit"), get(edit))
}

struct Row {
    id: String,
    name: String,
    url: String,
    events: String,
    status: String,
    last: String,
    rate: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "webhook_form.html")]
struct FormPage {
    nav: Nav,
    is_new: bool,
    id: String,
    f: WebhookForm,
    errors: HashMap<String, String>,
    methods: Vec<String>,
    event_groups: Vec<(String, Vec<String>)>,
    all_events: Vec<String>,
    /// (path, description) of every catalog field.
    fields: Vec<(String, String)>,
    /// (API name, words) of every operator.
    ops: Vec<(String, String)>,
    /// What each event type means, by name.
    event_help: HashMap<String, String>,
    days: Vec<String>,
    formats: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewFragment {
    error: String,
    /// What may fail on real events (a sparse order); shown above the request.
    warnings: Vec<String>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn form_page(
    nav: Nav,
    is_new: bool,
    id: &str,
    f: WebhookForm,
    errors: HashMap<String, String>,
) -> FormPage {
    let group = |prefix: &str| {
        EventType::ALL
            .iter()
            .filter(|t| t.as_str().starts_with(prefix))
            .map(|t| t.as_str().to_string())
            .collect::<Vec<_>>()
    };
    let strings = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    FormPage {
        nav,
        is_new,
        id: id.to_string(),
        f,
        errors,
        methods: strings(&["POST", "PUT", "PATCH", "GET"]),
        event_groups: vec![
            ("Orders".into(), group("order.")),
            ("Checkouts".into(), group("checkout.")),
            ("Products".into(), group("product.")),
        ],
        all_events: EventType::ALL
            .iter()
            .filter(|t| t.subject_kind().is_some())
            .map(|t| t.as_str().to_string())
            .collect(),
        fields: shophook_core::catalog::FIELDS
            .iter()
            .map(|f| (f.0.to_string(), f.1.to_string()))
            .collect(),
        ops: shophook_core::condition::Op::ALL
            .iter()
            .map(|o| (o.name().to_string(), o.label().to_string()))
            .collect(),
        event_help: EventType::ALL
            .iter()
            .map(|t| {
                (
                    t.as_str().to_string(),
                    shophook_core::catalog::describe_event(*t).replace('`', ""),
                )
            })
            .collect(),
        days: strings(shophook_core::schedule::DAYS),
        formats: shophook_core::format::FORMATS
            .iter()
            .map(|f| (f.name.to_string(), f.label.to_string()))
            .collect(),
    }
}

/// A webhook's row: its last attempt and its success rate over the last 24 hours,
/// from the store's per-hour tallies (`stats`; `None` before any attempt).
fn row(w: &StoredWebhook, stats: Option<&WebhookStats>) -> Row {
    let last = stats
        .and_then(|s| s.last.as_ref())
        .map(|l| match l.code {
            Some(code) => format!("{} · HTTP {code}", l.status),
            None => l.status.to_string(),
        })
        .unwrap_or_else(|| "—".into());
    let rate = match stats {
        Some(s) if s.succeeded + s.failed > 0 => format!(
            "{:.0} %",
            100.0 * s.succeeded as f64 / (s.succeeded + s.failed) as f64
        ),
        _ => "—".into(),
    };
    Row {
        id: w.id.clone(),
        name: w.config.name.clone(),
        url: w.config.url.clone(),
        events: w.config.events.join(", "),
        status: w.status.as_str().into(),
        last,
        rate,
    }
}

async fn list(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(account): Path<String>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let since = s
        .clock
        .now()
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let stats: HashMap<String, WebhookStats> = s
        .store
        .webhook_stats(&nav.account, since)
        .await?
        .into_iter()
        .map(|st| (st.webhook_id.clone(), st))
        .collect();
    let rows = s
        .store
        .list_webhooks(&nav.account)
        .await?
        .iter()
        .map(|w| row(w, stats.get(&w.id)))
        .collect();
    Ok(render(&ListPage { nav, rows }))
}

async fn new(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(account): Path<String>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let tz = s
        .store
        .account(&nav.account)
        .await?
        .map(|a| a.timezone)
        .unwrap_or_else(|| "UTC".into());
    Ok(render(&form_page(
        nav,
        true,
        "",
        WebhookForm::blank(&tz),
        HashMap::new(),
    )))
}

/// Validates the form the way the API validates JSON; on error, the form again with
/// the message next to its field.
fn parse_form(form: &mut WebhookForm) -> Result<WebhookInput, HashMap<String, String>> {
    let json = form.to_input().map_err(|e| form.place_error(&e))?;
    parse::<WebhookInput>(json.to_string().as_bytes()).map_err(|e| match e {
        ApiError::Invalid(fe) => form.place_error(&fe),
        other => HashMap::from([(String::new(), other.to_string())]),
    })
}

async fn create(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let p = pairs(&body);
    check_csrf(&s, &session, &p).await?;
    let mut form = WebhookForm::from_pairs(&p);
    let acct = s
        .store
        .account(&nav.account)
        .await?
        .ok_or(UiError(ApiError::NotFound("account")))?;
    let result = match parse_form(&mut form) {
        Ok(input) => crate::service::webhooks::create(&s, &acct, input)
            .await
            .map_err(|e| match e {
                ApiError::Invalid(fe) => form.place_error(&fe),
                other => HashMap::from([(String::new(), other.to_string())]),
            }),
        Err(errors) => Err(errors),
    };
    match result {
        Ok(hook) => Ok(
            Redirect::to(&format!("/a/{}/webhooks?created={}", nav.account, hook.id))
                .into_response(),
        ),
        Err(errors) => {
            form.pad_for_display();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&form_page(nav, true, "", form, errors)),
            )
                .into_response())
        }
    }
}

async fn edit(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let hook = find(&s, &nav.account, &id).await?;
    let tz = s
        .store
        .account(&nav.account)
        .await?
        .map(|a| a.timezone)
        .unwrap_or_else(|| "UTC".into());
    Ok(render(&form_page(
        nav,
        false,
        &id,
        WebhookForm::from_config(&hook.config, &tz),
        HashMap::new(),
    )))
}

async fn update(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let nav = guard(&s, &session, &account, "webhooks").await?;
    let p = pairs(&body);
    check_csrf(&s, &session, &p).await?;
    let hook = find(&s, &nav.account, &id).await?;
    let mut form = WebhookForm::from_pairs(&p);
    let applied = parse_form(&mut form).and_then(|input| {
        input
            .apply_to(hook.config.clone())
            .map_err(|e| form.place_error(&e))
    });
    match applied {
        Ok(config) => {
            crate::service::webhooks::save_config(&s, hook, config).await?;
            Ok(Redirect::to(&format!("/a/{}/webhooks", nav.account)).into_response())
        }
        Err(errors) => {
            form.pad_for_display();
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&form_page(nav, false, &id, form, errors)),
            )
                .into_response())
        }
    }
}

async fn preview(
    State(s): State<Arc<AppState>>,
    session: Session,
    Path(account): Path<String>,
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
    let mut form = WebhookForm::from_pairs(&p);
    let fail = |error: String| PreviewFragment {
        error,
        warnings: vec![],
        method: String::new(),
        url: String::new(),
        headers: vec![],
        body: String::new(),
    };
    let fragment = match parse_form(&mut form)
        .and_then(|i| i.into_new_config().map_err(|e| form.place_error(&e)))
    {
        Err(errors) => fail(
            errors
                .into_values()
                .next()
                .unwrap_or_else(|| "check the highlighted fields".into()),
        ),
        Ok((config, _, _)) => {
            let secret = shophook_core::signing::Secret::generate([0; 24]);
            match crate::service::preview::render(
                &s,
                &acct,
                &config,
                secret.as_str(),
                "wh_preview",
                field(&p, "preview_event"),
                None,
                Some(field(&p, "preview_id").to_string()),
            )
            .await
            {
                Ok(req) => PreviewFragment {
                    error: String::new(),
                    warnings: config.warnings(),
                    method: req.method.as_str().into(),
                    url: shophook_core::mask::mask_url(&req.url),
                    headers: req
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), shophook_core::mask::mask(k, v)))
                        .collect(),
                    body: super::history::pretty(&req.body),
                },
                Err(e) => fail(e.to_string()),
            }
        }
    };
    let _ = nav;
    Ok(render(&fragment))
}
