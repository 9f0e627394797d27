//! Accounts (operator only) and their API keys.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use shophook_core::account::Account;
use shophook_store::NewKey;

use super::json::ApiJson;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::{hash_key, new_id, new_key};

/// Routes under `/v1/accounts`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/accounts", post(create).get(list))
        .route(
            "/v1/accounts/{account}",
            get(show).patch(update).delete(remove),
        )
        .route("/v1/accounts/{account}/keys", post(create_key))
        .route("/v1/accounts/{account}/keys/{key}", delete(delete_key))
}

async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(account): ApiJson<Account>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    caller.require_operator()?;
    account.validate()?;
    let account = s.store.create_account(account, s.clock.now()).await?;
    tracing::info!(account = %account.id, "account created");
    Ok((StatusCode::CREATED, Json(account)))
}

async fn list(State(s): State<Arc<AppState>>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_operator()?;
    let accounts = s.store.list_accounts().await?;
    let items = accounts.iter().map(|a| json!(a)).collect();
    Ok(Json(super::page(items, None)))
}

async fn show(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    caller.require_operator()?;
    Ok(Json(caller.account(&s, &id).await?))
}

/// RFC 7386 merge patch: objects merge, `null` removes (back to the default).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

async fn update(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Json<Account>> {
    caller.require_operator()?;
    if !patch.is_object() {
        return Err(ApiError::field(
            "",
            "invalid_field",
            "send a JSON object with the fields to change",
        ));
    }
    if patch
        .get("id")
        .is_some_and(|v| v.as_str() != Some(id.as_str()))
    {
        return Err(ApiError::field(
            "id",
            "read_only",
            "an account's id cannot be changed",
        ));
    }
    let current = caller.account(&s, &id).await?;
    let mut doc = json!(current);
    merge(&mut doc, &patch);
    let account: Account = super::json::parse(doc.to_string().as_bytes())?;
    account.validate()?;
    Ok(Json(s.store.update_account(account, s.clock.now()).await?))
}

async fn remove(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_operator()?;
    if !s.store.delete_account(&id).await? {
        return Err(ApiError::NotFound("account"));
    }
    s.keys.clear();
    tracing::info!(account = %id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyInput {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

async fn create_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(_input): ApiJson<KeyInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_operator()?;
    let account = caller.account(&s, &id).await?;
    let key = new_key();
    let key_id = new_id("key");
    s.store
        .create_key(NewKey {
            id: key_id.clone(),
            account_id: account.id.clone(),
            hash: hash_key(&key),
            created_at: s.clock.now(),
        })
        .await?;
    tracing::info!(account = %account.id, key = %key_id, "account key created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": key_id, "account": account.id, "key": key})),
    ))
}

async fn delete_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_operator()?;
    caller.account(&s, &id).await?;
    if !s.store.delete_key(&id, &key).await? {
        return Err(ApiError::NotFound("key"));
    }
    s.keys.clear();
    tracing::info!(account = %id, %key, "account key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn merge_patch() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
