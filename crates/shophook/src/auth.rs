//! Who is calling: the operator (the platform running shophook) or one account.
//!
//! Keys are bearer tokens compared by SHA-256 hash. A short-lived cache keeps key
//! lookups off the database on the hot path; revoking a key clears it at once on
//! this node.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shophook_core::account::Account;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator key: every account.
    Operator,
    /// An account key: that account only.
    Account(String),
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        if token.is_empty() || token.len() > 512 {
            return Err(ApiError::Unauthorized);
        }
        let candidates = state.key_hasher.candidates(token);
        if candidates
            .iter()
            .any(|h| constant_time_eq(h.as_bytes(), state.admin_hash.as_bytes()))
        {
            return Ok(Caller::Operator);
        }
        let mut found = candidates
            .iter()
            .find_map(|h| state.keys.get(h).map(|a| (h.clone(), a)));
        if found.is_none() {
            for h in &candidates {
                if let Some(account) = state.store.key_account(h).await? {
                    state.keys.put(h.clone(), account.clone());
                    found = Some((h.clone(), account));
                    break;
                }
            }
        }
        let (hash, account) = found.ok_or(ApiError::Unauthorized)?;
        state.api_rate.check(&hash)?;
        Ok(Caller::Account(account))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Caller {
    /// Refuses account keys.
    pub fn require_operator(&self) -> ApiResult<()> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Account(_) => Err(ApiError::Forbidden {
                code: "operator_only",
                message:
                    "this route needs the operator key (SHOPHOOK_ADMIN_KEY), not an account key"
                        .into(),
            }),
        }
    }

    /// The account `id`, if this caller may reach it. Another account's id answers
    /// 404 exactly like a missing one, so keys cannot probe for accounts.
    pub async fn account(&self, state: &AppState, id: &str) -> ApiResult<Account> {
        if let Caller::Account(own) = self
            && own != id
        {
            return Err(ApiError::NotFound("account"));
        }
        if let Some(account) = state.accounts.get(id) {
            return Ok(account);
        }
        let account = state
            .store
            .account(id)
            .await?
            .ok_or(ApiError::NotFound("account"))?;
        state.accounts.put(account.clone());
        Ok(account)
    }
}
