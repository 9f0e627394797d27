//! Web UI sessions: one row per sign-in, keyed by the hash of the cookie's id.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{from_ms, ms};
use crate::{Result, StoreError, UiSession};

pub fn create(c: &Connection, s: UiSession) -> Result<()> {
    // Sign-ins are rare: forgetting the expired ones here keeps the table small
    // without a purge of its own.
    c.execute(
        "DELETE FROM ui_sessions WHERE expires_at <= ?1",
        [ms(s.created_at)],
    )?;
    let n = c.execute(
        "INSERT INTO ui_sessions (id_hash, account_id, portal, created_at, expires_at)
         SELECT ?1, ?2, ?3, ?4, ?5
         WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM accounts WHERE id = ?2)",
        params![
            s.id_hash,
            s.account,
            s.portal,
            ms(s.created_at),
            ms(s.expires_at)
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound("account"));
    }
    Ok(())
}

pub fn get(c: &Connection, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>> {
    Ok(c.prepare_cached(
        "SELECT account_id, portal, created_at, expires_at FROM ui_sessions
             WHERE id_hash = ?1 AND expires_at > ?2",
    )?
    .query_row(params![id_hash, ms(now)], |r| {
        Ok(UiSession {
            id_hash: id_hash.to_string(),
            account: r.get(0)?,
            portal: r.get(1)?,
            created_at: from_ms(r.get(2)?),
            expires_at: from_ms(r.get(3)?),
        })
    })
    .optional()?)
}

pub fn end(c: &Connection, id_hash: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM ui_sessions WHERE id_hash = ?1", [id_hash])? == 1)
}

pub fn end_portal(c: &Connection, account: &str) -> Result<u64> {
    let n = c.execute(
        "DELETE FROM ui_sessions WHERE account_id = ?1 AND portal = 1",
        [account],
    )?;
    Ok(n as u64)
}
