//! Who may start a send now: the node's global slots, each webhook's
//! (`--webhook-concurrency`), each account's (`--account-concurrency` or its
//! `limits.max_in_flight`), and each webhook's pacing. The claim loop asks it which
//! webhooks to leave out of the next claim ([`Slots::rooms`]); every claimed or
//! dispatched delivery takes its slots here before it is sent ([`Slots::admit`]),
//! and gives them back when its [`Taken`] is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use shophook_store::ClaimedDelivery;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::pacing::Pacing;

/// What the next claim may take of each webhook.
pub(super) struct Rooms {
    /// Left out: at their concurrency limit, of an account at its ceiling, or
    /// paced (rate limit, a receiver's `Retry-After`).
    pub skip: Vec<String>,
    /// Busy webhooks and how many more each may take (their free slots, or their
    /// account's remaining room).
    pub busy: Vec<(String, u32)>,
}

/// The slots of one node.
pub(super) struct Slots {
    global: Arc<Semaphore>,
    webhook_limit: usize,
    account_limit: usize,
    per_webhook: Arc<Mutex<HashMap<String, usize>>>,
    per_account: Arc<Mutex<HashMap<String, AccountLoad>>>,
    /// Rate limits and receivers' `Retry-After`, per webhook.
    pub pacing: Pacing,
}

/// An account's deliveries in flight on this node.
struct AccountLoad {
    in_flight: usize,
    /// Its ceiling (the smaller of the flag and the account's own limit).
    limit: usize,
    /// Its webhooks seen since it had work in flight: left out of claims while
    /// the account is at its ceiling.
    webhooks: HashSet<String>,
}

/// The slots one delivery holds while it is sent: a global one, and one of its
/// webhook and its account. The webhook's and account's are given back by
/// [`Taken::release_webhook`] (as soon as the receiver answered) or on drop; the
/// global one on drop.
pub(super) struct Taken {
    _permit: OwnedSemaphorePermit,
    webhook: Option<WebhookSlot>,
}

impl Taken {
    /// Frees the webhook's and the account's slot (the receiver is done); the
    /// global slot stays until the outcome is recorded.
    pub fn release_webhook(&mut self) {
        self.webhook = None;
    }
}

/// Releases a webhook's and its account's in-flight counts when dropped.
struct WebhookSlot {
    map: Arc<Mutex<HashMap<String, usize>>>,
    webhook: String,
    accounts: Arc<Mutex<HashMap<String, AccountLoad>>>,
    account: String,
}

impl Drop for WebhookSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock()
            && let Some(n) = m.get_mut(&self.webhook)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.webhook);
            }
        }
        if let Ok(mut m) = self.accounts.lock()
            && let Some(a) = m.get_mut(&self.account)
        {
            a.in_flight -= 1;
            if a.in_flight == 0 {
                m.remove(&self.account);
            }
        }
    }
}

impl Slots {
    /// `global` sends at once, `webhook_limit` per webhook, `account_limit` per
    /// account (an account's own `limits.max_in_flight` may lower it).
    pub fn new(global: usize, webhook_limit: usize, account_limit: usize) -> Slots {
        Slots {
            global: Arc::new(Semaphore::new(global)),
            webhook_limit,
            account_limit,
            per_webhook: Arc::new(Mutex::new(HashMap::new())),
            per_account: Arc::new(Mutex::new(HashMap::new())),
            pacing: Pacing::default(),
        }
    }

    /// Free global slots.
    pub fn available(&self) -> usize {
        self.global.available_permits()
    }

    /// What the next claim may take of each webhook ([`Rooms`]).
    pub fn rooms(&self) -> Rooms {
        let limit = self.webhook_limit;
        let (mut skip, mut busy) = self
            .per_webhook
            .lock()
            .map(|m| {
                let mut skip = Vec::new();
                let mut busy = Vec::new();
                for (k, n) in m.iter() {
                    if *n >= limit {
                        skip.push(k.clone());
                    } else {
                        busy.push((k.clone(), (limit - n) as u32));
                    }
                }
                (skip, busy)
            })
            .unwrap_or_default();
        // An account at its ceiling has its webhooks left out; one below it gives
        // each of its webhooks at most the account's room, so a claim brings back
        // little it could not start.
        let mut account_room: HashMap<String, u32> = HashMap::new();
        if let Ok(accounts) = self.per_account.lock() {
            for a in accounts.values() {
                let room = a.limit.saturating_sub(a.in_flight) as u32;
                for w in &a.webhooks {
                    if room == 0 {
                        skip.push(w.clone());
                    } else {
                        account_room.insert(w.clone(), room);
                    }
                }
            }
        }
        skip.sort_unstable();
        skip.dedup();
        busy.retain(|(w, _)| skip.binary_search(w).is_err());
        for (w, room) in &mut busy {
            if let Some(r) = account_room.remove(w.as_str()) {
                *room = (*room).min(r);
            }
        }
        busy.extend(
            account_room
                .into_iter()
                .filter(|(w, r)| (*r as usize) < limit && skip.binary_search(w).is_err()),
        );
        skip.extend(self.pacing.waiting(Instant::now()));
        Rooms { skip, busy }
    }

    /// Whether any webhook is at its limit or paced.
    pub fn saturated(&self) -> bool {
        !self.rooms().skip.is_empty()
    }

    /// Takes the slots of each of `deliveries` that may start now; returns those
    /// with their slots, and the ids of the rest (to be given back).
    pub fn admit(
        &self,
        deliveries: Vec<ClaimedDelivery>,
    ) -> (Vec<(ClaimedDelivery, Taken)>, Vec<String>) {
        let now = Instant::now();
        let (Ok(mut map), Ok(mut accounts)) = (self.per_webhook.lock(), self.per_account.lock())
        else {
            return (Vec::new(), deliveries.into_iter().map(|d| d.id).collect());
        };
        let mut admitted = Vec::with_capacity(deliveries.len());
        let mut rejected = Vec::new();
        for d in deliveries {
            match self.admit_one(&d, &mut map, &mut accounts, now) {
                Some(taken) => admitted.push((d, taken)),
                None => rejected.push(d.id),
            }
        }
        (admitted, rejected)
    }

    /// Takes the slots `d` needs — a global one, one of its account and one of its
    /// webhook, within its pacing — or `None` if it must wait.
    fn admit_one(
        &self,
        d: &ClaimedDelivery,
        map: &mut HashMap<String, usize>,
        accounts: &mut HashMap<String, AccountLoad>,
        now: Instant,
    ) -> Option<Taken> {
        // Pacing is asked only when every slot is free, and the slots taken only
        // when pacing admits (a slot dropped here would re-take the maps).
        let webhook_free = map.get(&d.webhook.id).copied().unwrap_or(0) < self.webhook_limit;
        if !webhook_free {
            return None;
        }
        let account = &d.webhook.account_id;
        let limit = d.account_max_in_flight.map_or(self.account_limit, |n| {
            (n as usize).clamp(1, self.account_limit)
        });
        // On the hot path: the account and webhook ids are copied only the first
        // time they are seen, not for every delivery.
        if !accounts.contains_key(account) {
            accounts.insert(
                account.clone(),
                AccountLoad {
                    in_flight: 0,
                    limit,
                    webhooks: HashSet::new(),
                },
            );
        }
        let load = accounts.get_mut(account).expect("inserted above");
        load.limit = limit;
        if !load.webhooks.contains(&d.webhook.id) {
            load.webhooks.insert(d.webhook.id.clone());
        }
        let admitted = if load.in_flight < load.limit {
            self.global.clone().try_acquire_owned().ok().filter(|_| {
                self.pacing
                    .admit(&d.webhook.id, d.webhook.config.rate_limit_per_second, now)
            })
        } else {
            None
        };
        let Some(permit) = admitted else {
            if load.in_flight == 0 {
                accounts.remove(account);
            }
            return None;
        };
        load.in_flight += 1;
        *map.entry(d.webhook.id.clone()).or_insert(0) += 1;
        Some(Taken {
            _permit: permit,
            webhook: Some(WebhookSlot {
                map: self.per_webhook.clone(),
                webhook: d.webhook.id.clone(),
                accounts: self.per_account.clone(),
                account: account.clone(),
            }),
        })
    }
}
