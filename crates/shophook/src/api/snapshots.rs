//! Shop resources: `PUT /orders/{id}`, `/checkouts/{id}`, `/products/{id}` and
//! `DELETE /products/{id}` store a versioned snapshot and answer with the events
//! the change derived (stored, with their deliveries, in the same transaction).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use shophook_core::derive::ResourceKind;
use shophook_core::snapshot;
use shophook_store::{SnapshotOutcome, SnapshotWrite};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::ApiJson;
use crate::state::AppState;

/// Routes for orders, checkouts and products.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(put_order, get_order))
        .routes(routes!(put_checkout, get_checkout))
        .routes(routes!(put_product, get_product, delete_product))
}

/// An event a snapshot write derived.
#[derive(Debug, Serialize, ToSchema)]
struct DerivedEvent {
    /// Event id (`evt_…`).
    id: String,
    /// Event type, e.g. `order.paid`.
    #[serde(rename = "type")]
    event_type: &'static str,
}

/// What a snapshot write stored and derived.
#[derive(Debug, Serialize, ToSchema)]
struct SnapshotStored {
    /// The resource's version after the write.
    version: i64,
    /// The events derived from the change, in order (none for the same snapshot twice).
    events: Vec<DerivedEvent>,
}

/// The latest snapshot of a resource, under its own name.
#[derive(Debug, Serialize, ToSchema)]
struct SnapshotRead {
    /// Its version.
    version: i64,
    /// The order (for orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    order: Option<Value>,
    /// The checkout (for checkouts).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    checkout: Option<Value>,
    /// The product (for products).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    product: Option<Value>,
}

fn answer(o: SnapshotOutcome) -> Json<SnapshotStored> {
    Json(SnapshotStored {
        version: o.version,
        events: o
            .events
            .into_iter()
            .map(|(id, t)| DerivedEvent {
                id,
                event_type: t.as_str(),
            })
            .collect(),
    })
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
) -> ApiResult<Json<SnapshotStored>> {
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
) -> ApiResult<Json<SnapshotRead>> {
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
    let mut read = SnapshotRead {
        version,
        order: None,
        checkout: None,
        product: None,
    };
    *match kind {
        ResourceKind::Order => &mut read.order,
        ResourceKind::Checkout => &mut read.checkout,
        ResourceKind::Product => &mut read.product,
    } = Some(doc);
    Ok(Json(read))
}

/// Stores an order snapshot; answers the events derived from the change (stored with their
/// deliveries in one transaction). A `version` lower than the stored one is refused with 409.
#[utoipa::path(put, path = "/v1/accounts/{account}/orders/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The order's id in your shop: 1–128 printable characters",
            min_length = 1, max_length = 128, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$")),
    request_body(content = Option<Object>, description = "The order (see the spec's resource shapes); optional `version`. An empty body is `{}`: the order with only its id"),
    responses((status = 200, description = "Stored", body = SnapshotStored),
              (status = 409, description = "A newer version is stored", body = crate::error::ErrorBody)))]
async fn put_order(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<SnapshotStored>> {
    store(&s, &caller, &a, ResourceKind::Order, id, body).await
}

/// Stores a checkout snapshot; answers the events derived from the change. A `version`
/// lower than the stored one is refused with 409.
#[utoipa::path(put, path = "/v1/accounts/{account}/checkouts/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The checkout's id in your shop: 1–128 printable characters",
            min_length = 1, max_length = 128, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$")),
    request_body(content = Option<Object>, description = "The checkout (see the spec's resource shapes); optional `version`. An empty body is `{}`: the checkout with only its id"),
    responses((status = 200, description = "Stored", body = SnapshotStored),
              (status = 409, description = "A newer version is stored", body = crate::error::ErrorBody)))]
async fn put_checkout(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<SnapshotStored>> {
    store(&s, &caller, &a, ResourceKind::Checkout, id, body).await
}

/// Stores a product snapshot; answers the events derived from the change. A `version`
/// lower than the stored one is refused with 409.
#[utoipa::path(put, path = "/v1/accounts/{account}/products/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The product's id in your shop: 1–128 printable characters",
            min_length = 1, max_length = 128, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$")),
    request_body(content = Option<Object>, description = "The product (see the spec's resource shapes); optional `version`. An empty body is `{}`: the product with only its id"),
    responses((status = 200, description = "Stored", body = SnapshotStored),
              (status = 409, description = "A newer version is stored", body = crate::error::ErrorBody)))]
async fn put_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<SnapshotStored>> {
    store(&s, &caller, &a, ResourceKind::Product, id, body).await
}

/// Reads the latest order snapshot and its version.
#[utoipa::path(get, path = "/v1/accounts/{account}/orders/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The order's id in your shop")),
    responses((status = 200, description = "The snapshot", body = SnapshotRead)))]
async fn get_order(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<SnapshotRead>> {
    read(&s, &caller, &a, ResourceKind::Order, &id).await
}

/// Reads the latest checkout snapshot and its version.
#[utoipa::path(get, path = "/v1/accounts/{account}/checkouts/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The checkout's id in your shop")),
    responses((status = 200, description = "The snapshot", body = SnapshotRead)))]
async fn get_checkout(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<SnapshotRead>> {
    read(&s, &caller, &a, ResourceKind::Checkout, &id).await
}

/// Reads the latest product snapshot and its version.
#[utoipa::path(get, path = "/v1/accounts/{account}/products/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The product's id in your shop")),
    responses((status = 200, description = "The snapshot", body = SnapshotRead)))]
async fn get_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<SnapshotRead>> {
    read(&s, &caller, &a, ResourceKind::Product, &id).await
}

/// Deletes a product; derives `product.deleted`.
#[utoipa::path(delete, path = "/v1/accounts/{account}/products/{id}", tag = "snapshots",
    params(("account" = String, Path, description = "Account id"),
           ("id" = String, Path, description = "The product's id in your shop")),
    responses((status = 200, description = "Deleted", body = SnapshotStored)))]
async fn delete_product(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((a, id)): Path<(String, String)>,
) -> ApiResult<Json<SnapshotStored>> {
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
