//! Webhook conditions: `{"field": "order.status", "op": "in", "value": [...]}`.
//!
//! A condition holds when *any* value its path reaches satisfies the operator
//! (`order.items[*].category eq books` = "some item is a book"); the negative
//! operators (`ne`, `not_in`, `not_contains`, `not_exists`) are the negation of
//! their positive twin, so `ne books` = "no item is a book". Numbers and decimal
//! strings compare as decimals, never as floats.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::str::FromStr;

use regex::Regex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FieldError;
use crate::context::{EventContext, FieldPath};

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    Contains,
    NotContains,
    Exists,
    NotExists,
    StartsWith,
    EndsWith,
    Matches,
}

impl Op {
    /// Every operator, in the order the UI offers them.
    pub const ALL: [Op; 15] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::NotContains,
        Op::Exists,
        Op::NotExists,
        Op::StartsWith,
        Op::EndsWith,
        Op::Matches,
    ];

    /// Its name in the API (`not_in`).
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::Exists => "exists",
            Op::NotExists => "not_exists",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Matches => "matches",
        }
    }

    /// In words, for people choosing it (`is at least`).
    pub fn label(self) -> &'static str {
        match self {
            Op::Eq => "equals",
            Op::Ne => "does not equal",
            Op::Gt => "is more than",
            Op::Gte => "is at least",
            Op::Lt => "is less than",
            Op::Lte => "is at most",
            Op::In => "is one of",
            Op::NotIn => "is none of",
            Op::Contains => "contains",
            Op::NotContains => "does not contain",
            Op::Exists => "is present",
            Op::NotExists => "is absent",
            Op::StartsWith => "starts with",
            Op::EndsWith => "ends with",
            Op::Matches => "matches the pattern",
        }
    }

    /// The operator named `name`.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// What its `value` is: none, a list, or one scalar (a regex for `matches`).
    pub fn value_kind(self) -> ValueKind {
        match self {
            Op::Exists | Op::NotExists => ValueKind::None,
            Op::In | Op::NotIn => ValueKind::List,
            _ => ValueKind::One,
        }
    }
}

/// What an operator's `value` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// It takes no value (`exists`).
    None,
    /// A list of scalars (`in`).
    List,
    /// One scalar.
    One,
}

/// A condition as the merchant wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct Condition {
    /// Path in the event context.
    pub field: String,
    /// Operator.
    pub op: Op,
    /// Operand; absent for `exists` / `not_exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A checked condition, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    path: FieldPath,
    op: Op,
    value: Value,
    regex: Option<Regex>,
}

/// Longest accepted regex source.
pub const MAX_REGEX_LEN: usize = 1024;
/// Most `matches` conditions of one webhook.
pub const MAX_REGEX_PER_WEBHOOK: usize = 10;
/// Most `matches` conditions over all webhooks of one account.
pub const MAX_REGEX_PER_ACCOUNT: usize = 50;
/// Largest compiled regex, and largest search cache of one, in bytes.
pub const MAX_REGEX_SIZE: usize = 256 * 1024;
/// Compiled regexes kept by source (a cleared cache only costs recompiling).
const REGEX_CACHE: usize = 1024;

/// `src` compiled within [`MAX_REGEX_SIZE`], from the cache when it was compiled
/// before: the API checks a condition before it is stored, so the store's own
/// compile of the same webhook (on the writer thread) finds it here.
fn cached_regex(src: &str) -> Result<Regex, regex::Error> {
    static CACHE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Regex>>> =
        std::sync::LazyLock::new(Default::default);
    if let Some(r) = CACHE.lock().ok().and_then(|c| c.get(src).cloned()) {
        return Ok(r);
    }
    let r = regex::RegexBuilder::new(src)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .build()?;
    if let Ok(mut c) = CACHE.lock() {
        if c.len() >= REGEX_CACHE {
            c.clear();
        }
        c.insert(src.to_string(), r.clone());
    }
    Ok(r)
}

/// How many `matches` conditions `conditions` has.
pub fn regex_count(conditions: &[Condition]) -> usize {
    conditions.iter().filter(|c| c.op == Op::Matches).count()
}

impl Condition {
    /// Validates the condition and prepares it for evaluation.
    pub fn compile(&self) -> Result<CompiledCondition, FieldError> {
        let path = FieldPath::parse(&self.field).map_err(|e| e.within("field"))?;
        let value = self.value.clone().unwrap_or(Value::Null);
        let need = |what: &str| {
            FieldError::new(
                "value",
                "invalid_condition_value",
                format!("`{}` needs {what}", self.op.name()),
            )
        };
        let mut regex = None;
        match self.op {
            Op::Exists | Op::NotExists => {
                if !value.is_null() {
                    return Err(need("no value"));
                }
            }
            Op::In | Op::NotIn => match &value {
                Value::Array(items) if items.iter().all(is_scalar) => {}
                _ => {
                    return Err(need(
                        "a list of strings or numbers, e.g. [\"new\", \"paid\"]",
                    ));
                }
            },
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                if !(value.is_number() || value.is_string()) {
                    return Err(need("a number, decimal string or date"));
                }
            }
            Op::Matches => {
                let Value::String(src) = &value else {
                    return Err(need("a regular expression string"));
                };
                if src.len() > MAX_REGEX_LEN {
                    return Err(need("a regular expression of at most 1024 characters"));
                }
                regex = Some(cached_regex(src).map_err(|e| match e {
                    regex::Error::CompiledTooBig(_) => need(&format!(
                        "a smaller regular expression (compiled, it exceeds {} KiB; `\\w{{20}}` and other large Unicode classes repeated grow fast — try `[a-zA-Z0-9_]{{20}}`)",
                        MAX_REGEX_SIZE / 1024
                    )),
                    e => need(&format!("a valid regular expression ({e})")),
                })?);
            }
            Op::Eq | Op::Ne | Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith => {
                if !is_scalar(&value) || value.is_null() {
                    return Err(need("a string, number or true/false"));
                }
            }
        }
        Ok(CompiledCondition {
            path,
            op: self.op,
            value,
            regex,
        })
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

impl CompiledCondition {
    /// Whether the condition holds in `ctx`.
    pub fn holds(&self, ctx: &EventContext<'_>) -> bool {
        let found = ctx.resolve(&self.path);
        let any = |f: &dyn Fn(&Value) -> bool| found.iter().any(|v| f(v));
        match self.op {
            Op::Exists => !found.is_empty(),
            Op::NotExists => found.is_empty(),
            Op::Eq => any(&|v| equal(v, &self.value)),
            Op::Ne => !any(&|v| equal(v, &self.value)),
            Op::In => any(&|v| self.in_list(v)),
            Op::NotIn => !any(&|v| self.in_list(v)),
            Op::Contains => any(&|v| contains(v, &self.value)),
            Op::NotContains => !any(&|v| contains(v, &self.value)),
            Op::Gt => any(&|v| compare(v, &self.value) == Some(Ordering::Greater)),
            Op::Gte => any(&|v| {
                matches!(
                    compare(v, &self.value),
                    Some(Ordering::Greater | Ordering::Equal)
                )
            }),
            Op::Lt => any(&|v| compare(v, &self.value) == Some(Ordering::Less)),
            Op::Lte => any(&|v| {
                matches!(
                    compare(v, &self.value),
                    Some(Ordering::Less | Ordering::Equal)
                )
            }),
            Op::StartsWith => {
                any(&|v| text_pair(v, &self.value).is_some_and(|(a, b)| a.starts_with(&*b)))
            }
            Op::EndsWith => {
                any(&|v| text_pair(v, &self.value).is_some_and(|(a, b)| a.ends_with(&*b)))
            }
            Op::Matches => any(&|v| {
                let re = self
                    .regex
                    .as_ref()
                    .expect("compile() sets a regex for `matches`");
                text(v).is_some_and(|t| re.is_match(&t))
            }),
        }
    }

    /// A readable form for skip reasons and logs: `order.paid eq true`.
    pub fn describe(&self) -> String {
        let segs: Vec<String> = self
            .path
            .segments()
            .iter()
            .map(|s| match s {
                crate::context::Segment::Key(k) => k.clone(),
                crate::context::Segment::Index(i) => i.to_string(),
                crate::context::Segment::Any => "*".into(),
            })
            .collect();
        if self.value.is_null() {
            format!("{} {}", segs.join("."), self.op.name())
        } else {
            format!("{} {} {}", segs.join("."), self.op.name(), self.value)
        }
    }

    fn in_list(&self, v: &Value) -> bool {
        self.value
            .as_array()
            .is_some_and(|items| items.iter().any(|i| equal(v, i)))
    }
}

/// A JSON number or a decimal string as an exact decimal.
pub fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => {
            let s = n.to_string();
            Decimal::from_str(&s)
                .or_else(|_| Decimal::from_scientific(&s))
                .ok()
        }
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || t.len() > 40 {
                return None;
            }
            Decimal::from_str(t).ok()
        }
        _ => None,
    }
}

fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

fn text_pair<'a>(a: &'a Value, b: &'a Value) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    Some((text(a)?, text(b)?))
}

fn equal(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (as_decimal(a), as_decimal(b)) {
        return x == y;
    }
    match (text(a), text(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(items) => items.iter().any(|i| equal(i, needle)),
        Value::String(s) => text(needle).is_some_and(|n| s.contains(&*n)),
        _ => false,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_decimal(a), as_decimal(b)) {
        return Some(x.cmp(&y));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        _ => None,
    }
}

/// Compiles a list of conditions, naming the index of the first bad one.
pub fn compile_all(conditions: &[Condition]) -> Result<Vec<CompiledCondition>, FieldError> {
    if regex_count(conditions) > MAX_REGEX_PER_WEBHOOK {
        return Err(FieldError::new(
            "conditions",
            "too_many",
            format!("at most {MAX_REGEX_PER_WEBHOOK} `matches` conditions per webhook"),
        ));
    }
    conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.compile()
                .map_err(|e| e.within(&format!("conditions[{i}]")))
        })
        .collect()
}

crate::object_only!(Condition);

#[cfg(test)]
mod tests;
