//! Portal links: a one-time, two-minute link that signs a platform's merchant into
//! the web UI for their own account, without a key. The API mints them
//! (`POST /v1/accounts/{account}/portal-link`); the UI redeems them
//! (`GET /portal/{token}`), once, on any node.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::Timestamp;
use shophook_store::StoreError;

use crate::security::{sign, verify};
use crate::state::AppState;

/// How long a portal link is valid.
pub const PORTAL_SECONDS: i64 = 120;

/// A fresh portal token for `account` and when it expires.
pub async fn mint(state: &AppState, account: &str) -> Result<(String, Timestamp), StoreError> {
    let secret = state.ui.secret.get(&*state.store).await?;
    let now = state.clock.now();
    let token = portal_token(&secret, account, now);
    let expires_at = Timestamp::from_second(now.as_second() + PORTAL_SECONDS).unwrap_or(now);
    Ok((token, expires_at))
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
