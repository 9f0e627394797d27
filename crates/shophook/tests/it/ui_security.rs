//! The web UI against hostile tenants and hostile sites, over HTTP without a
//! browser: signing out ends a session on the server (a saved cookie opens
//! nothing), portal sessions end by signing out or through the API, on every
//! node of a PostgreSQL database; a sign-in posted from another site is refused;
//! every UI response carries nosniff, no-store and the framing policy; cookies
//! are `Secure` with `--ui-secure-cookies`; and with `--encryption-key` nothing
//! in the database signs a cookie or a portal link.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::support::*;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
}

/// The `Set-Cookie` of a response, whole.
fn set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// `name=value` of a `Set-Cookie`, to send back.
fn cookie_of(set: &str) -> String {
    set.split(';').next().unwrap().to_string()
}

/// Signs in at `base` with `key` (and the browser's current cookie, if any);
/// returns the whole `Set-Cookie`.
async fn sign_in_at(base: &str, key: &str, cookie: Option<&str>) -> String {
    let mut req = no_redirects()
        .post(format!("{base}/login"))
        .header("origin", base)
        .form(&[("key", key)]);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed in");
    set_cookie(&r)
}

async fn sign_in(app: &TestApp, key: &str) -> String {
    cookie_of(&sign_in_at(&app.url(""), key, None).await)
}

/// Opens a portal link of `account`; returns the whole `Set-Cookie`.
async fn open_portal(base: &str, link: &Value) -> String {
    let r = no_redirects()
        .get(format!("{base}{}", link["path"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the portal link signs in"
    );
    set_cookie(&r)
}

async fn portal_cookie(app: &TestApp, account: &str) -> String {
    let (s, link) = app
        .admin(
            Method::POST,
            &format!("/v1/accounts/{account}/portal-link"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    cookie_of(&open_portal(&app.url(""), &link).await)
}

/// GETs `path` with `cookie`: the status, where it redirects, the body.
async fn get_at(base: &str, path: &str, cookie: &str) -> (StatusCode, Option<String>, String) {
    let r = no_redirects()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status(), location(&r), r.text().await.unwrap())
}

/// Whether `cookie` still opens `path`.
async fn opens(base: &str, path: &str, cookie: &str) -> bool {
    match get_at(base, path, cookie).await {
        (StatusCode::OK, _, _) => true,
        (StatusCode::SEE_OTHER, Some(l), _) if l == "/login" => false,
        other => panic!("{path}: neither the page nor the sign-in: {other:?}"),
    }
}

/// The CSRF token of the forms on `path`.
async fn csrf_at(base: &str, path: &str, cookie: &str) -> String {
    let (s, _, page) = get_at(base, path, cookie).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a form with a CSRF token")
        .to_string()
}

/// POSTs `/logout` at `base` with the page's token.
async fn sign_out_at(base: &str, cookie: &str, page: &str) -> reqwest::Response {
    let token = csrf_at(base, page, cookie).await;
    no_redirects()
        .post(format!("{base}/logout"))
        .header("cookie", cookie)
        .header("origin", base)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let base = app.url("");
    let hook = app
        .webhook(
            "acme",
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
        )
        .await;
    let id = hook["id"].as_str().unwrap();

    let saved = sign_in(&app, &key).await;
    assert!(opens(&base, "/a/acme/webhooks", &saved).await);
    let token = csrf_at(&base, "/a/acme/webhooks", &saved).await;
    let r = sign_out_at(&base, &saved, "/a/acme/webhooks").await;
    assert_eq!(
        (r.status(), location(&r).as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    assert!(
        set_cookie(&r).contains("Max-Age=0"),
        "the browser forgets it"
    );
    // The saved cookie (and its form token) open nothing any more.
    assert!(!opens(&base, "/a/acme/webhooks", &saved).await);
    let r = no_redirects()
        .post(app.url(&format!("/a/acme/webhooks/{id}/pause")))
        .header("cookie", &saved)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r).as_deref(), Some("/login"));
    let (_, w) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(w["status"], "active", "nothing changed");

    // The operator's sessions too.
    let operator = sign_in(&app, ADMIN_KEY).await;
    assert!(opens(&base, "/accounts", &operator).await);
    sign_out_at(&base, &operator, "/accounts").await;
    assert!(!opens(&base, "/accounts", &operator).await);

    // Signing in anew from a signed-in browser ends the session it replaces.
    let first = sign_in(&app, &key).await;
    let second = cookie_of(&sign_in_at(&base, &key, Some(&first)).await);
    assert!(!opens(&base, "/a/acme/webhooks", &first).await);
    assert!(opens(&base, "/a/acme/webhooks", &second).await);
    app.stop().await;
}

#[tokio::test]
async fn portal_sessions_end_by_signing_out_and_through_the_api() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    app.account("globex").await;
    let base = app.url("");
    let page = "/a/acme/webhooks";
    let keyed = sign_in(&app, &key).await;
    let [p1, p2, p3] = [
        portal_cookie(&app, "acme").await,
        portal_cookie(&app, "acme").await,
        portal_cookie(&app, "acme").await,
    ];
    let other = portal_cookie(&app, "globex").await;
    for c in [&p1, &p2, &p3] {
        assert!(opens(&base, page, c).await);
    }

    sign_out_at(&base, &p1, page).await;
    assert!(!opens(&base, page, &p1).await, "signed out");
    assert!(
        opens(&base, page, &p2).await,
        "the other portal sessions stay"
    );

    // The operator ends the rest; an account key may not.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/v1/accounts/acme/portal-sessions",
            &key,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let ended = app
        .admin(Method::DELETE, "/v1/accounts/acme/portal-sessions", None)
        .await;
    assert_eq!(ended, (StatusCode::OK, json!({"ended": 2})));
    assert!(!opens(&base, page, &p2).await);
    assert!(!opens(&base, page, &p3).await);
    assert!(
        opens(&base, page, &keyed).await,
        "a session signed in with the key stays"
    );
    assert!(
        opens(&base, "/a/globex/webhooks", &other).await,
        "other accounts' portal sessions stay"
    );
    let again = app
        .admin(Method::DELETE, "/v1/accounts/acme/portal-sessions", None)
        .await;
    assert_eq!(again, (StatusCode::OK, json!({"ended": 0})));
    let missing = app
        .admin(Method::DELETE, "/v1/accounts/nobody/portal-sessions", None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let base = app.url("");
    let login = |headers: Vec<(&'static str, String)>| {
        let mut req = no_redirects()
            .post(app.url("/login"))
            .form(&[("key", key.as_str())]);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    for (headers, from) in [
        (
            vec![("origin", "http://evil.example".to_string())],
            "http://evil.example",
        ),
        (
            vec![("referer", "http://evil.example/page?key=1".to_string())],
            "http://evil.example",
        ),
        (
            vec![
                ("origin", "http://evil.example".to_string()),
                ("referer", format!("{base}/login")),
            ],
            "http://evil.example",
        ),
        (vec![("origin", "null".to_string())], "null"),
        (
            vec![("origin", base.replace("127.0.0.1", "localhost"))],
            "http://localhost",
        ),
    ] {
        let r = login(headers.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(set_cookie(&r).is_empty(), "no session: {headers:?}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("sent from another site") && page.contains(from),
            "the page says what happened: {page}"
        );
    }
    // This server's own origin (or referer), or no such header at all (curl,
    // scripts): signed in. Behind a proxy, X-Forwarded-Host names the host.
    for headers in [
        vec![("origin", base.clone())],
        vec![("referer", format!("{base}/login"))],
        vec![],
        vec![
            ("origin", "https://hooks.example.com".to_string()),
            ("x-forwarded-host", "hooks.example.com".to_string()),
        ],
    ] {
        let r = login(headers.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{headers:?}");
        assert!(set_cookie(&r).starts_with("shophook_session="));
    }

    // The other forms too, even with the session's own token.
    let hook = app
        .webhook(
            "acme",
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
        )
        .await;
    let id = hook["id"].as_str().unwrap();
    let cookie = sign_in(&app, &key).await;
    let token = csrf_at(&base, "/a/acme/webhooks", &cookie).await;
    for path in [
        format!("/a/acme/webhooks/{id}/pause"),
        "/logout".to_string(),
    ] {
        let r = no_redirects()
            .post(app.url(&path))
            .header("cookie", &cookie)
            .header("origin", "http://evil.example")
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (_, w) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(w["status"], "active");
    assert!(
        opens(&base, "/a/acme/webhooks", &cookie).await,
        "still signed in"
    );
    // Reading is not refused: a link from another site still opens the sign-in page.
    let r = no_redirects()
        .get(app.url("/login"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

/// The headers every UI response must carry, whatever the framing policy.
fn assert_ui_headers(r: &reqwest::Response, what: &str, frame_ancestors: &str) {
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(
        h["content-security-policy"],
        format!("frame-ancestors {frame_ancestors}").as_str(),
        "{what}"
    );
    if frame_ancestors == "'none'" {
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
    } else {
        assert!(
            h.get("x-frame-options").is_none(),
            "{what}: X-Frame-Options would forbid the allowed origins"
        );
    }
}

#[tokio::test]
async fn ui_responses_carry_nosniff_no_store_and_the_framing_policy() {
    for (flags, policy) in [
        (vec![], "'none'"),
        (
            vec![
                "--ui-frame-ancestors",
                "https://admin.example.com, https://*.crm.example.com",
            ],
            "https://admin.example.com https://*.crm.example.com",
        ),
    ] {
        let mut args = vec!["--allow-private-targets"];
        args.extend(flags);
        let app = TestApp::spawn_with(&args).await;
        let key = app.account("acme").await;
        let hook = app
            .webhook(
                "acme",
                json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
            )
            .await;
        let id = hook["id"].as_str().unwrap();
        let cookie = sign_in(&app, &key).await;
        let client = no_redirects();
        for path in [
            "/login".to_string(),
            "/".to_string(),
            "/a/acme/webhooks".to_string(),
            format!("/a/acme/webhooks/{id}"),
            format!("/a/acme/webhooks/{id}/secret"),
            "/a/acme/deliveries".to_string(),
            "/a/other/webhooks".to_string(),
        ] {
            let r = client
                .get(app.url(&path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
            assert_ui_headers(&r, &path, policy);
            assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        }
        let secret = client
            .get(app.url(&format!("/a/acme/webhooks/{id}/secret")))
            .header("cookie", &cookie)
            .header("hx-request", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(secret.headers()["cache-control"], "no-store");
        assert!(
            secret
                .text()
                .await
                .unwrap()
                .contains(hook["secret"].as_str().unwrap())
        );
        // The sign-in answer, refused or not, and a refused cross-site post.
        for (key, origin) in [
            ("nope", app.url("")),
            (key.as_str(), app.url("")),
            (key.as_str(), "http://evil.example".to_string()),
        ] {
            let r = client
                .post(app.url("/login"))
                .header("origin", origin)
                .form(&[("key", key)])
                .send()
                .await
                .unwrap();
            assert_ui_headers(&r, "POST /login", policy);
            assert_eq!(r.headers()["cache-control"], "no-store");
        }
        // Static assets may be cached, and are not sniffed either.
        let r = client
            .get(app.url("/assets/htmx.min.js"))
            .send()
            .await
            .unwrap();
        assert_ui_headers(&r, "htmx", policy);
        assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn cookies_are_http_only_same_site_and_secure_with_the_flag() {
    for secure in [false, true] {
        let flags: &[&str] = if secure {
            &["--allow-private-targets", "--ui-secure-cookies"]
        } else {
            &["--allow-private-targets"]
        };
        let app = TestApp::spawn_with(flags).await;
        let key = app.account("acme").await;
        let base = app.url("");
        let signed_in = sign_in_at(&base, &key, None).await;
        let (s, link) = app
            .admin(Method::POST, "/v1/accounts/acme/portal-link", None)
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let portal = open_portal(&base, &link).await;
        let signed_out =
            set_cookie(&sign_out_at(&base, &cookie_of(&signed_in), "/a/acme/webhooks").await);
        for (what, set) in [
            ("sign-in", &signed_in),
            ("portal", &portal),
            ("sign-out", &signed_out),
        ] {
            let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
            assert!(
                attrs.contains(&"HttpOnly") && attrs.contains(&"SameSite=Strict"),
                "{what}: {set}"
            );
            assert_eq!(attrs.contains(&"Secure"), secure, "{what}: {set}");
        }
        app.stop().await;
    }
}

/// Every `(key, value)` of the settings table of the SQLite file in `dir`.
fn settings_in(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(dir.path().join("shophook.db")).unwrap();
    let mut stmt = db.prepare("SELECT key, value FROM settings").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The database file and its write-ahead log, byte for byte.
fn raw_database(dir: &tempfile::TempDir) -> Vec<u8> {
    let mut raw = std::fs::read(dir.path().join("shophook.db")).unwrap();
    raw.extend(std::fs::read(dir.path().join("shophook.db-wal")).unwrap_or_default());
    raw
}

/// `cookie` (`shophook_session=payload.sig`) re-signed with `secret`: the same
/// session, id and all, as whoever holds `secret` could write it.
fn resigned(cookie: &str, secret: &[u8]) -> String {
    let value = cookie.strip_prefix("shophook_session=").unwrap();
    let payload = value.split('.').next().unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("shophook_session={payload}.{sig}")
}

#[tokio::test]
async fn with_an_encryption_key_nothing_in_the_database_signs_a_session() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let base_flags = ["--allow-private-targets"];

    // A run without the key keeps its signing secret in the settings: whoever
    // reads a copy of the database can sign a portal link with it.
    let app = TestApp::spawn_in(dir.clone(), &base_flags).await;
    let key = app.account("acme").await;
    let old_cookie = sign_in(&app, &key).await;
    let stored = settings_in(&dir)
        .into_iter()
        .find(|(k, _)| k == "ui_session_secret")
        .expect("a secret in the settings")
        .1;
    let forged =
        shophook::service::portal::portal_token(stored.as_bytes(), "acme", jiff::Timestamp::now());
    let r = no_redirects()
        .get(app.url(&format!("/portal/{forged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the threat is real without the key"
    );
    app.stop().await;

    // The same database with --encryption-key.
    let app = TestApp::spawn_in(
        dir.clone(),
        &["--allow-private-targets", "--encryption-key", KEY],
    )
    .await;
    let base = app.url("");
    assert!(
        !opens(&base, "/a/acme/webhooks", &old_cookie).await,
        "cookies signed with the stored secret end"
    );
    let operator = sign_in(&app, ADMIN_KEY).await;
    let merchant = sign_in(&app, &key).await;
    assert!(opens(&base, "/accounts", &operator).await);
    // Each value in the settings (the old secret, the operator key's hash, used
    // portal nonces…) tried as the signing key: of portal links, and of the live
    // sessions' own cookies re-signed (as if their ids had leaked too).
    let settings = settings_in(&dir);
    assert!(settings.iter().any(|(k, _)| k == "ui_session_secret"));
    for (name, value) in &settings {
        let now = jiff::Timestamp::now();
        for account in ["acme", "nobody"] {
            let token = shophook::service::portal::portal_token(value.as_bytes(), account, now);
            let r = no_redirects()
                .get(app.url(&format!("/portal/{token}")))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "portal link signed with {name}"
            );
            assert!(set_cookie(&r).is_empty());
        }
        for (cookie, page) in [(&operator, "/accounts"), (&merchant, "/a/acme/webhooks")] {
            assert!(
                !opens(&base, page, &resigned(cookie, value.as_bytes())).await,
                "{page} with a cookie signed with {name}"
            );
        }
    }
    assert!(
        opens(&base, "/a/acme/webhooks", &merchant).await,
        "the real one works"
    );
    let (s, link) = app
        .admin(Method::POST, "/v1/accounts/acme/portal-link", None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    open_portal(&base, &link).await;
    app.stop().await;

    // The secret in use is derived from the key and never written anywhere.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&STANDARD.decode(KEY).unwrap()).unwrap();
    mac.update(b"shophook ui session v1");
    let derived = mac.finalize().into_bytes().to_vec();
    let raw = raw_database(&dir);
    let hex: String = derived.iter().map(|b| format!("{b:02x}")).collect();
    for form in [
        derived.clone(),
        hex.into_bytes(),
        STANDARD.encode(&derived).into_bytes(),
        URL_SAFE_NO_PAD.encode(&derived).into_bytes(),
    ] {
        assert!(
            !raw.windows(form.len()).any(|w| w == form.as_slice()),
            "the derived secret is not in the database"
        );
    }
    // And a database that only ever ran with the key has no secret at all.
    let fresh = Arc::new(tempfile::tempdir().unwrap());
    let app = TestApp::spawn_in(fresh.clone(), &["--encryption-key", KEY]).await;
    let key = app.account("acme").await;
    sign_in(&app, &key).await;
    app.stop().await;
    assert!(
        settings_in(&fresh)
            .iter()
            .all(|(k, _)| k != "ui_session_secret"),
        "{:?}",
        settings_in(&fresh)
    );
}

#[tokio::test]
async fn signing_out_on_one_node_ends_the_session_on_the_others() {
    let Some(db) = TestDatabase::create("UI sessions across PostgreSQL nodes").await else {
        return;
    };
    let _one_at_a_time = POSTGRES_TESTS.lock().await;
    let flags = ["--encryption-key", KEY];
    let (a, b) = (
        ServerProcess::start_on(&db.url, &flags),
        ServerProcess::start_on(&db.url, &flags),
    );
    let (base_a, base_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let (s, _) = a
        .client()
        .call(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, key) = a
        .client()
        .call(Method::POST, "/v1/accounts/acme/keys", None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let page = "/a/acme/webhooks";

    let cookie = cookie_of(&sign_in_at(&base_a, key["key"].as_str().unwrap(), None).await);
    assert!(
        opens(&base_b, page, &cookie).await,
        "a session opened on A works on B"
    );
    let r = sign_out_at(&base_a, &cookie, page).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !opens(&base_b, page, &cookie).await,
        "signed out on A: gone on B"
    );
    assert!(!opens(&base_a, page, &cookie).await);

    let (s, link) = b
        .client()
        .call(Method::POST, "/v1/accounts/acme/portal-link", None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let portal = cookie_of(&open_portal(&base_a, &link).await);
    assert!(opens(&base_b, page, &portal).await);
    let ended = b
        .client()
        .call(Method::DELETE, "/v1/accounts/acme/portal-sessions", None)
        .await;
    assert_eq!(ended, (StatusCode::OK, json!({"ended": 1})));
    assert!(
        !opens(&base_a, page, &portal).await,
        "ended on B: gone on A"
    );
}
