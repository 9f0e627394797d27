//! URL placeholders: `{id_order}`, `{id_job}`, `{id_event}`, `{event}`, `{account}`,
//! `{id_product}`, `{id_checkout}` and `{{ path.in.context }}`, each value
//! percent-encoded so it cannot change the URL's structure.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::FieldError;
use crate::context::{EventContext, FieldPath};

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The named placeholders.
pub const PLACEHOLDERS: &[&str] = &[
    "id_order",
    "id_job",
    "id_event",
    "event",
    "account",
    "id_product",
    "id_checkout",
];

enum Piece<'a> {
    Text(&'a str),
    Named(&'a str),
    Expr(&'a str),
}

fn pieces(url: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push(Piece::Text(&rest[..open]));
        let tail = &rest[open..];
        if let Some(inner) = tail.strip_prefix("{{") {
            let close = inner
                .find("}}")
                .ok_or("an opening `{{` has no closing `}}`")?;
            out.push(Piece::Expr(inner[..close].trim()));
            rest = &inner[close + 2..];
        } else {
            let close = tail.find('}').ok_or("an opening `{` has no closing `}`")?;
            out.push(Piece::Named(&tail[1..close]));
            rest = &tail[close + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks that every placeholder is known and every expression is a field path.
pub fn check(url: &str) -> Result<(), FieldError> {
    let bad = |m: String| FieldError::new("", "invalid_placeholder", m);
    for p in pieces(url).map_err(|m| bad(m.to_string()))? {
        match p {
            Piece::Named(n) if !PLACEHOLDERS.contains(&n) => {
                return Err(bad(format!(
                    "`{{{n}}}` is not a placeholder; use one of {{{}}}",
                    PLACEHOLDERS.join("}, {")
                )));
            }
            Piece::Expr(e) => {
                FieldPath::parse(e)
                    .map_err(|err| bad(format!("`{{{{ {e} }}}}`: {}", err.message)))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The URL with every placeholder replaced by `x`, for syntax checks.
pub fn blank_placeholders(url: &str) -> String {
    match pieces(url) {
        Ok(ps) => ps
            .iter()
            .map(|p| match p {
                Piece::Text(t) => *t,
                _ => "x",
            })
            .collect(),
        Err(_) => url.to_string(),
    }
}

/// The URL with placeholders filled from `ctx`; missing values become empty.
pub fn fill(url: &str, ctx: &EventContext<'_>, subject: Option<&str>) -> String {
    let Ok(ps) = pieces(url) else {
        return url.to_string();
    };
    if ps.len() == 1 {
        return url.to_string();
    }
    let mut out = String::with_capacity(url.len() + 32);
    for p in ps {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Named(n) => out.extend(utf8_percent_encode(&named(n, ctx, subject), COMPONENT)),
            Piece::Expr(e) => {
                let v = FieldPath::parse(e)
                    .ok()
                    .and_then(|path| ctx.resolve(&path).first().map(|v| text(v)))
                    .unwrap_or_default();
                out.extend(utf8_percent_encode(&v, COMPONENT));
            }
        }
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn named(name: &str, ctx: &EventContext<'_>, subject: Option<&str>) -> String {
    let field = |root: &str, key: &str| ctx.root(root).and_then(|v| v.get(key)).map(text);
    let from_subject = |kind: &str| {
        subject
            .and_then(|s| s.strip_prefix(kind))
            .and_then(|s| s.strip_prefix(':'))
            .map(str::to_string)
    };
    match name {
        "id_order" => field("order", "id").or_else(|| from_subject("order")),
        "id_product" => field("product", "id").or_else(|| from_subject("product")),
        "id_checkout" => field("checkout", "id").or_else(|| from_subject("checkout")),
        "id_job" => field("delivery", "id"),
        "id_event" => field("event", "id"),
        "event" => field("event", "type"),
        "account" => field("account", "id"),
        _ => None,
    }
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventType};
    use serde_json::json;

    #[test]
    fn fills_and_encodes() {
        let ev = Event {
            id: "evt_1".into(),
            event_type: EventType::OrderPaid,
            account: "acme".into(),
            subject: Some("order:10 01".into()),
            created_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            data: json!({"order": {"id": "10/01&x=1", "customer": {"email": "a+b@c.pl"}}}),
        };
        let ctx = EventContext::new(&ev, "Acme").with_delivery("dlv_9");
        let table = [
            (
                "https://x.example/in?order={id_order}&job={id_job}",
                "https://x.example/in?order=10%2F01%26x%3D1&job=dlv_9",
            ),
            (
                "https://x.example/{event}/{account}/{id_event}",
                "https://x.example/order.paid/acme/evt_1",
            ),
            (
                "https://x.example/?a=paid&p={id_product}",
                "https://x.example/?a=paid&p=",
            ),
            (
                "https://x.example/?e={{ order.customer.email }}",
                "https://x.example/?e=a%2Bb%40c.pl",
            ),
            ("https://x.example/plain?a=1", "https://x.example/plain?a=1"),
        ];
        for (url, expect) in table {
            assert_eq!(fill(url, &ctx, ev.subject.as_deref()), expect);
        }
        let no_order = Event {
            data: json!({}),
            ..ev.clone()
        };
        let ctx = EventContext::new(&no_order, "Acme");
        assert_eq!(
            fill("https://x/{id_order}", &ctx, no_order.subject.as_deref()),
            "https://x/10%2001"
        );
    }

    #[test]
    fn checks() {
        assert!(check("https://x/{id_order}/{{ order.id }}").is_ok());
        assert!(check("https://x/{nope}").is_err());
        assert!(check("https://x/{id_order").is_err());
        assert!(check("https://x/{{ order..id }}").is_err());
    }
}
