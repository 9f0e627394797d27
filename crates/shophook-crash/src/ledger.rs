//! The accounting of a crash run: what the API accepted, what the receiver got,
//! and what follows from the two — lost, phantom and duplicate deliveries. Every
//! accepted event must reach every webhook (target) of the run. Pure (no IO, no
//! clock), so the verdict itself is unit-tested.

use std::collections::{BTreeSet, HashMap, HashSet};

/// How the client learned that an event was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A `202` from `POST /events` (possibly the replayed first answer of a key).
    Event,
    /// Listed in a `200` from `PUT /orders/{id}`.
    Snapshot,
    /// A snapshot PUT went unanswered, its retry derived nothing (the first
    /// attempt had been stored), so its events were read from the history.
    History,
}

/// One event the client saw accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The client's own reference (the order id it sent), echoed in the payload.
    pub reference: String,
    /// How it was learned.
    pub origin: Origin,
}

/// One request that reached the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Which webhook sent it (the last segment of its URL path).
    pub target: String,
    /// The `webhook-id` header: the delivery id, stable across retries.
    pub delivery_id: String,
    /// The event id from the body.
    pub event_id: String,
    /// The client's reference from the body (`data.order.id`), if there was one.
    pub reference: Option<String>,
    /// The status the receiver answered.
    pub answered: u16,
    /// Whether the Standard Webhooks signature verified.
    pub signature_ok: bool,
}

impl Receipt {
    /// Whether the receiver took the request (an answer that ends the delivery).
    pub fn taken(&self) -> bool {
        (200..300).contains(&self.answered)
    }
}

/// Everything the client and the receiver saw.
#[derive(Debug, Default)]
pub struct Ledger {
    targets: Vec<String>,
    accepted: HashMap<String, Accepted>,
    receipts: Vec<Receipt>,
    /// event id → the targets that took it.
    taken: HashMap<String, HashSet<String>>,
    /// One event id accepted for two different references.
    conflicts: Vec<String>,
    /// (accepted event, target) pairs not taken yet, kept as receipts and
    /// acceptances come in: the drain asks after every receipt, and counting
    /// afresh each time made the receiver (which shares the lock) slower the
    /// more events a run had.
    outstanding: usize,
}

impl Ledger {
    /// A ledger where every accepted event must reach each of `targets`.
    pub fn new(targets: &[&str]) -> Ledger {
        Ledger {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            ..Ledger::default()
        }
    }

    /// Records that the API accepted `event_id` for `reference`.
    pub fn accept(&mut self, event_id: &str, reference: &str, origin: Origin) {
        match self.accepted.get(event_id) {
            Some(a) if a.reference != reference => self.conflicts.push(format!(
                "{event_id} was accepted for {} and again for {reference}",
                a.reference
            )),
            Some(_) => {}
            None => {
                self.accepted.insert(
                    event_id.to_string(),
                    Accepted {
                        reference: reference.to_string(),
                        origin,
                    },
                );
                let taken = self.taken.get(event_id);
                self.outstanding += self
                    .targets
                    .iter()
                    .filter(|t| !taken.is_some_and(|ts| ts.contains(*t)))
                    .count();
            }
        }
    }

    /// Records a request the receiver got.
    pub fn receive(&mut self, receipt: Receipt) {
        if receipt.taken() {
            let first = self
                .taken
                .entry(receipt.event_id.clone())
                .or_default()
                .insert(receipt.target.clone());
            if first
                && self.accepted.contains_key(&receipt.event_id)
                && self.targets.contains(&receipt.target)
            {
                self.outstanding -= 1;
            }
        }
        self.receipts.push(receipt);
    }

    /// Deliveries owed and not (yet) taken: (accepted event, target) pairs.
    fn missing(&self) -> impl Iterator<Item = (&String, &String)> {
        self.accepted.keys().flat_map(move |id| {
            let taken = self.taken.get(id);
            self.targets
                .iter()
                .filter(move |t| !taken.is_some_and(|ts| ts.contains(*t)))
                .map(move |t| (id, t))
        })
    }

    /// How many deliveries are owed and not (yet) taken.
    pub fn outstanding(&self) -> usize {
        #[cfg(test)]
        assert_eq!(
            self.outstanding,
            self.missing().count(),
            "the running count"
        );
        self.outstanding
    }

    /// Accepted events so far.
    pub fn accepted(&self) -> usize {
        self.accepted.len()
    }

    /// The verdict.
    pub fn tally(&self) -> Tally {
        let mut t = Tally {
            accepted: self.accepted.len(),
            owed: self.accepted.len() * self.targets.len(),
            requests: self.receipts.len(),
            ..Tally::default()
        };
        for a in self.accepted.values() {
            match a.origin {
                Origin::Event => t.by_event += 1,
                Origin::Snapshot => t.by_snapshot += 1,
                Origin::History => t.by_history += 1,
            }
        }
        t.lost = self
            .missing()
            .map(|(id, t)| format!("{id} → {t}"))
            .collect();
        t.lost.sort();
        let mut phantom = BTreeSet::new();
        let mut mismatched = BTreeSet::new();
        mismatched.extend(self.conflicts.iter().cloned());
        // delivery id → (its event id and target, 2xx receipts)
        let mut per_delivery: HashMap<&str, ((&str, &str), usize)> = HashMap::new();
        for r in &self.receipts {
            if !r.taken() {
                t.refused += 1;
            }
            if !r.signature_ok {
                t.bad_signatures += 1;
            }
            match self.accepted.get(&r.event_id) {
                None => {
                    phantom.insert(r.event_id.clone());
                }
                Some(a) if r.reference.as_deref() != Some(a.reference.as_str()) => {
                    mismatched.insert(format!(
                        "{} carries reference {:?}, accepted for {}",
                        r.event_id, r.reference, a.reference
                    ));
                }
                Some(_) => {}
            }
            if !self.targets.contains(&r.target) {
                mismatched.insert(format!(
                    "{} reached unknown target {}",
                    r.event_id, r.target
                ));
            }
            let what = (r.event_id.as_str(), r.target.as_str());
            let entry = per_delivery
                .entry(r.delivery_id.as_str())
                .or_insert((what, 0));
            if entry.0 != what {
                mismatched.insert(format!(
                    "delivery {} carried {} → {} and {} → {}",
                    r.delivery_id, entry.0.0, entry.0.1, r.event_id, r.target
                ));
            }
            if r.taken() {
                entry.1 += 1;
            }
        }
        for (_, taken) in per_delivery.values() {
            if *taken > 0 {
                t.delivered += 1;
                t.duplicates += taken - 1;
            }
        }
        t.phantom = phantom.into_iter().collect();
        t.mismatched = mismatched.into_iter().collect();
        t
    }
}

/// What a run comes to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Events the client saw accepted.
    pub accepted: usize,
    /// Deliveries owed: accepted events × targets.
    pub owed: usize,
    /// … of them from `POST /events`.
    pub by_event: usize,
    /// … from snapshot PUT answers.
    pub by_snapshot: usize,
    /// … looked up in the history after an unanswered PUT.
    pub by_history: usize,
    /// Requests the receiver got.
    pub requests: usize,
    /// … of them answered with an error on purpose (retried by the server).
    pub refused: usize,
    /// Distinct deliveries (webhook-ids) the receiver took.
    pub delivered: usize,
    /// Owed deliveries the receiver never took, as `event → target` (sorted).
    pub lost: Vec<String>,
    /// Event ids the receiver got that were never accepted (sorted).
    pub phantom: Vec<String>,
    /// Extra 2xx receipts of a delivery already taken.
    pub duplicates: usize,
    /// Requests whose signature did not verify.
    pub bad_signatures: usize,
    /// Payloads that contradict what was accepted (wrong reference, one delivery
    /// id for two events, one event id for two references).
    pub mismatched: Vec<String>,
}

impl Tally {
    /// Duplicates per delivery taken (0 when nothing was delivered).
    pub fn duplicate_rate(&self) -> f64 {
        if self.delivered == 0 {
            0.0
        } else {
            self.duplicates as f64 / self.delivered as f64
        }
    }

    /// No loss, no phantom, nothing contradictory, every signature good.
    pub fn passed(&self) -> bool {
        self.lost.is_empty()
            && self.phantom.is_empty()
            && self.mismatched.is_empty()
            && self.bad_signatures == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(delivery: &str, event: &str, reference: &str, answered: u16) -> Receipt {
        Receipt {
            target: "plain".into(),
            delivery_id: delivery.into(),
            event_id: event.into(),
            reference: Some(reference.into()),
            answered,
            signature_ok: true,
        }
    }

    /// One target; `accepted`: (event, reference); `got`: (delivery, event, reference, status).
    fn check(accepted: &[(&str, &str)], got: &[(&str, &str, &str, u16)]) -> Tally {
        let mut l = Ledger::new(&["plain"]);
        for (e, r) in accepted {
            l.accept(e, r, Origin::Event);
        }
        for (d, e, r, s) in got {
            l.receive(receipt(d, e, r, *s));
        }
        l.tally()
    }

    #[test]
    fn everything_delivered_once() {
        let t = check(
            &[("e1", "a"), ("e2", "b")],
            &[("d1", "e1", "a", 200), ("d2", "e2", "b", 204)],
        );
        assert!(t.passed(), "{t:?}");
        assert_eq!(
            (t.accepted, t.owed, t.delivered, t.duplicates),
            (2, 2, 2, 0)
        );
        assert_eq!(t.duplicate_rate(), 0.0);
    }

    #[test]
    fn an_event_only_refused_is_lost() {
        let t = check(
            &[("e1", "a"), ("e2", "b"), ("e3", "c")],
            &[
                ("d1", "e1", "a", 200),
                ("d2", "e2", "b", 500),
                ("d2", "e2", "b", 500),
            ],
        );
        assert_eq!(
            t.lost,
            vec!["e2 → plain".to_string(), "e3 → plain".to_string()]
        );
        assert_eq!((t.refused, t.requests, t.delivered), (2, 3, 1));
        assert!(!t.passed());
    }

    #[test]
    fn every_target_is_owed_every_event() {
        let mut l = Ledger::new(&["plain", "ordered"]);
        l.accept("e1", "a", Origin::Event);
        l.accept("e2", "b", Origin::Snapshot);
        l.receive(receipt("d1", "e1", "a", 200));
        l.receive(Receipt {
            target: "ordered".into(),
            ..receipt("d2", "e1", "a", 200)
        });
        l.receive(receipt("d3", "e2", "b", 200));
        assert_eq!(l.outstanding(), 1);
        let t = l.tally();
        assert_eq!((t.owed, t.delivered), (4, 3));
        assert_eq!(t.lost, vec!["e2 → ordered".to_string()]);
        // a delivery id that turns up at another target contradicts the first
        l.receive(Receipt {
            target: "ordered".into(),
            ..receipt("d1", "e1", "a", 200)
        });
        assert_eq!(l.tally().mismatched.len(), 1);
        // and a target the run never set up
        l.receive(Receipt {
            target: "other".into(),
            ..receipt("d9", "e2", "b", 200)
        });
        assert_eq!(l.tally().mismatched.len(), 2);
    }

    #[test]
    fn a_retry_after_an_error_is_not_a_duplicate() {
        let t = check(
            &[("e1", "a")],
            &[("d1", "e1", "a", 500), ("d1", "e1", "a", 200)],
        );
        assert!(t.passed());
        assert_eq!((t.delivered, t.duplicates, t.refused), (1, 0, 1));
    }

    #[test]
    fn duplicates_count_by_delivery_id() {
        let t = check(
            &[("e1", "a"), ("e2", "b")],
            &[
                ("d1", "e1", "a", 200),
                ("d1", "e1", "a", 200),
                ("d1", "e1", "a", 200),
                ("d2", "e2", "b", 200),
            ],
        );
        assert!(t.passed(), "duplicates are allowed: at least once");
        assert_eq!((t.delivered, t.duplicates), (2, 2));
        assert_eq!(t.duplicate_rate(), 1.0);
    }

    #[test]
    fn a_delivery_never_accepted_is_a_phantom_even_if_refused() {
        let t = check(
            &[("e1", "a")],
            &[
                ("d1", "e1", "a", 200),
                ("d9", "e9", "z", 500),
                ("d9", "e9", "z", 200),
            ],
        );
        assert_eq!(t.phantom, vec!["e9".to_string()]);
        assert!(t.lost.is_empty());
        assert!(!t.passed());
    }

    #[test]
    fn payloads_that_contradict_the_accepted_answer() {
        // wrong reference in the body
        let t = check(&[("e1", "a")], &[("d1", "e1", "b", 200)]);
        assert_eq!(t.mismatched.len(), 1, "{t:?}");
        assert!(!t.passed());
        // one delivery id for two events
        let t = check(
            &[("e1", "a"), ("e2", "b")],
            &[("d1", "e1", "a", 200), ("d1", "e2", "b", 200)],
        );
        assert_eq!(t.mismatched.len(), 1, "{t:?}");
        // one event id accepted for two references
        let mut l = Ledger::new(&["plain"]);
        l.accept("e1", "a", Origin::Event);
        l.accept("e1", "a", Origin::Event);
        assert!(l.tally().mismatched.is_empty(), "a replayed answer is fine");
        l.accept("e1", "b", Origin::Snapshot);
        assert_eq!(l.tally().mismatched.len(), 1);
    }

    #[test]
    fn a_bad_signature_fails_the_run() {
        let mut l = Ledger::new(&["plain"]);
        l.accept("e1", "a", Origin::Event);
        l.receive(Receipt {
            signature_ok: false,
            ..receipt("d1", "e1", "a", 200)
        });
        let t = l.tally();
        assert_eq!(t.bad_signatures, 1);
        assert!(!t.passed());
    }

    #[test]
    fn a_delivery_taken_before_its_acceptance_is_known_is_not_outstanding() {
        let mut l = Ledger::new(&["plain", "ordered"]);
        // The server delivered before the client read its 202.
        l.receive(receipt("d1", "e1", "a", 200));
        l.receive(receipt("d1", "e1", "a", 200));
        assert_eq!(l.outstanding(), 0, "nothing accepted yet");
        l.accept("e1", "a", Origin::Event);
        assert_eq!(l.outstanding(), 1, "only the ordered target is owed");
        l.accept("e1", "a", Origin::Event);
        assert_eq!(l.outstanding(), 1, "accepting twice owes nothing more");
    }

    #[test]
    fn outstanding_and_origins() {
        let mut l = Ledger::new(&["plain"]);
        l.accept("e1", "a", Origin::Event);
        l.accept("e2", "s", Origin::Snapshot);
        l.accept("e3", "s", Origin::History);
        assert_eq!(l.outstanding(), 3);
        l.receive(receipt("d1", "e1", "a", 500));
        assert_eq!(l.outstanding(), 3, "a refused request delivers nothing");
        l.receive(receipt("d1", "e1", "a", 200));
        l.receive(receipt("d2", "e2", "s", 200));
        assert_eq!(l.outstanding(), 1);
        let t = l.tally();
        assert_eq!((t.by_event, t.by_snapshot, t.by_history), (1, 1, 1));
        assert_eq!(t.lost, vec!["e3 → plain".to_string()]);
    }

    #[test]
    fn nothing_at_all() {
        let t = Ledger::new(&["plain"]).tally();
        assert!(t.passed());
        assert_eq!(t.duplicate_rate(), 0.0);
    }
}
