//! Group calls: store calls that arrive together are made as one call (one
//! transaction), not one each — API ingests ([`Ingester`]) and delivery outcomes
//! (the worker's recorder).
//!
//! One task takes the first waiting item and every other one waiting behind it (up
//! to [`MAX_BATCH`]) and makes one call with them, with up to [`IN_FLIGHT`] such
//! calls at once (PostgreSQL runs them on separate connections; SQLite's writer
//! commits them together); while those run, the next batch gathers. Alone, an item
//! goes at once, so an idle server adds no delay. If a batch fails, each of its
//! items is tried alone, so one bad item fails only its own caller.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use shophook_store::{DeliveryUpdate, IngestOutcome, NewEvent, Store, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Most items in one call.
pub const MAX_BATCH: usize = 256;

/// Most calls running at once.
pub const IN_FLIGHT: usize = 2;

/// The call: one result per item, in order.
type Call<I, O> =
    Arc<dyn Fn(Vec<I>) -> BoxFuture<'static, Result<Vec<O>, StoreError>> + Send + Sync>;

type Pending<I, O> = (I, oneshot::Sender<Result<O, StoreError>>);

/// Handle to a batching task.
pub struct Batcher<I, O> {
    tx: mpsc::UnboundedSender<Pending<I, O>>,
}

impl<I, O> Batcher<I, O>
where
    I: Clone + Send + 'static,
    O: Send + 'static,
{
    /// Starts the task; it ends when the last handle is dropped.
    pub fn start(call: Call<I, O>) -> Batcher<I, O> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(call, rx));
        Batcher { tx }
    }

    /// Makes the call for `item`, together with whatever else is waiting.
    pub async fn call(&self, item: I) -> Result<O, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((item, tx))
            .map_err(|_| StoreError::Unavailable("the batching task has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the batching task dropped a call".into()))?
    }
}

async fn run<I, O>(call: Call<I, O>, mut rx: mpsc::UnboundedReceiver<Pending<I, O>>)
where
    I: Clone + Send + 'static,
    O: Send + 'static,
{
    let calls = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A free call first, then the batch: while every call is busy, items
        // gather into the next batch.
        let Ok(permit) = calls.clone().acquire_owned().await else {
            return;
        };
        let mut batch: Vec<Pending<I, O>> = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let call = call.clone();
        tokio::spawn(async move {
            one_batch(&call, batch).await;
            drop(permit);
        });
    }
}

async fn one_batch<I: Clone, O>(call: &Call<I, O>, mut batch: Vec<Pending<I, O>>) {
    if batch.len() == 1 {
        let (item, reply) = batch.pop().expect("one item");
        let _ = reply.send(single(call, item).await);
        return;
    }
    let (items, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
    // Kept to try one by one should the batch fail.
    let copies = items.clone();
    let n = items.len();
    match call(items).await {
        Ok(out) if out.len() == n => {
            for (o, reply) in out.into_iter().zip(replies) {
                let _ = reply.send(Ok(o));
            }
        }
        result => {
            if let Err(e) = result {
                tracing::debug!(error = %e, items = n, "a batched store call failed; trying its items one by one");
            }
            for (item, reply) in copies.into_iter().zip(replies) {
                let _ = reply.send(single(call, item).await);
            }
        }
    }
}

async fn single<I, O>(call: &Call<I, O>, item: I) -> Result<O, StoreError> {
    call(vec![item])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Unavailable("the store answered a call with no result".into()))
}

/// Delivery outcomes, batched: `Store::record` for many at once.
pub type Recorder = Batcher<DeliveryUpdate, ()>;

/// A [`Recorder`] on `store`.
pub fn recorder(store: Arc<dyn Store>) -> Recorder {
    Batcher::start(Arc::new(move |updates: Vec<DeliveryUpdate>| {
        let store = store.clone();
        Box::pin(async move {
            let n = updates.len();
            store.record(updates).await?;
            Ok(vec![(); n])
        })
    }))
}

/// API ingests, batched: `Store::ingest` for many events at once.
pub type Ingester = Batcher<NewEvent, IngestOutcome>;

/// An [`Ingester`] on `store`.
pub fn ingester(store: Arc<dyn Store>) -> Ingester {
    Batcher::start(Arc::new(move |events: Vec<NewEvent>| {
        let store = store.clone();
        Box::pin(async move { store.ingest(events).await })
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A call that fails any batch holding a negative number, and records the
    /// sizes of the calls it got.
    fn doubling(calls: Arc<Mutex<Vec<usize>>>) -> Batcher<i32, i32> {
        Batcher::start(Arc::new(move |items: Vec<i32>| {
            let calls = calls.clone();
            Box::pin(async move {
                calls.lock().unwrap().push(items.len());
                tokio::task::yield_now().await;
                if items.iter().any(|i| *i < 0) {
                    return Err(StoreError::NotFound("item"));
                }
                Ok(items.into_iter().map(|i| i * 2).collect())
            })
        }))
    }

    #[tokio::test]
    async fn concurrent_items_share_calls_and_each_gets_its_own_result() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::new(doubling(calls.clone()));
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let b = b.clone();
                tokio::spawn(async move { (i, b.call(i).await) })
            })
            .collect();
        for t in tasks {
            let (i, out) = t.await.unwrap();
            assert_eq!(out.unwrap(), i * 2);
        }
        let calls = calls.lock().unwrap();
        assert_eq!(calls.iter().sum::<usize>(), 100, "every item once");
        assert!(
            calls.len() < 100,
            "some calls carried several items: {calls:?}"
        );
    }

    #[tokio::test]
    async fn a_failing_batch_fails_only_the_bad_item() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::new(doubling(calls));
        let tasks: Vec<_> = [1, -1, 2, 3]
            .into_iter()
            .map(|i| {
                let b = b.clone();
                tokio::spawn(async move { (i, b.call(i).await) })
            })
            .collect();
        for t in tasks {
            match t.await.unwrap() {
                (-1, out) => assert!(matches!(out, Err(StoreError::NotFound("item")))),
                (i, out) => assert_eq!(out.unwrap(), i * 2),
            }
        }
    }

    #[tokio::test]
    async fn an_item_alone_goes_at_once() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let b = doubling(calls.clone());
        assert_eq!(b.call(21).await.unwrap(), 42);
        assert_eq!(*calls.lock().unwrap(), vec![1]);
    }
}
