//! Accounts (operator only), their API keys and one-time portal links.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shophook_core::account::Account;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::ApiJson;
use crate::service::accounts as service;
use crate::state::AppState;

/// Routes under `/v1/accounts`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(create_key))
        .routes(routes!(delete_key))
        .routes(routes!(portal_link))
        .routes(routes!(end_portal_sessions))
}

/// Creates an account (merchant).
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = Account,
    responses((status = 201, description = "Created", body = Account),
              (status = 409, description = "The id is taken", body = crate::error::ErrorBody)))]
async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(account): ApiJson<Account>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    caller.require_operator()?;
    let account = service::create(&s, account).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Lists every account, by id.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts",
    responses((status = 200, description = "All accounts", body = Page<Account>)))]
async fn list(State(s): State<Arc<AppState>>, caller: Caller) -> ApiResult<Json<Page<Account>>> {
    caller.require_operator()?;
    Ok(Json(Page::all(s.store.list_accounts().await?)))
}

/// Reads one account.
#[utoipa::path(get, path = "/v1/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account", body = Account)))]
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

/// The fields of an account a patch may name (the document's view of the merge
/// patch the handler reads as JSON); `null` returns a field to its default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AccountPatch {
    /// The account's id: the same as in the path, if given (it cannot change).
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]*$", min_length = 1, max_length = 64)]
    id: Option<String>,
    /// Display name.
    #[schema(max_length = 200)]
    name: Option<String>,
    /// IANA time zone.
    #[schema(min_length = 1)]
    timezone: Option<String>,
    /// Plan features to change.
    features: Option<FeaturesPatch>,
    /// Plan limits to change.
    limits: Option<LimitsPatch>,
    /// Minutes after which an open checkout counts as abandoned.
    #[schema(minimum = 1, maximum = 525600)]
    abandon_after_minutes: Option<u32>,
    /// Where `webhook.disabled` notifications go.
    #[schema(max_length = 2048)]
    notify_url: Option<String>,
}

/// The plan features a patch may change; `null` returns one to its default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FeaturesPatch {
    /// Whether the account may create webhooks.
    webhooks: Option<bool>,
}

/// The limits a patch may change; `null` returns one to its default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct LimitsPatch {
    /// How many webhooks the account may have.
    #[schema(maximum = 10_000)]
    max_webhooks: Option<u32>,
    /// Most deliveries of the account in flight at once on one node.
    #[schema(minimum = 1, maximum = 100_000)]
    max_in_flight: Option<u32>,
}

/// The first key of a patch that names no field of an account (a `null` would
/// otherwise "remove" it silently), with the fields nested in `features`/`limits`.
fn unknown_field(patch: &Value) -> Option<String> {
    const FIELDS: &[(&str, &[&str])] = &[
        ("id", &[]),
        ("name", &[]),
        ("timezone", &[]),
        ("features", &["webhooks"]),
        ("limits", &["max_webhooks", "max_in_flight"]),
        ("abandon_after_minutes", &[]),
        ("notify_url", &[]),
    ];
    for (key, value) in patch.as_object()? {
        let Some((_, inner)) = FIELDS.iter().find(|(name, _)| name == key) else {
            return Some(key.clone());
        };
        if let Some(obj) = value.as_object().filter(|_| !inner.is_empty())
            && let Some(k) = obj.keys().find(|k| !inner.contains(&k.as_str()))
        {
            return Some(format!("{key}.{k}"));
        }
    }
    None
}

/// Changes an account: a JSON merge patch (RFC 7386) of its fields; `null`
/// returns a field to its default. The id cannot change.
#[utoipa::path(patch, path = "/v1/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    request_body(content = Option<AccountPatch>, description = "The fields of Account to change; none, or an empty body, changes nothing"),
    responses((status = 200, description = "The changed account", body = Account)))]
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
    if let Some(field) = unknown_field(&patch) {
        return Err(ApiError::field(
            field.clone(),
            "unknown_field",
            format!("`{field}` is not a field of an account"),
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
    let account: Account = crate::input::parse(doc.to_string().as_bytes())?;
    Ok(Json(service::save(&s, account).await?))
}

/// Deletes an account with everything in it: keys, webhooks, events, history.
#[utoipa::path(delete, path = "/v1/accounts/{account}", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 204, description = "Deleted")))]
async fn remove(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_operator()?;
    service::delete(&s, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new account key (the body may be empty).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeyInput {
    /// A label for your own records (not stored).
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

/// A created key; `key` is shown this once.
#[derive(Serialize, ToSchema)]
struct KeyCreated {
    /// Key id (`key_…`), for revoking it.
    id: String,
    /// The account it reaches.
    account: String,
    /// The bearer key. Stored only as a hash: keep it now.
    key: String,
}

/// Creates an API key for an account; the key is in the answer once, never again.
#[utoipa::path(post, path = "/v1/accounts/{account}/keys", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    request_body(content = Option<KeyInput>, description = "Optional"),
    responses((status = 201, description = "Created", body = KeyCreated)))]
async fn create_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(_input): ApiJson<KeyInput>,
) -> ApiResult<(StatusCode, Json<KeyCreated>)> {
    caller.require_operator()?;
    let account = caller.account(&s, &id).await?;
    let (key_id, key) = service::issue_key(&s, &account.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            id: key_id,
            account: account.id,
            key,
        }),
    ))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/v1/accounts/{account}/keys/{id}", tag = "accounts",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 204, description = "Revoked")))]
async fn delete_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_operator()?;
    caller.account(&s, &id).await?;
    service::revoke_key(&s, &id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A one-time sign-in link into an account's web UI.
#[derive(Serialize, ToSchema)]
struct PortalLink {
    /// Absolute URL, for the Host this request was sent to.
    url: String,
    /// The same, as a path.
    path: String,
    /// The link works once, until this time (two minutes).
    expires_at: jiff::Timestamp,
}

/// A one-time URL, valid for two minutes and one sign-in, that opens an
/// account's web UI: a platform embeds the UI with it.
#[utoipa::path(post, path = "/v1/accounts/{account}/portal-link", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 201, description = "Created", body = PortalLink)))]
async fn portal_link(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<PortalLink>)> {
    caller.require_operator()?;
    let account = caller.account(&s, &account).await?;
    let (token, expires_at) = crate::service::portal::mint(&s, &account.id).await?;
    let path = format!("/portal/{token}");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    Ok((
        StatusCode::CREATED,
        Json(PortalLink {
            url: format!("http://{host}{path}"),
            path,
            expires_at,
        }),
    ))
}

/// How many sessions were ended.
#[derive(Serialize, ToSchema)]
struct SessionsEnded {
    /// Sessions ended by this call.
    ended: u64,
}

/// Signs out every web UI session opened through a portal link of this
/// account, on every node at once: their cookies open nothing any more. (A
/// session signed in with an account key ends when the key is revoked.)
#[utoipa::path(delete, path = "/v1/accounts/{account}/portal-sessions", tag = "accounts",
    params(("account" = String, Path, description = "Account id")),
    responses((status = 200, description = "Ended", body = SessionsEnded)))]
async fn end_portal_sessions(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<SessionsEnded>> {
    caller.require_operator()?;
    let account = caller.account(&s, &account).await?;
    let ended = service::end_portal_sessions(&s, &account.id).await?;
    Ok(Json(SessionsEnded { ended }))
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn a_patch_names_only_account_fields() {
        use super::unknown_field;
        assert_eq!(unknown_field(&json!({"": null})), Some(String::new()));
        assert_eq!(
            unknown_field(&json!({"colour": null})),
            Some("colour".into())
        );
        assert_eq!(
            unknown_field(&json!({"features": {"x": null}})),
            Some("features.x".into())
        );
        assert_eq!(
            unknown_field(&json!({"name": null, "limits": {"max_webhooks": null}})),
            None
        );
    }

    #[test]
    fn merge_patch() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }
}
