//! The web UI. A real headless Chromium (driven through chromedriver) clicks
//! through sign-in, adding a webhook (with a validation error on the way), a test
//! send, history and details, pause/resume, deletion with confirmation, sign-out
//! and a one-time portal link, at desktop and 360 px width. Without chromedriver
//! the browser test skips with a printed reason (SHOPHOOK_REQUIRE_BROWSER=1 makes
//! it required). CSRF and session revocation are checked without a browser.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use thirtyfour::prelude::*;

use crate::support::{ADMIN_KEY, TestApp, TestReceiver, WAIT};

struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<Driver> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("SHOPHOOK_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "SHOPHOOK_REQUIRE_BROWSER=1 but chromedriver is missing (apt-get install chromium chromium-driver)"
            );
        }
        crate::skipped!("browser tests (apt-get install chromium chromium-driver to run them)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let deadline = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    })
}

async fn browser(d: &Driver) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_arg(&format!("--user-data-dir={}", d._profile.path().display()))
        .unwrap();
    WebDriver::new(&format!("http://127.0.0.1:{}", d.port), caps)
        .await
        .expect("a Chromium session")
}

async fn wait_for(driver: &WebDriver, css: &str) -> WebElement {
    driver
        .query(By::Css(css))
        .wait(WAIT, Duration::from_millis(50))
        .first()
        .await
        .unwrap_or_else(|_| panic!("no `{css}` on the page"))
}

async fn wait_text(driver: &WebDriver, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(e) = driver.find(By::Css(css)).await
            && e.text().await.unwrap_or_default().contains(text)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "`{css}` never said `{text}`"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn no_horizontal_scroll(driver: &WebDriver) -> bool {
    driver
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_bool()
        .unwrap()
}

/// What sticks out past the right edge of the window (for a failure message).
async fn wide_elements(driver: &WebDriver) -> String {
    driver
        .execute(
            "return window.innerWidth + ' ' + [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 8).join(' ');",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Screenshots the current screen at 1280 and 390 px (`docs/ui/<name>-<width>.png`
/// with SHOPHOOK_UI_SCREENSHOTS=1, which is how the committed ones are made;
/// otherwise under the target directory) and checks that at 390 px it does not
/// scroll sideways.
async fn screen(driver: &WebDriver, name: &str) {
    let dir = if std::env::var("SHOPHOOK_UI_SCREENSHOTS").as_deref() == Ok("1") {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ui"))
    } else {
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui")
    };
    std::fs::create_dir_all(&dir).unwrap();
    for (width, height) in [(1280, 900), (390, 844)] {
        driver.set_window_rect(0, 0, width, height).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await; // a relayout
        if width == 390 {
            assert!(
                no_horizontal_scroll(driver).await,
                "{name} scrolls sideways at 390 px: {}",
                wide_elements(driver).await
            );
        }
        driver
            .screenshot(&dir.join(format!("{name}-{width}.png")))
            .await
            .unwrap();
    }
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
}

#[tokio::test]
async fn a_merchant_clicks_through_the_ui_in_chromium() {
    let Some(d) = chromedriver() else { return };
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start().await;
    let key = app.account("acme").await;
    let driver = browser(&d).await;
    let base = app.url("");

    // sign in with the account key
    driver.goto(&format!("{base}/login")).await.unwrap();
    wait_for(&driver, "#key").await;
    screen(&driver, "login").await;
    driver
        .find(By::Id("key"))
        .await
        .unwrap()
        .send_keys(&key)
        .await
        .unwrap();
    driver
        .find(By::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "main", "No webhooks yet").await;

    // add a webhook: first with a bad URL, the error shows next to the field
    wait_for(&driver, "a.button[href$='/webhooks/new']")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&driver, "#url")
        .await
        .send_keys("not a url")
        .await
        .unwrap();
    driver
        .find(By::Id("name"))
        .await
        .unwrap()
        .send_keys("Warehouse")
        .await
        .unwrap();
    driver
        .find(By::Css("input[name=events][value='order.paid']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let fields = driver
        .find_all(By::Css("input[name=cond_field]"))
        .await
        .unwrap();
    fields[0].send_keys("order.total").await.unwrap();
    let ops = driver
        .find_all(By::Css("select[name=cond_op]"))
        .await
        .unwrap();
    // operators read as words, event types carry what they mean
    assert_eq!(
        ops[0]
            .find(By::Css("option[value=gte]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "is at least"
    );
    let mut described = false;
    for label in driver
        .find_all(By::Css(".group label.check"))
        .await
        .unwrap()
    {
        let text = label.text().await.unwrap();
        described |= text.contains("order.created") && text.contains("A new order is stored");
    }
    assert!(described, "order.created is shown with what it means");
    ops[0]
        .find(By::Css("option[value=gt]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find_all(By::Css("input[name=cond_value]"))
        .await
        .unwrap()[0]
        .send_keys("100")
        .await
        .unwrap();
    driver
        .find(By::Css("#webhook-form > button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "#url-error", "not an absolute URL").await;
    screen(&driver, "webhook-form").await;
    // the form kept what was typed
    assert_eq!(
        driver
            .find(By::Id("name"))
            .await
            .unwrap()
            .value()
            .await
            .unwrap()
            .as_deref(),
        Some("Warehouse")
    );
    let url = driver.find(By::Id("url")).await.unwrap();
    url.clear().await.unwrap();
    url.send_keys(rx.url("/in?order={id_order}")).await.unwrap();
    driver
        .find(By::Css("#webhook-form > button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "table", "Warehouse").await;
    wait_text(&driver, ".badge", "active").await;

    // send a test: the result appears inline (htmx)
    wait_for(&driver, "button[aria-label='Send test to Warehouse']")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&driver, ".test-result", "succeeded").await;
    screen(&driver, "webhooks").await;
    assert_eq!(rx.received().len(), 1);

    // an order reaches the receiver; history shows it, details show the request
    let (s, _) = app
        .admin(
            Method::PUT,
            "/v1/accounts/acme/orders/1001",
            Some(json!({"paid": true, "total": "150.00"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    rx.wait_for(2).await;
    driver
        .find(By::LinkText("History"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "input[name=order]")
        .await
        .send_keys("1001")
        .await
        .unwrap();
    driver
        .find(By::Css("form.filters button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "table", "order.paid").await;
    screen(&driver, "history").await;
    driver
        .find(By::Css("table tbody tr td a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "main", "HTTP 200").await;
    wait_text(&driver, "pre.body", "\"order.paid\"").await;
    screen(&driver, "delivery").await;
    driver
        .find(By::Css("form[action$='/retry'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    rx.wait_for(3).await;

    // pause and resume from the list
    driver
        .find(By::LinkText("Webhooks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "button[aria-label='Pause Warehouse']")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&driver, ".badge", "paused").await;
    wait_for(&driver, "button[aria-label='Resume Warehouse']")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&driver, ".badge", "active").await;

    // the webhook's page: its attempts over a day and a week, its recent deliveries
    driver
        .find(By::LinkText("Warehouse"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(
        &driver,
        "#chart-day",
        "Last 24 hours, by hour: 3 of 3 attempts succeeded (100 %)",
    )
    .await;
    wait_text(&driver, "#chart-week", "3 of 3 attempts succeeded").await;
    wait_text(&driver, "ul.cards", "order.paid").await;
    screen(&driver, "webhook").await;
    assert_eq!(
        driver.find_all(By::Css("svg.chart g")).await.unwrap().len(),
        24 + 7,
        "a bar per hour and per day"
    );

    // a delivery schedule: Mon–Fri 08:00–16:00 in one window, ticked and saved
    driver
        .find(By::LinkText("Edit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "input[name=sched_on]")
        .await
        .click()
        .await
        .unwrap();
    let tz = driver.find(By::Id("sched_tz")).await.unwrap();
    tz.clear().await.unwrap();
    tz.send_keys("Europe/Warsaw").await.unwrap();
    for day in ["mon", "tue", "wed", "thu", "fri"] {
        driver
            .find(By::Css(format!(
                "#windows .window:first-child input[type=checkbox][value={day}]"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    for (field, at) in [("from", "08:00"), ("to", "16:00")] {
        let input = driver
            .find(By::Css(format!(
                "#windows .window:first-child input[name$=_{field}]"
            )))
            .await
            .unwrap();
        input.clear().await.unwrap();
        input.send_keys(at).await.unwrap();
    }
    // a template that needs a customer: the preview renders the full sample and
    // warns that an order with only an id would fail it
    driver
        .find(By::Css("#format option[value=template]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Id("template"))
        .await
        .unwrap()
        .send_keys("Paid by {{ order.customer.email }}")
        .await
        .unwrap();
    let content_type = driver.find(By::Id("content_type")).await.unwrap();
    content_type.clear().await.unwrap();
    content_type.send_keys("text/plain").await.unwrap();
    driver
        .find(By::Css(".preview-controls button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "#preview .body", "Paid by jan@example.pl").await;
    wait_text(
        &driver,
        "#preview .warning",
        "`order.customer.email` is undefined",
    )
    .await;
    driver
        .find(By::Css("#webhook-form > button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "table", "Warehouse").await;
    let (_, hooks) = app
        .admin(Method::GET, "/v1/accounts/acme/webhooks", None)
        .await;
    assert_eq!(
        hooks["data"][0]["schedule"],
        json!({"timezone": "Europe/Warsaw", "windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "16:00"}
        ]}),
        "{hooks}"
    );
    assert!(
        hooks["data"][0]["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("order.customer.email")),
        "saved with a warning, not refused: {hooks}"
    );

    // the phone-sized layout has no horizontal scrolling
    driver.set_window_rect(0, 0, 360, 740).await.unwrap();
    let shot = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shophook-ui-360.png");
    driver.screenshot(&shot).await.unwrap();
    let wide: String = driver
        .execute(
            "return window.innerWidth + ' ' + [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 8).join(' ');",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        no_horizontal_scroll(&driver).await,
        "the webhook list scrolls sideways at 360 px: {wide}"
    );
    driver
        .find(By::LinkText("Warehouse"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "#chart-day").await;
    let wide: String = driver
        .execute(
            "return window.innerWidth + ' ' + [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 8).join(' ');",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        no_horizontal_scroll(&driver).await,
        "the webhook's page scrolls sideways at 360 px: {wide}"
    );
    driver.back().await.unwrap();
    wait_for(&driver, "a[aria-label='Delete Warehouse']").await;
    driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

    // delete, with a confirmation page
    wait_for(&driver, "a[aria-label='Delete Warehouse']")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&driver, "h1", "Delete").await;
    driver
        .find(By::Css("button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&driver, "main", "No webhooks yet").await;

    // sign out: the pages need a sign-in again
    driver
        .find(By::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&driver, "#key").await;
    driver
        .goto(&format!("{base}/a/acme/webhooks"))
        .await
        .unwrap();
    wait_for(&driver, "#key").await;

    // a portal link signs straight in, once
    let (s, link) = app
        .admin(Method::POST, "/v1/accounts/acme/portal-link", None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let path = link["path"].as_str().unwrap().to_string();
    driver.goto(&format!("{base}{path}")).await.unwrap();
    wait_text(&driver, "h1", "Webhooks").await;
    driver.goto(&format!("{base}{path}")).await.unwrap();
    wait_text(&driver, "main", "expired or was used already").await;
    driver.quit().await.unwrap();
    app.stop().await;
}

async fn cookie_for(app: &TestApp, key: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(app.url("/login"))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let set = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_revoked_keys_end_sessions() {
    let app = TestApp::spawn().await;
    let (s, key) = {
        app.admin(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
            .await;
        app.admin(Method::POST, "/v1/accounts/acme/keys", None)
            .await
    };
    assert_eq!(s, StatusCode::CREATED);
    let hook = app
        .webhook(
            "acme",
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}),
        )
        .await;
    let id = hook["id"].as_str().unwrap();
    let cookie = cookie_for(&app, key["key"].as_str().unwrap()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pause = app.url(&format!("/a/acme/webhooks/{id}/pause"));
    // no token, a forged token: refused, nothing changes
    for form in [vec![], vec![("csrf", "forged")]] {
        let r = client
            .post(&pause)
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let (_, w) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(w["status"], "active");
    // the page's own token works
    let page = client
        .get(app.url("/a/acme/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = client
        .post(&pause)
        .header("cookie", &cookie)
        .form(&[("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, w) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(w["status"], "paused");
    // another account's pages answer 404 to this session
    app.admin(Method::POST, "/v1/accounts", Some(json!({"id": "other"})))
        .await;
    let r = client
        .get(app.url("/a/other/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // the form's live preview, the secret on demand, rotation and replay
    let preview = client
        .post(app.url("/a/acme/webhooks/preview"))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .form(&[
            ("csrf", token),
            ("url", "http://127.0.0.1:9/p?o={id_order}"),
            ("events", "order.paid"),
            ("format", "template"),
            ("template", "Order {{ order.id }}: {{ order.total|money }}"),
            ("preview_event", "order.paid"),
            ("preview_id", ""),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("Order 1001: 149.00") && preview.contains("/p?o=1001"),
        "{preview}"
    );
    let bad = client
        .post(app.url("/a/acme/webhooks/preview"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token),
            ("url", "http://127.0.0.1:9/"),
            ("events", "order.paid"),
            ("format", "template"),
            ("template", "{{ x | nope }}"),
            ("preview_event", "order.paid"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bad.contains("line 1"), "{bad}");
    let secret = client
        .get(app.url(&format!("/a/acme/webhooks/{id}/secret")))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.contains(hook["secret"].as_str().unwrap()));
    let r = client
        .post(app.url(&format!("/a/acme/webhooks/{id}/rotate")))
        .header("cookie", &cookie)
        .form(&[("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, w) = app
        .admin(
            Method::GET,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            None,
        )
        .await;
    assert_ne!(w["secret"], hook["secret"]);
    assert!(w["previous_secret_expires_at"].is_string());
    let r = client
        .post(app.url(&format!("/a/acme/webhooks/{id}/replay")))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token),
            ("since", "2020-01-01T00:00"),
            ("status", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("deliveries will be sent again")
    );
    // revoking the key ends the session
    let (s, _) = app
        .admin(
            Method::DELETE,
            &format!("/v1/accounts/acme/keys/{}", key["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let r = client
        .get(app.url("/a/acme/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status(),
            r.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
        ),
        (StatusCode::SEE_OTHER, Some("/login".into()))
    );
    // a wrong key does not sign in
    let r = client
        .post(app.url("/login"))
        .form(&[("key", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let _ = ADMIN_KEY;
    app.stop().await;
}

#[tokio::test]
async fn the_webhook_list_shows_the_last_attempt_and_the_days_success_rate() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let receiver = TestReceiver::start().await;
    app.webhook(
        "acme",
        json!({"url": receiver.url("/in"), "events": ["order.created"], "name": "Shop ERP"}),
    )
    .await;
    let cookie = cookie_for(&app, &key).await;
    let row = || async {
        let page = reqwest::Client::new()
            .get(app.url("/a/acme/webhooks"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("Shop ERP").expect("the webhook's row");
        let end = page[start..].find("</tr>").expect("the row ends") + start;
        page[start..end].to_string()
    };
    let cells = |row: &str| {
        // (last delivery, success 24 h): the cells named by their columns
        let cell = |label: &str| {
            let marker = format!("data-label=\"{label}\">");
            row.split_once(&marker)
                .and_then(|(_, rest)| rest.split_once("</td>"))
                .map(|(inner, _)| inner.trim().to_string())
                .unwrap_or_else(|| panic!("no {label} cell in {row}"))
        };
        vec![cell("Last delivery"), cell("Success 24 h")]
    };
    let before = cells(&row().await);
    assert_eq!(before, ["—", "—"], "{before:?}");

    let send = |id: &str| json!({"type": "order.created", "data": {"order": {"id": id}}});
    app.event("acme", send("1")).await;
    let first = app.deliveries("acme", "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_status("acme", &first, "succeeded").await;
    receiver.set_default(500);
    app.event("acme", send("2")).await;
    let second = app.deliveries("acme", "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    app.wait_status("acme", &second, "failed").await;
    let after = cells(&row().await);
    assert_eq!(after, ["failed · HTTP 500", "50 %"], "{after:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_template_that_fails_on_a_real_order_shows_not_sent_and_no_useless_retry() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let receiver = TestReceiver::start().await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": receiver.url("/in"), "events": ["order.paid"], "format": "template",
                   "template": "{\"email\": \"{{ order.customer.email }}\"}", "content_type": "application/json"}),
        )
        .await;
    let id = hook["id"].as_str().unwrap().to_string();
    assert!(
        hook["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("`order.customer.email` is undefined")),
        "the API warns at save time: {hook}"
    );
    // a real order without a customer
    app.event(
        "acme",
        json!({"type": "order.paid", "data": {"order": {"id": "1001", "paid": true}}}),
    )
    .await;
    let delivery = app.deliveries("acme", "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app.wait_status("acme", &delivery, "dead").await;
    let attempt = &d["attempts"][0];
    assert!(
        attempt["error"]
            .as_str()
            .is_some_and(|e| e.contains("`order.customer.email` is undefined")),
        "{attempt}"
    );
    assert_eq!(attempt["request"]["sent"], false, "{attempt}");
    assert!(attempt["request"]["body"].is_null(), "{attempt}");
    assert_eq!(receiver.count(), 0);

    let cookie = cookie_for(&app, &key).await;
    let page = || async {
        reqwest::Client::new()
            .get(app.url(&format!("/a/acme/deliveries/{delivery}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = page().await;
    assert!(before.contains("id=\"not-sent\""), "{before}");
    assert!(
        !before.contains("<pre class=\"body\">"),
        "no body that was never sent"
    );
    assert!(
        !before.contains("/retry\""),
        "a retry cannot succeed before the webhook changes"
    );
    assert!(before.contains("id=\"no-retry\""));

    // the merchant fixes the template: now a retry can change the outcome
    let (s, v) = app
        .admin(
            Method::PATCH,
            &format!("/v1/accounts/acme/webhooks/{id}"),
            Some(json!({"template": "{\"email\": \"{{ order.customer.email | default('') if order.customer is defined else '' }}\"}"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let after = page().await;
    assert!(after.contains("/retry\""), "{after}");
    app.stop().await;
}

#[tokio::test]
async fn an_embedding_platform_brands_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#a30"/></svg>"##;
    std::fs::write(&logo, svg).unwrap();
    let logo = logo.display().to_string();
    let app = TestApp::spawn_with(&[
        "--ui-brand-name",
        "Acme Platform",
        "--ui-brand-color",
        "#AA3300",
        "--ui-brand-logo",
        &logo,
    ])
    .await;
    let get = |path: &str| {
        let url = app.url(path);
        async move {
            let r = reqwest::get(url).await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (r.status(), ct, r.text().await.unwrap())
        }
    };
    let (_, _, login) = get("/login").await;
    assert!(login.contains("· Acme Platform</title>"), "{login}");
    assert!(
        login.contains(r#"<img src="/assets/brand-logo""#),
        "{login}"
    );
    assert!(!login.contains(">shophook<"), "{login}");
    let (_, ct, css) = get("/assets/brand.css").await;
    assert!(ct.starts_with("text/css"));
    assert_eq!(css, ":root { --accent: #aa3300; }\n");
    let (status, ct, body) = get("/assets/brand-logo").await;
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (StatusCode::OK, "image/svg+xml", svg)
    );

    // signed in, every page carries it
    let key = app.account("acme").await;
    let cookie = cookie_for(&app, &key).await;
    let page = reqwest::Client::new()
        .get(app.url("/a/acme/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Acme Platform</a>"), "{page}");
    app.stop().await;

    // without flags: shophook's own, no logo, no colour
    let plain = TestApp::spawn().await;
    let css = reqwest::get(plain.url("/assets/brand.css"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(css, "");
    let logo = reqwest::get(plain.url("/assets/brand-logo")).await.unwrap();
    assert_eq!(logo.status(), StatusCode::NOT_FOUND);
    plain.stop().await;
}
