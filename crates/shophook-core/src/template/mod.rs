//! Merchant templates: MiniJinja syntax rendered with the event context, in a
//! sandbox. No loader is configured, so a template cannot read files or include
//! other templates; fuel bounds the steps (no endless loops), and what a render
//! builds is bounded *while* it renders — every value, all values together, the
//! output and the time ([`limits`]), through bounded operators and filters that the
//! compiled template calls in place of the engine's own ([`bounded`]). A template
//! that breaks a bound fails with the bound as its reason; a panic in the engine
//! fails the render, never the process. Errors carry the line and column, so the
//! editor can point at them.

mod arith;
mod bounded;
mod limits;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use minijinja::machinery::{Vm, make_string_output};
use minijinja::value::{Rest, Value as TValue};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, filters};
use serde_json::{Value, json};

pub use limits::{MAX_BUILT, MAX_ITEMS, MAX_TIME, MAX_VALUE};

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

/// The engine with the bounded operators and filters in place of its own; the
/// render's budget is per thread ([`limits`]), so one environment serves all.
static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    use limits::Check::*;
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env.remove_global("debug");
    env.add_filter(bounded::EMIT, |v: &TValue| limits::emit(v));
    env.add_filter(bounded::MUL, |a: &TValue, b: &TValue| limits::mul(a, b));
    env.add_filter(bounded::ADD, |a: &TValue, b: &TValue| limits::add(a, b));
    env.add_filter(bounded::CONCAT, |a: &TValue, b: &TValue| {
        limits::concat(a, b)
    });
    env.add_filter(
        bounded::SLICE,
        |v: &TValue, a: &TValue, b: &TValue, c: &TValue| limits::slice(v, a, b, c),
    );
    env.add_filter("tojson", limits::tojson);
    env.add_filter("pprint", limits::pprint);
    let wrapped: Vec<(&str, TValue, limits::Check)> = vec![
        ("money", TValue::from_function(money), TextInput),
        ("date", TValue::from_function(date), TextInput),
        ("string", TValue::from_function(filters::string), TextInput),
        ("safe", TValue::from_function(filters::safe), TextInput),
        ("escape", TValue::from_function(filters::escape), TextInput),
        ("e", TValue::from_function(filters::escape), TextInput),
        ("upper", TValue::from_function(filters::upper), TextInput),
        ("lower", TValue::from_function(filters::lower), TextInput),
        ("title", TValue::from_function(filters::title), TextInput),
        (
            "capitalize",
            TValue::from_function(filters::capitalize),
            TextInput,
        ),
        ("trim", TValue::from_function(filters::trim), TextInput),
        (
            "urlencode",
            TValue::from_function(filters::urlencode),
            TextInput,
        ),
        ("split", TValue::from_function(filters::split), TextInput),
        ("lines", TValue::from_function(filters::lines), TextInput),
        ("join", TValue::from_function(filters::join), Join),
        ("replace", TValue::from_function(filters::replace), Replace),
        ("indent", TValue::from_function(filters::indent), Indent),
        ("format", TValue::from_function(filters::format), Format),
        ("list", TValue::from_function(filters::list), Result),
        ("sort", TValue::from_function(filters::sort), Result),
        ("reverse", TValue::from_function(filters::reverse), Result),
        ("unique", TValue::from_function(filters::unique), Result),
        ("batch", TValue::from_function(filters::batch), Result),
        ("slice", TValue::from_function(filters::slice), Result),
        ("items", TValue::from_function(filters::items), Result),
        ("dictsort", TValue::from_function(filters::dictsort), Result),
        ("groupby", TValue::from_function(filters::groupby), Result),
        ("map", TValue::from_function(filters::map), Result),
        ("select", TValue::from_function(filters::select), Result),
        ("reject", TValue::from_function(filters::reject), Result),
        (
            "selectattr",
            TValue::from_function(filters::selectattr),
            Result,
        ),
        (
            "rejectattr",
            TValue::from_function(filters::rejectattr),
            Result,
        ),
        ("chain", TValue::from_function(filters::chain), Result),
        ("zip", TValue::from_function(filters::zip), Result),
    ];
    for (name, builtin, check) in wrapped {
        env.add_filter(name, move |state: &State, args: Rest<TValue>| {
            limits::filter(state, &builtin, check, &args)
        });
    }
    env
});

fn position(source: &str, e: &Error) -> (Option<usize>, Option<usize>) {
    let line = e.line();
    let column = e.range().map(|r| {
        let start = r.start.min(source.len());
        let before = &source[..start];
        before.chars().rev().take_while(|c| *c != '\n').count() + 1
    });
    (line, column)
}

/// The expression an undefined-value error points at (`order.customer.email`), if
/// its span is a plain one-line expression.
fn undefined_expression(source: &str, e: &Error) -> Option<String> {
    let r = e.range()?;
    // the span starts at the failing attribute (`.customer.email`): take in the
    // path before it (`order`)
    let head = source.get(..r.start)?;
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || "._[]'\"".contains(*c))
        .last()
        .map_or(r.start, |(i, _)| i);
    let text = source.get(start..r.end)?.trim();
    let plain = !text.is_empty()
        && text.len() <= 200
        && !text.contains('\n')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "._[]'\"*- ".contains(c));
    plain.then(|| text.to_string())
}

fn to_error(source: &str, e: &Error) -> TemplateError {
    let (line, column) = position(source, e);
    let what = match e.kind() {
        ErrorKind::OutOfFuel => {
            "the template takes too many steps (an endless or very long loop?)".to_string()
        }
        ErrorKind::UndefinedError => match undefined_expression(source, e) {
            Some(expr) => {
                let parent = expr.rsplit_once('.').map_or(expr.as_str(), |(p, _)| p);
                format!(
                    "`{expr}` is undefined: this event has no such value (guard it with `{{% if {parent} is defined %}}…{{% endif %}}`, or give a missing value a default: `{{{{ {expr} | default(\"\") }}}}` when only its last part may be missing)"
                )
            }
            None => "a value is undefined: this event has no such value (use the `default` filter, or test it with `is defined`)".to_string(),
        },
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
    let plain = |message: String| TemplateError {
        line: None,
        column: None,
        message,
    };
    if source.len() > MAX_SOURCE {
        return Err(plain(format!(
            "the template is larger than {} KiB",
            MAX_SOURCE / 1024
        )));
    }
    let scope = limits::Scope::start();
    let rendered = catch_unwind(AssertUnwindSafe(|| run(source, ctx)));
    match rendered {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => {
            let mut err = to_error(source, &e);
            if let Some(reason) = scope.broken() {
                // the bound itself is the reason, at the template's position
                err.message = match (err.line, err.column) {
                    (Some(l), Some(c)) => format!("line {l}, column {c}: {reason}"),
                    (Some(l), None) => format!("line {l}: {reason}"),
                    _ => reason,
                };
            }
            Err(err)
        }
        Err(_) => Err(plain(
            "the template stopped the renderer (an internal error); it is not retried".into(),
        )),
    }
}

fn run(source: &str, ctx: &Value) -> Result<String, Error> {
    let compiled = bounded::compile("template", source)?;
    let mut out = String::new();
    Vm::new(&ENV).eval(
        &compiled.instructions,
        TValue::from_serialize(ctx),
        &compiled.blocks,
        &mut make_string_output(&mut out),
        AutoEscape::None,
    )?;
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

/// [`sample_context`] with resources that carry only their id: what a real event
/// about a sparse order (no customer, no items yet) gives a template.
pub fn sparse_context() -> Value {
    let mut ctx = sample_context();
    ctx["order"] = json!({"id": "1001"});
    ctx["checkout"] = json!({"id": "c-1"});
    ctx["product"] = json!({"id": "p-1"});
    ctx
}

/// A warning, not an error: what rendering says about an order, checkout or
/// product that has only its id, when the template fails on that but renders the
/// full sample (save-time checks accept it; some real events would end `dead`).
pub fn sparse_warning(source: &str) -> Option<String> {
    if render(source, &sample_context()).is_err() {
        return None; // an error, reported as such
    }
    render(source, &sparse_context()).err().map(|e| {
        format!(
            "an order, checkout or product that has only its id fails this template: {}",
            e.message
        )
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
    fn a_template_that_needs_more_than_an_id_is_warned_about() {
        let needy = "{{ order.customer.email }}";
        check(needy).unwrap();
        let w = sparse_warning(needy).expect("a warning");
        assert!(w.contains("`order.customer.email` is undefined"), "{w}");
        for fine in [
            "{{ order.id }}",
            "{% if order.customer is defined %}{{ order.customer.email }}{% endif %}",
            "{{ order.note | default('-') }}",
        ] {
            assert_eq!(sparse_warning(fine), None, "{fine}");
        }
        assert_eq!(
            sparse_warning("{{ nope( }}"),
            None,
            "a broken template is an error, not a warning"
        );
    }

    #[test]
    fn an_undefined_value_is_named_with_its_line() {
        let ctx = serde_json::json!({"order": {"id": "1001"}});
        let e = render(
            "Order {{ order.id }}\nMail: {{ order.customer.email }}",
            &ctx,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2), "{}", e.message);
        assert!(
            e.message.contains("`order.customer.email` is undefined"),
            "{}",
            e.message
        );
        // what the message suggests renders
        assert!(
            e.message.contains("{% if order.customer is defined %}"),
            "{}",
            e.message
        );
        assert_eq!(
            render(
                "{% if order.customer is defined %}{{ order.customer.email }}{% endif %}",
                &ctx
            )
            .unwrap(),
            ""
        );
        assert_eq!(
            render("{{ order.note | default(\"none\") }}", &ctx).unwrap(),
            "none"
        );
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
        assert!(e.contains("template output exceeds 256 KiB"), "{e}");
        assert!(check("   ").is_err());
    }

    /// Renders a hostile template: it must fail with `reason`, quickly and without
    /// building the value it asks for.
    fn refused(src: &str, reason: &str) {
        match r(src) {
            Err(e) => assert!(e.contains(reason), "{src}\n  -> {e}"),
            Ok(out) => panic!("{src}\n  -> rendered {} bytes", out.len()),
        }
    }

    #[test]
    fn a_template_cannot_build_a_large_value() {
        let n = "{% set n = 100000000 %}";
        // the reproductions: one step of 100 MB, forty of them, a huge indent
        refused(
            &format!("{n}{{{{ 'x' * n }}}}"),
            "a template value exceeds 256 KiB",
        );
        refused(
            &format!("{n}{{% for i in range(40) %}}{{{{ 'x' * n }}}}{{% endfor %}}"),
            "a template value exceeds 256 KiB",
        );
        refused(
            "{{ order|tojson(indent=10000000) }}",
            "indent is at most 64",
        );
        refused("{{ order|tojson(10000000) }}", "indent is at most 64");
        // folded while compiling: refused before the engine builds it
        refused(
            "{{ 'x' * 100000000 }}",
            "a constant expression makes more than 256 KiB",
        );
        refused("{{ ('ab' ~ 'cd') * (1000 * 1000) }}", "constant expression");
        // doubling through a namespace, texts and lists
        refused(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "a template value exceeds 256 KiB",
        );
        refused(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "a template value exceeds 256 KiB",
        );
        refused(
            "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}",
            "a template list exceeds 100000 items",
        );
        refused(
            &format!("{n}{{{{ ([1] * n)|list|length }}}}"),
            "a template list exceeds 100000 items",
        );
        // filters that multiply their input
        let big = "{% set k = 200000 %}{% set s = 'a' * k %}";
        refused(
            &format!("{big}{{{{ s|replace('a', 'bbbbbbbb') }}}}"),
            "exceeds 256 KiB",
        );
        refused(
            "{% set t = 'ab\\ncd\\n' * 30000 %}{{ t|indent(64) }}",
            "exceeds 256 KiB",
        );
        refused(&format!("{big}{{{{ [s, s]|join }}}}"), "exceeds 256 KiB");
        refused(&format!("{big}{{{{ [s, s]|pprint }}}}"), "exceeds 256 KiB");
        refused(
            &format!("{big}{{{{ '%99999999s'|format(s) }}}}"),
            "format widths are at most 64",
        );
        refused(
            &format!("{big}{{{{ ([s] * 1000)|string }}}}"),
            "exceeds 256 KiB",
        );
        refused(
            &format!("{big}{{{{ ([s] * 1000)|upper }}}}"),
            "exceeds 256 KiB",
        );
        // the output, captured blocks and macro calls included
        refused(
            &format!(
                "{big}{{% set c %}}{{% for i in range(100) %}}{{{{ s }}}}{{% endfor %}}{{% endset %}}"
            ),
            "template output exceeds 256 KiB",
        );
        refused(
            &format!(
                "{big}{{% macro m() %}}{{{{ s }}}}{{{{ s }}}}{{% endmacro %}}{{% set x = m() %}}"
            ),
            "template output exceeds 256 KiB",
        );
        refused(
            &format!("{big}{{{{ [s] * 1000 }}}}"),
            "template output exceeds 256 KiB",
        );
        // many distinct values kept alive: the total is bounded too
        refused(
            &format!(
                "{big}{{% set ns = namespace(l=[]) %}}{{% for i in range(1000) %}}{{% set ns.l = ns.l + [s[i:]] %}}{{% endfor %}}"
            ),
            "the template builds more than 16 MiB of text",
        );
        refused("{{ __shophook_emit }}", "reserved");
    }

    #[test]
    fn bounded_operators_keep_the_engines_meaning() {
        // the same templates through the engine as it comes and through the bounds
        let plain = |src: &str| {
            let mut env = Environment::new();
            env.add_filter("money", money);
            env.render_str(src, TValue::from_serialize(sample_context()))
                .map_err(|e| e.to_string())
        };
        for src in [
            "{{ 2 * 3 }} {{ 2.5 * 2 }} {{ 1 + 2 }} {{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 3 * '-' }} {{ '-' * 20 }}",
            "{{ [1, 2] + [3] }} {{ [0] * 3 }} {{ (range(2) + [5])|list }} {{ 7 // 2 }} {{ 2 ** 10 }}",
            "{{ 'x' ~ 1 ~ none }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::-2] }} {{ [1,2,3][1:] }} {{ order.id ~ '/' ~ order.total }}",
            "{{ order.items|map(attribute='sku')|join(', ') }} {{ 'a-b'|replace('-', '+') }} {{ 'x'|indent(2, true) }}",
            "{{ order.customer.first_name|upper }} {{ '%s=%d'|format('n', 3) }} {{ order.items|length }}",
            "{{ {'a': '<b>'}|tojson }}|{{ [1]|tojson(indent=2) }}|{{ order.customer|tojson(true) }}",
            "{% macro hi(n) %}hi {{ n }}{% endmacro %}{{ hi('Jan') }}{% set x %}in{% endset %}[{{ x }}]",
            "{% for i in range(3) %}{% if loop.first %}f{% elif loop.last %}l{% else %}{{ i }}{% endif %}{% endfor %}",
            "{% set ns = namespace(t='') %}{% for i in order.items %}{% set ns.t = ns.t ~ i.name %}{% endfor %}{{ ns.t }}",
            "{% filter upper %}shout {{ order.id }}{% endfilter %} {{ order.total|money('PLN') }}",
            "{{ order.items|sort(attribute='sku')|first|attr('sku') }} {{ order|dictsort|length }} {{ [3,1]|sort|list }}",
            "{{ order.missing }}|{{ order.missing|default('–') }}|{{ 1 * 'a' * 'b' }}",
        ] {
            assert_eq!(r(src), plain(src).map_err(|_| r(src).unwrap_err()), "{src}");
        }
    }
}
