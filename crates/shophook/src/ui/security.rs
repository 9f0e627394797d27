//! What protects the web UI beyond its sessions: the secret that signs cookies,
//! CSRF tokens and portal links; the same-origin check on every form post (login
//! CSRF); and the headers of every UI response (no sniffing, no caching, no
//! framing except by the origins of `--ui-frame-ancestors`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERER, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shophook_store::{Store, StoreError};
use tokio::sync::OnceCell;

use super::UiError;
use crate::config::FrameAncestors;
use crate::error::ApiError;

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
    /// What every UI response carries (layered on by [`crate::api::router`]).
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
    fixed: Vec<(HeaderName, HeaderValue)>,
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

/// Middleware: the security headers on every UI response, and `Cache-Control:
/// no-store` on every one that does not say otherwise (all but the static
/// assets), so no page — the signing secret included — stays in a cache.
pub async fn headers(req: Request, next: Next) -> Response {
    let policy = req
        .extensions()
        .get::<Arc<UiHeaders>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(UiHeaders::new(None)));
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    for (name, value) in &policy.fixed {
        h.insert(name, value.clone());
    }
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Middleware: refuses a form post sent from another site (login CSRF, and a
/// second line behind the CSRF tokens of the other forms).
pub async fn same_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match cross_site(req.headers()) {
        None => next.run(req).await,
        Some(from) => {
            let host = req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            tracing::warn!(
                origin = %from,
                host,
                path = req.uri().path(),
                "refused a UI form post from another origin"
            );
            UiError(ApiError::Forbidden {
                code: "cross_site",
                message: format!(
                    "this form was sent from another site ({from}), not from this server \
                     ({host}); open the page at this server's own address and try again \
                     (behind a proxy, pass the Host header through or set X-Forwarded-Host)"
                ),
            })
            .into_response()
        }
    }
}

/// The origin a post came from if it is not this server's own: its `Origin`,
/// else its `Referer`, compared with the `Host` (or `X-Forwarded-Host`) it was
/// sent to. `None` when it is same-origin — or carries neither header: every
/// browser sends `Origin` with a cross-site POST, so a request without both is
/// not a browser's form from another site (curl, scripts).
///
/// `X-Forwarded-Host` is taken unchecked: a page on another site cannot make a
/// browser send it (not a header a form or a no-CORS request may set), and a
/// client that can set it could set `Origin` as well.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    let claimed = match headers.get(ORIGIN) {
        Some(origin) => origin.to_str().unwrap_or("(unreadable)").to_string(),
        None => match headers.get(REFERER) {
            Some(referer) => referer.to_str().unwrap_or("(unreadable)").to_string(),
            None => return None,
        },
    };
    // A Host without a port names the default port of the scheme the browser used.
    let Some((host, port, default_port)) = url::Url::parse(&claimed)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| {
            let default = if u.scheme() == "https" { 443 } else { 80 };
            Some((
                u.host_str()?.to_string(),
                u.port().unwrap_or(default),
                default,
            ))
        })
    else {
        // `null` (a sandboxed frame, a file, a privacy redirect) or garbage.
        return Some(origin_of(&claimed));
    };
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(',').next());
    let sent_to = [headers.get(HOST).and_then(|h| h.to_str().ok()), forwarded];
    let same = sent_to.into_iter().flatten().any(|authority| {
        authority.trim().parse::<Authority>().is_ok_and(|a| {
            a.host().eq_ignore_ascii_case(&host) && a.port_u16().unwrap_or(default_port) == port
        })
    });
    (!same).then(|| origin_of(&claimed))
}

/// The origin part of a URL for messages (a referer's path may hold anything).
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.has_host() => u.origin().ascii_serialization(),
        _ => url.chars().take(100).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: &str, pairs: &[(&str, &str)]) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_str(host).unwrap());
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        cross_site(&h)
    }

    #[test]
    fn same_origin_posts_pass_and_others_are_named() {
        let evil = Some("http://evil.example".to_string());
        for (host, headers, expect) in [
            ("127.0.0.1:8080", vec![], None),
            (
                "127.0.0.1:8080",
                vec![("origin", "http://127.0.0.1:8080")],
                None,
            ),
            (
                "Hooks.Example.com",
                vec![("origin", "https://hooks.example.com")],
                None,
            ),
            (
                "hooks.example.com:443",
                vec![("origin", "https://hooks.example.com")],
                None,
            ),
            (
                "[::1]:8080",
                vec![("referer", "http://[::1]:8080/login?x=1")],
                None,
            ),
            (
                "10.0.0.5:8080",
                vec![
                    ("origin", "https://hooks.example.com"),
                    ("x-forwarded-host", "hooks.example.com"),
                ],
                None,
            ),
            (
                "127.0.0.1:8080",
                vec![("origin", "http://evil.example")],
                evil.clone(),
            ),
            (
                "127.0.0.1:8080",
                vec![("referer", "http://evil.example/secret/path")],
                evil.clone(),
            ),
            (
                "127.0.0.1:8080",
                vec![
                    ("origin", "http://evil.example"),
                    ("referer", "http://127.0.0.1:8080/login"),
                ],
                evil.clone(),
            ),
            (
                "127.0.0.1:8080",
                vec![("origin", "http://127.0.0.1:9090")],
                Some("http://127.0.0.1:9090".into()),
            ),
            (
                "hooks.example.com",
                vec![("origin", "http://hooks.example.com:8443")],
                Some("http://hooks.example.com:8443".into()),
            ),
            (
                "127.0.0.1:8080",
                vec![("origin", "null")],
                Some("null".into()),
            ),
        ] {
            assert_eq!(check(host, &headers), expect, "{host} {headers:?}");
        }
    }

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
