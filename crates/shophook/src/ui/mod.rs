//! The merchant web UI: server-rendered HTML (askama templates in `templates/`)
//! with a little progressive enhancement (htmx, vendored from its npm package, and
//! `assets/app.js`). Everything works without JavaScript; htmx only saves reloads.
//! Handlers call the same store and core functions as the API. Sessions are in
//! [`session`]; the same-origin check of form posts and the headers of every UI
//! response in [`security`].

mod auth;
pub mod brand;
mod form;
mod history;
pub mod security;
pub mod session;
mod webhook_actions;
mod webhook_page;
mod webhooks;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use shophook_store::StoredWebhook;

use crate::error::ApiError;
use crate::state::AppState;
use session::Session;

/// The UI routes, mounted at `/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/assets/htmx.min.js",
            get(|| asset(include_str!("../../assets/htmx.min.js"), "text/javascript")),
        )
        .route(
            "/assets/app.js",
            get(|| asset(include_str!("../../assets/app.js"), "text/javascript")),
        )
        .route(
            "/assets/app.css",
            get(|| asset(include_str!("../../assets/app.css"), "text/css")),
        )
        .merge(auth::routes())
        .merge(brand::routes())
        .merge(webhooks::routes())
        .merge(webhook_actions::routes())
        .merge(webhook_page::routes())
        .merge(history::routes())
        .layer(axum::middleware::from_fn(security::same_origin))
        .layer(axum::middleware::from_fn(security::headers))
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// What the layout needs on every page.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The account being managed ("" on pages without one).
    pub account: String,
    /// Signed in as the operator.
    pub operator: bool,
    /// The CSRF token for forms ("" when signed out).
    pub csrf: String,
    /// Which menu entry is current.
    pub section: &'static str,
    /// A one-line notice shown at the top.
    pub notice: String,
    /// The account's IANA time zone: every time on its pages is shown in it
    /// ([`Nav::when`]), and named ("" on pages without an account: UTC).
    pub timezone: String,
    /// Whose UI this is (the embedding platform's brand, or shophook's).
    pub brand: Arc<brand::Brand>,
}

impl Nav {
    /// `t` as the UI shows every time: `2026-03-02 11:00:05` in the account's zone.
    pub fn when(&self, t: jiff::Timestamp) -> String {
        let tz = jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        t.to_zoned(tz).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The zone the times are in, for labels (`Europe/Warsaw`).
    pub fn zone(&self) -> &str {
        if self.timezone.is_empty() {
            "UTC"
        } else {
            &self.timezone
        }
    }
}

/// A UI failure, shown as a page.
pub struct UiError(pub ApiError);

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError(e)
    }
}

impl From<shophook_store::StoreError> for UiError {
    fn from(e: shophook_store::StoreError) -> Self {
        UiError(e.into())
    }
}

/// A short page: a heading, some (trusted, already escaped) HTML and a way back.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// Layout.
    pub nav: Nav,
    /// Heading.
    pub heading: String,
    /// Body HTML (escape any user text before putting it here).
    pub body: String,
    /// Link back.
    pub back: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, _) = self.0.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self.0, "UI request failed");
        }
        let page = MessagePage {
            nav: Nav::default(),
            heading: status.canonical_reason().unwrap_or("Error").to_string(),
            body: format!("<p>{}</p>", escape(&self.0.to_string())),
            back: "/".into(),
        };
        (status, render(&page)).into_response()
    }
}

/// HTML-escapes text for the few places that build markup by hand.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Renders a template to a response.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// The decoded fields of a form body.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of a form field.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Checks the session may manage `account` and that it exists; builds the nav.
pub async fn guard(
    state: &AppState,
    session: &Session,
    account: &str,
    section: &'static str,
) -> Result<Nav, UiError> {
    if !session.may(account) {
        return Err(UiError(ApiError::NotFound("account")));
    }
    let acct = state
        .store
        .account(account)
        .await?
        .ok_or(UiError(ApiError::NotFound("account")))?;
    let secret = session::secret(state).await?;
    Ok(Nav {
        account: acct.id,
        operator: session.operator,
        csrf: session.csrf(&secret),
        section,
        notice: String::new(),
        timezone: acct.timezone,
        brand: state.brand.clone(),
    })
}

/// Refuses a POST whose CSRF token does not belong to the session.
pub async fn check_csrf(
    state: &AppState,
    session: &Session,
    pairs: &[(String, String)],
) -> Result<(), UiError> {
    let secret = session::secret(state).await?;
    if session.csrf_ok(&secret, field(pairs, "csrf")) {
        Ok(())
    } else {
        Err(UiError(ApiError::Forbidden {
            code: "csrf",
            message:
                "this form has expired or came from another site; reload the page and try again"
                    .into(),
        }))
    }
}

/// A webhook of `account`, or the UI's not-found page.
pub(crate) async fn find_webhook(
    s: &AppState,
    account: &str,
    id: &str,
) -> Result<StoredWebhook, UiError> {
    s.store
        .webhook(account, id)
        .await?
        .ok_or(UiError(ApiError::NotFound("webhook")))
}
