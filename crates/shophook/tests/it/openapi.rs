//! The API describes itself: `/openapi.json` is served without a key, is OpenAPI
//! 3.1 and matches what the server answers; `/docs` renders it as a page.
//! (That every route is documented is a unit test in `api/mod.rs`, over the router.)

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn openapi_document_is_served_and_describes_real_answers() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let webhook = &doc["components"]["schemas"]["Webhook"];
    let own = webhook["allOf"][1]["properties"]
        .as_object()
        .expect("Webhook properties");

    // A real answer has every property the schema names as required, and no
    // property the schema (with the flattened WebhookConfig) does not know.
    app.account("acme").await;
    let hook = app
        .webhook(
            "acme",
            json!({"url": "http://127.0.0.1:9/x", "events": ["order.paid"]}),
        )
        .await;
    let config = doc["components"]["schemas"]["WebhookConfig"]["properties"]
        .as_object()
        .expect("WebhookConfig properties");
    for key in hook.as_object().unwrap().keys() {
        assert!(
            own.contains_key(key) || config.contains_key(key),
            "`{key}` is answered but not documented"
        );
    }
    for required in webhook["allOf"][1]["required"].as_array().unwrap() {
        assert!(hook.get(required.as_str().unwrap()).is_some(), "{required}");
    }

    // An error answer has the documented error shape.
    let (status, err) = app
        .admin(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            Some(json!({"url": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error_props = doc["components"]["schemas"]["ErrorDetail"]["properties"]
        .as_object()
        .unwrap();
    for key in err["error"].as_object().unwrap().keys() {
        assert!(error_props.contains_key(key), "{key}");
    }
    assert!(
        doc["paths"]["/v1/accounts/{account}/webhooks"]["post"]["responses"]["422"].is_object()
    );

    // An account patch is a merge patch: a nested `null` is documented as allowed
    // (it returns the field to its default), as the server takes it.
    let limits = &doc["components"]["schemas"]["LimitsPatch"]["properties"];
    for field in ["max_webhooks", "max_in_flight"] {
        assert!(
            limits[field]["type"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("null"))),
            "LimitsPatch.{field}: {}",
            limits[field]
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn docs_page_lists_every_operation_without_external_assets() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let anchor: String = path
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .trim_matches('-')
                .to_string();
            assert!(
                html.contains(&format!("id=\"{method}-{anchor}\"")),
                "{method} {path} is not on the page"
            );
            operations += 1;
        }
    }
    assert!(operations > 30, "{operations}");
    assert!(html.contains("id=\"schema-Webhook\""));
    for external in ["http://", "https://", "//cdn", "<script"] {
        assert!(
            !html.contains(&format!("src=\"{external}"))
                && !html.contains(&format!("href=\"{external}")),
            "the page loads nothing from elsewhere ({external})"
        );
    }
    assert!(!html.contains("<script"), "the page needs no JavaScript");
    app.stop().await;
}

/// Whether `openapi-python-client` is installed; prints why not and returns false
/// (a failure instead with SHOPHOOK_REQUIRE_PYTHON=1, as `.ci/run` sets).
fn python_client_generator() -> bool {
    let ok = std::process::Command::new("openapi-python-client")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SHOPHOOK_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SHOPHOOK_REQUIRE_PYTHON=1 but openapi-python-client is missing (pip install openapi-python-client)"
        );
        crate::skipped!("the generated-client check (pip install openapi-python-client to run it)");
    }
    ok
}

/// A client generated from the served document by `openapi-python-client` works:
/// it generates without a warning, and its typed calls create an account, a
/// webhook and an event and list the delivery made.
#[tokio::test]
async fn a_generated_python_client_calls_the_api() {
    if !python_client_generator() {
        return;
    }
    let app = TestApp::spawn().await;
    let rx = crate::support::TestReceiver::start().await;
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openapi.json"), doc).unwrap();
    let generated = tokio::process::Command::new("openapi-python-client")
        .args(["generate", "--path", "openapi.json", "--meta", "none"])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "{out}");
    assert!(
        !out.to_lowercase().contains("warning"),
        "the generator warned about the document: {out}"
    );
    let script = r#"
import json, sys
from shophook_api_client import AuthenticatedClient
from shophook_api_client.api.accounts import create_account
from shophook_api_client.api.webhooks import create_webhook
from shophook_api_client.api.events import create_event
from shophook_api_client.api.deliveries import list_deliveries
from shophook_api_client.models import Account, WebhookInput, EventInput, Webhook, PageDelivery

base, key, receiver = sys.argv[1:4]
client = AuthenticatedClient(base_url=base, token=key)
account = create_account.sync(client=client, body=Account.from_dict({"id": "generated", "name": "Generated Shop"}))
assert isinstance(account, Account), account
hook = create_webhook.sync("generated", client=client, body=WebhookInput.from_dict({"url": receiver, "events": ["order.created"]}))
assert isinstance(hook, Webhook), hook
create_event.sync("generated", client=client, body=EventInput.from_dict({"type": "order.created", "data": {"order": {"id": "1001"}}}))
page = list_deliveries.sync("generated", client=client)
assert isinstance(page, PageDelivery), page
print(json.dumps({"account": account.id, "webhook": hook.id, "deliveries": [d.webhook_id for d in page.data]}))
"#;
    let run = tokio::process::Command::new("python3")
        .args([
            "-c",
            script,
            &app.url(""),
            crate::support::ADMIN_KEY,
            &rx.url("/in"),
        ])
        .env("PYTHONPATH", dir.path())
        .output()
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let answer: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(answer["account"], "generated");
    assert_eq!(answer["deliveries"], json!([answer["webhook"]]));
    rx.wait_for(1).await;
    app.stop().await;
}
