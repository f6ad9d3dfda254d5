//! Test builds only (`test-ops`): a Rust twin of `tests/services/counter.service.js`, so the
//! browser tests run the same bodies against a JavaScript and a Rust service.

use serde_json::{json, Value};

use super::service::{Health, Service, ServiceError};

/// Counts messages and echoes them; `{ op: 'throw' }` fails that message with a `RangeError`,
/// `{ op: 'panic' }` panics (the instance traps), `{ op: 'sick' }` makes it unhealthy.
#[derive(Debug, Default)]
pub struct TestCounter;

/// The counter's context.
#[derive(Debug, Default)]
pub struct Count {
    count: u64,
    sick: bool,
}

impl Service for TestCounter {
    type Context = Count;
    type Message = Value;
    type Reply = Value;

    fn on_message(&self, message: Value, ctx: &mut Count) -> Result<Value, ServiceError> {
        match message.get("op").and_then(Value::as_str) {
            Some("throw") => return Err(ServiceError::new("RangeError", format!("asked to throw at {}", ctx.count))),
            Some("panic") => panic!("the Rust counter panicked at {}, as asked", ctx.count),
            Some("sick") => {
                ctx.sick = true;
                return Ok(json!("sick"));
            }
            _ => {}
        }
        ctx.count += 1;
        Ok(json!({ "count": ctx.count, "echo": message }))
    }

    fn health(&self, ctx: &Count) -> Health {
        if ctx.sick {
            Health::unhealthy("asked to be sick")
        } else {
            Health::healthy(format!("count {}", ctx.count))
        }
    }
}
