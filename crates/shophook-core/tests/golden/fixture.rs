//! The golden fixture (`fixture.json`) as typed values. Shared by the core's golden
//! test and the server's (`#[path]`-included there), so both read the same
//! snapshots, webhooks and expected deliveries.

// Each of the two tests uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The secret every fixture webhook signs with (JustClick's hash uses it too).
pub const SECRET: &str = "my-justclick-api-key-1234";
/// The base the golden files show webhook URLs under.
pub const GOLDEN_BASE: &str = "https://receiver.example";
/// The ids and time a golden file shows for the event, delivery and webhook.
pub const EVENT_ID: &str = "evt_01JNQ5GOLDEN0000000000000";
pub const DELIVERY_ID: &str = "dlv_01JNQ5GOLDEN";
pub const WEBHOOK_ID: &str = "wh_01JNQ5GOLDEN";
pub const EVENT_TIME: &str = "2026-12-02T09:30:00Z";

#[derive(Debug, Deserialize)]
pub struct Fixture {
    pub resources: Vec<Resource>,
    pub accounts: Vec<Account>,
}

#[derive(Debug, Deserialize)]
pub struct Resource {
    /// `order` / `checkout` / `product`.
    pub kind: String,
    pub id: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
struct Step {
    step: String,
    #[serde(default)]
    snapshot: Option<Value>,
    #[serde(default)]
    merge: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    pub timezone: String,
    pub webhooks: Vec<Webhook>,
}

#[derive(Debug, Deserialize)]
pub struct Webhook {
    /// Golden files of this webhook are under `golden/<name>/`.
    pub name: String,
    webhook: Value,
    /// `[step, event type]` or `[step, event type, order item]`.
    expect: Vec<Vec<Value>>,
}

/// One expected delivery.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    pub step: String,
    pub event_type: String,
    pub part: Option<usize>,
}

impl Fixture {
    pub fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shophook-core/tests/golden")
            .canonicalize()
            .expect("the golden directory")
    }

    pub fn load() -> Fixture {
        let path = Self::dir().join("fixture.json");
        let text = std::fs::read_to_string(&path).expect("fixture.json");
        serde_json::from_str(&text).expect("fixture.json parses")
    }
}

impl Resource {
    /// `(step, full snapshot)` in order: each merge patch applied to the step before.
    pub fn snapshots(&self) -> Vec<(String, Value)> {
        let mut current = Value::Null;
        self.steps
            .iter()
            .map(|s| {
                match (&s.snapshot, &s.merge) {
                    (Some(full), None) => current = full.clone(),
                    (None, Some(patch)) => merge(&mut current, patch),
                    _ => panic!("step {}: give `snapshot` or `merge`", s.step),
                }
                (s.step.clone(), current.clone())
            })
            .collect()
    }
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

impl Webhook {
    /// The webhook's API body, its URL under `base`, signing with [`SECRET`].
    pub fn config(&self, base: &str) -> Value {
        let mut w = self.webhook.clone();
        let path = w["url"].as_str().expect("a url").to_string();
        w["url"] = Value::String(format!("{base}{path}"));
        w["secret"] = Value::String(SECRET.into());
        w
    }

    pub fn cases(&self) -> Vec<Case> {
        let mut c: Vec<Case> = self
            .expect
            .iter()
            .map(|e| {
                let text = |i: usize| {
                    e.get(i)
                        .and_then(Value::as_str)
                        .expect("step and event type")
                };
                Case {
                    step: text(0).to_string(),
                    event_type: text(1).to_string(),
                    part: e.get(2).and_then(Value::as_u64).map(|p| p as usize),
                }
            })
            .collect();
        c.sort();
        c
    }

    /// The golden file of one case: `golden/<name>/<step>.<event>[.item<n>].txt`.
    pub fn file(&self, case: &Case) -> PathBuf {
        let part = case.part.map(|p| format!(".item{p}")).unwrap_or_default();
        Fixture::dir()
            .join(&self.name)
            .join(format!("{}.{}{part}.txt", case.step, case.event_type))
    }
}

/// The request as a golden file holds it: method, URL, content type, blank line, body.
pub fn request_text(method: &str, url: &str, content_type: Option<&str>, body: &str) -> String {
    format!(
        "{method} {url}\ncontent-type: {}\n\n{body}\n",
        content_type.unwrap_or("-")
    )
}

/// Compares `got` with the golden file (or writes it with `UPDATE_GOLDEN=1`); the
/// difference, if any.
pub fn check(path: &Path, got: &str) -> Option<String> {
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("golden dir");
        std::fs::write(path, got).expect("write golden");
        return None;
    }
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("missing {} (run with UPDATE_GOLDEN=1)", path.display()));
    (got != want).then(|| format!("{}:\n--- want\n{want}\n--- got\n{got}", path.display()))
}
