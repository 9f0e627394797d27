//! `impl Store for PgStore`: each call is one transaction, run again when
//! PostgreSQL reports a deadlock or a serialisation failure.

use async_trait::async_trait;
use jiff::Timestamp;
use shophook_core::account::Account;
use std::sync::Arc;
use tokio::sync::Notify;

use super::{
    PgStore, R, accounts, deliveries, events, field_values, history, snapshots, ui_sessions,
    webhooks,
};
use crate::*;

/// How often a transaction is retried after a deadlock or serialisation failure.
const RETRIES: u32 = 3;

/// Runs `$body` (which uses the transaction `$t`) in a transaction and commits it;
/// retried as a whole on a deadlock or serialisation failure, so `$body` must
/// clone what it consumes.
macro_rules! tx {
    ($self:ident, |$t:ident| $body:expr) => {{
        let mut tries = 0;
        loop {
            let attempt: R<_> = async {
                let mut $t = $self.begin().await?;
                let out = $body;
                $self.commit($t).await?;
                Ok(out)
            }
            .await;
            match attempt {
                Err(e) if e.retryable() && tries < RETRIES => {
                    tries += 1;
                    tracing::debug!(error = ?e, tries, "PostgreSQL asked for a retry");
                }
                other => break other.map_err(StoreError::from),
            }
        }
    }};
}

#[async_trait]
impl Store for PgStore {
    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    fn single_node(&self) -> bool {
        false
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        tx!(self, |t| accounts::setting(&mut t, key).await?)
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<bool> {
        tx!(self, |t| accounts::init_setting(&mut t, key, value).await?)
    }

    async fn create_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        tx!(self, |t| accounts::create(&mut t, account.clone(), now)
            .await?)
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        tx!(self, |t| accounts::list(&mut t).await?)
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        tx!(self, |t| accounts::get(&mut t, id).await?)
    }

    async fn update_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        tx!(self, |t| accounts::update(&mut t, account.clone(), now)
            .await?)
    }

    async fn delete_account(&self, id: &str) -> Result<bool> {
        tx!(self, |t| accounts::delete(&mut t, id).await?)
    }

    async fn create_key(&self, key: NewKey) -> Result<()> {
        tx!(self, |t| accounts::create_key(&mut t, key.clone()).await?)
    }

    async fn delete_key(&self, account: &str, key_id: &str) -> Result<bool> {
        tx!(self, |t| accounts::delete_key(&mut t, account, key_id)
            .await?)
    }

    async fn key_account(&self, hash: &str) -> Result<Option<String>> {
        tx!(self, |t| accounts::key_account(&mut t, hash).await?)
    }

    async fn create_ui_session(&self, session: UiSession) -> Result<()> {
        tx!(self, |t| ui_sessions::create(&mut t, session.clone())
            .await?)
    }

    async fn ui_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>> {
        tx!(self, |t| ui_sessions::get(&mut t, id_hash, now).await?)
    }

    async fn end_ui_session(&self, id_hash: &str) -> Result<bool> {
        tx!(self, |t| ui_sessions::end(&mut t, id_hash).await?)
    }

    async fn end_portal_sessions(&self, account: &str) -> Result<u64> {
        tx!(self, |t| ui_sessions::end_portal(&mut t, account).await?)
    }

    async fn create_webhook(
        &self,
        webhook: StoredWebhook,
        max_webhooks: u32,
    ) -> Result<StoredWebhook> {
        tx!(self, |t| webhooks::create(
            &mut t,
            webhook.clone(),
            max_webhooks
        )
        .await?)
    }

    async fn list_webhooks(&self, account: &str) -> Result<Vec<StoredWebhook>> {
        tx!(self, |t| webhooks::list(&mut t, account).await?)
    }

    async fn webhook(&self, account: &str, id: &str) -> Result<Option<StoredWebhook>> {
        tx!(self, |t| webhooks::get(&mut t, account, id).await?)
    }

    async fn update_webhook(&self, webhook: StoredWebhook) -> Result<StoredWebhook> {
        tx!(self, |t| webhooks::update(&mut t, webhook.clone()).await?)
    }

    async fn delete_webhook(&self, account: &str, id: &str, now: Timestamp) -> Result<bool> {
        tx!(self, |t| webhooks::delete(&mut t, account, id, now).await?)
    }

    async fn set_webhook_status(&self, change: StatusChange) -> Result<StoredWebhook> {
        tx!(self, |t| webhooks::set_status(&mut t, change.clone())
            .await?)
    }

    async fn disable_webhook(
        &self,
        account: &str,
        id: &str,
        failing_before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<StoredWebhook>> {
        tx!(self, |t| webhooks::disable(
            &mut t,
            account,
            id,
            failing_before,
            now
        )
        .await?)
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        tx!(self, |t| events::ingest(&mut t, events.clone()).await?)
    }

    async fn put_snapshot(&self, write: SnapshotWrite) -> Result<SnapshotOutcome> {
        tx!(self, |t| snapshots::put(&mut t, write.clone()).await?)
    }

    async fn snapshot(
        &self,
        account: &str,
        kind: shophook_core::derive::ResourceKind,
        id: &str,
    ) -> Result<Option<(serde_json::Value, i64)>> {
        tx!(self, |t| snapshots::latest(&mut t, account, kind, id)
            .await?)
    }

    async fn field_options(
        &self,
        account: &str,
    ) -> Result<shophook_core::field_options::FieldOptions> {
        let accounts = [account.to_string()];
        tx!(self, |t| field_values::options(&mut t, &accounts)
            .await?
            .remove(account)
            .map(|o| (*o).clone())
            .unwrap_or_default())
    }

    async fn event(&self, account: &str, id: &str) -> Result<Option<(StoredEvent, Vec<String>)>> {
        tx!(self, |t| events::get(&mut t, account, id).await?)
    }

    async fn claim_due(&self, claim: Claim) -> Result<Vec<ClaimedDelivery>> {
        tx!(self, |t| deliveries::claim(&mut t, claim.clone()).await?)
    }

    async fn record(&self, updates: Vec<DeliveryUpdate>) -> Result<()> {
        tx!(self, |t| deliveries::record(&mut t, updates.clone())
            .await?)
    }

    async fn release_claims(&self, node: Option<&str>, now: Timestamp) -> Result<u64> {
        tx!(self, |t| deliveries::release(&mut t, node, now).await?)
    }

    async fn unclaim(&self, node: &str, ids: Vec<String>, now: Timestamp) -> Result<()> {
        tx!(self, |t| deliveries::unclaim(&mut t, node, &ids, now)
            .await?)
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>> {
        tx!(self, |t| deliveries::next_due_at(&mut t).await?)
    }

    async fn queue_stats(&self, now: Timestamp) -> Result<QueueStats> {
        tx!(self, |t| deliveries::queue_stats(&mut t, now).await?)
    }

    fn events_stored(&self) -> u64 {
        self.events_stored
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn list_deliveries(
        &self,
        account: &str,
        filter: DeliveryFilter,
    ) -> Result<Vec<Delivery>> {
        tx!(self, |t| history::list(&mut t, account, &filter).await?)
    }

    async fn webhook_stats(&self, account: &str, since: Timestamp) -> Result<Vec<WebhookStats>> {
        tx!(self, |t| history::stats(&mut t, account, since).await?)
    }

    async fn webhook_hours(
        &self,
        account: &str,
        webhook: &str,
        since: Timestamp,
    ) -> Result<Vec<HourStats>> {
        tx!(self, |t| history::hours(&mut t, account, webhook, since)
            .await?)
    }

    async fn delivery(&self, account: &str, id: &str) -> Result<Option<DeliveryDetail>> {
        tx!(self, |t| history::detail(&mut t, account, id).await?)
    }

    async fn retry_delivery(
        &self,
        account: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>> {
        tx!(self, |t| history::retry(&mut t, account, id, now).await?)
    }

    async fn purge(&self, cutoff: Timestamp, batch: u32) -> Result<u64> {
        tx!(self, |t| history::purge(&mut t, cutoff, batch).await?)
    }
}
