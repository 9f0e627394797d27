//! Retention: finished deliveries and their attempts older than `--retention-days`
//! are purged in small batches, each its own short transaction, so delivery work
//! interleaves with the purge instead of waiting behind it.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use shophook_store::Store;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

const BATCH: u32 = 500;
const EVERY: Duration = Duration::from_secs(3600);

/// Purges now and then every hour until shutdown.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    days: u32,
    shutdown: CancellationToken,
) {
    loop {
        let cutoff = clock
            .now()
            .checked_sub(SignedDuration::from_hours(24 * i64::from(days)))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut total = 0u64;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match store.purge(cutoff, BATCH).await {
                Ok(n) => {
                    total += n;
                    if n < u64::from(BATCH) {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention purge failed; will try again later");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(
                purged = total,
                retention_days = days,
                "purged old deliveries"
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
