//! The values an account's orders used for status, payment and shipping method
//! (`core::field_options`), recorded as snapshots are stored and read by the
//! profiles that send option lists (SalesDrive's `meta.fields`). Read per claim for
//! the accounts that need them: another node may have added values.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use shophook_core::derive::ResourceKind;
use shophook_core::field_options::{FieldOptions, MAX_VALUES, observed};

use super::{R, Tx};

/// The option lists of `accounts`.
pub async fn options(t: &mut Tx, accounts: &[String]) -> R<HashMap<String, Arc<FieldOptions>>> {
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT account_id, field, value FROM field_values WHERE account_id = ANY($1)",
    )
    .bind(accounts)
    .fetch_all(t.conn())
    .await?;
    let mut by_account: HashMap<String, FieldOptions> = accounts
        .iter()
        .map(|a| (a.clone(), FieldOptions::default()))
        .collect();
    for (a, f, v) in rows {
        by_account.entry(a).or_default().insert(&f, &v);
    }
    Ok(by_account
        .into_iter()
        .map(|(a, o)| (a, Arc::new(o)))
        .collect())
}

/// Records the values `snapshot` uses, each list up to [`MAX_VALUES`]; one
/// statement. Two nodes adding at once may pass the bound by a few: it bounds
/// growth, it is not a quota.
pub async fn record(t: &mut Tx, account: &str, kind: ResourceKind, snapshot: &Value) -> R<()> {
    let (fields, values): (Vec<&str>, Vec<String>) = observed(kind, snapshot).into_iter().unzip();
    if fields.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO field_values (account_id, field, value)
         SELECT $1, x.f, x.v FROM UNNEST($2::text[], $3::text[]) AS x(f, v)
         WHERE (SELECT count(*) FROM field_values c WHERE c.account_id = $1 AND c.field = x.f) < $4
         ON CONFLICT DO NOTHING",
    )
    .bind(account)
    .bind(&fields)
    .bind(&values)
    .bind(MAX_VALUES as i64)
    .execute(t.conn())
    .await?;
    Ok(())
}
