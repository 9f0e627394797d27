//! This node's short-lived caches in front of the store — account keys, accounts —
//! and the per-key API rate limit. Entries live [`CACHE_TTL`]; a change made
//! through this node forgets its entry at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shophook_core::account::Account;

use crate::error::{ApiError, ApiResult};

/// How long a cached entry is used.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Recently seen account keys: hash → (account, when looked up).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl KeyCache {
    pub(crate) fn get(&self, hash: &str) -> Option<String> {
        let map = self.entries.lock().ok()?;
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(a, _)| a.clone())
    }

    pub(crate) fn put(&self, hash: String, account: String) {
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
    pub(crate) fn get(&self, id: &str) -> Option<Account> {
        let map = self.entries.lock().ok()?;
        map.get(id)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(a, _)| a.clone())
    }

    pub(crate) fn put(&self, account: Account) {
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
