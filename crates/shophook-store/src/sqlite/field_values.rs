//! The values an account's orders used for status, payment and shipping method
//! (`core::field_options`), recorded as snapshots are stored and read by the
//! profiles that send option lists (SalesDrive's `meta.fields`). The writer caches
//! each account's lists; it is the only writer, so the cache is exact.

use std::sync::Arc;

use rusqlite::{Connection, params};
use serde_json::Value;
use shophook_core::derive::ResourceKind;
use shophook_core::field_options::{FieldOptions, MAX_VALUES, observed};

use super::writer::WriteCtx;
use crate::Result;

pub fn load(c: &Connection, account: &str) -> Result<FieldOptions> {
    let mut o = FieldOptions::default();
    let mut stmt =
        c.prepare_cached("SELECT field, value FROM field_values WHERE account_id = ?1")?;
    let rows = stmt.query_map([account], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (f, v) = row?;
        o.insert(&f, &v);
    }
    Ok(o)
}

/// The account's option lists, through the writer's cache.
pub fn options(w: &mut WriteCtx<'_>, account: &str) -> Result<Arc<FieldOptions>> {
    if let Some(o) = w.caches.field_options.get(account) {
        return Ok(o.clone());
    }
    let o = Arc::new(load(w.conn, account)?);
    w.caches
        .field_options
        .insert(account.to_string(), o.clone());
    Ok(o)
}

/// Records the values `snapshot` uses that the account's lists do not have yet
/// (each list holds at most [`MAX_VALUES`]). Costs no statement when none is new.
pub fn record(
    w: &mut WriteCtx<'_>,
    account: &str,
    kind: ResourceKind,
    snapshot: &Value,
) -> Result<()> {
    let seen = observed(kind, snapshot);
    if seen.is_empty() {
        return Ok(());
    }
    let current = options(w, account)?;
    let new: Vec<_> = seen
        .into_iter()
        .filter(|(f, v)| !current.contains(f, v) && current.count(f) < MAX_VALUES)
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let mut updated = (*current).clone();
    for (f, v) in new {
        w.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO field_values (account_id, field, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![account, f, v])?;
        updated.insert(f, &v);
    }
    w.caches
        .field_options
        .insert(account.to_string(), Arc::new(updated));
    Ok(())
}
