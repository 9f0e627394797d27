//! Server settings, accounts and API keys.

use serde_json::json;
use shophook_core::account::Account;
use shophook_store::{ADMIN_KEY_SETTING, DeliveryFilter, IngestOutcome, NewKey, StoreError};

use super::*;

pub async fn settings_are_written_once(store: Backend) {
    assert_eq!(store.setting(ADMIN_KEY_SETTING).await.unwrap(), None);
    assert!(
        store
            .init_setting(ADMIN_KEY_SETTING, "hash-1")
            .await
            .unwrap(),
        "the first init writes"
    );
    assert!(
        !store
            .init_setting(ADMIN_KEY_SETTING, "hash-2")
            .await
            .unwrap(),
        "a second init does not"
    );
    assert_eq!(
        store.setting(ADMIN_KEY_SETTING).await.unwrap().as_deref(),
        Some("hash-1")
    );
    assert!(
        store.init_setting("other", "x").await.unwrap(),
        "settings are per key"
    );
    assert_eq!(store.setting("other").await.unwrap().as_deref(), Some("x"));
}

pub async fn accounts_crud(store: Backend) {
    let globex = given_account(&*store, "globex", "Globex").await;
    let acme = given_account(&*store, "acme", "Acme").await;
    assert_eq!(
        store.list_accounts().await.unwrap(),
        [acme.clone(), globex.clone()],
        "listed by id"
    );
    assert_eq!(store.account("acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(store.account("nobody").await.unwrap(), None);

    let again = store
        .create_account(
            Account {
                name: "Other".into(),
                ..acme.clone()
            },
            t(1),
        )
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a taken id is a conflict: {again:?}"
    );
    assert_eq!(
        store.account("acme").await.unwrap(),
        Some(acme.clone()),
        "the conflict changed nothing"
    );

    let mut renamed = acme.clone();
    renamed.name = "Acme Corp".into();
    renamed.limits.max_webhooks = 3;
    renamed.notify_url = Some("https://ops.example.com/notify".into());
    assert_eq!(
        store.update_account(renamed.clone(), t(2)).await.unwrap(),
        renamed
    );
    assert_eq!(store.account("acme").await.unwrap(), Some(renamed.clone()));

    let ghost: Account = serde_json::from_value(json!({"id": "ghost"})).unwrap();
    let missing = store.update_account(ghost, t(2)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "updating a missing account: {missing:?}"
    );
    assert_eq!(
        store.account("ghost").await.unwrap(),
        None,
        "an update does not create"
    );

    assert!(store.delete_account("globex").await.unwrap());
    assert!(
        !store.delete_account("globex").await.unwrap(),
        "deleting twice"
    );
    assert_eq!(store.account("globex").await.unwrap(), None);
    assert_eq!(store.list_accounts().await.unwrap(), [renamed]);
}

/// An account with a key, a webhook, an event with an idempotency key and a
/// delivery with an attempt; returns (key hash, webhook id, event id, delivery id).
async fn populated(store: &dyn Store, id: &str) -> (String, String, String, String) {
    given_account(store, id, id).await;
    let hash = format!("hash-of-{id}");
    store
        .create_key(NewKey {
            id: format!("key_{id}"),
            account_id: id.into(),
            hash: hash.clone(),
            created_at: t(0),
        })
        .await
        .unwrap();
    let hook = given_webhook(store, id, json!({})).await;
    let mut event = order_created(id, "1001", t(0));
    event.idempotency_key = Some("same-key".into());
    let event_id = event.event.id.clone();
    let dlv = one_delivery(store, event).await;
    (hash, hook.id, event_id, dlv)
}

pub async fn deleting_an_account_deletes_everything_in_it(store: Backend) {
    let (hash_a, hook_a, event_a, dlv_a) = populated(&*store, "acme").await;
    let (hash_b, hook_b, event_b, dlv_b) = populated(&*store, "globex").await;
    let claimed = claim_ids(&*store, claim("node-a", t(0), 100)).await;
    assert_eq!(sorted(&claimed), sorted(&[dlv_a.clone(), dlv_b.clone()]));
    record(
        &*store,
        &dlv_a,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(5)),
        t(0),
    )
    .await;
    record(
        &*store,
        &dlv_b,
        Some(attempt(1, t(0), Some(500))),
        NextState::Retry(t(5)),
        t(0),
    )
    .await;

    assert!(store.delete_account("acme").await.unwrap());

    assert_eq!(store.account("acme").await.unwrap(), None);
    assert_eq!(
        store.key_account(&hash_a).await.unwrap(),
        None,
        "its keys are gone"
    );
    assert!(
        store.list_webhooks("acme").await.unwrap().is_empty(),
        "its webhooks are gone"
    );
    assert_eq!(store.webhook("acme", &hook_a).await.unwrap(), None);
    assert!(
        store.event("acme", &event_a).await.unwrap().is_none(),
        "its events are gone"
    );
    assert!(
        store.delivery("acme", &dlv_a).await.unwrap().is_none(),
        "its deliveries are gone"
    );
    assert!(all_deliveries(&*store, "acme").await.is_empty());
    assert_eq!(
        claim_ids(&*store, claim("node-a", t(10), 100)).await,
        [dlv_b.as_str()],
        "nothing of it is sent any more"
    );

    // The other account is untouched.
    assert_eq!(
        store.key_account(&hash_b).await.unwrap().as_deref(),
        Some("globex")
    );
    assert_eq!(store.list_webhooks("globex").await.unwrap().len(), 1);
    assert!(store.webhook("globex", &hook_b).await.unwrap().is_some());
    assert!(store.event("globex", &event_b).await.unwrap().is_some());
    assert_eq!(
        store
            .delivery("globex", &dlv_b)
            .await
            .unwrap()
            .map(|d| d.attempts.len()),
        Some(1)
    );

    // A new account with the same id starts empty: even its idempotency keys are new.
    given_account(&*store, "acme", "Acme again").await;
    given_webhook(&*store, "acme", json!({})).await;
    let mut event = order_created("acme", "1001", t(20));
    event.idempotency_key = Some("same-key".into());
    let id = event.event.id.clone();
    assert!(
        matches!(ingest(&*store, event).await, IngestOutcome::Stored { event_id, .. } if event_id == id)
    );
    let listed = store
        .list_deliveries(
            "acme",
            DeliveryFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

pub async fn keys_belong_to_one_account(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let key = |id: &str, account: &str, hash: &str| NewKey {
        id: id.into(),
        account_id: account.into(),
        hash: hash.into(),
        created_at: t(0),
    };

    let orphan = store.create_key(key("key_0", "nobody", "h0")).await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound(_))),
        "a key for a missing account: {orphan:?}"
    );
    assert_eq!(store.key_account("h0").await.unwrap(), None);

    store.create_key(key("key_1", "acme", "h1")).await.unwrap();
    store.create_key(key("key_2", "acme", "h2")).await.unwrap();
    store
        .create_key(key("key_3", "globex", "h3"))
        .await
        .unwrap();
    assert_eq!(
        store.key_account("h1").await.unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(
        store.key_account("h2").await.unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(
        store.key_account("h3").await.unwrap().as_deref(),
        Some("globex")
    );
    assert_eq!(store.key_account("unknown").await.unwrap(), None);

    let same_hash = store.create_key(key("key_4", "globex", "h1")).await;
    assert!(
        matches!(same_hash, Err(StoreError::Conflict(_))),
        "a hash is stored once: {same_hash:?}"
    );
    assert_eq!(
        store.key_account("h1").await.unwrap().as_deref(),
        Some("acme"),
        "the conflict changed nothing"
    );

    assert!(
        !store.delete_key("globex", "key_1").await.unwrap(),
        "another account's key is not deleted"
    );
    assert_eq!(
        store.key_account("h1").await.unwrap().as_deref(),
        Some("acme")
    );
    assert!(store.delete_key("acme", "key_1").await.unwrap());
    assert!(
        !store.delete_key("acme", "key_1").await.unwrap(),
        "deleting twice"
    );
    assert_eq!(store.key_account("h1").await.unwrap(), None);
    assert_eq!(
        store.key_account("h2").await.unwrap().as_deref(),
        Some("acme"),
        "other keys stay"
    );
}
