//! UI sessions. Signing in stores a session (`Store::create_ui_session`) under
//! the SHA-256 of a random session id; the cookie carries that id with who signed
//! in (the operator or an account), the hash of the key they used, the account
//! being managed and an expiry, signed with HMAC-SHA256 under the UI secret
//! ([`crate::security::UiSecret`]: derived from `--encryption-key` when there is
//! one). Every request checks the signature, that the stored session is still
//! there (signing out deletes it, so a saved cookie stops working on every node)
//! and that the key still exists (revoking a key ends its sessions). Forms carry
//! a CSRF token derived from the cookie. One-time portal links are signed too;
//! their single use is enforced by an insert-if-absent setting, which holds
//! across nodes.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::{SignedDuration, Timestamp};
use shophook_store::{StoreError, UiSession};

use crate::ids::{hash_key, new_session_id};
use crate::security::{sign, verify};
use crate::service::portal::portal_key_hash;
use crate::state::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "shophook_session";
/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 12;

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
    /// The session id (stored only as its hash).
    pub id: String,
    /// The raw cookie value (CSRF tokens derive from it).
    pub cookie: String,
}

/// The key that signs cookies, CSRF tokens and portal links.
pub async fn secret(state: &crate::state::AppState) -> Result<Vec<u8>, StoreError> {
    state.ui.secret.get(&*state.store).await
}

/// Builds a signed cookie value: `op|keyhash|account|expires|id.sig`.
pub fn issue(
    secret: &[u8],
    operator: bool,
    key_hash: &str,
    account: Option<&str>,
    id: &str,
    now: Timestamp,
) -> String {
    let payload = format!(
        "{}|{key_hash}|{}|{}|{id}",
        if operator { "op" } else { "acct" },
        account.unwrap_or(""),
        expiry(now).as_second()
    );
    let payload = B64.encode(payload);
    format!("{payload}.{}", sign(secret, &payload))
}

fn expiry(now: Timestamp) -> Timestamp {
    now.checked_add(SignedDuration::from_hours(SESSION_HOURS))
        .unwrap_or(now)
}

/// Reads and checks a cookie value (signature and expiry only).
pub fn parse(secret: &[u8], value: &str, now: Timestamp) -> Option<Session> {
    let (payload, sig) = value.split_once('.')?;
    if !verify(secret, payload, sig) {
        return None;
    }
    let text = String::from_utf8(B64.decode(payload).ok()?).ok()?;
    let mut parts = text.split('|');
    let (kind, key_hash, account, expires, id) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?.parse::<i64>().ok()?,
        parts.next()?,
    );
    if expires < now.as_second() || id.is_empty() {
        return None;
    }
    Some(Session {
        operator: kind == "op",
        key_hash: key_hash.to_string(),
        account: (!account.is_empty()).then(|| account.to_string()),
        expires,
        id: id.to_string(),
        cookie: value.to_string(),
    })
}

/// Signs in: stores a new session and returns its cookie value. `key_hash` is
/// the hash of the key used, or [`portal_key_hash`] for a portal link.
pub async fn open(
    state: &AppState,
    operator: bool,
    key_hash: &str,
    account: Option<&str>,
) -> Result<String, StoreError> {
    let secret = secret(state).await?;
    let now = state.clock.now();
    let id = new_session_id();
    let portal = account.is_some_and(|a| key_hash == portal_key_hash(a));
    state
        .store
        .create_ui_session(UiSession {
            id_hash: hash_key(&id),
            account: account.map(str::to_string),
            portal,
            created_at: now,
            expires_at: Timestamp::from_second(expiry(now).as_second()).unwrap_or(now),
        })
        .await?;
    tracing::info!(
        account = account.unwrap_or(""),
        operator,
        portal,
        "UI session opened"
    );
    Ok(issue(&secret, operator, key_hash, account, &id, now))
}

/// Signs out: the session is deleted, so its cookie opens nothing any more.
pub async fn close(state: &AppState, session: &Session) -> Result<(), StoreError> {
    state.store.end_ui_session(&hash_key(&session.id)).await?;
    tracing::info!(
        account = session.account.as_deref().unwrap_or(""),
        operator = session.operator,
        portal = session.is_portal(),
        "UI session ended (signed out)"
    );
    Ok(())
}

/// The `Set-Cookie` value for a session; `secure` adds `Secure`
/// (`--ui-secure-cookies`).
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that signs out.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
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

    /// Opened through a portal link (not with a key).
    pub fn is_portal(&self) -> bool {
        self.account
            .as_deref()
            .is_some_and(|a| self.key_hash == portal_key_hash(a))
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
        let now = state.clock.now();
        let session = parse(&secret, &value, now).ok_or(SignIn)?;
        // Still stored: signing out (on any node) or ending an account's portal
        // sessions deletes it.
        let stored = state
            .store
            .ui_session(&hash_key(&session.id), now)
            .await
            .ok()
            .flatten()
            .ok_or(SignIn)?;
        if stored.account != session.account || stored.portal != session.is_portal() {
            return Err(SignIn);
        }
        // The key must still exist: revoking it ends the session. Portal sessions
        // carry no key; they live as long as their account.
        let alive = if session.operator {
            session.key_hash == state.admin_hash
        } else if session.is_portal() {
            let account = session.account.as_deref().unwrap_or("");
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
    let candidates = state.key_hasher.candidates(key.trim());
    if let Some(hash) = candidates.iter().find(|h| **h == state.admin_hash) {
        return Some((true, hash.clone(), None));
    }
    for hash in candidates {
        if let Some(account) = state.store.key_account(&hash).await.ok().flatten() {
            return Some((false, hash, Some(account)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::portal::{parse_portal, portal_token};

    #[test]
    fn cookies_and_tokens() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let s = b"secret";
        let c = issue(s, false, "abc", Some("acme"), "sid-1", now);
        let session = parse(s, &c, now).unwrap();
        assert_eq!(
            (
                session.operator,
                session.account.as_deref(),
                session.id.as_str()
            ),
            (false, Some("acme"), "sid-1")
        );
        assert!(!session.is_portal());
        assert!(parse(b"other", &c, now).is_none());
        assert!(parse(s, &c.replace('.', "x."), now).is_none());
        let later = now.checked_add(SignedDuration::from_hours(13)).unwrap();
        assert!(parse(s, &c, later).is_none());
        let token = session.csrf(s);
        assert!(session.csrf_ok(s, &token));
        assert!(!session.csrf_ok(s, "forged"));
        assert!(session.may("acme") && !session.may("other"));
        let portal = issue(
            s,
            false,
            &portal_key_hash("acme"),
            Some("acme"),
            "sid-2",
            now,
        );
        assert!(parse(s, &portal, now).unwrap().is_portal());
        // A cookie of the earlier format (no session id) opens nothing.
        let old = B64.encode(format!("acct|abc|acme|{}", now.as_second() + 60));
        assert!(parse(s, &format!("{old}.{}", sign(s, &old)), now).is_none());
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
        assert!(set_cookie("v", true).ends_with("; Secure"));
        assert!(!set_cookie("v", false).contains("Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0; Secure"));
    }
}
