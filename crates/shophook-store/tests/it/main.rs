//! Integration tests of shophook-store: one conformance suite that every backend
//! passes. The checks in [`conformance`] know only the [`Store`] trait; this file
//! says which backends run them and how a fresh, empty store of each is made.
//! (One test binary per crate, see STYLE.md.)

mod conformance;

use std::sync::Arc;

use shophook_store::Store;
use shophook_store::sqlite::SqliteStore;

/// A fresh SQLite store in its own temporary directory; the directory (and the
/// database) goes away when the guard is dropped, after the store.
pub fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("t.db")).expect("opening a new SQLite store");
    (Arc::new(store), dir)
}

/// Runs every conformance check against a backend: one `#[tokio::test]` per check,
/// each on a fresh store made by `$fresh`, an expression evaluating to
/// `(Arc<dyn Store>, guard)` inside the (async) test, so a backend that needs a
/// service can be set up there.
///
/// Adding a check: write `pub async fn name(store: Arc<dyn Store>)` in a module of
/// `conformance`, re-export it there, and add its name to the list below.
macro_rules! conformance_suite {
    ($backend:ident, $fresh:expr) => {
        conformance_suite!(@each $backend, $fresh;
            // settings, accounts, keys
            settings_are_written_once,
            accounts_crud,
            deleting_an_account_deletes_everything_in_it,
            keys_belong_to_one_account,
            // webhooks
            webhooks_crud,
            webhooks_respect_max_webhooks,
            pausing_holds_and_resuming_releases_in_order,
            resuming_with_discard_held_skips_held_deliveries,
            status_change_of_a_missing_webhook_is_not_found,
            deleting_a_webhook_skips_its_unfinished_deliveries,
            deleting_a_webhook_mid_send_does_not_strand_the_delivery,
            // ingest
            ingest_creates_deliveries_for_matching_webhooks,
            ingest_starts_deliveries_in_their_initial_state,
            ingest_repeated_idempotency_key_replays_the_first_outcome,
            ingest_for_a_missing_account_stores_nothing,
            ingest_to_one_webhook_claims_it_for_the_caller,
            work_signal_wakes_a_waiting_worker_after_ingest,
            work_signal_after_resume_release_and_retry,
            // the queue
            claim_returns_due_deliveries_with_webhook_and_event,
            claim_respects_limit_order_and_skip_webhooks,
            a_claim_lasts_until_its_lease_ends,
            concurrent_claims_never_overlap,
            record_moves_deliveries_to_their_next_state,
            record_keeps_attempts_in_order,
            record_retry_while_paused_holds_the_delivery,
            record_of_a_missing_delivery_is_not_found,
            release_claims_gives_back_all_or_one_nodes,
            unclaim_gives_back_only_the_nodes_own_claims,
            next_due_at_is_the_earliest_deliverable_time,
            retry_delivery_makes_a_finished_delivery_due_now,
            // history and retention
            list_deliveries_filters,
            list_deliveries_pages_with_before,
            purge_deletes_old_finished_deliveries_in_batches,
            // shop snapshots and ordered webhooks
            snapshots_derive_events_with_their_deliveries,
            deleting_a_product_derives_product_deleted,
            open_checkouts_are_abandoned_once_after_the_accounts_delay,
            delayed_deliveries_are_claimed_with_the_latest_snapshot,
            ordered_webhooks_send_one_delivery_per_subject_at_a_time,
        );
    };
    (@each $backend:ident, $fresh:expr; $($check:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let (store, _guard) = $fresh;
                    crate::conformance::$check(store).await;
                }
            )*
        }
    };
}

conformance_suite!(sqlite, crate::sqlite());

/// What only the SQLite backend can show: the rows behind the trait.
mod sqlite_rows {
    /// Purged deliveries leave no attempts behind (the trait cannot see orphans).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn purge_leaves_no_orphan_attempts() {
        let (store, dir) = crate::sqlite();
        let kept = crate::conformance::purge_scenario(store.clone()).await;
        drop(store);
        let db =
            rusqlite::Connection::open(dir.path().join("t.db")).expect("reopening the database");
        let orphans: i64 = db
            .query_row("SELECT COUNT(*) FROM attempts WHERE delivery_id NOT IN (SELECT id FROM deliveries)", [], |r| r.get(0))
            .expect("counting attempts");
        assert_eq!(
            orphans, 0,
            "attempts of purged deliveries are deleted with them"
        );
        let left: i64 = db
            .query_row("SELECT COUNT(*) FROM attempts", [], |r| r.get(0))
            .expect("counting attempts");
        assert_eq!(left, i64::from(kept), "attempts of kept deliveries stay");
    }
}
