//! Persistence for shophook: the [`Store`] trait and its backends.
//!
//! The store is the queue: deliveries wait in the database, workers claim them in
//! batches, and every state change of a delivery is one transaction. The trait is
//! shaped for batches (ingest many events, claim many deliveries, record many
//! outcomes in one call) because on the hot path a commit costs more than a row.
//! This crate is the only one that speaks SQL.

mod model;
pub mod postgres;
mod queue;
mod rules;
pub mod sealed;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use shophook_core::account::Account;
use tokio::sync::Notify;

pub use model::*;
pub use sealed::Sealer;

/// The id of an account's notification webhook: the one `webhook.disabled` goes to,
/// pointed at the account's `notify_url`.
pub fn notify_webhook_id(account: &str) -> String {
    format!("wh_notify_{account}")
}

/// A new notification webhook of `account`: `webhook.disabled` as JSON to `url`,
/// signed with `secret`.
pub(crate) fn new_notify_webhook(
    account: &str,
    url: &str,
    secret: &str,
    now: Timestamp,
) -> Result<StoredWebhook> {
    let input = shophook_core::webhook::WebhookInput {
        name: Some("Notifications (notify_url)".into()),
        url: Some(url.to_string()),
        events: Some(vec!["webhook.disabled".into()]),
        ..Default::default()
    };
    let (config, _, _) = input
        .into_new_config()
        .map_err(|e| StoreError::Corrupt(format!("notify_url: {e}")))?;
    Ok(StoredWebhook {
        id: notify_webhook_id(account),
        account_id: account.to_string(),
        status: shophook_core::webhook::WebhookStatus::Active,
        config,
        secret: secret.to_string(),
        previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    })
}

/// What can go wrong in a store call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The thing to change does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique thing exists already (account id, key).
    #[error("{0}")]
    Conflict(String),
    /// A plan limit was reached.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// The database cannot be reached or refused the write; retrying may help.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or a manual edit).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// A store result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything shophook persists. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`]; both pass the same conformance suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Signalled after a commit that stored due work, so workers wake at once.
    fn work_signal(&self) -> Arc<Notify>;
    /// Whether one node owns this store (SQLite): then whatever is claimed when a
    /// node starts was left by a previous run that died, and is released at once.
    /// A shared store (PostgreSQL) must not do that — other nodes are alive and
    /// sending; a dead node's claims become due again when their lease ends.
    fn single_node(&self) -> bool;

    /// Reads a server setting.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Writes a server setting if it is absent; returns whether it was written.
    async fn init_setting(&self, key: &str, value: &str) -> Result<bool>;

    /// Creates an account; `Conflict` if the id is taken.
    async fn create_account(&self, account: Account, now: Timestamp) -> Result<Account>;
    /// All accounts, by id.
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// One account.
    async fn account(&self, id: &str) -> Result<Option<Account>>;
    /// Replaces an account's settings; `NotFound` if it is gone.
    async fn update_account(&self, account: Account, now: Timestamp) -> Result<Account>;
    /// Deletes an account and everything in it; whether it existed.
    async fn delete_account(&self, id: &str) -> Result<bool>;

    /// Stores an API key's hash for an account.
    async fn create_key(&self, key: NewKey) -> Result<()>;
    /// Revokes a key; whether it existed in that account.
    async fn delete_key(&self, account: &str, key_id: &str) -> Result<bool>;
    /// The account a key hash belongs to.
    async fn key_account(&self, hash: &str) -> Result<Option<String>>;

    /// Stores a new web UI session, forgetting the sessions that had expired by
    /// its creation; `NotFound` if its account is gone.
    async fn create_ui_session(&self, session: UiSession) -> Result<()>;
    /// The UI session with this id hash, unless it was ended or has expired by `now`.
    async fn ui_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>>;
    /// Ends one UI session (sign-out); whether it existed.
    async fn end_ui_session(&self, id_hash: &str) -> Result<bool>;
    /// Ends every portal session of an account; how many there were.
    async fn end_portal_sessions(&self, account: &str) -> Result<u64>;

    /// Creates a webhook unless the account has `max_webhooks` already.
    async fn create_webhook(
        &self,
        webhook: StoredWebhook,
        max_webhooks: u32,
    ) -> Result<StoredWebhook>;
    /// An account's webhooks, oldest first.
    async fn list_webhooks(&self, account: &str) -> Result<Vec<StoredWebhook>>;
    /// One webhook of an account.
    async fn webhook(&self, account: &str, id: &str) -> Result<Option<StoredWebhook>>;
    /// Replaces config and secrets of a webhook (not its status).
    async fn update_webhook(&self, webhook: StoredWebhook) -> Result<StoredWebhook>;
    /// Deletes a webhook; its unfinished deliveries end `skipped`.
    async fn delete_webhook(&self, account: &str, id: &str, now: Timestamp) -> Result<bool>;
    /// Pauses or resumes: pausing holds unfinished deliveries as `scheduled`;
    /// resuming releases them in order, or skips them with `discard_held`, and
    /// forgets past failures (`failing_since`).
    async fn set_webhook_status(&self, change: StatusChange) -> Result<StoredWebhook>;
    /// Disables an active webhook that has failed without a success since
    /// `failing_before` or earlier, holding its unfinished deliveries like a pause;
    /// returns it if this call disabled it (`None`: not failing that long, not
    /// active, or gone).
    async fn disable_webhook(
        &self,
        account: &str,
        id: &str,
        failing_before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<StoredWebhook>>;

    /// Stores events and, in the same transaction, their deliveries.
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<IngestOutcome>>;
    /// Stores a snapshot (or deletes a product), derives the events of the change
    /// and stores them with their deliveries — all in one transaction. The same
    /// snapshot twice derives nothing; a `version` lower than the stored one is a
    /// `Conflict`; deleting what does not exist is `NotFound`.
    async fn put_snapshot(&self, write: SnapshotWrite) -> Result<SnapshotOutcome>;
    /// The latest snapshot of a resource and its version (`None` if absent or deleted).
    async fn snapshot(
        &self,
        account: &str,
        kind: shophook_core::derive::ResourceKind,
        id: &str,
    ) -> Result<Option<(serde_json::Value, i64)>>;
    /// One event of an account, with its delivery ids.
    async fn event(&self, account: &str, id: &str) -> Result<Option<(StoredEvent, Vec<String>)>>;
    /// The values the account's orders used for status, payment and shipping
    /// method (`core::field_options`; recorded by [`Store::put_snapshot`]).
    async fn field_options(
        &self,
        account: &str,
    ) -> Result<shophook_core::field_options::FieldOptions>;

    /// Claims up to `limit` due deliveries for `node` until `lease_until`.
    async fn claim_due(&self, claim: Claim) -> Result<Vec<ClaimedDelivery>>;
    /// Records attempts and next states; each update is applied atomically. An
    /// attempt's success or failure also updates its webhook's `failing_since`.
    async fn record(&self, updates: Vec<DeliveryUpdate>) -> Result<()>;
    /// Gives claimed deliveries back (due now): all of them at start-up of a
    /// single-node store (`node = None`), or one node's at shutdown.
    async fn release_claims(&self, node: Option<&str>, now: Timestamp) -> Result<u64>;
    /// Gives these claimed deliveries of `node` back, due at `now` (a worker claimed
    /// more for one webhook than that webhook's concurrency allows).
    async fn unclaim(&self, node: &str, ids: Vec<String>, now: Timestamp) -> Result<()>;
    /// The earliest due time of any deliverable delivery.
    async fn next_due_at(&self) -> Result<Option<Timestamp>>;
    /// How many deliveries wait, due by `now` or later, and the oldest due time.
    /// Read from the due-time index only, so it stays cheap with a long queue.
    async fn queue_stats(&self, now: Timestamp) -> Result<QueueStats>;
    /// How many events this store handle has committed since it was opened (from
    /// the API, from snapshots, from abandoned-checkout timers): a counter for
    /// metrics, kept in memory, so it starts at 0 with each process and does not
    /// include what other nodes stored.
    fn events_stored(&self) -> u64;

    /// Deliveries of an account, newest first.
    async fn list_deliveries(&self, account: &str, filter: DeliveryFilter)
    -> Result<Vec<Delivery>>;
    /// Each of the account's webhooks (oldest first) with its attempts since the
    /// hour `since` is in, and its latest attempt still kept (within retention).
    /// Read from per-hour tallies the outcome records keep, never by scanning
    /// deliveries.
    async fn webhook_stats(&self, account: &str, since: Timestamp) -> Result<Vec<WebhookStats>>;
    /// One webhook's attempts per hour since the hour `since` is in, oldest first
    /// (hours without attempts are left out); nothing for another account's.
    async fn webhook_hours(
        &self,
        account: &str,
        webhook: &str,
        since: Timestamp,
    ) -> Result<Vec<HourStats>>;
    /// One delivery with its attempts and its event's JSON envelope.
    async fn delivery(&self, account: &str, id: &str) -> Result<Option<DeliveryDetail>>;
    /// Makes a finished or waiting delivery due now (manual retry).
    async fn retry_delivery(
        &self,
        account: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>>;

    /// Deletes finished deliveries, their attempts, orphaned events and idempotency
    /// keys older than `cutoff`, at most `batch` deliveries per call.
    async fn purge(&self, cutoff: Timestamp, batch: u32) -> Result<u64>;
}

/// The settings key of the operator key's hash.
pub const ADMIN_KEY_SETTING: &str = "admin_key_sha256";
