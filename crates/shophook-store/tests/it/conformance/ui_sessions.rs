//! Web UI sessions: what signing in stores, signing out and ending an account's
//! portal sessions remove, and what expiry and account deletion end.

use shophook_store::{StoreError, UiSession};

use super::*;

fn session(id: &str, account: Option<&str>, portal: bool, at: i64) -> UiSession {
    UiSession {
        id_hash: format!("hash-{id}"),
        account: account.map(str::to_string),
        portal,
        created_at: t(at),
        expires_at: t(at + 60),
    }
}

pub async fn ui_sessions_open_end_and_expire(store: Backend) {
    given_account(&*store, "acme", "Acme").await;
    given_account(&*store, "globex", "Globex").await;
    let sessions = [
        session("operator", None, false, 0),
        session("acme-key", Some("acme"), false, 0),
        session("acme-portal-1", Some("acme"), true, 0),
        session("acme-portal-2", Some("acme"), true, 1),
        session("globex-portal", Some("globex"), true, 1),
    ];
    for s in &sessions {
        store.create_ui_session(s.clone()).await.unwrap();
    }
    for s in &sessions {
        assert_eq!(
            store.ui_session(&s.id_hash, t(30)).await.unwrap().as_ref(),
            Some(s),
            "what goes in comes out"
        );
    }
    assert_eq!(
        store.ui_session("hash-acme-key", t(60)).await.unwrap(),
        None,
        "a session ends at its expiry"
    );
    assert_eq!(store.ui_session("hash-unknown", t(1)).await.unwrap(), None);

    // Signing out ends one session, once.
    assert!(store.end_ui_session("hash-operator").await.unwrap());
    assert!(!store.end_ui_session("hash-operator").await.unwrap());
    assert_eq!(store.ui_session("hash-operator", t(1)).await.unwrap(), None);

    // An account's portal sessions end together; its key session and other
    // accounts' sessions stay.
    assert_eq!(store.end_portal_sessions("acme").await.unwrap(), 2);
    assert_eq!(store.end_portal_sessions("acme").await.unwrap(), 0);
    for (id, open) in [
        ("hash-acme-portal-1", false),
        ("hash-acme-portal-2", false),
        ("hash-acme-key", true),
        ("hash-globex-portal", true),
    ] {
        assert_eq!(
            store.ui_session(id, t(2)).await.unwrap().is_some(),
            open,
            "{id}"
        );
    }

    // No session for an account that does not exist; deleting an account ends its sessions.
    let ghost = store
        .create_ui_session(session("ghost", Some("ghost"), true, 2))
        .await;
    assert!(
        matches!(ghost, Err(StoreError::NotFound(_))),
        "a session of a missing account: {ghost:?}"
    );
    assert!(store.delete_account("acme").await.unwrap());
    assert_eq!(store.ui_session("hash-acme-key", t(2)).await.unwrap(), None);
    given_account(&*store, "acme", "Acme again").await;
    assert_eq!(
        store.ui_session("hash-acme-key", t(2)).await.unwrap(),
        None,
        "a new account of the same id does not inherit the old one's sessions"
    );

    // A sign-in after the others expired forgets them; the new one is there.
    store
        .create_ui_session(session("later", Some("globex"), false, 120))
        .await
        .unwrap();
    assert!(
        store
            .ui_session("hash-later", t(121))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.ui_session("hash-globex-portal", t(0)).await.unwrap(),
        None,
        "expired sessions were deleted, not only hidden"
    );
}
