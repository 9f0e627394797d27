//! Accounts and their keys, as the platform's operator manages them: create, save
//! a changed account, delete one with everything in it, issue and revoke keys —
//! with this node's caches forgotten as each changes.

use shophook_core::account::Account;
use shophook_store::NewKey;

use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, new_key};
use crate::state::AppState;

/// Creates `account` after checking it.
pub async fn create(s: &AppState, account: Account) -> ApiResult<Account> {
    account.validate()?;
    let account = s.store.create_account(account, s.clock.now()).await?;
    tracing::info!(account = %account.id, "account created");
    Ok(account)
}

/// Saves a changed account after checking it.
pub async fn save(s: &AppState, account: Account) -> ApiResult<Account> {
    account.validate()?;
    let id = account.id.clone();
    let updated = s.store.update_account(account, s.clock.now()).await;
    s.accounts.forget(&id);
    Ok(updated?)
}

/// Deletes an account with everything in it: keys, webhooks, events, history.
pub async fn delete(s: &AppState, id: &str) -> ApiResult<()> {
    let deleted = s.store.delete_account(id).await;
    s.accounts.forget(id);
    if !deleted? {
        return Err(ApiError::NotFound("account"));
    }
    s.keys.clear();
    tracing::info!(account = %id, "account deleted");
    Ok(())
}

/// A new key of `account`: its id and the key itself (stored only hashed).
pub async fn issue_key(s: &AppState, account: &str) -> ApiResult<(String, String)> {
    let key = new_key();
    let key_id = new_id("key");
    s.store
        .create_key(NewKey {
            id: key_id.clone(),
            account_id: account.to_string(),
            hash: s.key_hasher.hash(&key),
            created_at: s.clock.now(),
        })
        .await?;
    tracing::info!(%account, key = %key_id, "account key created");
    Ok((key_id, key))
}

/// Revokes a key at once (its sessions end with it).
pub async fn revoke_key(s: &AppState, account: &str, key: &str) -> ApiResult<()> {
    if !s.store.delete_key(account, key).await? {
        return Err(ApiError::NotFound("key"));
    }
    s.keys.clear();
    tracing::info!(%account, %key, "account key revoked");
    Ok(())
}

/// Signs out every UI session opened through a portal link of `account`; how many.
pub async fn end_portal_sessions(s: &AppState, account: &str) -> ApiResult<u64> {
    let ended = s.store.end_portal_sessions(account).await?;
    tracing::info!(%account, ended, "portal sessions ended");
    Ok(ended)
}
