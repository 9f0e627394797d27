//! Shop resources: `PUT /orders/{id}`, `/checkouts/{id}`, `/products/{id}` and
//! `DELETE /products/{id}` store a versioned snapshot and answer with the events
//! the change derived (stored, with their deliveries, in the same transaction).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};
use serde_json::{Value, json};
use shophook_core::derive::ResourceKind;
use shophook_core::snapshot;
use shophook_store::{SnapshotOutcome, SnapshotWrite};

use super::json::ApiJson;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Routes for orders, checkouts and products.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/accounts/{account}/orders/{id}",
            put(put_order).get(get_order),
        )
        .route(
            "/v1/accounts/{account}/checkouts/{id}",
            put(put_checkout).get(get_checkout),
        )
        .route(
            "/v1/accounts/{account}/products/{id}",
            put(put_product).get(get_product).delete(delete_product),
        )
}

fn answer(o: SnapshotOutcome) -> Json<Value> {
    let events: Vec<Value> = o
        .events
        .iter()
        .map(|(id, t)| json!({"id": id, "type": t.as_str()}))
        .collect();
    Json(json!({"version": o.version, "events": events}))
}

/// Splits the optimistic-concurrency `version` off the snapshot.
fn take_version(body: &mut Value) -> ApiResult<Option<i64>> {
    let Some(map) = body.as_object_mut() else {
        return Ok(None);
    };
    match map.remove("version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => Ok(n.as_i64()),
        Some(_) => Err(ApiError::field(
            "version",
            "invalid_version",
            "`version` is a whole number ≥ 0: the version you last read",
        )),
    }
}

async fn store(
    s: &AppState,
    caller: &Caller,
    account: &str,
    kind: ResourceKind,
    id: String,
    mut body: Value,
) -> ApiResult<Json<Value>> {
    let account = caller.account(s, account).await?;
    let version = take_version(&mut body)?;
    snapshot::validate(kind, &id, &body)?;
    if let Some(map) = body.as_object_mut() {
        map.entry("id").or_insert_with(|| Value::String(id.clone()));
    }
    let outcome = s
        .store
        .put_snapshot(SnapshotWrite {
            account: account.id,
            kind,
            id,
            doc: Some(body),
            version,
            now: s.clock.now(),
        })
        .await?;
    Ok(answer(outcome))
}

async fn read(
    s: &AppState,
    caller: &Caller,
    account: &str,
    kind: ResourceKind,
    id: &str,
) -> ApiResult<Json<Value>> {
    let account = caller.account(s, account).await?;
    let (doc, version) =
        s.store
            .snapshot(&account.id, kind, id)
            .await?
            .ok_or(ApiError::NotFound(match kind {
                ResourceKind::Order => "order",
                ResourceKind::Checkout => "checkout",
                ResourceKind::Product => "product",
            }))?;
    Ok(Json(json!({"version": version, kind.as_str(): doc})))
}

async fn put_order(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    store(&s, &caller, &a, ResourceKind::Order, id, body).await
}

async fn put_checkout(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    store(&s, &caller, &a, ResourceKind::Checkout, id, body).await
}

async fn put_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    store(&s, &caller, &a, ResourceKind::Product, id, body).await
}

async fn get_order(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    read(&s, &caller, &a, ResourceKind::Order, &id).await
}

async fn get_checkout(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    read(&s, &caller, &a, ResourceKind::Checkout, &id).await
}

async fn get_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    read(&s, &caller, &a, ResourceKind::Product, &id).await
}

async fn delete_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let account = caller.account(&s, &a).await?;
    let outcome = s
        .store
        .put_snapshot(SnapshotWrite {
            account: account.id,
            kind: ResourceKind::Product,
            id,
            doc: None,
            version: None,
            now: s.clock.now(),
        })
        .await?;
    Ok(answer(outcome))
}

#[cfg(test)]
mod tests {
    use super::take_version;
    use serde_json::json;

    #[test]
    fn version_is_split_off() {
        let mut b = json!({"id": "1", "version": 3});
        assert_eq!(take_version(&mut b).unwrap(), Some(3));
        assert_eq!(b, json!({"id": "1"}));
        assert!(take_version(&mut json!({"version": "3"})).is_err());
        assert!(take_version(&mut json!({"version": -1})).is_err());
        assert_eq!(take_version(&mut json!({})).unwrap(), None);
    }
}
