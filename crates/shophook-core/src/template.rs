//! Merchant templates: MiniJinja syntax rendered with the event context, in a
//! sandbox. No loader is configured, so a template cannot read files or include
//! other templates; fuel bounds the steps (no endless loops) and the output is
//! capped. Errors carry the line and column, so the editor can point at them.

use minijinja::value::Value as TValue;
use minijinja::{Environment, Error, ErrorKind};
use serde_json::{Value, json};

/// Largest template source.
pub const MAX_SOURCE: usize = 64 * 1024;
/// Largest rendered output.
pub const MAX_OUTPUT: usize = 256 * 1024;
/// Steps a render may take.
pub const FUEL: u64 = 100_000;

/// A template that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Line (1-based) if known.
    pub line: Option<usize>,
    /// Column (1-based) if known.
    pub column: Option<usize>,
    /// What went wrong, with the position when known.
    pub message: String,
}

fn money(value: TValue, currency: Option<String>) -> Result<String, Error> {
    let text = value.to_string();
    let d: rust_decimal::Decimal = text
        .trim()
        .parse()
        .or_else(|_| rust_decimal::Decimal::from_scientific(text.trim()))
        .map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("money: `{text}` is not a number"),
            )
        })?;
    let s = format!(
        "{:.2}",
        d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    );
    Ok(match currency {
        Some(c) => format!("{s} {c}"),
        None => s,
    })
}

fn date(value: TValue, format: Option<String>, tz: Option<String>) -> Result<String, Error> {
    let text = value.to_string();
    let ts: jiff::Timestamp = match value.as_i64() {
        Some(secs) => jiff::Timestamp::from_second(secs)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?,
        None => text.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("date: `{text}` is not an RFC 3339 time"),
            )
        })?,
    };
    let zone = jiff::tz::TimeZone::get(tz.as_deref().unwrap_or("UTC")).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("date: unknown time zone `{}`", tz.unwrap_or_default()),
        )
    })?;
    let format = format.unwrap_or_else(|| "%Y-%m-%d %H:%M".to_string());
    let zoned = ts.to_zoned(zone);
    jiff::fmt::strtime::format(&format, &zoned)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("date: {e}")))
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env.add_filter("money", money);
    env.add_filter("date", date);
    env
}

fn position(source: &str, e: &Error) -> (Option<usize>, Option<usize>) {
    let line = e.line();
    let column = e.range().map(|r| {
        let start = r.start.min(source.len());
        let before = &source[..start];
        before.chars().rev().take_while(|c| *c != '\n').count() + 1
    });
    (line, column)
}

fn to_error(source: &str, e: &Error) -> TemplateError {
    let (line, column) = position(source, e);
    let what = match e.kind() {
        ErrorKind::OutOfFuel => {
            "the template takes too many steps (an endless or very long loop?)".to_string()
        }
        _ => match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        },
    };
    let message = match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {what}"),
        (Some(l), None) => format!("line {l}: {what}"),
        _ => what,
    };
    TemplateError {
        line,
        column,
        message,
    }
}

/// Renders `source` with `ctx` (the event context as JSON).
pub fn render(source: &str, ctx: &Value) -> Result<String, TemplateError> {
    if source.len() > MAX_SOURCE {
        return Err(TemplateError {
            line: None,
            column: None,
            message: format!("the template is larger than {} KiB", MAX_SOURCE / 1024),
        });
    }
    let env = environment();
    let tmpl = env
        .template_from_str(source)
        .map_err(|e| to_error(source, &e))?;
    let out = tmpl
        .render(TValue::from_serialize(ctx))
        .map_err(|e| to_error(source, &e))?;
    if out.len() > MAX_OUTPUT {
        return Err(TemplateError {
            line: None,
            column: None,
            message: format!("the rendered body is larger than {} KiB", MAX_OUTPUT / 1024),
        });
    }
    Ok(out)
}

/// A realistic context for checking templates at save time: an order, a checkout
/// and a product with the fields of the spec.
pub fn sample_context() -> Value {
    json!({
        "event": {"id": "evt_01SAMPLE", "type": "order.paid", "created_at": "2026-03-02T10:05:00Z"},
        "account": {"id": "acme", "name": "Acme"},
        "webhook": {"id": "wh_01SAMPLE", "name": "Sample"},
        "delivery": {"id": "dlv_01SAMPLE"},
        "previous_status": "new",
        "previous_stock": 3,
        "order": {
            "id": "1001", "number": "2026/1001", "status": "processing", "paid": true, "currency": "PLN",
            "total": "149.00", "shipping_total": "12.00", "discount_total": "0.00",
            "created_at": "2026-03-02T10:00:00+01:00", "paid_at": "2026-03-02T10:05:00+01:00",
            "customer": {"id": "c-77", "first_name": "Jan", "last_name": "Kowalski", "email": "jan@example.pl", "phone": "+48600100200", "language": "pl"},
            "shipping_address": {"first_name": "Jan", "last_name": "Kowalski", "address1": "ul. Długa", "house": "5", "flat": "12", "zip": "00-001", "city": "Warszawa", "country": "PL"},
            "items": [{"product_id": "p-1", "sku": "A1", "name": "Kubek", "variant": "Czarny", "category": "home", "quantity": 2, "price": "68.50", "subtotal": "137.00", "discount": "0.00"}],
            "shipping_method": "courier", "payment_method": "blik", "tracking_number": "", "coupon": "", "comment": "",
            "source": {"site": "shop-a.example"}, "utm": {"source": "newsletter", "medium": "email", "campaign": "spring"}, "custom": {}
        },
        "checkout": {"id": "c-1", "status": "open", "currency": "PLN", "total": "149.00", "items": [], "customer": {}, "shipping_address": {}},
        "product": {"id": "p-1", "sku": "A1", "name": "Kubek", "price": "68.50", "stock": 7, "active": true}
    })
}

/// Save-time check: compiles and renders against [`sample_context`], so syntax
/// errors, unknown filters and runaway loops are reported before anything is sent.
pub fn check(source: &str) -> Result<(), TemplateError> {
    if source.trim().is_empty() {
        return Err(TemplateError {
            line: None,
            column: None,
            message: "the template is empty".into(),
        });
    }
    render(source, &sample_context()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(src: &str) -> Result<String, String> {
        render(src, &sample_context()).map_err(|e| e.message)
    }

    #[test]
    fn renders_with_filters() {
        assert_eq!(
            r("Nowe zamówienie {{ order.id }} od {{ order.customer.first_name }}").unwrap(),
            "Nowe zamówienie 1001 od Jan"
        );
        assert_eq!(
            r("{{ order.total|money }} / {{ '7.005'|money('PLN') }} / {{ 3|money }}").unwrap(),
            "149.00 / 7.01 PLN / 3.00"
        );
        assert_eq!(
            r("{{ order.customer|tojson }}").unwrap().chars().next(),
            Some('{')
        );
        assert_eq!(
            r("{{ order.customer.email|urlencode }}").unwrap(),
            "jan%40example.pl"
        );
        assert_eq!(
            r("{{ order.created_at|date('%d.%m.%Y %H:%M', 'Europe/Warsaw') }}").unwrap(),
            "02.03.2026 10:00"
        );
        assert_eq!(
            r("{{ order.created_at|date }}").unwrap(),
            "2026-03-02 09:00"
        );
        assert_eq!(
            r("{% for i in order.items %}{{ i.sku }}x{{ i.quantity }}{% endfor %}").unwrap(),
            "A1x2"
        );
        assert_eq!(r("[{{ order.missing }}]").unwrap(), "[]");
    }

    #[test]
    fn errors_point_at_the_spot() {
        let e = render("Hello\n{{ order.id | nosuchfilter }}", &sample_context()).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("nosuchfilter") || e.message.contains("unknown filter"),
            "{}",
            e.message
        );
        let e = render("ok\n  {% for x in %}", &sample_context()).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.column.is_some());
        assert!(e.message.starts_with("line 2, column"), "{}", e.message);
    }

    #[test]
    fn sandbox_limits() {
        let e =
            r("{% for i in range(50000) %}{% for j in range(50000) %}x{% endfor %}{% endfor %}")
                .unwrap_err();
        assert!(e.contains("too many steps"), "{e}");
        assert!(r("{% include 'x' %}").is_err());
        assert!(
            r(&"x".repeat(MAX_SOURCE + 1))
                .unwrap_err()
                .contains("larger")
        );
        let e = r("{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% for i in range(4000) %}{{ s }}{% endfor %}").unwrap_err();
        assert!(e.contains("larger"), "{e}");
        assert!(check("   ").is_err());
    }
}
