//! Golden files: the fixture's snapshots (`tests/golden/fixture.json`) through the
//! core alone — derivation, version stamp, option lists, rendering — to the exact
//! bytes of every profile and preset. `tests/golden/NOTES.md` ties each field to the
//! platform's doc. The server's suite (`crates/shophook/tests/it/golden.rs`) sends
//! the same snapshots through the real API and compares with the same files.
//! After a deliberate change, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! shophook-core --test golden` and review the diff like code.

#[path = "golden/fixture.rs"]
mod fixture;

use std::collections::BTreeMap;
use std::sync::Arc;

use fixture::{Case, Fixture};
use shophook_core::derive::{ResourceKind, derive_events, stamp_version};
use shophook_core::event::Event;
use shophook_core::field_options::FieldOptions;
use shophook_core::render::{RenderInput, json_envelope, render_request};
use shophook_core::signing::Secret;
use shophook_core::webhook::{WebhookConfig, WebhookInput};

/// Every event the fixture's steps derive, in order, as the store would hand them
/// to a worker: with the version stamped and the option lists of the account so far.
fn events(fixture: &Fixture) -> Vec<(String, Event, FieldOptions)> {
    let mut out = Vec::new();
    let mut options = FieldOptions::default();
    for r in &fixture.resources {
        let kind = ResourceKind::parse(&r.kind).expect("a resource kind");
        let mut before: Option<serde_json::Value> = None;
        for (version, (step, mut after)) in (1..).zip(r.snapshots()) {
            after["id"] = r.id.clone().into();
            let mut derived = derive_events(kind, before.as_ref(), &after);
            assert!(!derived.is_empty(), "step {step} derives nothing");
            stamp_version(&mut derived, kind, version);
            options.observe(kind, &after);
            for d in derived {
                let event = Event {
                    id: fixture::EVENT_ID.into(),
                    event_type: d.event_type,
                    account: "acme".into(),
                    subject: Some(format!("{}:{}", r.kind, r.id)),
                    created_at: fixture::EVENT_TIME.parse().unwrap(),
                    data: d.data,
                };
                out.push((step.clone(), event, options.clone()));
            }
            before = Some(after);
        }
    }
    out
}

fn render(
    config: &WebhookConfig,
    event: &Event,
    options: &FieldOptions,
    timezone: &str,
    part: Option<usize>,
) -> String {
    let envelope: Arc<str> = json_envelope(event).into();
    let secret = Secret::parse(fixture::SECRET).unwrap();
    let req = render_request(&RenderInput {
        config,
        event,
        envelope: &envelope,
        account_name: "Acme",
        account_timezone: timezone,
        part,
        webhook_id: fixture::WEBHOOK_ID,
        delivery_id: fixture::DELIVERY_ID,
        secrets: &[&secret],
        timestamp: 1_764_667_800,
        user_agent: "shophook/golden",
        field_options: Some(options),
    })
    .unwrap();
    let ct = req
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    fixture::request_text(req.method.as_str(), &req.url, ct, &req.body)
}

#[test]
fn every_profile_matches_its_golden_files() {
    let fixture = Fixture::load();
    let events = events(&fixture);
    let mut failures = Vec::new();
    for account in &fixture.accounts {
        for hook in &account.webhooks {
            let config = serde_json::from_value::<WebhookInput>(hook.config(fixture::GOLDEN_BASE))
                .unwrap()
                .into_new_config()
                .unwrap()
                .0;
            // What the webhook gets: each event its `events` names, once per order
            // item for the per-item profiles.
            let mut got: BTreeMap<Case, String> = BTreeMap::new();
            for (step, event, options) in &events {
                if !config.wants(event.event_type) {
                    continue;
                }
                let parts: Vec<Option<usize>> = if shophook_core::profiles::per_item(&config.format)
                {
                    let n = event.data["order"]["items"].as_array().map_or(0, Vec::len);
                    (0..n).map(Some).collect()
                } else {
                    vec![None]
                };
                for part in parts {
                    let case = Case {
                        step: step.clone(),
                        event_type: event.event_type.as_str().to_string(),
                        part,
                    };
                    let text = render(&config, event, options, &account.timezone, part);
                    assert!(got.insert(case, text).is_none());
                }
            }
            let cases: Vec<Case> = got.keys().cloned().collect();
            assert_eq!(
                cases,
                hook.cases(),
                "{}: the deliveries `expect` lists",
                hook.name
            );
            for (case, text) in got {
                failures.extend(fixture::check(&hook.file(&case), &text));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_snapshot_passes_the_apis_validation() {
    for r in &Fixture::load().resources {
        let kind = ResourceKind::parse(&r.kind).unwrap();
        for (step, snapshot) in r.snapshots() {
            shophook_core::snapshot::validate(kind, &r.id, &snapshot)
                .unwrap_or_else(|e| panic!("{} {step}: {e}", r.kind));
        }
    }
}
