//! JSON request bodies and query strings with the spec's errors: malformed JSON is
//! a 400, a wrong type, a missing or an unknown field a 422 naming the field, an
//! oversized body a 413, a non-JSON content type a 415. Never a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1 << 20;

/// Deepest accepted nesting of a JSON body (objects and arrays).
pub const MAX_DEPTH: usize = 32;

/// Whether `bytes` nest objects/arrays deeper than `max` (strings are skipped;
/// the text need not be valid JSON — the parser judges that).
fn deeper_than(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A JSON body; an empty body reads as `{}` when `T` allows it.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(MAX_BODY)
            } else {
                ApiError::bad(
                    "unreadable_body",
                    format!("the request body could not be read: {e}"),
                )
            }
        })?;
        // no body at all reads as `{}`; a blank one is not JSON
        let empty = bytes.is_empty();
        if !empty {
            match &ct {
                Some(ct) if ct.starts_with("application/json") || ct.contains("+json") => {}
                _ => return Err(ApiError::UnsupportedMediaType),
            }
            require_object(&bytes)?;
        }
        parse(if empty { b"{}" } else { &bytes }).map(ApiJson)
    }
}

/// Every request body is a JSON object; serde would read `[]` as a struct with
/// all fields defaulted, so anything else is refused before it is parsed.
fn require_object(bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(());
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Err(e) => Err(ApiError::bad(
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )),
        Ok(_) => Err(ApiError::field(
            "",
            "invalid_field",
            "send a JSON object ({…}), or no body for the defaults",
        )),
    }
}

/// A query string; a missing, unknown or malformed parameter is a 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(e) => {
                let text = e.body_text();
                let msg = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_string();
                let named = |prefix: &str| {
                    msg.strip_prefix(prefix)
                        .and_then(|r| r.split('`').next())
                        .map(str::to_string)
                };
                let (field, code) = if let Some(f) = named("missing field `") {
                    (f, "required")
                } else if let Some(f) = named("unknown field `") {
                    (f, "unknown_parameter")
                } else {
                    (String::new(), "invalid_parameter")
                };
                Err(ApiError::field(field, code, format!("query string: {msg}")))
            }
        }
    }
}

/// Query parameters that each take one value: a parameter given twice
/// (`status=pending&status=dead`) is a 422 naming it, never one value silently
/// kept.
pub struct SingleParams(pub std::collections::HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for SingleParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|e| {
                ApiError::field(
                    "",
                    "invalid_parameter",
                    format!("query string: {}", e.body_text()),
                )
            })?;
        let mut out = std::collections::HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if out.contains_key(&k) {
                return Err(ApiError::field(
                    k.clone(),
                    "repeated_parameter",
                    format!("give `{k}` once; it takes one value"),
                ));
            }
            out.insert(k, v);
        }
        Ok(SingleParams(out))
    }
}

/// Parses JSON with the field path of any error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if deeper_than(bytes, MAX_DEPTH) {
        return Err(ApiError::field(
            "",
            "too_deep",
            format!("the JSON body nests objects and arrays deeper than {MAX_DEPTH} levels"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(ApiError::bad(
                    "malformed_json",
                    format!("the body is not valid JSON: {inner}"),
                )),
                Category::Data => {
                    let field = if path == "." { String::new() } else { path };
                    let msg = inner.to_string();
                    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                    // serde names a missing field only in its message; the error
                    // names it in `field`, as for every other field error
                    if let Some(name) = msg
                        .strip_prefix("missing field `")
                        .and_then(|r| r.split('`').next())
                    {
                        let field = if field.is_empty() {
                            name.to_string()
                        } else {
                            format!("{field}.{name}")
                        };
                        return Err(ApiError::field(field, "required", msg));
                    }
                    let code = if msg.starts_with("unknown field") {
                        "unknown_field"
                    } else {
                        "invalid_field"
                    };
                    Err(ApiError::field(field, code, msg))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{deeper_than, parse};
    use crate::error::ApiError;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        sku: String,
    }

    fn check(json: &str, code: &str, field: &str) {
        match parse::<Outer>(json.as_bytes()) {
            Err(ApiError::Invalid(e)) => {
                assert_eq!((e.code, e.field.as_str()), (code, field), "{json}")
            }
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn depth() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!deeper_than(nest(32).as_bytes(), 32));
        assert!(deeper_than(nest(33).as_bytes(), 32));
        let in_string = format!(r#"{{"a": "{}\" ["}}"#, "[".repeat(100));
        assert!(
            !deeper_than(in_string.as_bytes(), 32),
            "brackets in strings do not count"
        );
    }

    #[test]
    fn field_errors_name_the_field() {
        check(r#"{}"#, "required", "name");
        check(
            r#"{"name": "a", "items": [{"sku": "1"}, {}]}"#,
            "required",
            "items[1].sku",
        );
        check(r#"{"name": 1}"#, "invalid_field", "name");
        check(r#"{"name": "a", "colour": 1}"#, "unknown_field", "colour");
        for (body, code) in [(&b" \r\n"[..], "malformed_json"), (b"x", "malformed_json")] {
            assert!(
                matches!(super::require_object(body), Err(ApiError::BadRequest { code: c, .. }) if c == code),
                "{body:?}"
            );
        }
        for body in [&b"[]"[..], b" null", b"5", b"\"s\""] {
            assert!(
                matches!(super::require_object(body), Err(ApiError::Invalid(ref e)) if e.code == "invalid_field"),
                "{body:?}"
            );
        }
        super::require_object(b" {}").unwrap();
        assert!(matches!(
            parse::<Outer>(b"{"),
            Err(ApiError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
    }
}
