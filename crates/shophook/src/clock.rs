//! Time as a dependency: logic takes `now` from a [`Clock`], never from the system
//! directly, so tests can control it.

use jiff::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Millisecond precision: what the store keeps, so a value reads back equal.
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}
