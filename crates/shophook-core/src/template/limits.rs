//! What one render may build, counted *while* it renders, so a hostile template
//! fails with a reason instead of taking memory or time: every text an operator or
//! filter makes is at most [`MAX_VALUE`] bytes, every list at most [`MAX_ITEMS`]
//! items, all of them together at most [`MAX_BUILT`] bytes, the output (captured
//! blocks and macro calls included) at most [`super::MAX_OUTPUT`] bytes, and the
//! render ends after [`MAX_TIME`]. Sizes are measured before anything is built
//! (a counting writer), so a refused value is never allocated.
//!
//! The budget lives in a thread local set by [`Scope`]: a render runs on one thread
//! from start to end, and the operators and filters below are plain functions the
//! engine calls on that thread.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io;
use std::time::{Duration, Instant};

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Error, ErrorKind, State};

use super::MAX_OUTPUT;
use super::arith;

/// Largest text one operator or filter may make.
pub const MAX_VALUE: usize = 256 * 1024;
/// Largest list one operator or filter may make.
pub const MAX_ITEMS: usize = 100_000;
/// All texts and lists one render builds, together (a list item counts 32 bytes).
pub const MAX_BUILT: usize = 16 * 1024 * 1024;
/// Longest render.
pub const MAX_TIME: Duration = Duration::from_secs(1);
/// Widest `indent`, `tojson(indent=…)` and `format` width.
pub const MAX_WIDTH: usize = 64;
const ITEM_BYTES: usize = 32;

struct Budget {
    built: usize,
    emitted: usize,
    deadline: Instant,
    /// The first bound broken: the reason the render reports.
    broken: Option<String>,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// A render's budget, active until dropped.
pub(super) struct Scope(());

impl Scope {
    pub(super) fn start() -> Scope {
        BUDGET.with(|b| {
            *b.borrow_mut() = Some(Budget {
                built: 0,
                emitted: 0,
                deadline: Instant::now() + MAX_TIME,
                broken: None,
            })
        });
        Scope(())
    }

    /// The bound the render broke, if it broke one.
    pub(super) fn broken(&self) -> Option<String> {
        BUDGET.with(|b| b.borrow().as_ref().and_then(|b| b.broken.clone()))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        BUDGET.with(|b| *b.borrow_mut() = None);
    }
}

/// Fails the render with `reason` as its message.
pub(super) fn refuse(reason: String) -> Error {
    BUDGET.with(|b| {
        if let Some(b) = b.borrow_mut().as_mut() {
            b.broken.get_or_insert_with(|| reason.clone());
        }
    });
    Error::new(ErrorKind::InvalidOperation, reason)
}

fn kib(n: usize) -> String {
    format!("{} KiB", n / 1024)
}

fn too_large() -> Error {
    refuse(format!("a template value exceeds {}", kib(MAX_VALUE)))
}

/// Counts `bytes` more built, and checks the clock.
fn charge(bytes: usize) -> Result<(), Error> {
    let over = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else {
            return Ok(());
        };
        if Instant::now() > b.deadline {
            return Err(format!(
                "the template takes longer than {} s to render",
                MAX_TIME.as_secs()
            ));
        }
        b.built = b.built.saturating_add(bytes);
        if b.built > MAX_BUILT {
            return Err(format!(
                "the template builds more than {} MiB of text",
                MAX_BUILT / (1024 * 1024)
            ));
        }
        Ok(())
    });
    over.map_err(refuse)
}

/// Counts a value an operator or filter made: its text or its list length.
fn charged(v: Value) -> Result<Value, Error> {
    if let Some(s) = v.as_str() {
        if s.len() > MAX_VALUE {
            return Err(too_large());
        }
        charge(s.len())?;
    } else if let Some(n) = v.len().filter(|_| v.as_object().is_some()) {
        if n > MAX_ITEMS {
            return Err(too_many());
        }
        charge(n.saturating_mul(ITEM_BYTES))?;
    } else {
        charge(0)?;
    }
    Ok(v)
}

/// A writer that keeps at most `cap` bytes (or only counts them) and fails past it.
struct Capped {
    buf: Option<String>,
    len: usize,
    cap: usize,
}

impl Capped {
    fn counting(cap: usize) -> Capped {
        Capped {
            buf: None,
            len: 0,
            cap,
        }
    }
    fn keeping(cap: usize) -> Capped {
        Capped {
            buf: Some(String::new()),
            len: 0,
            cap,
        }
    }
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > self.cap {
            return Err(fmt::Error);
        }
        self.len += s.len();
        if let Some(b) = &mut self.buf {
            b.push_str(s);
        }
        Ok(())
    }
}

impl io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let s = std::str::from_utf8(bytes).map_err(|_| io::ErrorKind::InvalidData)?;
        fmt::Write::write_str(self, s).map_err(|_| io::Error::other("too large"))?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The length of `v` as text, failing past `cap` without building it.
fn text_len(v: &Value, cap: usize) -> Result<usize, Error> {
    let mut w = Capped::counting(cap);
    write!(w, "{v}").map_err(|_| too_large())?;
    Ok(w.len)
}

/// `v` as text, failing past `cap` before building more than `cap` bytes.
fn text(v: &Value, cap: usize) -> Result<String, fmt::Error> {
    let mut w = Capped::keeping(cap);
    write!(w, "{v}")?;
    Ok(w.buf.unwrap_or_default())
}

// ---- what the rewritten instructions call (see `bounded.rs`) ----

/// `{{ … }}` and template text: the output of one render, captures included.
pub(super) fn emit(v: &Value) -> Result<Value, Error> {
    let left = BUDGET.with(|b| {
        b.borrow()
            .as_ref()
            .map_or(MAX_OUTPUT, |b| MAX_OUTPUT.saturating_sub(b.emitted))
    });
    let s = text(v, left)
        .map_err(|_| refuse(format!("template output exceeds {}", kib(MAX_OUTPUT))))?;
    charge(0)?;
    BUDGET.with(|b| {
        if let Some(b) = b.borrow_mut().as_mut() {
            b.emitted += s.len();
        }
    });
    Ok(Value::from(s))
}

fn is_text(v: &Value) -> bool {
    v.as_str().is_some()
}

fn is_list(v: &Value) -> bool {
    v.as_object().is_some() && v.try_iter().is_ok() && v.as_str().is_none() && !v.is_kwargs()
}

/// A list's length, counting a lazy one up to one past [`MAX_ITEMS`].
fn list_len(v: &Value) -> usize {
    v.len().unwrap_or_else(|| {
        v.try_iter()
            .map(|i| i.take(MAX_ITEMS + 1).count())
            .unwrap_or(0)
    })
}

fn too_many() -> Error {
    refuse(format!("a template list exceeds {MAX_ITEMS} items"))
}

/// `a * b`: a text or a list repeated within the bounds; numbers as the engine does.
pub(super) fn mul(a: &Value, b: &Value) -> Result<Value, Error> {
    let repeat = |s: &Value, n: &Value, unit: Option<usize>| -> Result<(), Error> {
        let n = n.as_usize().unwrap_or(0);
        let len = unit.unwrap_or_else(|| list_len(s));
        match (is_text(s), len.checked_mul(n)) {
            (true, Some(total)) if total <= MAX_VALUE => charge(total),
            (false, Some(total)) if total <= MAX_ITEMS => charge(0),
            (true, _) => Err(too_large()),
            (false, _) => Err(too_many()),
        }
    };
    if is_text(a) {
        repeat(a, b, a.as_str().map(str::len))?;
    } else if is_text(b) {
        repeat(b, a, b.as_str().map(str::len))?;
    } else if is_list(a) {
        repeat(a, b, None)?;
    } else if is_list(b) {
        repeat(b, a, None)?;
    }
    arith::eval(arith::Op::Mul, a, b)
}

/// `a + b`: texts and lists joined within the bounds; numbers as the engine does.
pub(super) fn add(a: &Value, b: &Value) -> Result<Value, Error> {
    if is_text(a) && is_text(b) {
        let len = a.as_str().map_or(0, str::len) + b.as_str().map_or(0, str::len);
        if len > MAX_VALUE {
            return Err(too_large());
        }
        charge(len)?;
    } else if is_list(a) && is_list(b) {
        if list_len(a) + list_len(b) > MAX_ITEMS {
            return Err(too_many());
        }
        charge(0)?;
    }
    arith::eval(arith::Op::Add, a, b)
}

/// `a ~ b`: both as text, within the bounds.
pub(super) fn concat(a: &Value, b: &Value) -> Result<Value, Error> {
    let mut w = Capped::keeping(MAX_VALUE);
    write!(w, "{a}{b}").map_err(|_| too_large())?;
    charged(Value::from(w.buf.unwrap_or_default()))
}

/// `v[start:stop:step]`, counted.
pub(super) fn slice(v: &Value, start: &Value, stop: &Value, step: &Value) -> Result<Value, Error> {
    charged(arith::slice(v, start, stop, step)?)
}

// ---- filters ----

/// The position-or-keyword argument `name` at `pos` of a filter call.
fn arg(args: &[Value], pos: usize, name: &str) -> Option<Value> {
    match args.get(pos) {
        Some(v) if !v.is_kwargs() => Some(v.clone()),
        _ => args
            .last()
            .filter(|k| k.is_kwargs())
            .and_then(|k| k.get_attr(name).ok())
            .filter(|v| !v.is_undefined()),
    }
}

fn width(args: &[Value], pos: usize, name: &str, default: usize) -> Result<usize, Error> {
    let w = match arg(args, pos, name) {
        None => default,
        Some(v) if v.as_str().is_some() => return Ok(0),
        Some(v) => match bool::try_from(v.clone()) {
            Ok(true) => 2,
            Ok(false) => 0,
            Err(_) => v.as_usize().unwrap_or(usize::MAX),
        },
    };
    if w > MAX_WIDTH {
        return Err(refuse(format!("{name} is at most {MAX_WIDTH}")));
    }
    Ok(w)
}

/// What a filter is checked for before it runs.
#[derive(Clone, Copy)]
pub(super) enum Check {
    /// Its input as text is at most [`MAX_VALUE`] (text filters).
    TextInput,
    /// `join`: the joined text is at most [`MAX_VALUE`].
    Join,
    /// `replace`: the replaced text is at most [`MAX_VALUE`].
    Replace,
    /// `indent`: a bounded width, and the indented text at most [`MAX_VALUE`].
    Indent,
    /// `format`: bounded widths and arguments.
    Format,
    /// Only its result is counted (list filters).
    Result,
}

/// Runs `builtin` on `args` after `check`, counting what it made.
pub(super) fn filter(
    state: &State,
    builtin: &Value,
    check: Check,
    args: &Rest<Value>,
) -> Result<Value, Error> {
    let first = args.first().cloned().unwrap_or_default();
    match check {
        Check::TextInput => {
            text_len(&first, MAX_VALUE)?;
        }
        Check::Join => {
            let sep = arg(args, 1, "d").map_or(0, |d| d.as_str().map_or(0, str::len));
            let mut total = 0usize;
            for (i, item) in first.try_iter()?.enumerate() {
                total += text_len(&item, MAX_VALUE.saturating_sub(total))?;
                total += if i > 0 { sep } else { 0 };
                if total > MAX_VALUE {
                    return Err(too_large());
                }
            }
        }
        Check::Replace => {
            let s = text(&first, MAX_VALUE).map_err(|_| too_large())?;
            let from = arg(args, 1, "old")
                .map(|v| v.to_string())
                .unwrap_or_default();
            let to = arg(args, 2, "new").map_or(0, |v| v.to_string().len());
            let hits = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(from.as_str()).count()
            };
            if hits.saturating_mul(to).saturating_add(s.len()) > MAX_VALUE {
                return Err(too_large());
            }
        }
        Check::Indent => {
            let w = width(args, 1, "width", 4)?;
            let s = text(&first, MAX_VALUE).map_err(|_| too_large())?;
            if (s.lines().count() + 1).saturating_mul(w) + s.len() > MAX_VALUE {
                return Err(too_large());
            }
        }
        Check::Format => {
            let spec = first.as_str().unwrap_or_default();
            let widest = spec
                .split('%')
                .skip(1)
                .flat_map(|part| {
                    part.trim_start_matches(['-', '+', ' ', '#', '0'])
                        .split(|c: char| !c.is_ascii_digit())
                        .take(2)
                        .filter_map(|n| n.parse::<usize>().ok())
                        .collect::<Vec<_>>()
                })
                .max()
                .unwrap_or(0);
            if widest > MAX_WIDTH {
                return Err(refuse(format!("format widths are at most {MAX_WIDTH}")));
            }
            let mut total = spec.len();
            for a in args.iter().skip(1) {
                total += text_len(a, MAX_VALUE.saturating_sub(total))? + MAX_WIDTH;
            }
            if total > MAX_VALUE {
                return Err(too_large());
            }
        }
        Check::Result => {
            if is_list(&first) && list_len(&first) > MAX_ITEMS {
                return Err(too_many());
            }
        }
    }
    charge(0)?;
    charged(builtin.call(state, args)?)
}

/// `tojson`, as the engine's (same escapes), written into a capped buffer with an
/// indent of at most [`MAX_WIDTH`].
pub(super) fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match indent {
        Some(i) => Some(i),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    kwargs.assert_all_used()?;
    let indent = width(&indent.into_iter().collect::<Vec<_>>(), 0, "indent", 0)?;
    let mut w = Capped::keeping(MAX_VALUE);
    let done = if indent > 0 {
        let pad = " ".repeat(indent);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
        let mut s = serde_json::Serializer::with_formatter(&mut w, formatter);
        serde::Serialize::serialize(value, &mut s)
    } else {
        serde_json::to_writer(&mut w, value)
    };
    if let Err(e) = done {
        return Err(if e.is_io() {
            too_large()
        } else {
            Error::new(ErrorKind::InvalidOperation, "cannot serialize to JSON").with_source(e)
        });
    }
    let json = w.buf.unwrap_or_default();
    let mut rv = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => rv.push_str("\\u003c"),
            '>' => rv.push_str("\\u003e"),
            '&' => rv.push_str("\\u0026"),
            '\'' => rv.push_str("\\u0027"),
            _ => rv.push(c),
        }
    }
    if rv.len() > MAX_VALUE {
        return Err(too_large());
    }
    charge(rv.len())?;
    Ok(Value::from_safe_string(rv))
}

/// `pprint`, into a capped buffer.
pub(super) fn pprint(value: &Value) -> Result<Value, Error> {
    let mut w = Capped::keeping(MAX_VALUE);
    write!(w, "{value:#?}").map_err(|_| too_large())?;
    charged(Value::from(w.buf.unwrap_or_default()))
}
