//! Waking workers across nodes: a commit that stores due work sends
//! `NOTIFY shophook_work`; every store keeps one `LISTEN` connection and turns each
//! notification into a wake-up of its local workers. The connection is re-opened
//! after PostgreSQL restarts or drops it; notifications sent meanwhile are lost, so
//! every (re)connect wakes the workers once to look for work themselves.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The notification channel.
pub const CHANNEL: &str = "shophook_work";

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listening task; it runs until aborted (when the store is dropped).
pub fn spawn(options: PgConnectOptions, signal: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        let mut down = false;
        loop {
            match listen(&options).await {
                Ok(mut listener) => {
                    if down {
                        tracing::info!("PostgreSQL is reachable again: listening for work");
                    }
                    down = false;
                    backoff = FIRST_BACKOFF;
                    signal.notify_one();
                    let error = loop {
                        match listener.try_recv().await {
                            // A notification, or a reconnect after a lost
                            // connection (notifications may have been missed).
                            Ok(_) => signal.notify_one(),
                            Err(e) => break e,
                        }
                    };
                    tracing::warn!(error = %error, "lost the LISTEN connection to PostgreSQL; reconnecting");
                }
                Err(e) => {
                    if !down {
                        tracing::warn!(error = %e, "cannot LISTEN on PostgreSQL; retrying until it is back");
                    }
                    down = true;
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
