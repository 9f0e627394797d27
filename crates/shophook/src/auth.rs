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

/// Recently read accounts: id → (account, when read). Every API request names an
/// account; this keeps that read off the database. A change made through this
/// node's API forgets the entry at once; another node's change is seen within
/// [`CACHE_TTL`].
#[derive(Default)]
pub struct AccountCache {
    entries: Mutex<HashMap<String, (Account, Instant)>>,
}

impl AccountCache {
    fn get(&self, id: &str) -> Option<Account> {
        let map = self.entries.lock().ok()?;
        map.get(id)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(a, _)| a.clone())
    }

    fn put(&self, account: Account) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(account.id.clone(), (account, Instant::now()));
        }
    }

    /// Forgets an account (after it changed or was deleted).
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(id);
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

/// Requests per second per account key (a token bucket per key, bursts of twice
/// the rate), on this node.
pub struct ApiRate {
    keys: Option<governor::DefaultKeyedRateLimiter<String>>,
}

impl ApiRate {
    /// `per_second` requests per second per key; 0 turns the limit off.
    pub fn new(per_second: u32) -> ApiRate {
        let keys = std::num::NonZeroU32::new(per_second).map(|n| {
            let burst = n.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
            governor::RateLimiter::keyed(governor::Quota::per_second(n).allow_burst(burst))
        });
        ApiRate { keys }
    }

    /// Takes one request of `key`'s budget, or says how long to wait.
    pub fn check(&self, key: &str) -> ApiResult<()> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        keys.check_key(&key.to_string()).map_err(|not_until| {
            use governor::clock::{Clock, DefaultClock};
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests(wait.as_secs_f64().ceil() as u64)
        })?;
        // Keys revoked or idle long enough to be full again are forgotten.
        if keys.len() > 10_000 {
            keys.retain_recent();
        }
        Ok(())
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
