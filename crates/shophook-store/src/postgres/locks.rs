//! Transaction-scoped advisory locks: what SQLite's single writer serialises for
//! free, serialised here across nodes.
//!
//! - `subject`: one webhook's deliveries for one subject (`ordered`): the check
//!   "is an earlier one unfinished?" at ingest and the release of the next one when
//!   a delivery finishes cannot interleave, so none is stranded without a due time.
//! - `snapshot`: one resource's snapshot writes, so two nodes cannot both derive
//!   `order.created` for the same order.
//! - `idempotency`: one account's idempotency key, so a key is answered once.
//! - `account`: taken shared by every write that adds to an account (ingest,
//!   snapshots) and exclusively by its deletion, which so waits for those in flight
//!   and keeps new ones out. A shared row lock (`FOR KEY SHARE`) would do the same,
//!   but concurrent sharers of one row make PostgreSQL write a new multixact for
//!   it each time.
//!
//! A transaction takes all the keys it needs at once, sorted, and snapshot keys
//! before any other (see `snapshots::put`), then its accounts', then the rest: every transaction acquires in the same
//! global order, so these locks never deadlock. They are released at commit.

use super::{R, Tx};

/// A lock key: a 64-bit hash of a namespace and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(i64);

/// FNV-1a: stable across builds and platforms (every node must agree on keys).
fn key(namespace: u8, parts: &[&str]) -> Key {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(namespace);
    for p in parts {
        p.bytes().for_each(&mut eat);
        eat(0xff); // a separator no UTF-8 text contains
    }
    Key(h as i64)
}

/// Snapshot writes of one resource. `put` takes it alone, before any other key, and
/// no transaction takes it after another key.
pub fn snapshot(account: &str, kind: &str, id: &str) -> Key {
    key(1, &[account, kind, id])
}

/// The `ordered` chain of one webhook and subject.
pub fn subject(webhook: &str, subject: &str) -> Key {
    key(2, &[webhook, subject])
}

/// One idempotency key of an account.
pub fn idempotency(account: &str, idempotency_key: &str) -> Key {
    key(3, &[account, idempotency_key])
}

/// Writes to one account (see the module docs).
fn account(id: &str) -> Key {
    key(4, &[id])
}

/// Takes the account's lock shared, for the rest of the transaction.
pub async fn account_shared(t: &mut Tx, id: &str) -> R<()> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(account(id).0)
        .execute(t.conn())
        .await?;
    Ok(())
}

/// Takes the account's lock exclusively (deletion), for the rest of the transaction.
pub async fn account_exclusive(t: &mut Tx, id: &str) -> R<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(account(id).0)
        .execute(t.conn())
        .await?;
    Ok(())
}

/// Takes `keys` (sorted, without repeats) for the rest of the transaction.
pub async fn take(t: &mut Tx, mut keys: Vec<Key>) -> R<()> {
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    let keys: Vec<i64> = keys.into_iter().map(|k| k.0).collect();
    // unnest returns the array in order, and the locks are taken row by row.
    sqlx::query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k")
        .bind(&keys)
        .execute(t.conn())
        .await?;
    Ok(())
}
