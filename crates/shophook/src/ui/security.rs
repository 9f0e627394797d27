//! What protects the web UI beyond its sessions: the same-origin check on every
//! form post (login CSRF) and the headers of every UI response (no sniffing, no
//! caching, no framing except by the origins of `--ui-frame-ancestors`), from the
//! settings in [`crate::security`].

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, HOST, ORIGIN, REFERER};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::UiError;
use crate::error::ApiError;

use crate::security::UiHeaders;

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
    use axum::http::HeaderName;

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
}
