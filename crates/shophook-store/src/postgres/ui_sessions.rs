//! Web UI sessions: one row per sign-in, keyed by the hash of the cookie's id.
//! Every node reads the same rows, so a sign-out on one ends the session on all.

use jiff::Timestamp;

use super::{R, Tx, from_ms, ms};
use crate::{StoreError, UiSession};

pub async fn create(t: &mut Tx, s: UiSession) -> R<()> {
    if let Some(account) = &s.account {
        // Holds the account against a deletion until this commits (which would
        // otherwise fail the foreign key); a deleted account is simply not found.
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE")
                .bind(account)
                .fetch_optional(t.conn())
                .await?;
        if found.is_none() {
            return Err(StoreError::NotFound("account").into());
        }
    }
    // Sign-ins are rare: forgetting the expired ones here keeps the table small
    // without a purge of its own.
    sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
        .bind(ms(s.created_at))
        .execute(t.conn())
        .await?;
    sqlx::query(
        "INSERT INTO ui_sessions (id_hash, account_id, portal, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&s.id_hash)
    .bind(&s.account)
    .bind(s.portal)
    .bind(ms(s.created_at))
    .bind(ms(s.expires_at))
    .execute(t.conn())
    .await?;
    Ok(())
}

pub async fn get(t: &mut Tx, id_hash: &str, now: Timestamp) -> R<Option<UiSession>> {
    let row: Option<(Option<String>, bool, i64, i64)> = sqlx::query_as(
        "SELECT account_id, portal, created_at, expires_at FROM ui_sessions
         WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(ms(now))
    .fetch_optional(t.conn())
    .await?;
    Ok(
        row.map(|(account, portal, created_at, expires_at)| UiSession {
            id_hash: id_hash.to_string(),
            account,
            portal,
            created_at: from_ms(created_at),
            expires_at: from_ms(expires_at),
        }),
    )
}

pub async fn end(t: &mut Tx, id_hash: &str) -> R<bool> {
    let n = sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(t.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub async fn end_portal(t: &mut Tx, account: &str) -> R<u64> {
    Ok(
        sqlx::query("DELETE FROM ui_sessions WHERE account_id = $1 AND portal")
            .bind(account)
            .execute(t.conn())
            .await?
            .rows_affected(),
    )
}
