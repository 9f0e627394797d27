//! Who is calling: the operator (the platform running shophook) or one account.
//!
//! Keys are bearer tokens compared by SHA-256 hash. A short-lived cache keeps key
//! lookups off the database on the hot path; revoking a key clears it at once on
//! this node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shophook_core::account::Account;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::ids::hash_key;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator key: every account.
    Operator,
    /// An account key: that account only.
    Account(String),
}

const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Recently seen account keys: hash → (account, when looked up).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl KeyCache {
    fn get(&self, hash: &str) -> Option<String> {
        let map = self.entries.lock().ok()?;
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(a, _)| a.clone())
    }

    fn put(&self, hash: String, account: String) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(hash, (account, Instant::now()));
        }
    }

    /// Forgets every cached key (after a revocation).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
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
        let hash = hash_key(token);
        if constant_time_eq(hash.as_bytes(), state.admin_hash.as_bytes()) {
            return Ok(Caller::Operator);
        }
        if let Some(account) = state.keys.get(&hash) {
            return Ok(Caller::Account(account));
        }
        match state.store.key_account(&hash).await? {
            Some(account) => {
                state.keys.put(hash, account.clone());
                Ok(Caller::Account(account))
            }
            None => Err(ApiError::Unauthorized),
        }
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
        state
            .store
            .account(id)
            .await?
            .ok_or(ApiError::NotFound("account"))
    }
}
