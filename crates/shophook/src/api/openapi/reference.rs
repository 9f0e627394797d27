//! `GET /docs`: the reference page, rendered from the OpenAPI document — groups
//! by tag, each operation with its parameters, bodies and responses, and every
//! schema with its fields.

use askama::Template;
use serde_json::Value;

use super::{COMMON_ERRORS, TAGS};

#[derive(Template)]
#[template(path = "api_docs.html")]
pub(super) struct ReferencePage {
    title: String,
    version: String,
    description: String,
    groups: Vec<Group>,
    schemas: Vec<SchemaView>,
    errors: Vec<(&'static str, &'static str)>,
}

struct Group {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

struct OperationView {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    public: bool,
    parameters: Vec<Row>,
    body: Option<TypeRef>,
    responses: Vec<ResponseView>,
}

struct ResponseView {
    status: String,
    description: String,
    body: Option<TypeRef>,
}

struct SchemaView {
    name: String,
    description: String,
    fields: Vec<Row>,
    /// Allowed values of an enum schema.
    values: Vec<String>,
}

/// A parameter or a property.
struct Row {
    name: String,
    kind: TypeRef,
    required: bool,
    description: String,
}

/// A type as the page shows it: text, and a link when it names a schema.
struct TypeRef {
    text: String,
    link: Option<String>,
}

impl ReferencePage {
    pub(super) fn from_doc(doc: &Value) -> ReferencePage {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let security_default = doc
            .get("security")
            .is_some_and(|s| s != &Value::Array(vec![]));
        let mut groups: Vec<Group> = TAGS
            .iter()
            .map(|(name, description)| Group {
                name: (*name).to_string(),
                description: (*description).to_string(),
                operations: Vec::new(),
            })
            .collect();
        let empty = serde_json::Map::new();
        let paths = doc["paths"].as_object().unwrap_or(&empty);
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let tag = op["tags"][0].as_str().unwrap_or("health");
                let public = match op.get("security") {
                    Some(Value::Array(reqs)) => reqs.iter().all(|r| r == &serde_json::json!({})),
                    _ => !security_default,
                };
                let view = OperationView {
                    anchor: format!("{method}-{}", slug(path)),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(&op["summary"]),
                    description: text(&op["description"]),
                    public,
                    parameters: op["parameters"]
                        .as_array()
                        .map(|ps| ps.iter().map(parameter).collect())
                        .unwrap_or_default(),
                    body: op["requestBody"]["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|c| type_ref(&c["schema"])),
                    responses: op["responses"]
                        .as_object()
                        .map(|rs| {
                            rs.iter()
                                .filter(|(status, r)| !is_common_error(status, r))
                                .map(|(status, r)| ResponseView {
                                    status: status.clone(),
                                    description: text(&r["description"]),
                                    body: r["content"]
                                        .as_object()
                                        .and_then(|c| c.values().next())
                                        .map(|c| type_ref(&c["schema"])),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                match groups.iter_mut().find(|g| g.name == tag) {
                    Some(g) => g.operations.push(view),
                    None => groups.push(Group {
                        name: tag.to_string(),
                        description: String::new(),
                        operations: vec![view],
                    }),
                }
            }
        }
        groups.retain(|g| !g.operations.is_empty());
        let schemas = doc["components"]["schemas"]
            .as_object()
            .map(|s| s.iter().map(|(n, v)| schema_view(n, v)).collect())
            .unwrap_or_default();
        ReferencePage {
            title: text(&doc["info"]["title"]),
            version: text(&doc["info"]["version"]),
            description: text(&doc["info"]["description"]),
            groups,
            schemas,
            errors: COMMON_ERRORS.iter().map(|(s, d, _)| (*s, *d)).collect(),
        }
    }
}

/// The page lists the common errors once, not under every operation.
fn is_common_error(status: &str, r: &Value) -> bool {
    COMMON_ERRORS
        .iter()
        .any(|(s, d, _)| *s == status && r["description"].as_str() == Some(d))
}

fn slug(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

fn parameter(p: &Value) -> Row {
    Row {
        name: format!(
            "{} ({})",
            p["name"].as_str().unwrap_or(""),
            p["in"].as_str().unwrap_or("")
        ),
        kind: type_ref(&p["schema"]),
        required: p["required"].as_bool().unwrap_or(false),
        description: p["description"].as_str().unwrap_or("").to_string(),
    }
}

fn schema_view(name: &str, s: &Value) -> SchemaView {
    let mut fields = Vec::new();
    collect_fields(s, &mut fields);
    SchemaView {
        name: name.to_string(),
        description: s["description"].as_str().unwrap_or("").to_string(),
        fields,
        values: s["enum"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Properties of an object schema, following `allOf` (flattened structs).
fn collect_fields(s: &Value, out: &mut Vec<Row>) {
    if let Some(parts) = s["allOf"].as_array() {
        for part in parts {
            if let Some(r) = part["$ref"].as_str() {
                out.push(Row {
                    name: "…".into(),
                    kind: type_ref(part),
                    required: true,
                    description: format!("every field of {}", ref_name(r)),
                });
            } else {
                collect_fields(part, out);
            }
        }
    }
    let required: Vec<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = s["properties"].as_object() {
        for (name, p) in props {
            out.push(Row {
                name: name.clone(),
                kind: type_ref(p),
                required: required.contains(&name.as_str()),
                description: p["description"].as_str().unwrap_or("").to_string(),
            });
        }
    }
}

fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

/// A short type name: `string`, `integer`, `Webhook`, `array of Delivery`, `string | null`.
fn type_ref(s: &Value) -> TypeRef {
    if let Some(r) = s["$ref"].as_str() {
        let name = ref_name(r).to_string();
        return TypeRef {
            link: Some(format!("schema-{name}")),
            text: name,
        };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = s[key].as_array() {
            let refs: Vec<TypeRef> = parts.iter().map(type_ref).collect();
            let link = refs.iter().find_map(|r| r.link.clone());
            let text = refs
                .into_iter()
                .map(|r| r.text)
                .collect::<Vec<_>>()
                .join(" | ");
            return TypeRef { text, link };
        }
    }
    let kind = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    if kind.starts_with("array") {
        let inner = type_ref(&s["items"]);
        return TypeRef {
            text: format!("{kind} of {}", inner.text),
            link: inner.link,
        };
    }
    let text = match s["format"].as_str() {
        Some(f) => format!("{kind} ({f})"),
        None if s.get("additionalProperties").is_some_and(Value::is_object) => {
            format!("{kind} of {}", type_ref(&s["additionalProperties"]).text)
        }
        None => kind,
    };
    TypeRef { text, link: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_names() {
        let t = type_ref(&json!({"$ref": "#/components/schemas/Webhook"}));
        assert_eq!(
            (t.text.as_str(), t.link.as_deref()),
            ("Webhook", Some("schema-Webhook"))
        );
        let t =
            type_ref(&json!({"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}}));
        assert_eq!(t.text, "array of Delivery");
        let t = type_ref(&json!({"type": ["string", "null"]}));
        assert_eq!(t.text, "string | null");
        let t = type_ref(&json!({"type": "string", "format": "date-time"}));
        assert_eq!(t.text, "string (date-time)");
        let t = type_ref(
            &json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Schedule"}]}),
        );
        assert_eq!(
            (t.text.as_str(), t.link.as_deref()),
            ("null | Schedule", Some("schema-Schedule"))
        );
        assert_eq!(slug("/v1/accounts/{account}"), "v1-accounts--account");
    }
}
