//! The end of a run: waiting until everything accepted has arrived and the
//! server's queue is empty, judged by progress rather than a fixed deadline (a
//! backlog drains slowly; a stuck delivery makes no progress at all).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ledger::Ledger;
use crate::load::ACCOUNT;
use crate::receiver::Receiver;
use crate::run::admin_call;

/// The server's view of the queue: deliveries still to send (pending, failed or
/// scheduled), and deliveries that used up their retries. Each status is read
/// as one page of at most [`PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// Not finished yet.
    pub unfinished: usize,
    /// Ended `dead`.
    pub dead: usize,
    /// A page was full: there are more than counted.
    pub more: bool,
}

const PAGE: usize = 1000;

async fn queue(base: &str) -> Option<Queue> {
    let count = |status: &'static str| {
        let url = format!("{base}/v1/accounts/{ACCOUNT}/deliveries?status={status}&limit={PAGE}");
        async move {
            match admin_call(reqwest::Method::GET, &url, None).await {
                Ok((200, v)) => v["data"].as_array().map(Vec::len),
                _ => None,
            }
        }
    };
    let counts = [
        count("pending").await?,
        count("failed").await?,
        count("scheduled").await?,
        count("dead").await?,
    ];
    Some(Queue {
        unfinished: counts[..3].iter().sum(),
        dead: counts[3],
        more: counts.contains(&PAGE),
    })
}

/// Waits, on the receiver's signal, until every owed delivery was taken, or the
/// server has nothing left to send (so the rest never comes), or nothing new
/// was taken for `stall`. Returns how many owed deliveries were not taken.
pub async fn wait_delivered(
    ledger: &Mutex<Ledger>,
    receiver: &Receiver,
    base: &str,
    stall: Duration,
) -> usize {
    const QUIET: Duration = Duration::from_secs(1);
    let mut received = receiver.subscribe();
    let mut fewest = usize::MAX;
    let mut give_up = Instant::now() + stall;
    loop {
        received.borrow_and_update();
        let missing = ledger.lock().expect("ledger").outstanding();
        if missing < fewest {
            fewest = missing;
            give_up = Instant::now() + stall;
        }
        if missing == 0 || Instant::now() >= give_up {
            return missing;
        }
        let left = give_up.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left.min(QUIET), received.changed())
            .await
            .is_err()
            && queue(base).await.is_some_and(|q| q.unfinished == 0)
        {
            // Nothing arrived for a while and nothing is left to send.
            return ledger.lock().expect("ledger").outstanding();
        }
    }
}

/// Waits until the server has no delivery left to send (one still waiting
/// would be a phantom in the making), or the count stopped falling for `stall`.
/// The server has no signal for "queue empty", so this asks every 100 ms.
/// `None` if the server could not be asked.
pub async fn wait_queue_empty(base: &str, stall: Duration) -> Option<Queue> {
    let mut fewest = usize::MAX;
    let mut give_up = Instant::now() + stall;
    loop {
        let q = queue(base).await;
        if let Some(q) = q
            && q.unfinished < fewest
        {
            fewest = q.unfinished;
            give_up = Instant::now() + stall;
        }
        if q.is_some_and(|q| q.unfinished == 0) || Instant::now() >= give_up {
            return q;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
