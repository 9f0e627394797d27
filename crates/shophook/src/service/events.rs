//! Events: storing one that the platform posts, with its deliveries, before the
//! API answers — grouped with the other events arriving at the same moment into one
//! transaction (`batch::Ingester`), and handed straight to this node's worker when
//! it has room (no claim query, no second read).

use std::sync::Arc;

use shophook_core::event::Event;
use shophook_core::render::json_envelope;
use shophook_store::{IngestOutcome, NewEvent, Target};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// An event stored (or found stored under its idempotency key).
pub struct Accepted {
    /// The event's id.
    pub event_id: String,
    /// How many deliveries it has.
    pub deliveries: usize,
}

/// Stores `event` with a delivery for every webhook it reaches; a repeat of
/// `idempotency_key` answers what the first call stored.
pub async fn ingest(
    s: &AppState,
    event: Event,
    idempotency_key: Option<String>,
) -> ApiResult<Accepted> {
    let envelope: Arc<str> = json_envelope(&event).into();
    let outcome = s
        .ingester
        .call(NewEvent {
            event,
            envelope,
            idempotency_key,
            target: Target::Matching,
            dispatch: s.worker.dispatch_claim(),
        })
        .await?;
    match outcome {
        IngestOutcome::Stored {
            event_id,
            deliveries,
            dispatched,
        } => {
            s.worker.dispatch(dispatched.0).await;
            Ok(Accepted {
                event_id,
                deliveries: deliveries.len(),
            })
        }
        IngestOutcome::Replayed {
            event_id,
            deliveries,
        } => Ok(Accepted {
            event_id,
            deliveries: deliveries as usize,
        }),
        IngestOutcome::NoAccount => Err(ApiError::NotFound("account")),
        other => Err(ApiError::Internal(format!(
            "unexpected ingest outcome: {other:?}"
        ))),
    }
}
