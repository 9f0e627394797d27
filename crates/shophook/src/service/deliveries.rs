//! Deliveries: sending one again by hand — a `dead` or `failed` delivery goes back
//! to the queue now, keeping its history; one in flight is a conflict.

use shophook_store::Delivery;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Queues delivery `id` of `account` again, now.
pub async fn retry(s: &AppState, account: &str, id: &str) -> ApiResult<Delivery> {
    let d = s
        .store
        .retry_delivery(account, id, s.clock.now())
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    tracing::info!(%account, delivery = %id, "delivery retried by hand");
    Ok(d)
}
