//! Group recording: the outcomes of deliveries that finish together are recorded
//! in one store call (one transaction), not one each.
//!
//! One task takes the first waiting outcome and every other one waiting behind it
//! (up to [`MAX_BATCH`]) and records them together, with up to [`IN_FLIGHT`] such
//! calls at once (PostgreSQL runs them on separate connections; SQLite's writer
//! commits them together); while those run, the next batch gathers. Alone, an
//! outcome is recorded at once, so an idle worker adds no delay. If a batch fails, each of its outcomes is recorded alone, so one bad
//! update (a delivery deleted meanwhile) fails only its own caller.

use std::sync::Arc;

use shophook_store::{DeliveryUpdate, Store, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Most outcomes recorded in one call.
pub const MAX_BATCH: usize = 256;

/// Most record calls running at once.
pub const IN_FLIGHT: usize = 4;

type Pending = (DeliveryUpdate, oneshot::Sender<Result<(), StoreError>>);

/// Handle to the recording task.
pub struct Recorder {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Recorder {
    /// Starts the task; it ends when the last handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx));
        Recorder { tx }
    }

    /// Records `update`, together with whatever else is waiting; returns once it
    /// is committed.
    pub async fn record(&self, update: DeliveryUpdate) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((update, tx))
            .map_err(|_| StoreError::Unavailable("the recorder has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the recorder dropped an outcome".into()))?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let calls = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A free call first, then the batch: while every call is busy, outcomes
        // gather into the next batch.
        let Ok(permit) = calls.clone().acquire_owned().await else {
            return;
        };
        let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            record(&*store, batch).await;
            drop(permit);
        });
    }
}

async fn record(store: &dyn Store, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        let (update, reply) = batch.pop().expect("one outcome");
        let _ = reply.send(store.record(vec![update]).await);
        return;
    }
    let (updates, replies): (Vec<DeliveryUpdate>, Vec<_>) = batch.into_iter().unzip();
    // Kept to record one by one should the batch fail.
    let copies = updates.clone();
    match store.record(updates).await {
        Ok(()) => {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, outcomes = copies.len(), "a batch of outcomes failed; recording them one by one");
            for (update, reply) in copies.into_iter().zip(replies) {
                let _ = reply.send(store.record(vec![update]).await);
            }
        }
    }
}
