//! Signing in and out, the operator's account picker, and one-time portal links
//! that sign a merchant straight into their account (for embedding in a platform's
//! own admin panel). Signing out, and signing in anew, end the session on the
//! server; the operator ends an account's portal sessions through the API.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::session::{self, Session};
use super::{Nav, UiError, field, pairs, render};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/accounts", get(accounts))
        .route("/portal/{token}", get(portal))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    error: String,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    nav: Nav,
    accounts: Vec<(String, String)>,
}

fn home(session: &Session) -> String {
    match (&session.account, session.operator) {
        (Some(a), _) => format!("/a/{a}/webhooks"),
        (None, _) => "/accounts".into(),
    }
}

async fn index(session: Option<Session>) -> Redirect {
    match session {
        Some(s) => Redirect::to(&home(&s)),
        None => Redirect::to("/login"),
    }
}

async fn login_form(State(s): State<Arc<AppState>>) -> Response {
    render(&LoginPage {
        nav: Nav {
            brand: s.brand.clone(),
            ..Nav::default()
        },
        error: String::new(),
    })
}

fn with_cookie(location: &str, cookie: String) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location.to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

async fn login(
    State(s): State<Arc<AppState>>,
    previous: Option<Session>,
    body: Bytes,
) -> Result<Response, UiError> {
    let form = pairs(&body);
    let Some((operator, hash, account)) = session::check_key(&s, field(&form, "key")).await else {
        tracing::info!("UI sign-in with an unknown key refused");
        let page = LoginPage {
            nav: Nav {
                brand: s.brand.clone(),
                ..Nav::default()
            },
            error: "That key is not valid. Check it and try again.".into(),
        };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    };
    // A new sign-in replaces the browser's cookie: the session it held ends too.
    if let Some(previous) = previous {
        session::close(&s, &previous).await?;
    }
    let value = session::open(&s, operator, &hash, account.as_deref()).await?;
    let target = match &account {
        Some(a) => format!("/a/{a}/webhooks"),
        None => "/accounts".into(),
    };
    Ok(with_cookie(
        &target,
        session::set_cookie(&value, s.ui.secure_cookies),
    ))
}

async fn logout(
    State(s): State<Arc<AppState>>,
    session: Session,
    body: Bytes,
) -> Result<Response, UiError> {
    super::check_csrf(&s, &session, &pairs(&body)).await?;
    session::close(&s, &session).await?;
    Ok(with_cookie(
        "/login",
        session::clear_cookie(s.ui.secure_cookies),
    ))
}

async fn accounts(State(s): State<Arc<AppState>>, session: Session) -> Result<Response, UiError> {
    if !session.operator {
        return Ok(Redirect::to(&home(&session)).into_response());
    }
    let secret = session::secret(&s).await?;
    let accounts = s.store.list_accounts().await?.into_iter().map(|a| {
        let name = if a.name.is_empty() {
            a.id.clone()
        } else {
            a.name.clone()
        };
        (a.id, name)
    });
    let nav = Nav {
        operator: true,
        csrf: session.csrf(&secret),
        brand: s.brand.clone(),
        ..Nav::default()
    };
    Ok(render(&AccountsPage {
        nav,
        accounts: accounts.collect(),
    }))
}

async fn portal(
    State(s): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Result<Response, UiError> {
    let secret = session::secret(&s).await?;
    let now = s.clock.now();
    let refused = || {
        UiError(ApiError::Forbidden {
            code: "portal_link",
            message: "this sign-in link has expired or was used already; ask for a new one".into(),
        })
    };
    let (account, nonce) =
        crate::service::portal::parse_portal(&secret, &token, now).ok_or_else(refused)?;
    // One use only, on any node: the first insert of the nonce wins.
    if !s
        .store
        .init_setting(&format!("portal_used:{nonce}"), &now.to_string())
        .await?
    {
        return Err(refused());
    }
    s.store
        .account(&account)
        .await?
        .ok_or(UiError(ApiError::NotFound("account")))?;
    let value = session::open(
        &s,
        false,
        &crate::service::portal::portal_key_hash(&account),
        Some(&account),
    )
    .await?;
    Ok(with_cookie(
        &format!("/a/{account}/webhooks"),
        session::set_cookie(&value, s.ui.secure_cookies),
    ))
}
