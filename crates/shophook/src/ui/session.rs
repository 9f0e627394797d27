//! UI sessions without server-side state: the cookie carries who signed in (the
//! operator or an account), the hash of the key they used, the account being
//! managed and an expiry, signed with HMAC-SHA256 under a per-installation secret
//! kept in the settings table. Every request re-checks that the key still exists,
//! so revoking a key ends its sessions. Forms carry a CSRF token derived from the
//! cookie. One-time portal links are signed too; their single use is enforced by an
//! insert-if-absent setting, which holds across nodes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

use crate::app::AppState;
use crate::ids::hash_key;

/// Name of the session cookie.
pub const COOKIE: &str = "shophook_session";
/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long a portal link is valid.
pub const PORTAL_SECONDS: i64 = 120;
const SECRET_SETTING: &str = "ui_session_secret";

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Signed in with the operator key.
    pub operator: bool,
    /// SHA-256 of the key used.
    pub key_hash: String,
    /// The account being managed (always set for account keys).
    pub account: Option<String>,
    /// Expiry (unix seconds).
    pub expires: i64,
    /// The raw cookie value (CSRF tokens derive from it).
    pub cookie: String,
}

/// The per-installation signing secret, created on first use.
pub async fn secret(state: &AppState) -> Result<Vec<u8>, shophook_store::StoreError> {
    if let Some(s) = state.store.setting(SECRET_SETTING).await? {
        return Ok(s.into_bytes());
    }
    let fresh = crate::ids::new_key();
    state.store.init_setting(SECRET_SETTING, &fresh).await?;
    Ok(state
        .store
        .setting(SECRET_SETTING)
        .await?
        .unwrap_or(fresh)
        .into_bytes())
}

fn sign(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn verify(secret: &[u8], payload: &str, sig: &str) -> bool {
    let Ok(bytes) = B64.decode(sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// Builds a signed cookie value: `op|keyhash|account|expires.sig`.
pub fn issue(
    secret: &[u8],
    operator: bool,
    key_hash: &str,
    account: Option<&str>,
    now: Timestamp,
) -> String {
    let expires = now
        .checked_add(SignedDuration::from_hours(SESSION_HOURS))
        .unwrap_or(now)
        .as_second();
    let payload = format!(
        "{}|{key_hash}|{}|{expires}",
        if operator { "op" } else { "acct" },
        account.unwrap_or("")
    );
    let payload = B64.encode(payload);
    format!("{payload}.{}", sign(secret, &payload))
}

/// Reads and checks a cookie value (signature and expiry only).
pub fn parse(secret: &[u8], value: &str, now: Timestamp) -> Option<Session> {
    let (payload, sig) = value.split_once('.')?;
    if !verify(secret, payload, sig) {
        return None;
    }
    let text = String::from_utf8(B64.decode(payload).ok()?).ok()?;
    let mut parts = text.split('|');
    let (kind, key_hash, account, expires) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?.parse::<i64>().ok()?,
    );
    if expires < now.as_second() {
        return None;
    }
    Some(Session {
        operator: kind == "op",
        key_hash: key_hash.to_string(),
        account: (!account.is_empty()).then(|| account.to_string()),
        expires,
        cookie: value.to_string(),
    })
}

/// The `Set-Cookie` value for a session.
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_HOURS * 3600
    )
}

/// The `Set-Cookie` value that signs out.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

impl Session {
    /// The CSRF token for forms of this session.
    pub fn csrf(&self, secret: &[u8]) -> String {
        sign(secret, &format!("csrf|{}", self.cookie))
    }

    /// Whether a submitted CSRF token belongs to this session.
    pub fn csrf_ok(&self, secret: &[u8], token: &str) -> bool {
        verify(secret, &format!("csrf|{}", self.cookie), token)
    }

    /// Whether this session may manage `account`.
    pub fn may(&self, account: &str) -> bool {
        self.operator || self.account.as_deref() == Some(account)
    }
}

/// Rejection: go and sign in.
pub struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, SignIn> {
        let value = cookie_value(&parts.headers).ok_or(SignIn)?;
        let secret = secret(state).await.map_err(|_| SignIn)?;
        let session = parse(&secret, &value, state.clock.now()).ok_or(SignIn)?;
        // The key must still exist: revoking it ends the session. Portal sessions
        // carry no key; they live as long as their account.
        let alive = if session.operator {
            session.key_hash == state.admin_hash
        } else if let Some(account) = session
            .account
            .as_deref()
            .filter(|a| session.key_hash == portal_key_hash(a))
        {
            state.store.account(account).await.ok().flatten().is_some()
        } else {
            state
                .store
                .key_account(&session.key_hash)
                .await
                .ok()
                .flatten()
                .as_deref()
                == session.account.as_deref()
        };
        if alive { Ok(session) } else { Err(SignIn) }
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<AppState>> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Session as FromRequestParts<Arc<AppState>>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// Which key signed in, if it is valid: (operator?, hash, account).
pub async fn check_key(state: &AppState, key: &str) -> Option<(bool, String, Option<String>)> {
    let hash = hash_key(key.trim());
    if hash == state.admin_hash {
        return Some((true, hash, None));
    }
    let account = state.store.key_account(&hash).await.ok().flatten()?;
    Some((false, hash, Some(account)))
}

/// The stand-in "key hash" of a session opened through a portal link.
pub fn portal_key_hash(account: &str) -> String {
    format!("portal:{account}")
}

/// A one-time portal token for `account`: `account|expires|nonce.sig`.
pub fn portal_token(secret: &[u8], account: &str, now: Timestamp) -> String {
    let expires = now.as_second() + PORTAL_SECONDS;
    let payload = B64.encode(format!(
        "portal|{account}|{expires}|{}",
        crate::ids::new_id("n")
    ));
    format!("{payload}.{}", sign(secret, &payload))
}

/// Checks a portal token; returns (account, nonce).
pub fn parse_portal(secret: &[u8], token: &str, now: Timestamp) -> Option<(String, String)> {
    let (payload, sig) = token.split_once('.')?;
    if !verify(secret, payload, sig) {
        return None;
    }
    let text = String::from_utf8(B64.decode(payload).ok()?).ok()?;
    let mut p = text.split('|');
    if p.next()? != "portal" {
        return None;
    }
    let (account, expires, nonce) = (p.next()?, p.next()?.parse::<i64>().ok()?, p.next()?);
    (expires >= now.as_second()).then(|| (account.to_string(), nonce.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let s = b"secret";
        let c = issue(s, false, "abc", Some("acme"), now);
        let session = parse(s, &c, now).unwrap();
        assert_eq!(
            (session.operator, session.account.as_deref()),
            (false, Some("acme"))
        );
        assert!(parse(b"other", &c, now).is_none());
        assert!(parse(s, &c.replace('.', "x."), now).is_none());
        let later = now.checked_add(SignedDuration::from_hours(13)).unwrap();
        assert!(parse(s, &c, later).is_none());
        let token = session.csrf(s);
        assert!(session.csrf_ok(s, &token));
        assert!(!session.csrf_ok(s, "forged"));
        assert!(session.may("acme") && !session.may("other"));
        let p = portal_token(s, "acme", now);
        assert_eq!(parse_portal(s, &p, now).unwrap().0, "acme");
        assert!(
            parse_portal(
                s,
                &p,
                now.checked_add(SignedDuration::from_mins(5)).unwrap()
            )
            .is_none()
        );
        assert!(parse_portal(s, &c, now).is_none());
    }
}
