//! Compiling a template so every operator that can make a large value and every
//! write to the output passes through [`super::limits`]: the engine's own
//! instructions for `*`, `+`, `~`, slicing, `{{ … }}` and template text are replaced
//! by calls of bounded filters (names the template cannot shadow, as filters are
//! looked up in the environment only), and jump targets are moved to match.
//! A constant expression that would make a value larger than the bounds is refused
//! before compiling, because the engine folds constant expressions as it compiles.

use std::collections::BTreeMap;

use minijinja::Error;
use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::{CodeGenerator, Instruction, Instructions, WhitespaceConfig, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;

use super::limits::{MAX_VALUE, refuse};

/// The bounded filters the rewritten instructions call.
pub(super) const EMIT: &str = "__shophook_emit";
pub(super) const MUL: &str = "__shophook_mul";
pub(super) const ADD: &str = "__shophook_add";
pub(super) const CONCAT: &str = "__shophook_concat";
pub(super) const SLICE: &str = "__shophook_slice";

/// A filter call the engine does not cache by slot (`!0`).
const UNCACHED: u8 = !0;

/// A compiled, bounded template.
pub(super) struct Compiled<'s> {
    pub instructions: Instructions<'s>,
    pub blocks: BTreeMap<&'s str, Instructions<'s>>,
}

pub(super) fn compile<'s>(name: &'s str, source: &'s str) -> Result<Compiled<'s>, Error> {
    if source.contains("__shophook_") {
        return Err(refuse(
            "names starting with __shophook_ are reserved".into(),
        ));
    }
    let ast = parse(source, name, SyntaxConfig, WhitespaceConfig::default())?;
    no_large_constant(&ast)?;
    let mut g = CodeGenerator::new(name, source);
    g.compile_stmt(&ast);
    let (instructions, blocks) = g.finish();
    Ok(Compiled {
        instructions: rewrite(&instructions, name, source),
        blocks: blocks
            .iter()
            .map(|(k, v)| (*k, rewrite(v, name, source)))
            .collect(),
    })
}

/// What one instruction becomes.
fn replacement<'s>(i: &Instruction<'s>) -> Option<Vec<Instruction<'s>>> {
    let call = |name: &'static str, args: u16| Instruction::ApplyFilter(name, Some(args), UNCACHED);
    Some(match i {
        Instruction::Emit => vec![call(EMIT, 1), Instruction::Emit],
        Instruction::EmitRaw(raw) => vec![
            Instruction::LoadConst(Value::from(*raw)),
            call(EMIT, 1),
            Instruction::Emit,
        ],
        Instruction::Mul => vec![call(MUL, 2)],
        Instruction::Add => vec![call(ADD, 2)],
        Instruction::StringConcat => vec![call(CONCAT, 2)],
        Instruction::Slice => vec![call(SLICE, 4)],
        _ => return None,
    })
}

/// `instructions` with the bounded calls in, jumps moved to where their targets went.
fn rewrite<'s>(
    instructions: &Instructions<'s>,
    name: &'s str,
    source: &'s str,
) -> Instructions<'s> {
    let old: Vec<&Instruction<'s>> = (0..instructions.len() as u32)
        .filter_map(|i| instructions.get(i))
        .collect();
    // where each old instruction starts in the new list (and one past the end)
    let mut at = Vec::with_capacity(old.len() + 1);
    let mut next = 0u32;
    for i in &old {
        at.push(next);
        next += replacement(i).map_or(1, |r| r.len() as u32);
    }
    at.push(next);
    let moved = |t: &u32| at.get(*t as usize).copied().unwrap_or(next);
    let mut out = Instructions::new(name, source);
    for (idx, i) in old.iter().enumerate() {
        let idx = idx as u32;
        let fixed = match i {
            Instruction::Jump(t) => Instruction::Jump(moved(t)),
            Instruction::JumpIfFalse(t) => Instruction::JumpIfFalse(moved(t)),
            Instruction::JumpIfFalseOrPop(t) => Instruction::JumpIfFalseOrPop(moved(t)),
            Instruction::JumpIfTrueOrPop(t) => Instruction::JumpIfTrueOrPop(moved(t)),
            Instruction::Iterate(t) => Instruction::Iterate(moved(t)),
            Instruction::BuildMacro(n, t, f) => Instruction::BuildMacro(n, moved(t), *f),
            other => (*other).clone(),
        };
        let new = replacement(&fixed).unwrap_or_else(|| vec![fixed]);
        for n in new {
            match (instructions.get_span(idx), instructions.get_line(idx)) {
                (Some(span), _) => out.add_with_span(n, span),
                (None, Some(line)) => out.add_with_line(n, line as u16),
                (None, None) => out.add(n),
            };
        }
    }
    out
}

/// What a constant expression would make: its size as text (an upper bound,
/// without building it) and its value when it is an integer.
#[derive(Clone, Copy)]
struct Size {
    bytes: u64,
    int: Option<i128>,
}

/// `None` when `e` is not constant (the engine does not fold it).
fn constant(e: &Expr<'_>) -> Option<Size> {
    const NUMBER: u64 = 40;
    let sum = |es: &mut dyn Iterator<Item = &Expr<'_>>| -> Option<Size> {
        let mut bytes = 0u64;
        for e in es {
            bytes = bytes.saturating_add(constant(e)?.bytes).saturating_add(2);
        }
        Some(Size { bytes, int: None })
    };
    match e {
        Expr::Const(c) => Some(match (c.value.as_str(), c.value.as_i64()) {
            (Some(s), _) => Size {
                bytes: s.len() as u64,
                int: None,
            },
            (None, Some(i)) => Size {
                bytes: NUMBER,
                int: Some(i.into()),
            },
            (None, None) => Size {
                bytes: NUMBER.saturating_mul(c.value.len().unwrap_or(1) as u64 + 1),
                int: None,
            },
        }),
        Expr::List(l) => sum(&mut l.items.iter()),
        Expr::Map(m) => sum(&mut m.keys.iter().chain(m.values.iter())),
        Expr::UnaryOp(u) => constant(&u.expr),
        Expr::Compare(c) => {
            sum(&mut std::iter::once(&c.expr).chain(c.ops.iter().map(|o| &o.expr)))?;
            Some(Size {
                bytes: 5,
                int: None,
            })
        }
        Expr::BinOp(b) => {
            let (l, r) = (constant(&b.left)?, constant(&b.right)?);
            let times =
                |s: Size, n: i128| s.bytes.saturating_mul(n.clamp(0, u64::MAX as i128) as u64);
            Some(match (b.op, l.int, r.int) {
                (ast::BinOpKind::Mul, Some(x), Some(y)) => Size {
                    bytes: NUMBER,
                    int: x.checked_mul(y),
                },
                (ast::BinOpKind::Mul, None, Some(n)) => Size {
                    bytes: times(l, n),
                    int: None,
                },
                (ast::BinOpKind::Mul, Some(n), None) => Size {
                    bytes: times(r, n),
                    int: None,
                },
                (ast::BinOpKind::Add, Some(x), Some(y)) => Size {
                    bytes: NUMBER,
                    int: x.checked_add(y),
                },
                (ast::BinOpKind::Sub, Some(x), Some(y)) => Size {
                    bytes: NUMBER,
                    int: x.checked_sub(y),
                },
                _ => Size {
                    bytes: l.bytes.saturating_add(r.bytes).saturating_add(NUMBER),
                    int: None,
                },
            })
        }
        _ => None,
    }
}

/// Refuses a constant expression the engine would fold into a value larger than
/// [`MAX_VALUE`] while compiling (`"x" * 100000000`).
fn no_large_constant(s: &Stmt<'_>) -> Result<(), Error> {
    let mut found = None;
    visit_stmt(s, &mut |e| {
        if let Expr::BinOp(b) = e
            && constant(e).is_some_and(|size| size.bytes > MAX_VALUE as u64)
        {
            found.get_or_insert(b.span());
        }
    });
    match found {
        None => Ok(()),
        Some(span) => Err(refuse(format!(
            "line {}: a constant expression makes more than {} KiB",
            span.start_line,
            MAX_VALUE / 1024
        ))),
    }
}

fn visit_args<'a>(args: &[CallArg<'a>], f: &mut dyn FnMut(&Expr<'a>)) {
    for a in args {
        match a {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => visit_expr(e, f),
        }
    }
}

fn visit_expr<'a>(e: &Expr<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
    f(e);
    match e {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            visit_expr(&s.expr, f);
            for p in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                visit_expr(p, f);
            }
        }
        Expr::UnaryOp(u) => visit_expr(&u.expr, f),
        Expr::BinOp(b) => {
            visit_expr(&b.left, f);
            visit_expr(&b.right, f);
        }
        Expr::Compare(c) => {
            visit_expr(&c.expr, f);
            for o in &c.ops {
                visit_expr(&o.expr, f);
            }
        }
        Expr::IfExpr(i) => {
            visit_expr(&i.test_expr, f);
            visit_expr(&i.true_expr, f);
            if let Some(x) = &i.false_expr {
                visit_expr(x, f);
            }
        }
        Expr::Filter(x) => {
            if let Some(e) = &x.expr {
                visit_expr(e, f);
            }
            visit_args(&x.args, f);
        }
        Expr::Test(t) => {
            visit_expr(&t.expr, f);
            visit_args(&t.args, f);
        }
        Expr::GetAttr(g) => visit_expr(&g.expr, f),
        Expr::GetItem(g) => {
            visit_expr(&g.expr, f);
            visit_expr(&g.subscript_expr, f);
        }
        Expr::Call(c) => {
            visit_expr(&c.expr, f);
            visit_args(&c.args, f);
        }
        Expr::List(l) => l.items.iter().for_each(|e| visit_expr(e, f)),
        Expr::Map(m) => m
            .keys
            .iter()
            .chain(m.values.iter())
            .for_each(|e| visit_expr(e, f)),
    }
}

fn visit_body<'a>(body: &[Stmt<'a>], f: &mut dyn FnMut(&Expr<'a>)) {
    for s in body {
        visit_stmt(s, f);
    }
}

fn visit_stmt<'a>(s: &Stmt<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
    match s {
        Stmt::Template(t) => visit_body(&t.children, f),
        Stmt::EmitExpr(e) => visit_expr(&e.expr, f),
        Stmt::EmitRaw(_) => {}
        Stmt::ForLoop(l) => {
            visit_expr(&l.target, f);
            visit_expr(&l.iter, f);
            if let Some(x) = &l.filter_expr {
                visit_expr(x, f);
            }
            visit_body(&l.body, f);
            visit_body(&l.else_body, f);
        }
        Stmt::IfCond(i) => {
            visit_expr(&i.expr, f);
            visit_body(&i.true_body, f);
            visit_body(&i.false_body, f);
        }
        Stmt::WithBlock(w) => {
            for (a, b) in &w.assignments {
                visit_expr(a, f);
                visit_expr(b, f);
            }
            visit_body(&w.body, f);
        }
        Stmt::Set(x) => {
            visit_expr(&x.target, f);
            visit_expr(&x.expr, f);
        }
        Stmt::SetBlock(x) => {
            visit_expr(&x.target, f);
            if let Some(e) = &x.filter {
                visit_expr(e, f);
            }
            visit_body(&x.body, f);
        }
        Stmt::AutoEscape(a) => {
            visit_expr(&a.enabled, f);
            visit_body(&a.body, f);
        }
        Stmt::FilterBlock(x) => {
            visit_expr(&x.filter, f);
            visit_body(&x.body, f);
        }
        Stmt::Block(b) => visit_body(&b.body, f),
        Stmt::Import(i) => {
            visit_expr(&i.expr, f);
            visit_expr(&i.name, f);
        }
        Stmt::FromImport(i) => {
            visit_expr(&i.expr, f);
            for (a, b) in &i.names {
                visit_expr(a, f);
                if let Some(b) = b {
                    visit_expr(b, f);
                }
            }
        }
        Stmt::Extends(e) => visit_expr(&e.name, f),
        Stmt::Include(i) => visit_expr(&i.name, f),
        Stmt::Macro(m) => {
            m.args
                .iter()
                .chain(m.defaults.iter())
                .for_each(|e| visit_expr(e, f));
            visit_body(&m.body, f);
        }
        Stmt::CallBlock(c) => {
            visit_expr(&c.call.expr, f);
            visit_args(&c.call.args, f);
            let m = &c.macro_decl;
            m.args
                .iter()
                .chain(m.defaults.iter())
                .for_each(|e| visit_expr(e, f));
            visit_body(&m.body, f);
        }
        Stmt::Do(d) => {
            visit_expr(&d.call.expr, f);
            visit_args(&d.call.args, f);
        }
    }
}
