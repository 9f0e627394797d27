//! The records the store reads and writes.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use shophook_core::event::Event;
use shophook_core::plan::DeliveryStatus;
use shophook_core::webhook::{WebhookConfig, WebhookStatus};

/// A stored webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWebhook {
    /// `wh_` + ULID.
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// active / paused / disabled.
    pub status: WebhookStatus,
    /// The validated configuration.
    pub config: WebhookConfig,
    /// Current signing secret.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    /// End of the rotation overlap.
    pub previous_secret_until: Option<Timestamp>,
    /// Every attempt since this time has failed (`None` after a success). A
    /// webhook failing for longer than the server's `--disable-after` is disabled.
    pub failing_since: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// An API key to store (only its hash).
#[derive(Debug, Clone)]
pub struct NewKey {
    /// `key_` + ULID.
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A web UI sign-in as the store keeps it: the SHA-256 of the random id its cookie
/// carries (never the id itself, so a copy of the database opens no session),
/// whose it is and until when. Signing out deletes it, so a saved cookie stops
/// working on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    /// Hex SHA-256 of the session id.
    pub id_hash: String,
    /// The account signed in to; `None` for the operator.
    pub account: Option<String>,
    /// Opened through a one-time portal link, not with a key.
    pub portal: bool,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// The session ends at this time.
    pub expires_at: Timestamp,
}

/// A pause/resume request.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// Account.
    pub account: String,
    /// Webhook.
    pub webhook: String,
    /// New status.
    pub status: WebhookStatus,
    /// On resume: end held deliveries `skipped` instead of sending them.
    pub discard_held: bool,
    /// Now.
    pub now: Timestamp,
}

/// Which webhooks a new event goes to.
#[derive(Debug, Clone)]
pub enum Target {
    /// Every webhook of the account it reaches (filters, products, conditions).
    Matching,
    /// The account's notification webhook (`webhook.disabled`): created with
    /// `secret` when missing, pointed at `url` (the account's `notify_url`).
    Notify {
        /// Where notifications go.
        url: String,
        /// The secret of the notification webhook if it has to be created.
        secret: String,
    },
    /// Exactly this webhook (test sends): one delivery due now, whatever its
    /// filters, status, delay or schedule; with a `dispatch` it is claimed for the
    /// caller, who sends it itself.
    Only {
        /// Webhook id.
        webhook: String,
    },
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The event.
    pub event: Event,
    /// Its JSON envelope, rendered once.
    pub envelope: Arc<str>,
    /// A repeat of this key returns the first outcome and stores nothing.
    pub idempotency_key: Option<String>,
    /// Which webhooks it goes to.
    pub target: Target,
    /// Claim the deliveries that are due at once for this node, in the same
    /// transaction, and hand them back ([`IngestOutcome::Stored`]'s `dispatched`):
    /// the worker sends them without a claim query. `None`: they wait to be claimed.
    pub dispatch: Option<Lease>,
}

/// A claim on deliveries: the node that holds them, until when. Given to an
/// ingest ([`NewEvent::dispatch`]) it claims what is due at once for that node;
/// given with an outcome ([`DeliveryUpdate::claim`]) it names the claim the
/// outcome belongs to. When a lease runs out mid-send, the delivery may be claimed
/// again (by another node, or this one) and even finished; the late outcome of the
/// first claim must then not overwrite the newer state. Its attempt is still kept
/// in the history — the request was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The claiming node.
    pub node: String,
    /// The lease end: sent and recorded by then, or due again for anyone.
    pub until: Timestamp,
}

/// Deliveries an ingest claimed for the caller ([`NewEvent::dispatch`]).
/// Compared by delivery id.
#[derive(Debug, Clone, Default)]
pub struct Dispatched(pub Vec<ClaimedDelivery>);

impl PartialEq for Dispatched {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| a.id == b.id)
    }
}

/// What happened to one [`NewEvent`].
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Stored with these deliveries.
    Stored {
        /// Event id.
        event_id: String,
        /// Delivery ids created.
        deliveries: Vec<String>,
        /// Those of them claimed for the caller to send now (with `dispatch`).
        dispatched: Dispatched,
    },
    /// The idempotency key was seen before: the first answer.
    Replayed {
        /// The first event's id.
        event_id: String,
        /// How many deliveries it created.
        deliveries: u32,
    },
    /// The account does not exist (anymore).
    NoAccount,
    /// `Target::Only` named a webhook that does not exist.
    NoWebhook,
}

/// A stored event with its envelope.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The event.
    pub event: Event,
    /// Its JSON envelope.
    pub envelope: Arc<str>,
}

/// A claim request.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Claiming node id.
    pub node: String,
    /// Now.
    pub now: Timestamp,
    /// Claimed deliveries are due again after this unless recorded.
    pub lease_until: Timestamp,
    /// Most deliveries to claim.
    pub limit: u32,
    /// Webhooks at their concurrency limit: leave their deliveries.
    pub skip_webhooks: Vec<String>,
    /// Room per webhook: at most this many deliveries of one webhook (0: no cap)…
    pub per_webhook: u32,
    /// …or of these busy webhooks, this many (their free slots).
    pub busy_webhooks: Vec<(String, u32)>,
}

impl Claim {
    /// How many deliveries of `webhook` this claim may take.
    pub fn room(&self, webhook: &str) -> u32 {
        if self.skip_webhooks.iter().any(|w| w == webhook) {
            return 0;
        }
        let cap = if self.per_webhook == 0 {
            self.limit
        } else {
            self.per_webhook.min(self.limit)
        };
        self.busy_webhooks
            .iter()
            .find(|(w, _)| w == webhook)
            .map_or(cap, |(_, n)| (*n).min(cap))
    }
}

/// A claimed delivery with everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// Delivery id (`{id_job}`, `webhook-id`).
    pub id: String,
    /// Status before the claim.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether its last attempt succeeded: it was retried or replayed by hand after
    /// it had reached its receiver, so a success now is not its first.
    pub succeeded_before: bool,
    /// The account's display name.
    pub account_name: String,
    /// The account's IANA time zone.
    pub account_timezone: String,
    /// The account's own ceiling on deliveries in flight (`limits.max_in_flight`).
    pub account_max_in_flight: Option<u32>,
    /// Which order item this delivery is about (per-item profiles such as ekademia).
    pub part: Option<u32>,
    /// The webhook as it is now.
    pub webhook: Arc<StoredWebhook>,
    /// The event.
    pub event: Arc<StoredEvent>,
    /// The subject's latest snapshot, loaded for delayed deliveries so their
    /// conditions are checked against the present, not the moment of the event.
    pub latest: Option<serde_json::Value>,
    /// The end of this claim's lease; with the node it identifies the claim.
    pub lease_until: Timestamp,
    /// The account's option lists (`core::field_options`), loaded only when the
    /// webhook's format sends them (`core::profiles::uses_field_options`).
    pub field_options: Option<Arc<shophook_core::field_options::FieldOptions>>,
}

/// What waits in the delivery queue at one moment (for metrics): deliveries of
/// active webhooks that are still to be sent. Held deliveries (paused webhooks) and
/// `ordered` ones waiting behind their predecessor are in neither count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Due now or earlier and not being sent: what workers would claim next.
    pub due: u64,
    /// Due later: retries waiting out their backoff, delays, schedule windows, and
    /// deliveries being sent (a claim moves the due time to the lease end).
    pub scheduled: u64,
    /// The earliest due time among the `due` ones (`None` when nothing is due).
    pub oldest_due_at: Option<Timestamp>,
}

/// A snapshot write: `PUT /orders/{id}` and friends, or a product deletion.
#[derive(Debug, Clone)]
pub struct SnapshotWrite {
    /// Account.
    pub account: String,
    /// order / checkout / product.
    pub kind: shophook_core::derive::ResourceKind,
    /// Resource id.
    pub id: String,
    /// The new snapshot, or `None` to delete (products).
    pub doc: Option<serde_json::Value>,
    /// The writer's idea of the current version; lower than stored = conflict.
    pub version: Option<i64>,
    /// Now.
    pub now: Timestamp,
}

/// What a snapshot write stored and derived.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotOutcome {
    /// The stored version after the write.
    pub version: i64,
    /// Events derived, in order: (id, type).
    pub events: Vec<(String, shophook_core::event::EventType)>,
}

/// One HTTP request of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `att_` + ULID.
    pub id: String,
    /// 1-based attempt number.
    pub number: u32,
    /// When the request started.
    pub started_at: Timestamp,
    /// How long it took.
    pub duration_ms: u32,
    /// What was sent.
    pub request: RequestRecord,
    /// What came back, if anything.
    pub response: Option<ResponseRecord>,
    /// Why it failed, if it did (network error, unexpected status, refused target…).
    pub error: Option<String>,
}

/// The request of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Final URL.
    pub url: String,
    /// Headers as sent (secrets masked).
    pub headers: Vec<(String, String)>,
    /// Body, when it differs from the event's JSON envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Whether the request went out: `false` when the attempt failed before
    /// sending (its template failed, its URL was refused); then only the method
    /// and the configured URL are recorded.
    #[serde(default = "sent", skip_serializing_if = "is_sent")]
    pub sent: bool,
}

fn sent() -> bool {
    true
}

fn is_sent(sent: &bool) -> bool {
    *sent
}

/// The response of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// First 64 KiB of the body (lossy UTF-8).
    pub body: String,
}

/// Where a delivery goes next.
#[derive(Debug, Clone, PartialEq)]
pub enum NextState {
    /// Done.
    Succeeded,
    /// Try again at this time (held instead if the webhook is paused by then).
    Retry(Timestamp),
    /// Gave up.
    Dead(String),
    /// Not sent, for this reason.
    Skipped(String),
    /// Not yet: wait until this time as `scheduled` (schedule window, paused webhook).
    Defer(Timestamp),
}

impl NextState {
    /// Whether the delivery waits for a later time (a retry, a deferral): what it
    /// becomes then depends on its webhook's status.
    pub fn waits(&self) -> bool {
        matches!(self, NextState::Retry(_) | NextState::Defer(_))
    }

    /// The status a delivery has after this next state.
    pub fn status_name(&self) -> &'static str {
        match self {
            NextState::Succeeded => "succeeded",
            NextState::Retry(_) => "failed",
            NextState::Dead(_) => "dead",
            NextState::Skipped(_) => "skipped",
            NextState::Defer(_) => "scheduled",
        }
    }
}

/// One state change of a delivery, with the attempt that caused it, if any.
#[derive(Debug, Clone)]
pub struct DeliveryUpdate {
    /// Delivery id.
    pub delivery_id: String,
    /// The attempt made.
    pub attempt: Option<Attempt>,
    /// The next state.
    pub next: NextState,
    /// Now.
    pub now: Timestamp,
    /// The claim this outcome belongs to; the state changes only while that claim
    /// still holds the delivery. `None` applies it unconditionally (tools, tests).
    pub claim: Option<Lease>,
}

/// A delivery as stored (the API's view of it is `api::deliveries::Delivery`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `dlv_` + ULID.
    pub id: String,
    /// Account.
    pub account_id: String,
    /// Webhook.
    pub webhook_id: String,
    /// Event.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Event subject.
    pub subject: Option<String>,
    /// Status.
    pub status: DeliveryStatus,
    /// Whether it waits for its webhook to be resumed.
    pub held: bool,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, for waiting deliveries.
    pub next_attempt_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Status code of the last response.
    pub last_status_code: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Why it was skipped or gave up.
    pub reason: Option<String>,
}

/// A delivery with its attempts.
#[derive(Debug, Clone)]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: Delivery,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// The event's JSON envelope (the body of attempts that record none).
    pub envelope: Arc<str>,
}

/// A webhook's recent attempts ([`crate::Store::webhook_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStats {
    /// Webhook id.
    pub webhook_id: String,
    /// Attempts that succeeded since the hour asked for.
    pub succeeded: u64,
    /// Attempts that failed since then (retried or dead).
    pub failed: u64,
    /// The latest attempt kept.
    pub last: Option<LastAttempt>,
}

/// A webhook's attempts in one hour ([`crate::Store::webhook_hours`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourStats {
    /// The start of the hour.
    pub hour: Timestamp,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed.
    pub failed: u64,
}

/// The latest attempt to a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAttempt {
    /// When it was made.
    pub at: Timestamp,
    /// Its delivery's status after it.
    pub status: DeliveryStatus,
    /// The response's status code, if one came.
    pub code: Option<u16>,
}

/// History filters (all optional) and a cursor.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this webhook.
    pub webhook: Option<String>,
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this subject (`order:1001`).
    pub subject: Option<String>,
    /// Only deliveries older than this delivery id (the cursor).
    pub before: Option<String>,
    /// Page size.
    pub limit: u32,
}
