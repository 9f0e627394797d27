//! The API's own description: `GET /openapi.json` (OpenAPI 3.1, generated from the
//! handlers' `#[utoipa::path]` annotations and the request/response types) and
//! `GET /docs`, a reference page rendered on the server from the same document —
//! no JavaScript, no CDN.

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder,
    SecurityRequirement, Tag,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod reference;

use crate::error::ErrorBody;
use crate::state::AppState;

/// Routes `/openapi.json` and `/docs`.
pub fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
}

/// Resource groups, in the order the reference page shows them.
const TAGS: &[(&str, &str)] = &[
    (
        "accounts",
        "Merchants (tenants) and their API keys. Operator key only.",
    ),
    (
        "webhooks",
        "Where, when and how to call: subscriptions of an account.",
    ),
    (
        "events",
        "Events posted by the platform, and the field catalog.",
    ),
    (
        "snapshots",
        "Orders, checkouts and products: store a snapshot, shophook derives the events.",
    ),
    (
        "deliveries",
        "History: every delivery with its attempts; manual retry.",
    ),
    (
        "rest-hooks",
        "REST Hooks (Zapier, Make, n8n): subscribe and unsubscribe by API.",
    ),
    (
        "health",
        "Liveness, readiness, metrics and this description. No key needed.",
    ),
];

/// The document's frame: title, version, tags, the bearer key scheme (required by
/// default; public operations opt out with `security(())`).
pub fn base() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("shophook API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Webhooks for online shops and sales CRMs. Authenticate with \
                     `Authorization: Bearer <key>`: the operator key reaches every account, \
                     an account key only its own account. Errors are \
                     `{\"error\": {\"code\", \"message\", \"field\"?}}`.",
                ))
                .build(),
        )
        .tags(Some(
            TAGS.iter()
                .map(|(name, description)| {
                    let mut t = Tag::new(*name);
                    t.description = Some((*description).to_string());
                    t
                })
                .collect::<Vec<_>>(),
        ))
        .security(Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An operator key or an account key (`shk_…`)."))
                .build(),
        ),
    );
    doc
}

/// The errors any operation may answer, by status.
const COMMON_ERRORS: &[(&str, &str, bool)] = &[
    // (status, description, only for operations that need a key)
    ("400", "Malformed request (not JSON, bad header)", false),
    ("401", "Missing or unknown API key", true),
    (
        "403",
        "The key may not do this (operator only, plan limits)",
        true,
    ),
    ("404", "No such resource in this account", false),
    ("405", "Method not allowed on this path", false),
    ("413", "Request body too large", false),
    ("415", "The body is not `application/json`", false),
    ("422", "A field is invalid; `error.field` names it", false),
    (
        "429",
        "Too many requests; wait `Retry-After` seconds",
        false,
    ),
    (
        "503",
        "Storage unavailable; nothing was stored, retry",
        false,
    ),
];

/// Adds the common error responses to every operation and the error schema to the
/// components, so every status the server can answer is documented.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in error_schemas() {
        components.schemas.entry(name).or_insert(schema);
    }
    // Relative to where the document is served: a generated client takes the base
    // URL it is given, the docs page calls the server it came from.
    doc.servers = Some(vec![
        utoipa::openapi::ServerBuilder::new()
            .url("/")
            .description(Some("this shophook server"))
            .build(),
    ]);
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            op.operation_id = Some(match operation_id(method, path) {
                Some(id) => id.to_string(),
                None => format!("{method}{}", camel(path)),
            });
            let public = op.security.as_ref().is_some_and(|s| {
                s.iter()
                    .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
            });
            for (status, description, needs_key) in COMMON_ERRORS {
                if *needs_key && public {
                    continue;
                }
                op.responses
                    .responses
                    .entry((*status).to_string())
                    .or_insert_with(|| RefOr::T(error_response(description)));
            }
        }
    }
    doc
}

/// What a generated client calls each operation (`client.createWebhook(…)`).
pub const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("get", "/docs", "getDocs"),
    ("get", "/healthz", "getHealth"),
    ("get", "/readyz", "getReadiness"),
    ("get", "/metrics", "getMetrics"),
    ("get", "/openapi.json", "getOpenApi"),
    ("get", "/v1/accounts", "listAccounts"),
    ("post", "/v1/accounts", "createAccount"),
    ("get", "/v1/accounts/{account}", "getAccount"),
    ("patch", "/v1/accounts/{account}", "updateAccount"),
    ("delete", "/v1/accounts/{account}", "deleteAccount"),
    ("post", "/v1/accounts/{account}/keys", "createKey"),
    ("delete", "/v1/accounts/{account}/keys/{id}", "deleteKey"),
    (
        "post",
        "/v1/accounts/{account}/portal-link",
        "createPortalLink",
    ),
    (
        "delete",
        "/v1/accounts/{account}/portal-sessions",
        "endPortalSessions",
    ),
    ("get", "/v1/accounts/{account}/catalog", "getCatalog"),
    ("post", "/v1/accounts/{account}/events", "createEvent"),
    ("get", "/v1/accounts/{account}/events/{id}", "getEvent"),
    ("get", "/v1/accounts/{account}/orders/{id}", "getOrder"),
    ("put", "/v1/accounts/{account}/orders/{id}", "putOrder"),
    (
        "get",
        "/v1/accounts/{account}/checkouts/{id}",
        "getCheckout",
    ),
    (
        "put",
        "/v1/accounts/{account}/checkouts/{id}",
        "putCheckout",
    ),
    ("get", "/v1/accounts/{account}/products/{id}", "getProduct"),
    ("put", "/v1/accounts/{account}/products/{id}", "putProduct"),
    (
        "delete",
        "/v1/accounts/{account}/products/{id}",
        "deleteProduct",
    ),
    ("get", "/v1/accounts/{account}/webhooks", "listWebhooks"),
    ("post", "/v1/accounts/{account}/webhooks", "createWebhook"),
    ("get", "/v1/accounts/{account}/webhooks/{id}", "getWebhook"),
    (
        "patch",
        "/v1/accounts/{account}/webhooks/{id}",
        "updateWebhook",
    ),
    (
        "delete",
        "/v1/accounts/{account}/webhooks/{id}",
        "deleteWebhook",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/pause",
        "pauseWebhook",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/resume",
        "resumeWebhook",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/rotate-secret",
        "rotateWebhookSecret",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/replay",
        "replayWebhook",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/test",
        "testWebhook",
    ),
    (
        "post",
        "/v1/accounts/{account}/webhooks/{id}/preview",
        "previewWebhook",
    ),
    ("get", "/v1/accounts/{account}/deliveries", "listDeliveries"),
    (
        "get",
        "/v1/accounts/{account}/deliveries/{id}",
        "getDelivery",
    ),
    (
        "post",
        "/v1/accounts/{account}/deliveries/{id}/retry",
        "retryDelivery",
    ),
    (
        "post",
        "/v1/accounts/{account}/hooks/subscribe",
        "subscribeHook",
    ),
    (
        "delete",
        "/v1/accounts/{account}/hooks/{id}",
        "unsubscribeHook",
    ),
    (
        "get",
        "/v1/accounts/{account}/hooks/sample",
        "getHookSample",
    ),
];

fn operation_id(method: &str, path: &str) -> Option<&'static str> {
    OPERATION_IDS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, id)| *id)
}

/// A path as camel case (`/v1/accounts/{account}/x-y` → `V1AccountsAccountXY`):
/// the id of an operation the table above does not name yet (a test requires it
/// to name every one).
fn camel(path: &str) -> String {
    path.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn error_schemas() -> Vec<(String, RefOr<utoipa::openapi::schema::Schema>)> {
    let mut out = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    let mut nested = Vec::new();
    ErrorBody::schemas(&mut nested);
    out.extend(nested);
    out
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
}

/// The served forms of the document, rendered once at start-up.
pub struct Docs {
    json: String,
    html: String,
}

impl Docs {
    /// Renders the JSON and the reference page.
    pub fn new(doc: &OpenApi) -> Docs {
        let value = serde_json::to_value(doc).unwrap_or_default();
        let html = reference::ReferencePage::from_doc(&value)
            .render()
            .unwrap_or_else(|e| format!("the reference page could not be rendered: {e}"));
        Docs {
            json: serde_json::to_string_pretty(&value).unwrap_or_default(),
            html,
        }
    }
}

/// This document: the whole HTTP API as OpenAPI 3.1.
#[utoipa::path(get, path = "/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json(Extension(docs): Extension<Arc<Docs>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        docs.json.clone(),
    )
        .into_response()
}

/// A readable API reference, rendered from the OpenAPI document.
#[utoipa::path(get, path = "/docs", tag = "health", security(()),
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String)))]
pub async fn docs(Extension(docs): Extension<Arc<Docs>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        docs.html.clone(),
    )
        .into_response()
}

/// `[[name, value], …]`: each pair as an array of exactly two strings. (The derive
/// writes a tuple as `prefixItems` with `items: false`, valid OpenAPI 3.1 that
/// Schemathesis 4 cannot read, so it could not test the operations that answer one.)
pub fn header_pairs() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
    let pair = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(2))
        .max_items(Some(2))
        .build();
    ArrayBuilder::new()
        .items(RefOr::T(Schema::from(pair)))
        .build()
}
