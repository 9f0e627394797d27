//! Accounts and keys: the operator manages accounts (create, list, read, merge
//! patch, delete) and their keys; account keys reach only their own account and
//! never the operator routes; a revoked key or a deleted account's key stops working.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, TestApp, assert_error};

#[tokio::test]
async fn the_operator_creates_lists_reads_patches_and_deletes_accounts() {
    let app = TestApp::spawn().await;
    let (s, acme) = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "name": "Acme Shop", "timezone": "Europe/Warsaw"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{acme}");
    assert_eq!(acme["id"], "acme");
    assert_eq!(acme["name"], "Acme Shop");
    assert_eq!(acme["timezone"], "Europe/Warsaw");
    // the spec's defaults
    assert_eq!(acme["features"], json!({"webhooks": true}));
    assert_eq!(acme["limits"], json!({"max_webhooks": 50}));
    assert_eq!(acme["abandon_after_minutes"], 60);
    let (s, _) = app
        .admin(Method::POST, "/v1/accounts", Some(json!({"id": "beta"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let dup = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "name": "Another"})),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    // the duplicate changed nothing
    let (_, got) = app.admin(Method::GET, "/v1/accounts/acme", None).await;
    assert_eq!(got, acme);

    let (s, list) = app.admin(Method::GET, "/v1/accounts", None).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);

    // merge patch: only the given fields change, nested objects merge
    let (s, v) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"features": {"webhooks": false}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["features"]["webhooks"], false);
    assert_eq!(v["name"], "Acme Shop");
    assert_eq!(v["timezone"], "Europe/Warsaw");
    assert_eq!(v["limits"]["max_webhooks"], 50);
    let (s, v) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"limits": {"max_webhooks": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["limits"]["max_webhooks"], 2);
    assert_eq!(
        v["features"]["webhooks"], false,
        "an earlier patch must survive a later one"
    );
    let (_, got) = app.admin(Method::GET, "/v1/accounts/acme", None).await;
    assert_eq!(got, v);
    // a nested `null` returns that one field to its default (RFC 7386)
    let (s, v) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"limits": {"max_webhooks": null}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["limits"]["max_webhooks"], 50);
    assert_eq!(v["features"]["webhooks"], false);
    let (s, v) = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"limits": {"max_webhooks": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // the id is not changeable, and a refused patch stores nothing
    let refused = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"id": "acme2", "name": "Renamed"})),
        )
        .await;
    assert_eq!(
        assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "read_only")["field"],
        "id"
    );
    let bad_tz = app
        .admin(
            Method::PATCH,
            "/v1/accounts/acme",
            Some(json!({"name": "Renamed", "timezone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(
        assert_error(
            &bad_tz,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_timezone"
        )["field"],
        "timezone"
    );
    let (_, got) = app.admin(Method::GET, "/v1/accounts/acme", None).await;
    assert_eq!(got, v);
    assert_error(
        &app.admin(Method::GET, "/v1/accounts/acme2", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let (s, _) = app.admin(Method::DELETE, "/v1/accounts/beta", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.admin(Method::GET, "/v1/accounts/beta", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.admin(Method::DELETE, "/v1/accounts/beta", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.admin(
            Method::PATCH,
            "/v1/accounts/beta",
            Some(json!({"name": "x"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (_, list) = app.admin(Method::GET, "/v1/accounts", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_account_key_works_for_its_account_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    let (s, created) = app
        .admin(Method::POST, "/v1/accounts/acme/keys", None)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key_id = created["id"].as_str().unwrap().to_string();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(!key_id.is_empty() && !key.is_empty() && key != key_id);

    let (s, v) = app
        .call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/accounts/acme/events",
            &key,
            Some(json!({"type": "order.created", "data": {"order": {"id": "1"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");

    let (s, _) = app
        .admin(
            Method::DELETE,
            &format!("/v1/accounts/acme/keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &app.admin(
            Method::DELETE,
            &format!("/v1/accounts/acme/keys/{key_id}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_401() {
    let app = TestApp::spawn().await;
    app.account("acme").await;
    for path in [
        "/v1/accounts",
        "/v1/accounts/acme",
        "/v1/accounts/acme/webhooks",
        "/v1/accounts/acme/deliveries",
    ] {
        // no Authorization header at all
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        let got = (
            resp.status(),
            resp.json::<Value>().await.unwrap_or(Value::Null),
        );
        assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        // the header in other shapes
        for header in [
            "",
            "Bearer",
            "Bearer ",
            "Basic dGVzdDp0ZXN0",
            ADMIN_KEY,
            "Token shk_nope",
        ] {
            let resp = app
                .client
                .get(app.url(path))
                .header("authorization", header)
                .send()
                .await
                .unwrap();
            let got = (
                resp.status(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            );
            assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");
        }
        // a well-formed but unknown key, and the operator key with a typo
        assert_error(
            &app.call(Method::GET, path, "shk_not-a-real-key", None)
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        assert_error(
            &app.call(Method::GET, path, &format!("{ADMIN_KEY}x"), None)
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    // a refused request stored nothing
    let refused = app
        .call(
            Method::POST,
            "/v1/accounts",
            "wrong",
            Some(json!({"id": "sneaky"})),
        )
        .await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(
        &app.admin(Method::GET, "/v1/accounts/sneaky", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.stop().await;
}

#[tokio::test]
async fn account_keys_are_refused_on_operator_routes() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    app.account("beta").await;
    let (_, keys) = app
        .admin(Method::POST, "/v1/accounts/acme/keys", None)
        .await;
    let other_key_id = keys["id"].as_str().unwrap().to_string();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/v1/accounts".into(),
            Some(json!({"id": "gamma"})),
        ),
        (Method::GET, "/v1/accounts".into(), None),
        (Method::GET, "/v1/accounts/acme".into(), None),
        (
            Method::PATCH,
            "/v1/accounts/acme".into(),
            Some(json!({"limits": {"max_webhooks": 10000}})),
        ),
        (Method::DELETE, "/v1/accounts/acme".into(), None),
        (Method::POST, "/v1/accounts/acme/keys".into(), None),
        (
            Method::DELETE,
            format!("/v1/accounts/acme/keys/{other_key_id}"),
            None,
        ),
        // another account's operator routes too
        (Method::GET, "/v1/accounts/beta".into(), None),
        (Method::DELETE, "/v1/accounts/beta".into(), None),
        (Method::POST, "/v1/accounts/beta/keys".into(), None),
    ];
    for (method, path, body) in routes {
        let got = app.call(method.clone(), &path, &key, body).await;
        assert_eq!(got.0, StatusCode::FORBIDDEN, "{method} {path}: {}", got.1);
        assert_error(&got, StatusCode::FORBIDDEN, "operator_only");
    }
    // nothing changed
    let (_, list) = app.admin(Method::GET, "/v1/accounts", None).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    let (_, acme) = app.admin(Method::GET, "/v1/accounts/acme", None).await;
    assert_eq!(acme["limits"]["max_webhooks"], 50);
    // both acme keys still work
    let (s, _) = app
        .call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::GET,
            "/v1/accounts/acme/webhooks",
            keys["key"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn deleting_an_account_retires_its_keys_and_webhooks() {
    let app = TestApp::spawn().await;
    let key = app.account("acme").await;
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/accounts/acme/webhooks",
            &key,
            Some(json!({"url": "https://hooks.example/in", "events": ["*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.admin(Method::DELETE, "/v1/accounts/acme", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        &app.call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // an account created again under the same id starts empty: the old key stays
    // dead and the old webhooks do not come back
    let (s, _) = app
        .admin(Method::POST, "/v1/accounts", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_error(
        &app.call(Method::GET, "/v1/accounts/acme/webhooks", &key, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (s, hooks) = app
        .admin(Method::GET, "/v1/accounts/acme/webhooks", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hooks["data"], json!([]));
    let (s, v) = app
        .admin(
            Method::POST,
            "/v1/accounts/acme/events",
            Some(json!({"type": "order.created", "data": {"order": {"id": "1"}}})),
        )
        .await;
    assert_eq!((s, &v["deliveries"]), (StatusCode::ACCEPTED, &json!(0)));
    app.stop().await;
}
