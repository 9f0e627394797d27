//! The engine's own arithmetic and slicing, for what the bounds of [`super::limits`]
//! let through: evaluated by a plain environment, so numbers keep the engine's exact
//! semantics.

use std::sync::LazyLock;

use minijinja::value::Value;
use minijinja::{Environment, Error, Expression, context};

pub(crate) enum Op {
    Mul,
    Add,
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(Environment::new);
static MUL: LazyLock<Expression<'static, 'static>> =
    LazyLock::new(|| ENV.compile_expression("a * b").expect("a valid expression"));
static ADD: LazyLock<Expression<'static, 'static>> =
    LazyLock::new(|| ENV.compile_expression("a + b").expect("a valid expression"));
static SLICE: LazyLock<Expression<'static, 'static>> = LazyLock::new(|| {
    ENV.compile_expression("v[a:b:c]")
        .expect("a valid expression")
});

pub(crate) fn eval(op: Op, a: &Value, b: &Value) -> Result<Value, Error> {
    let e = match op {
        Op::Mul => &MUL,
        Op::Add => &ADD,
    };
    e.eval(context! { a => a, b => b })
}

pub(crate) fn slice(v: &Value, a: &Value, b: &Value, c: &Value) -> Result<Value, Error> {
    SLICE.eval(context! { v => v, a => a, b => b, c => c })
}
