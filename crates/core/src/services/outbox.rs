//! A Rust service's own messages to other services. Its hooks are synchronous, so a send cannot
//! await its reply: the hook puts the message in an [`Outbox`] kept in its context and gets a
//! [`Ticket`]; the host sends it once the hook returns — routed exactly as `ctx.send` of a
//! JavaScript service (same order, same errors) — and the reply comes back later, in the
//! service's own queue, to [`Service::on_reply`](super::Service::on_reply) with that ticket.
//! This is the actor way: no hook ever blocks on another service, so two services that send to
//! each other cannot deadlock.

use serde::Serialize;
use serde_json::Value;

use super::service::ServiceError;

/// Names one send, so its reply can be told from the others'. Unique within one start of the
/// service (the outbox is part of the context, made fresh at every start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// A message waiting to go out: to the service `to`, with an optional time limit for its reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// What its reply will carry.
    pub ticket: Ticket,
    /// The receiving service's name.
    pub to: String,
    /// The message, as JSON.
    pub message: Value,
    /// The reply fails with `TimeoutError` after this many milliseconds (`None`: no limit).
    pub timeout_ms: Option<u32>,
}

/// The messages a service's hook sends. Keep one in the context and hand it out from
/// [`Service::outbox`](super::Service::outbox):
///
/// ```
/// use serde_json::Value;
/// use worker_bridge_core::services::{Outbox, Service, ServiceError, Ticket};
///
/// #[derive(Default)]
/// struct Relay { out: Outbox, last: Option<Value> }
///
/// struct Forward;
///
/// impl Service for Forward {
///     type Context = Relay;
///     type Message = Value;
///     type Reply = u64;
///
///     fn on_message(&self, message: Value, ctx: &mut Relay) -> Result<u64, ServiceError> {
///         Ok(ctx.out.send("audit", &message)?.0)
///     }
///
///     fn outbox<'a>(&self, ctx: &'a mut Relay) -> Option<&'a mut Outbox> {
///         Some(&mut ctx.out)
///     }
///
///     fn on_reply(&self, _: Ticket, reply: Result<Value, ServiceError>, ctx: &mut Relay) {
///         ctx.last = reply.ok();
///     }
/// }
/// ```
#[derive(Debug, Default)]
pub struct Outbox {
    next: u64,
    waiting: Vec<Outgoing>,
}

impl Outbox {
    /// Sends `message` to the service `to` once the hook returns; its reply (or why there is
    /// none: the receiver's error, `ValidationError` for an unknown name, `ServiceStateError`
    /// for one that is not running) comes to `on_reply` with the ticket returned here.
    ///
    /// # Errors
    /// `ValidationError` when `to` is empty or `message` cannot be serialized to JSON; nothing
    /// is sent then.
    pub fn send(&mut self, to: &str, message: impl Serialize) -> Result<Ticket, ServiceError> {
        self.queue(to, message, None)
    }

    /// As [`send`](Outbox::send), and the reply fails with `TimeoutError` when none came within
    /// `timeout_ms` milliseconds (0: no limit). A send to a service that sends back to this one
    /// before it answers needs no limit here: this service's queue is never blocked by a send.
    ///
    /// # Errors
    /// As [`send`](Outbox::send).
    pub fn send_with_timeout(
        &mut self,
        to: &str,
        message: impl Serialize,
        timeout_ms: u32,
    ) -> Result<Ticket, ServiceError> {
        self.queue(to, message, (timeout_ms > 0).then_some(timeout_ms))
    }

    fn queue(&mut self, to: &str, message: impl Serialize, timeout_ms: Option<u32>) -> Result<Ticket, ServiceError> {
        if to.is_empty() {
            return Err(ServiceError::invalid("send(name, message): name must be a service name"));
        }
        let message = serde_json::to_value(message)
            .map_err(|e| ServiceError::invalid(format!("the message cannot be sent as JSON: {e}")))?;
        if !exact_in_js(&message) {
            return Err(ServiceError::invalid(
                "the message holds an integer beyond ±2^53, which a JavaScript number cannot hold exactly \
                 (send it as a string)",
            ));
        }
        let ticket = Ticket(self.next);
        self.next += 1;
        self.waiting.push(Outgoing { ticket, to: to.to_owned(), message, timeout_ms });
        Ok(ticket)
    }

    /// How many messages wait to go out.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no message waits to go out.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The messages waiting to go out, in the order they were sent; the outbox is empty after.
    /// The host calls this after every hook.
    pub fn take(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.waiting)
    }
}

/// Whether every number in `value` is one a JavaScript number holds exactly (the receiver gets
/// it as one): floats are, integers up to ±2^53.
fn exact_in_js(value: &Value) -> bool {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    match value {
        Value::Number(n) => {
            n.as_u64().map_or_else(|| n.as_i64().is_none_or(|i| i.unsigned_abs() <= MAX_SAFE), |u| u <= MAX_SAFE)
        }
        Value::Array(items) => items.iter().all(exact_in_js),
        Value::Object(map) => map.values().all(exact_in_js),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sends_wait_in_order_with_their_own_tickets_until_taken() {
        let mut out = Outbox::default();
        let a = out.send("a", json!({ "n": 1 })).unwrap();
        let b = out.send_with_timeout("b", 2, 50).unwrap();
        let c = out.send_with_timeout("a", "three", 0).unwrap();
        assert!(a < b && b < c);
        assert_eq!(out.len(), 3);
        let taken = out.take();
        assert!(out.is_empty());
        assert_eq!(
            taken,
            vec![
                Outgoing { ticket: a, to: "a".into(), message: json!({ "n": 1 }), timeout_ms: None },
                Outgoing { ticket: b, to: "b".into(), message: json!(2), timeout_ms: Some(50) },
                Outgoing { ticket: c, to: "a".into(), message: json!("three"), timeout_ms: None },
            ]
        );
        // Tickets keep counting after a take: a reply still names one send.
        assert!(out.send("a", 4).unwrap() > c);
    }

    #[test]
    fn a_send_that_cannot_go_is_refused_and_queues_nothing() {
        let mut out = Outbox::default();
        assert_eq!(out.send("", 1).unwrap_err().name, "ValidationError");
        // A map with non-string keys has no JSON form.
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let e = out.send("a", map).unwrap_err();
        assert_eq!(e.name, "ValidationError");
        assert!(e.message.contains("JSON"), "{}", e.message);
        // Integers a JavaScript number cannot hold exactly, anywhere in the message.
        for bad in [json!(u64::MAX), json!({ "id": [1, (1u64 << 53)] }), json!(i64::MIN)] {
            assert_eq!(out.send("a", bad).unwrap_err().name, "ValidationError");
        }
        assert!(out.is_empty());
        for good in [json!((1u64 << 53) - 1), json!(-((1i64 << 53) - 1)), json!(1e300), json!({ "a": [0.5] })] {
            out.send("a", good).unwrap();
        }
    }
}
