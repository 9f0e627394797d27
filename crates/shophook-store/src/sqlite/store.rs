//! `impl Store for SqliteStore`: reads on the reader pool, writes through the one
//! writer thread, each write in its own savepoint of a group-committed transaction.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use jiff::Timestamp;
use shophook_core::account::Account;
use tokio::sync::Notify;

use crate::*;

use super::*;

#[async_trait]
impl Store for SqliteStore {
    fn work_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    fn single_node(&self) -> bool {
        true
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.readers.read(move |c| accounts::setting(c, &key)).await
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<bool> {
        let (key, value) = (key.to_string(), value.to_string());
        self.writer
            .write(move |w| accounts::init_setting(w.conn, &key, &value))
            .await
    }

    async fn create_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        self.writer
            .write(move |w| accounts::create(w, account, now))
            .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.readers.read(accounts::list).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let id = id.to_string();
        self.readers.read(move |c| accounts::get(c, &id)).await
    }

    async fn update_account(&self, account: Account, now: Timestamp) -> Result<Account> {
        self.writer
            .write(move |w| accounts::update(w, account, now))
            .await
    }

    async fn delete_account(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.writer.write(move |w| accounts::delete(w, &id)).await
    }

    async fn create_key(&self, key: NewKey) -> Result<()> {
        self.writer
            .write(move |w| accounts::create_key(w.conn, key))
            .await
    }

    async fn delete_key(&self, account: &str, key_id: &str) -> Result<bool> {
        let (account, key_id) = (account.to_string(), key_id.to_string());
        self.writer
            .write(move |w| accounts::delete_key(w.conn, &account, &key_id))
            .await
    }

    async fn key_account(&self, hash: &str) -> Result<Option<String>> {
        let hash = hash.to_string();
        self.readers
            .read(move |c| accounts::key_account(c, &hash))
            .await
    }

    async fn create_ui_session(&self, session: UiSession) -> Result<()> {
        self.writer
            .write(move |w| ui_sessions::create(w.conn, session))
            .await
    }

    async fn ui_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>> {
        let id_hash = id_hash.to_string();
        self.readers
            .read(move |c| ui_sessions::get(c, &id_hash, now))
            .await
    }

    async fn end_ui_session(&self, id_hash: &str) -> Result<bool> {
        let id_hash = id_hash.to_string();
        self.writer
            .write(move |w| ui_sessions::end(w.conn, &id_hash))
            .await
    }

    async fn end_portal_sessions(&self, account: &str) -> Result<u64> {
        let account = account.to_string();
        self.writer
            .write(move |w| ui_sessions::end_portal(w.conn, &account))
            .await
    }

    async fn create_webhook(
        &self,
        webhook: StoredWebhook,
        max_webhooks: u32,
    ) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::create(w, webhook, max_webhooks))
            .await
    }

    async fn list_webhooks(&self, account: &str) -> Result<Vec<StoredWebhook>> {
        let (account, sealer) = (account.to_string(), self.sealer.clone());
        self.readers
            .read(move |c| webhooks::list(c, &sealer, &account))
            .await
    }

    async fn webhook(&self, account: &str, id: &str) -> Result<Option<StoredWebhook>> {
        let (account, id, sealer) = (account.to_string(), id.to_string(), self.sealer.clone());
        self.readers
            .read(move |c| webhooks::get(c, &sealer, &account, &id))
            .await
    }

    async fn update_webhook(&self, webhook: StoredWebhook) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::update(w, webhook))
            .await
    }

    async fn delete_webhook(&self, account: &str, id: &str, now: Timestamp) -> Result<bool> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| webhooks::delete(w, &account, &id, now))
            .await
    }

    async fn set_webhook_status(&self, change: StatusChange) -> Result<StoredWebhook> {
        self.writer
            .write(move |w| webhooks::set_status(w, change))
            .await
    }

    async fn disable_webhook(
        &self,
        account: &str,
        id: &str,
        failing_before: Timestamp,
        now: Timestamp,
    ) -> Result<Option<StoredWebhook>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| webhooks::disable(w, &account, &id, failing_before, now))
            .await
    }

    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<IngestOutcome>> {
        self.writer.write(move |w| events::ingest(w, events)).await
    }

    async fn put_snapshot(&self, write: SnapshotWrite) -> Result<SnapshotOutcome> {
        self.writer.write(move |w| snapshots::put(w, write)).await
    }

    async fn snapshot(
        &self,
        account: &str,
        kind: shophook_core::derive::ResourceKind,
        id: &str,
    ) -> Result<Option<(serde_json::Value, i64)>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| snapshots::latest(c, &account, kind, &id))
            .await
    }

    async fn field_options(
        &self,
        account: &str,
    ) -> Result<shophook_core::field_options::FieldOptions> {
        let account = account.to_string();
        self.readers
            .read(move |c| field_values::load(c, &account))
            .await
    }

    async fn event(&self, account: &str, id: &str) -> Result<Option<(StoredEvent, Vec<String>)>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| events::get(c, &account, &id))
            .await
    }

    async fn claim_due(&self, claim: Claim) -> Result<Vec<ClaimedDelivery>> {
        self.writer
            .write(move |w| deliveries::claim(w, claim))
            .await
    }

    async fn record(&self, updates: Vec<DeliveryUpdate>) -> Result<()> {
        self.writer
            .write(move |w| deliveries::record(w, updates))
            .await
    }

    async fn release_claims(&self, node: Option<&str>, now: Timestamp) -> Result<u64> {
        let node = node.map(str::to_string);
        self.writer
            .write(move |w| deliveries::release(w, node.as_deref(), now))
            .await
    }

    async fn unclaim(&self, node: &str, ids: Vec<String>, now: Timestamp) -> Result<()> {
        let node = node.to_string();
        self.writer
            .write(move |w| deliveries::unclaim(w, &node, &ids, now))
            .await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>> {
        self.readers.read(deliveries::next_due_at).await
    }

    async fn queue_stats(&self, now: Timestamp) -> Result<QueueStats> {
        self.readers
            .read(move |c| deliveries::queue_stats(c, now))
            .await
    }

    fn events_stored(&self) -> u64 {
        self.events_stored.load(Ordering::Relaxed)
    }

    async fn list_deliveries(
        &self,
        account: &str,
        filter: DeliveryFilter,
    ) -> Result<Vec<Delivery>> {
        let account = account.to_string();
        self.readers
            .read(move |c| history::list(c, &account, &filter))
            .await
    }

    async fn webhook_stats(&self, account: &str, since: Timestamp) -> Result<Vec<WebhookStats>> {
        let account = account.to_string();
        self.readers
            .read(move |c| history::stats(c, &account, since))
            .await
    }

    async fn webhook_hours(
        &self,
        account: &str,
        webhook: &str,
        since: Timestamp,
    ) -> Result<Vec<HourStats>> {
        let (account, webhook) = (account.to_string(), webhook.to_string());
        self.readers
            .read(move |c| history::hours(c, &account, &webhook, since))
            .await
    }

    async fn delivery(&self, account: &str, id: &str) -> Result<Option<DeliveryDetail>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.readers
            .read(move |c| history::detail(c, &account, &id))
            .await
    }

    async fn retry_delivery(
        &self,
        account: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Delivery>> {
        let (account, id) = (account.to_string(), id.to_string());
        self.writer
            .write(move |w| history::retry(w, &account, &id, now))
            .await
    }

    async fn purge(&self, cutoff: Timestamp, batch: u32) -> Result<u64> {
        self.writer
            .write(move |w| history::purge(w.conn, cutoff, batch))
            .await
    }
}
