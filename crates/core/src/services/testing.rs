//! Test builds only (`test-ops`): a Rust twin of `tests/services/counter.service.js`, so the
//! browser tests run the same bodies against a JavaScript and a Rust service.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::outbox::{Outbox, Ticket};
use super::service::{Health, Service, ServiceError};

/// Counts messages and echoes them; `{ op: 'throw' }` fails that message with a `RangeError`,
/// `{ op: 'panic' }` panics (the instance traps), `{ op: 'abort' }` traps without a panic (as an
/// allocation failure does), `{ op: 'overflow' }` recurses until the stack overflows (in a browser,
/// V8 throws a `RangeError` out of the instance mid-call: no trap), `{ op: 'sick' }` makes it
/// unhealthy, and `{ op: 'starts' }` answers how many starts this wasm instance has seen (1 in a
/// fresh instance), `{ op: 'config' }` answers its config. Its config (optional)
/// `{ from, label, stopFails, snapshotFails, restoreFails }` starts the count at `from`, prefixes
/// the health detail with `label`, and makes `on_stop`, `on_snapshot` or `on_restore` fail; with
/// `greet: name` it sends `"hello"` to that service at start. `{ op: 'send', to, message,
/// timeoutMs }` sends `message` to the service `to` (its [`Outbox`]) and answers the ticket;
/// `{ op: 'heard' }` answers the replies so far, in arrival order, as `{ ticket, value }` or
/// `{ ticket, error: { name, message } }`. Its snapshot is `{ count }`.
#[derive(Debug, Default)]
pub struct TestCounter {
    config: CounterConfig,
}

/// The counter's config.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CounterConfig {
    from: u64,
    label: Option<String>,
    stop_fails: bool,
    snapshot_fails: bool,
    restore_fails: bool,
    greet: Option<String>,
}

impl TestCounter {
    /// A counter with this config (none: the defaults).
    pub fn new(config: Option<CounterConfig>) -> Self {
        TestCounter { config: config.unwrap_or_default() }
    }

    fn label(&self) -> &str {
        self.config.label.as_deref().unwrap_or("")
    }

    /// `"label: "`, or nothing without a label.
    fn label_prefix(&self) -> String {
        self.config.label.as_ref().map_or_else(String::new, |l| format!("{l}: "))
    }
}

/// The counter's context.
#[derive(Debug, Default)]
pub struct Count {
    count: u64,
    sick: bool,
    out: Outbox,
    heard: Vec<Value>,
}

/// Starts seen by this wasm instance: instance-wide state, so the tests can tell a fresh instance.
static STARTS: AtomicU32 = AtomicU32::new(0);

impl Service for TestCounter {
    type Context = Count;
    type Message = Value;
    type Reply = Value;

    fn on_start(&self, ctx: &mut Count) -> Result<(), ServiceError> {
        // Relaxed: a count read by the same thread that wrote it.
        STARTS.fetch_add(1, Ordering::Relaxed);
        ctx.count = self.config.from;
        if let Some(to) = &self.config.greet {
            ctx.out.send(to, "hello")?;
        }
        Ok(())
    }

    fn on_stop(&self, _: &mut Count) -> Result<(), ServiceError> {
        if self.config.stop_fails {
            return Err(ServiceError::new("RangeError", format!("{}: asked to fail the stop", self.label())));
        }
        Ok(())
    }

    fn on_message(&self, message: Value, ctx: &mut Count) -> Result<Value, ServiceError> {
        match message.get("op").and_then(Value::as_str) {
            Some("throw") => return Err(ServiceError::new("RangeError", format!("asked to throw at {}", ctx.count))),
            Some("panic") => panic!("the Rust counter panicked at {}, as asked", ctx.count),
            Some("abort") => std::process::abort(),
            Some("overflow") => return Ok(json!(deeper(0))),
            Some("starts") => return Ok(json!(STARTS.load(Ordering::Relaxed))),
            Some("config") => return Ok(json!(self.config)),
            Some("send") => {
                let to = message.get("to").and_then(Value::as_str).unwrap_or_default();
                let body = message.get("message").cloned().unwrap_or(Value::Null);
                let timeout = message.get("timeoutMs").and_then(Value::as_u64).unwrap_or(0);
                let timeout = u32::try_from(timeout).map_err(|_| ServiceError::invalid("timeoutMs is too large"))?;
                return Ok(json!(ctx.out.send_with_timeout(to, body, timeout)?.0));
            }
            Some("heard") => return Ok(Value::Array(ctx.heard.clone())),
            Some("sick") => {
                ctx.sick = true;
                return Ok(json!("sick"));
            }
            _ => {}
        }
        ctx.count += 1;
        Ok(json!({ "count": ctx.count, "echo": message }))
    }

    /// `{ count }`, or (config `snapshotFails`) a `RangeError`.
    fn on_snapshot(&self, ctx: &Count) -> Result<Value, ServiceError> {
        if self.config.snapshot_fails {
            return Err(ServiceError::new("RangeError", "asked to fail the snapshot"));
        }
        Ok(json!({ "count": ctx.count }))
    }

    fn outbox<'a>(&self, ctx: &'a mut Count) -> Option<&'a mut Outbox> {
        Some(&mut ctx.out)
    }

    fn on_reply(&self, ticket: Ticket, reply: Result<Value, ServiceError>, ctx: &mut Count) {
        ctx.heard.push(match reply {
            Ok(value) => json!({ "ticket": ticket.0, "value": value }),
            Err(e) => json!({ "ticket": ticket.0, "error": { "name": e.name, "message": e.message } }),
        });
    }

    /// Takes the snapshot's `count`; (config `restoreFails`) a `RangeError`.
    fn on_restore(&self, snapshot: Value, ctx: &mut Count) -> Result<(), ServiceError> {
        if self.config.restore_fails {
            return Err(ServiceError::new("RangeError", "asked to fail the restore"));
        }
        ctx.count = snapshot
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| ServiceError::invalid(format!("not a counter's snapshot: {snapshot}")))?;
        Ok(())
    }

    fn health(&self, ctx: &Count) -> Health {
        if ctx.sick {
            Health::unhealthy("asked to be sick")
        } else {
            Health::healthy(format!("{}count {}", self.label_prefix(), ctx.count))
        }
    }
}

/// Recurses until the stack overflows (`u64::MAX` frames are never reached). The work after the
/// call keeps the recursion from becoming a loop.
#[inline(never)]
fn deeper(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let next = deeper(std::hint::black_box(depth + 1));
    std::hint::black_box(next).wrapping_mul(3) ^ depth
}
