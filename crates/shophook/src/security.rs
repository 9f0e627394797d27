//! The keys and settings that protect the web UI, held in [`crate::state::AppState`]:
//! the secret that signs its cookies, CSRF tokens and portal links
//! ([`UiSecret`]), its cookie flags and the headers of its responses
//! ([`UiHeaders`]). The middleware that applies them is `ui/security.rs`.

use std::sync::Arc;

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shophook_store::{Store, StoreError};
use tokio::sync::OnceCell;

use crate::config::FrameAncestors;

/// The settings key of the UI secret when there is no encryption key.
const SECRET_SETTING: &str = "ui_session_secret";
/// What the UI secret is derived from the encryption key for (a new label gives
/// an unrelated secret, which would end every session and portal link).
const DERIVATION_LABEL: &[u8] = b"shophook ui session v1";

/// The key that signs UI cookies, CSRF tokens and portal links.
///
/// With `--encryption-key` it is HMAC-SHA256(encryption key, "shophook ui session
/// v1") and exists only in memory: a copy of the database without the encryption
/// key cannot sign a cookie or a portal link. Without one it is a random value
/// stored in the settings on first use (shared by every node of the database).
pub struct UiSecret(OnceCell<Vec<u8>>);

impl UiSecret {
    /// The secret derived from a base64 encryption key (`openssl rand -base64 32`).
    pub fn derived(encryption_key: &str) -> Result<UiSecret, String> {
        let key = STANDARD
            .decode(encryption_key.trim())
            .map_err(|_| "the encryption key is not base64".to_string())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(DERIVATION_LABEL);
        let secret = mac.finalize().into_bytes().to_vec();
        Ok(UiSecret(OnceCell::new_with(Some(secret))))
    }

    /// The secret kept in the settings, read (or created) on first use.
    pub fn stored() -> UiSecret {
        UiSecret(OnceCell::new())
    }

    /// The secret. A stored one never changes once written (insert-if-absent), so
    /// it is read once.
    pub async fn get(&self, store: &dyn Store) -> Result<Vec<u8>, StoreError> {
        self.0
            .get_or_try_init(|| async {
                if let Some(s) = store.setting(SECRET_SETTING).await? {
                    return Ok(s.into_bytes());
                }
                let fresh = crate::ids::new_key();
                store.init_setting(SECRET_SETTING, &fresh).await?;
                Ok(store
                    .setting(SECRET_SETTING)
                    .await?
                    .unwrap_or(fresh)
                    .into_bytes())
            })
            .await
            .cloned()
    }
}

/// The UI's security settings, from `serve` flags.
pub struct UiSecurity {
    /// Signs cookies, CSRF tokens and portal links.
    pub secret: UiSecret,
    /// `--ui-secure-cookies`: cookies carry `Secure`.
    pub secure_cookies: bool,
    /// What every UI response carries (layered on by [`crate::app::router`]).
    pub headers: Arc<UiHeaders>,
}

impl UiSecurity {
    /// From the flags: the encryption key (if any), the frame ancestors, secure cookies.
    pub fn new(
        encryption_key: Option<&str>,
        frame_ancestors: Option<&FrameAncestors>,
        secure_cookies: bool,
    ) -> Result<UiSecurity, String> {
        let secret = match encryption_key {
            Some(key) => UiSecret::derived(key)?,
            None => UiSecret::stored(),
        };
        Ok(UiSecurity {
            secret,
            secure_cookies,
            headers: Arc::new(UiHeaders::new(frame_ancestors)),
        })
    }
}

/// The headers of every UI response.
#[derive(Debug, Clone)]
pub struct UiHeaders {
    /// Each header and its value.
    pub(crate) fixed: Vec<(HeaderName, HeaderValue)>,
}

impl UiHeaders {
    /// Framing denied unless origins are given; then only those may frame the UI
    /// (`frame-ancestors`, and no `X-Frame-Options`, which cannot name origins).
    pub fn new(frame_ancestors: Option<&FrameAncestors>) -> UiHeaders {
        let mut fixed = vec![
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        ];
        match frame_ancestors {
            None => {
                fixed.push((X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
                fixed.push((
                    CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("frame-ancestors 'none'"),
                ));
            }
            Some(origins) => {
                let policy = format!("frame-ancestors {origins}");
                let value = HeaderValue::from_str(&policy)
                    .expect("FrameAncestors::parse admits only header-safe origins");
                fixed.push((CONTENT_SECURITY_POLICY, value));
            }
        }
        UiHeaders { fixed }
    }
}

/// HMAC-SHA256 of `payload` under `secret`, URL-safe base64 (cookies, CSRF
/// tokens, portal links).
pub fn sign(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `sig` is [`sign`] of `payload` under `secret` (in constant time).
pub fn verify(secret: &[u8], payload: &str, sig: &str) -> bool {
    let Ok(bytes) = B64.decode(sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_deny_framing_unless_origins_are_given() {
        let names = |h: &UiHeaders| {
            h.fixed
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        let deny = names(&UiHeaders::new(None));
        assert!(deny.contains(&"x-frame-options: DENY".to_string()));
        assert!(deny.contains(&"content-security-policy: frame-ancestors 'none'".to_string()));
        let origins = FrameAncestors::parse("https://a.example.com,https://b.example.com").unwrap();
        let allow = names(&UiHeaders::new(Some(&origins)));
        assert!(allow.iter().all(|h| !h.starts_with("x-frame-options")));
        assert!(allow.contains(
            &"content-security-policy: frame-ancestors https://a.example.com https://b.example.com"
                .to_string()
        ));
    }

    #[test]
    fn the_derived_secret_depends_only_on_the_key() {
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let other = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
        let a = UiSecret::derived(key).unwrap().0.get().cloned().unwrap();
        let b = UiSecret::derived(key).unwrap().0.get().cloned().unwrap();
        let c = UiSecret::derived(other).unwrap().0.get().cloned().unwrap();
        assert_eq!(a, b, "every node derives the same secret");
        assert_ne!(a, c);
        assert_eq!(a.len(), 32);
        assert!(UiSecret::derived("not base64!").is_err());
    }
}
