//! Rendering: from an event and a webhook to the exact HTTP request that is sent.
//!
//! The JSON envelope is the same for every webhook an event reaches, so it is built
//! once when the event is stored ([`json_envelope`]) and shared; per webhook only the
//! URL, headers and signature are computed. Other formats plug in at
//! [`render_body`] — the one place that knows them.

use std::sync::Arc;

use md5::Md5;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::context::{EventContext, FieldPath};
use crate::event::Event;
use crate::signing::{Secret, signature_header};
use crate::url_template;
use crate::webhook::{Method, WebhookConfig};

/// The request shophook sends.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRequest {
    /// HTTP method.
    pub method: Method,
    /// Final URL, placeholders filled.
    pub url: String,
    /// Headers in send order (lowercase names for ours, merchant spelling for theirs).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for GET).
    pub body: Arc<str>,
}

/// Why a request could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The stored format is unknown to this build.
    #[error("format `{0}` cannot be rendered by this server version")]
    UnknownFormat(String),
    /// The merchant's template failed on this event.
    #[error("the template failed: {0}")]
    Template(String),
}

/// The `json` format's envelope: `{"id","type","created_at","account","data"}`.
pub fn json_envelope(event: &Event) -> String {
    json!({
        "id": event.id,
        "type": event.event_type.as_str(),
        "created_at": event.created_at.to_string(),
        "account": event.account,
        "data": event.data,
    })
    .to_string()
}

/// Everything needed to render one delivery.
pub struct RenderInput<'a> {
    /// The webhook's configuration.
    pub config: &'a WebhookConfig,
    /// The event, with its stored JSON envelope.
    pub event: &'a Event,
    /// The JSON envelope of the event (rendered once at ingest).
    pub envelope: &'a Arc<str>,
    /// The account's display name.
    pub account_name: &'a str,
    /// The account's IANA time zone.
    pub account_timezone: &'a str,
    /// Which order item this delivery is about (per-item profiles).
    pub part: Option<usize>,
    /// Webhook id.
    pub webhook_id: &'a str,
    /// Delivery id: `webhook-id` header and `{id_job}`.
    pub delivery_id: &'a str,
    /// Signing secrets (current first; the previous one during a rotation overlap).
    pub secrets: &'a [&'a Secret],
    /// Send time, unix seconds (`webhook-timestamp`).
    pub timestamp: i64,
    /// `User-Agent` value.
    pub user_agent: &'a str,
    /// The option lists the account's orders have used, for the profiles that send
    /// them ([`crate::profiles::uses_field_options`]); `None` when not loaded.
    pub field_options: Option<&'a crate::field_options::FieldOptions>,
}

/// Renders the exact request for one delivery.
pub fn render_request(input: &RenderInput<'_>) -> Result<OutgoingRequest, RenderError> {
    let ctx = EventContext::new(input.event, input.account_name)
        .with_webhook(input.webhook_id, &input.config.name)
        .with_delivery(input.delivery_id);
    let mut url = url_template::fill(&input.config.url, &ctx, input.event.subject.as_deref());
    let (body, content_type) = render_body(input, &ctx)?;
    if input.config.method == Method::Get && input.config.format == "form" {
        // GET sends the form fields as the query string.
        let query = crate::form::encode_pairs(&form_pairs(input, &ctx));
        if !query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query);
        }
    }
    let mut headers = Vec::with_capacity(6 + input.config.headers.len());
    if !body.is_empty() {
        headers.push(("content-type".to_string(), content_type));
    }
    headers.push(("user-agent".to_string(), input.user_agent.to_string()));
    headers.push(("webhook-id".to_string(), input.delivery_id.to_string()));
    headers.push(("webhook-timestamp".to_string(), input.timestamp.to_string()));
    headers.push((
        "webhook-signature".to_string(),
        signature_header(
            input.secrets,
            input.delivery_id,
            input.timestamp,
            body.as_bytes(),
        ),
    ));
    for (k, v) in &input.config.headers {
        headers.push((k.clone(), v.clone()));
    }
    Ok(OutgoingRequest {
        method: input.config.method,
        url,
        headers,
        body,
    })
}

/// The body and its content type for the webhook's format.
fn render_body(
    input: &RenderInput<'_>,
    ctx: &EventContext<'_>,
) -> Result<(Arc<str>, String), RenderError> {
    let config = input.config;
    if config.method == Method::Get {
        return Ok((Arc::from(""), String::new()));
    }
    let content_type = config.content_type.clone();
    if crate::profiles::PROFILES.contains(&config.format.as_str()) {
        let url = url_template::fill(&config.url, ctx, input.event.subject.as_deref());
        let context = ctx.to_value();
        let profile_input = crate::profiles::ProfileInput {
            event: input.event,
            timezone: input.account_timezone,
            secret: input.secrets.first().map(|s| s.as_str()).unwrap_or(""),
            part: input.part,
            template: config.template.as_deref(),
            url: &url,
            context: &context,
            field_options: input.field_options,
        };
        if let Some(rendered) = crate::profiles::render(&config.format, &profile_input) {
            let p = rendered.map_err(RenderError::Template)?;
            return Ok((
                Arc::from(p.body),
                content_type.unwrap_or_else(|| p.content_type.to_string()),
            ));
        }
    }
    match config.format.as_str() {
        "form" => Ok((
            Arc::from(crate::form::encode_pairs(&form_pairs(input, ctx))),
            content_type.unwrap_or_else(|| "application/x-www-form-urlencoded".into()),
        )),
        "template" => {
            let source = config.template.as_deref().unwrap_or("");
            let body = crate::template::render(source, &ctx.to_value())
                .map_err(|e| RenderError::Template(e.message))?;
            Ok((
                Arc::from(body),
                content_type.unwrap_or_else(|| "text/plain; charset=utf-8".into()),
            ))
        }
        "json" => {
            let body = match &config.legacy_hash {
                None => input.envelope.clone(),
                Some(h) => {
                    let mut v: Value = serde_json::from_str(input.envelope).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        let digest = legacy_digest(
                            &h.algorithm,
                            &h.parts,
                            ctx,
                            input.secrets.first().map(|s| s.as_str()).unwrap_or(""),
                        );
                        m.insert(h.field.clone(), Value::String(digest));
                    }
                    Arc::from(v.to_string())
                }
            };
            Ok((
                body,
                content_type.unwrap_or_else(|| "application/json".into()),
            ))
        }
        other => Err(RenderError::UnknownFormat(other.to_string())),
    }
}

/// The `form` format's fields: the JSON envelope in PHP brackets, plus the legacy
/// hash field when configured.
fn form_pairs(input: &RenderInput<'_>, ctx: &EventContext<'_>) -> Vec<(String, String)> {
    let envelope: Value = serde_json::from_str(input.envelope).unwrap_or(Value::Null);
    let mut pairs = crate::form::pairs(&envelope);
    if let Some(h) = &input.config.legacy_hash {
        let secret = input.secrets.first().map(|s| s.as_str()).unwrap_or("");
        pairs.push((
            h.field.clone(),
            legacy_digest(&h.algorithm, &h.parts, ctx, secret),
        ));
    }
    pairs
}

/// Hex digest of the parts' values concatenated, then the secret appended.
pub fn legacy_digest(
    algorithm: &str,
    parts: &[String],
    ctx: &EventContext<'_>,
    secret: &str,
) -> String {
    let mut input = String::new();
    for p in parts {
        if let Ok(path) = FieldPath::parse(p)
            && let Some(v) = ctx.resolve(&path).first()
        {
            match v {
                Value::String(s) => input.push_str(s),
                other => input.push_str(&other.to_string()),
            }
        }
    }
    input.push_str(secret);
    let bytes: Vec<u8> = match algorithm {
        "md5" => Md5::digest(input.as_bytes()).to_vec(),
        "sha1" => Sha1::digest(input.as_bytes()).to_vec(),
        _ => Sha256::digest(input.as_bytes()).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::webhook::WebhookInput;

    fn config(json: Value) -> WebhookConfig {
        serde_json::from_value::<WebhookInput>(json)
            .unwrap()
            .into_new_config()
            .unwrap()
            .0
    }

    fn event() -> Event {
        Event {
            id: "evt_01".into(),
            event_type: EventType::OrderPaid,
            account: "acme".into(),
            subject: Some("order:1001".into()),
            created_at: "2026-03-01T10:00:00Z".parse().unwrap(),
            data: json!({"order": {"id": "1001", "customer": {"email": "jan@example.pl"}, "paid": true}}),
        }
    }

    fn render(config: &WebhookConfig) -> OutgoingRequest {
        let ev = event();
        let envelope: Arc<str> = json_envelope(&ev).into();
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        render_request(&RenderInput {
            config,
            event: &ev,
            envelope: &envelope,
            account_name: "Acme",
            account_timezone: "Europe/Warsaw",
            part: None,
            webhook_id: "wh_1",
            delivery_id: "dlv_1",
            secrets: &[&secret],
            timestamp: 1_772_359_200,
            user_agent: "shophook/0.1.0",
            field_options: None,
        })
        .unwrap()
    }

    #[test]
    fn json_request() {
        let c = config(
            json!({"url": "https://x.example/in?o={id_order}&j={id_job}", "events": ["*"], "headers": {"X-Api-Key": "k"}}),
        );
        let r = render(&c);
        assert_eq!(r.url, "https://x.example/in?o=1001&j=dlv_1");
        assert_eq!(
            &*r.body,
            r#"{"id":"evt_01","type":"order.paid","created_at":"2026-03-01T10:00:00Z","account":"acme","data":{"order":{"id":"1001","customer":{"email":"jan@example.pl"},"paid":true}}}"#
        );
        let h = |k: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(h("content-type"), Some("application/json"));
        assert_eq!(h("webhook-id"), Some("dlv_1"));
        assert_eq!(h("webhook-timestamp"), Some("1772359200"));
        assert_eq!(h("X-Api-Key"), Some("k"));
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        crate::signing::verify(
            &secret,
            "dlv_1",
            "1772359200",
            h("webhook-signature").unwrap(),
            r.body.as_bytes(),
            1_772_359_200,
        )
        .unwrap();
    }

    #[test]
    fn form_and_template_bodies() {
        let r = render(&config(
            json!({"url": "https://x.example/", "events": ["*"], "format": "form"}),
        ));
        assert_eq!(
            &*r.body,
            "id=evt_01&type=order.paid&created_at=2026-03-01T10%3A00%3A00Z&account=acme&data%5Border%5D%5Bid%5D=1001\
             &data%5Border%5D%5Bcustomer%5D%5Bemail%5D=jan%40example.pl&data%5Border%5D%5Bpaid%5D=1"
        );
        assert!(r.headers.contains(&(
            "content-type".into(),
            "application/x-www-form-urlencoded".into()
        )));
        let get = render(&config(
            json!({"url": "https://x.example/in?a=paid", "events": ["*"], "format": "form", "method": "GET"}),
        ));
        assert!(get.body.is_empty());
        assert!(
            get.url
                .starts_with("https://x.example/in?a=paid&id=evt_01&type=order.paid"),
            "{}",
            get.url
        );
        let t = render(&config(
            json!({"url": "https://x.example/", "events": ["*"], "format": "template",
            "template": "Zamówienie {{ order.id }} ({{ order.customer.email }}) {{ event.type }}", "content_type": "text/plain"}),
        ));
        assert_eq!(&*t.body, "Zamówienie 1001 (jan@example.pl) order.paid");
        assert!(
            t.headers
                .contains(&("content-type".into(), "text/plain".into()))
        );
    }

    #[test]
    fn get_sends_no_body_and_legacy_hash_is_added() {
        let r = render(&config(
            json!({"url": "https://x.example/", "events": ["*"], "method": "GET"}),
        ));
        assert!(r.body.is_empty());
        assert!(r.headers.iter().all(|(k, _)| k != "content-type"));
        let c = config(json!({"url": "https://x.example/", "events": ["*"],
            "legacy_hash": {"field": "hash", "algorithm": "md5", "parts": ["order.id", "order.customer.email"]}}));
        let body: Value = serde_json::from_str(&render(&c).body).unwrap();
        let expect = format!(
            "{:x}",
            Md5::digest(b"1001jan@example.plwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        assert_eq!(body["hash"], json!(expect));
    }
}
