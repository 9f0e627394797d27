//! Integration tests of shophook-store: one conformance suite that every backend
//! passes. The checks in [`conformance`] know only the [`Store`] trait; this file
//! says which backends run them and how a fresh, empty store of each is made.
//! (One test binary per crate, see STYLE.md.)

mod conformance;

use std::sync::Arc;

use shophook_store::Store;
use shophook_store::postgres::{PgOptions, PgStore};
use shophook_store::sqlite::SqliteStore;

/// A fresh SQLite store in its own temporary directory; the directory (and the
/// database) goes away when the guard is dropped, after the store.
pub fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("t.db")).expect("opening a new SQLite store");
    (Arc::new(store), dir)
}

/// A database made for one test; dropped (with any connection still open) when
/// the guard goes.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if shophook_testdb::drop_blocking(&self.admin_url, &self.name).is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A fresh PostgreSQL store on a new, empty database, or `None` (after printing
/// why) when PostgreSQL is unreachable — unless `SHOPHOOK_REQUIRE_POSTGRES=1`,
/// which `.ci/run` sets, makes that a failure.
pub async fn postgres() -> Option<(Arc<dyn Store>, PgDatabase)> {
    let admin_url = shophook_testdb::base_url();
    let name = shophook_testdb::unique_name("shophook_t");
    match shophook_testdb::create(&admin_url, &name, std::time::Duration::from_secs(5)).await {
        Ok(()) => {}
        Err(shophook_testdb::Error::Unreachable(why)) => return unreachable_postgres(&why),
        Err(e) => panic!("creating a test database: {e}"),
    }
    let guard = PgDatabase { admin_url, name };
    let store = guard.open().await;
    Some((store, guard))
}

impl PgDatabase {
    /// Another store (another node) on this database.
    pub async fn open(&self) -> Arc<dyn Store> {
        // The PostgreSQL runs keep secrets sealed (the SQLite ones do not), so
        // every check also covers `--encryption-key`.
        let options = PgOptions {
            pool_size: 8,
            acquire_timeout: std::time::Duration::from_secs(10),
            sealer: shophook_store::Sealer::from_base64_key(
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            )
            .expect("a valid key"),
        };
        let url = shophook_testdb::with_database(&self.admin_url, &self.name);
        let store = PgStore::open(&url, options)
            .await
            .expect("opening a PostgreSQL store");
        Arc::new(store)
    }
}

fn unreachable_postgres<T>(why: &str) -> Option<T> {
    if shophook_testdb::required() {
        panic!(
            "SHOPHOOK_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {}: {why}",
            shophook_testdb::base_url()
        );
    }
    crate::skipped!(
        "PostgreSQL conformance suite (start PostgreSQL or set SHOPHOOK_TEST_POSTGRES)"
    );
    None
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
            ui_sessions_open_end_and_expire,
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
            deleting_an_account_during_ingests_leaves_nothing_behind,
            ingest_to_one_webhook_claims_it_for_the_caller,
            ingest_with_dispatch_claims_the_due_deliveries,
            work_signal_wakes_a_waiting_worker_after_ingest,
            work_signal_after_resume_release_and_retry,
            // the queue
            claim_returns_due_deliveries_with_webhook_and_event,
            claim_respects_limit_order_and_skip_webhooks,
            claim_takes_each_webhook_within_its_room,
            a_claim_lasts_until_its_lease_ends,
            concurrent_claims_never_overlap,
            record_moves_deliveries_to_their_next_state,
            record_keeps_attempts_in_order,
            record_retry_while_paused_holds_the_delivery,
            record_of_a_missing_delivery_is_not_found,
            a_late_outcome_of_an_expired_claim_keeps_the_newer_state,
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
            snapshots_stamp_versions_and_record_option_lists,
            deleting_a_product_derives_product_deleted,
            open_checkouts_are_abandoned_once_after_the_accounts_delay,
            delayed_deliveries_are_claimed_with_the_latest_snapshot,
            ordered_webhooks_send_one_delivery_per_subject_at_a_time,
            // what metrics read
            queue_stats_count_due_and_scheduled_deliveries,
            webhook_stats_count_attempts_per_hour_and_name_the_last,
            events_stored_counts_committed_events,
            a_claim_says_whether_the_last_attempt_succeeded,
            // webhook health
            failing_since_follows_attempts,
            a_webhook_failing_long_enough_is_disabled_and_resume_starts_afresh,
            notifications_go_to_the_accounts_notification_webhook,
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
conformance_suite!(
    postgres,
    match crate::postgres().await {
        Some(fresh) => fresh,
        None => return,
    }
);

/// What only the SQLite backend can show: the rows behind the trait.
mod sqlite_rows {
    use serde_json::json;
    use shophook_store::sqlite::SqliteStore;
    use shophook_store::{Sealer, Store, StoreError};

    use crate::conformance::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn raw_webhooks(path: &std::path::Path) -> String {
        let db = rusqlite::Connection::open(path).expect("reopening the database");
        let rows: Vec<String> = db
            .prepare("SELECT secret || ' ' || COALESCE(previous_secret, '') || ' ' || config FROM webhooks")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.join("\n")
    }

    /// With a key, secrets and header values are sealed in the file; without the
    /// key they do not open; secrets stored before the key was set are sealed at
    /// the next start with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_are_sealed_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let plain = SqliteStore::open(&path).unwrap();
        given_account(&plain, "acme", "Acme").await;
        let before = given_webhook(
            &plain,
            "acme",
            json!({"headers": {"X-Api-Key": "k-plain-1234"}}),
        )
        .await;
        drop(plain);
        assert!(
            raw_webhooks(&path).contains("k-plain-1234"),
            "no key: stored as given"
        );

        let sealed = SqliteStore::open_with(&path, Sealer::from_base64_key(KEY).unwrap()).unwrap();
        let mut hook = webhook(
            "acme",
            json!({"headers": {"Authorization": "Bearer tok-5678"}}),
            t(1),
        );
        hook.previous_secret = Some("whsec_previous0123456789abc".into());
        let hook = sealed.create_webhook(hook, 10).await.unwrap();
        let read = sealed.webhook("acme", &hook.id).await.unwrap().unwrap();
        assert_eq!(read, hook, "what goes in comes out");
        assert_eq!(
            sealed.webhook("acme", &before.id).await.unwrap().unwrap(),
            before
        );
        drop(sealed);
        let raw = raw_webhooks(&path);
        for secret in [
            hook.secret.as_str(),
            "whsec_previous0123456789abc",
            "tok-5678",
            before.secret.as_str(),
            "k-plain-1234",
        ] {
            assert!(!raw.contains(secret), "{secret} is not in the file: {raw}");
        }
        assert!(raw.contains("enc:v1:"));

        for (sealer, why) in [
            (Sealer::none(), "start shophook with the same"),
            (
                Sealer::from_base64_key("MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=").unwrap(),
                "does not open with this --encryption-key",
            ),
        ] {
            match SqliteStore::open_with(&path, sealer) {
                Err(StoreError::Corrupt(m)) => assert!(m.contains(why), "{m}"),
                Err(other) => panic!("{other}"),
                Ok(_) => panic!("a missing or wrong key stops the start"),
            }
        }
    }

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

/// What only a shared store can show: two stores (two nodes) on one database.
mod postgres_nodes {
    use std::time::Duration;

    use serde_json::json;
    use shophook_core::derive::ResourceKind;
    use shophook_store::SnapshotWrite;

    use crate::conformance::*;

    /// A commit on one node wakes the workers of another (LISTEN/NOTIFY).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_on_one_node_wakes_another() {
        let Some((a, db)) = crate::postgres().await else {
            return;
        };
        let b = db.open().await;
        assert!(!a.single_node(), "other nodes share a PostgreSQL store");
        given_account(&*a, "acme", "Acme").await;
        given_webhook(&*a, "acme", json!({})).await;
        let woken = b.work_signal();
        // B's first wake-up comes with its LISTEN connection; wait it out.
        let _ = tokio::time::timeout(Duration::from_secs(2), woken.notified()).await;
        let id = one_delivery(&*a, order_created("acme", "1", t(0))).await;
        tokio::time::timeout(Duration::from_secs(10), woken.notified())
            .await
            .expect("node B is woken by node A's commit");
        assert_eq!(claim_ids(&*b, claim("node-b", t(0), 100)).await, [id]);
    }

    /// An abandoned-checkout timer fires on exactly one node, however many claim.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timer_fires_on_one_node_only() {
        let Some((a, db)) = crate::postgres().await else {
            return;
        };
        let b = db.open().await;
        given_account(&*a, "acme", "Acme").await;
        given_webhook(&*a, "acme", json!({"events": ["checkout.abandoned"]})).await;
        for i in 0..20 {
            let id = format!("c{i}");
            a.put_snapshot(SnapshotWrite {
                account: "acme".into(),
                kind: ResourceKind::Checkout,
                id: id.clone(),
                doc: Some(json!({"id": id, "status": "open", "created_at": t(0).to_string()})),
                version: None,
                now: t(0),
            })
            .await
            .unwrap();
        }
        let mut claimers = tokio::task::JoinSet::new();
        for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
        {
            claimers.spawn(async move {
                claim_ids(&*store, claim(&format!("node-{n}"), t(60), 3)).await
            });
        }
        let mut claimed = Vec::new();
        while let Some(ids) = claimers.join_next().await {
            claimed.extend(ids.unwrap());
        }
        loop {
            let more = claim_ids(&*a, claim("node-a", t(60), 100)).await;
            if more.is_empty() {
                break;
            }
            claimed.extend(more);
        }
        assert_eq!(claimed.len(), 20, "one checkout.abandoned per checkout");
        assert_eq!(all_deliveries(&*a, "acme").await.len(), 20);
    }
}

/// Says a check was skipped and how to enable it, once per message. Written to
/// stderr directly, so it shows under `cargo test` too (the harness hides a
/// passing test's `eprintln!`); the line starts with `skipped: `.
#[macro_export]
macro_rules! skipped {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let line = format!("skipped: {}", format_args!($($arg)*));
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        if !said.contains(&line) {
            let _ = writeln!(std::io::stderr(), "{line}");
            said.push(line);
        }
    }};
}
