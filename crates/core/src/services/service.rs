//! Services written in Rust: the [`Service`] trait, the same four hooks as a JavaScript handler
//! module (`onStart`, `onMessage`, `onStop`, `health`), with a typed context that lives from one
//! start to the next stop. [`Instance`] runs one service through that life; it is pure Rust, so
//! services are tested natively. Messages and replies cross to JavaScript with serde at the edge.
//!
//! ```
//! use worker_bridge_core::services::{Service, ServiceError};
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! impl Service for Counter {
//!     type Context = u64;
//!     type Message = u64;
//!     type Reply = u64;
//!
//!     fn on_message(&self, add: u64, total: &mut u64) -> Result<u64, ServiceError> {
//!         *total = total.checked_add(add).ok_or_else(|| ServiceError::new("RangeError", "overflow"))?;
//!         Ok(*total)
//!     }
//! }
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::outbox::{Outbox, Outgoing, Ticket};
use crate::error::ErrorKind;

/// A long-running, stateful service. Its `Context` is created fresh (`Default`) at every start
/// and kept across messages until the stop, so a restart always begins from a clean state.
/// Messages are handled one at a time, in the order they were sent.
pub trait Service: 'static {
    /// The state kept across messages.
    type Context: Default + 'static;
    /// What callers send (deserialized from the JavaScript value).
    type Message: DeserializeOwned;
    /// What it answers (serialized to a JavaScript value; maps become plain objects).
    type Reply: Serialize;

    /// Called once per start, with a fresh context.
    ///
    /// # Errors
    /// An error fails the start: the service goes to `failed`.
    fn on_start(&self, ctx: &mut Self::Context) -> Result<(), ServiceError> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one message.
    ///
    /// # Errors
    /// An error fails this message only: the caller's promise rejects with its name and message.
    fn on_message(&self, message: Self::Message, ctx: &mut Self::Context) -> Result<Self::Reply, ServiceError>;

    /// Called once per stop, after every message sent before it.
    ///
    /// # Errors
    /// An error fails the stop: the service goes to `failed`.
    fn on_stop(&self, ctx: &mut Self::Context) -> Result<(), ServiceError> {
        let _ = ctx;
        Ok(())
    }

    /// Answers a health check (see `healthIntervalMs`).
    fn health(&self, ctx: &Self::Context) -> Health {
        let _ = ctx;
        Health::healthy("")
    }

    /// The context as JSON, for a service registered with `persist: true`: called at every stop
    /// (before [`on_stop`](Service::on_stop)) and every `snapshotIntervalMs`; stored in IndexedDB
    /// and handed to [`on_restore`](Service::on_restore) at the next start.
    ///
    /// # Errors
    /// An error fails the stop (the service goes to `failed`). The default says the service does
    /// not implement it (`NotSupportedError`): implement both hooks to persist a service.
    fn on_snapshot(&self, ctx: &Self::Context) -> Result<serde_json::Value, ServiceError> {
        let _ = ctx;
        Err(not_persistent("on_snapshot"))
    }

    /// Brings back the state of a snapshot, right after [`on_start`](Service::on_start) (only when
    /// a snapshot is stored).
    ///
    /// # Errors
    /// An error fails the start with that error. The default says the service does not implement
    /// it (`NotSupportedError`).
    fn on_restore(&self, snapshot: serde_json::Value, ctx: &mut Self::Context) -> Result<(), ServiceError> {
        let _ = (snapshot, ctx);
        Err(not_persistent("on_restore"))
    }

    /// Where this service's own messages to other services wait (an [`Outbox`] kept in the
    /// context): the host takes them after every hook and sends them. The default has none.
    fn outbox<'a>(&self, ctx: &'a mut Self::Context) -> Option<&'a mut Outbox> {
        let _ = ctx;
        None
    }

    /// The reply to the send of `ticket` (as JSON: what `JSON.stringify` makes of the
    /// receiver's answer) — or why there is none, as the error a JavaScript service's `ctx.send`
    /// rejects with. Replies are queued with the messages and handled in turn, so one to a send
    /// of `on_start` may come before `on_restore` (with `persist: true`); one that arrives after
    /// the stop of the start that sent it is dropped (so are all replies to `on_stop`'s sends).
    fn on_reply(&self, ticket: Ticket, reply: Result<serde_json::Value, ServiceError>, ctx: &mut Self::Context) {
        let _ = (ticket, reply, ctx);
    }
}

fn not_persistent(hook: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Unsupported.name(),
        format!("persist: true needs the service to implement {hook} (Service::on_snapshot and Service::on_restore)"),
    )
}

/// An error a service reports: becomes a JavaScript `Error` with this `name` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The JavaScript error's `name`, so callers can tell failures apart.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

impl ServiceError {
    /// An error with a chosen `name` (`'RangeError'`, `'NotFoundError'`, …).
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError { name: name.into(), message: message.into() }
    }

    /// A `ValidationError`: the message was not one the service understands.
    pub fn invalid(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::Validation.name(), message)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// The answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Whether the service can do its work.
    pub healthy: bool,
    /// Why (shown in `health_check_result` and `lastHealth`).
    pub detail: String,
}

impl Health {
    /// Healthy, with an explanation.
    pub fn healthy(detail: impl Into<String>) -> Self {
        Health { healthy: true, detail: detail.into() }
    }

    /// Unhealthy, with the reason.
    pub fn unhealthy(detail: impl Into<String>) -> Self {
        Health { healthy: false, detail: detail.into() }
    }
}

/// One service and its context: enforces that messages and health checks come between a start
/// and a stop, and that every start gets a fresh context.
#[derive(Debug)]
pub struct Instance<S: Service> {
    service: S,
    context: Option<S::Context>,
    /// What `on_stop` sent, kept after its context is dropped until the host takes it.
    sent_at_stop: Vec<Outgoing>,
}

fn not_running() -> ServiceError {
    ServiceError::new(ErrorKind::ServiceState.name(), "the service is not running")
}

impl<S: Service> Instance<S> {
    /// Wraps a service that has not started.
    pub fn new(service: S) -> Self {
        Instance { service, context: None, sent_at_stop: Vec::new() }
    }

    /// Starts with a fresh context (dropping any earlier one).
    ///
    /// # Errors
    /// What `on_start` returns; the context is then dropped.
    pub fn start(&mut self) -> Result<(), ServiceError> {
        let mut ctx = S::Context::default();
        self.service.on_start(&mut ctx)?;
        self.context = Some(ctx);
        Ok(())
    }

    /// Handles one message.
    ///
    /// # Errors
    /// `ServiceStateError` when not started; otherwise what `on_message` returns.
    pub fn message(&mut self, message: S::Message) -> Result<S::Reply, ServiceError> {
        let ctx = self.context.as_mut().ok_or_else(not_running)?;
        self.service.on_message(message, ctx)
    }

    /// Stops and drops the context.
    ///
    /// # Errors
    /// `ServiceStateError` when not started; otherwise what `on_stop` returns.
    pub fn stop(&mut self) -> Result<(), ServiceError> {
        let mut ctx = self.context.take().ok_or_else(not_running)?;
        let stopped = self.service.on_stop(&mut ctx);
        if let Some(out) = self.service.outbox(&mut ctx) {
            self.sent_at_stop.extend(out.take());
        }
        stopped
    }

    /// Hands the reply to the send of `ticket` to [`Service::on_reply`]; dropped when the
    /// service is not running. Tickets count from 0 again at every start: a host must drop a
    /// reply to a send of an earlier start itself (the service host counts its starts).
    pub fn reply(&mut self, ticket: Ticket, reply: Result<serde_json::Value, ServiceError>) {
        if let Some(ctx) = self.context.as_mut() {
            self.service.on_reply(ticket, reply, ctx);
        }
    }

    /// What the hooks sent since the last call, in order: the host sends these after every hook.
    pub fn take_sends(&mut self) -> Vec<Outgoing> {
        let mut sends = std::mem::take(&mut self.sent_at_stop);
        if let Some(out) = self.context.as_mut().and_then(|ctx| self.service.outbox(ctx)) {
            sends.extend(out.take());
        }
        sends
    }

    /// The context as JSON ([`Service::on_snapshot`]).
    ///
    /// # Errors
    /// `ServiceStateError` when not started; otherwise what `on_snapshot` returns.
    pub fn snapshot(&self) -> Result<serde_json::Value, ServiceError> {
        let ctx = self.context.as_ref().ok_or_else(not_running)?;
        self.service.on_snapshot(ctx)
    }

    /// Restores a snapshot into the context ([`Service::on_restore`]).
    ///
    /// # Errors
    /// `ServiceStateError` when not started; otherwise what `on_restore` returns.
    pub fn restore(&mut self, snapshot: serde_json::Value) -> Result<(), ServiceError> {
        let ctx = self.context.as_mut().ok_or_else(not_running)?;
        self.service.on_restore(snapshot, ctx)
    }

    /// Asks the service how it is; a service that is not running is unhealthy.
    pub fn health(&self) -> Health {
        match &self.context {
            Some(ctx) => self.service.health(ctx),
            None => Health::unhealthy("not running"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct Counter;

    impl Service for Counter {
        type Context = u32;
        type Message = u32;
        type Reply = u32;

        fn on_message(&self, add: u32, total: &mut u32) -> Result<u32, ServiceError> {
            if add == 0 {
                return Err(ServiceError::new("RangeError", "zero"));
            }
            *total += add;
            Ok(*total)
        }

        fn health(&self, total: &u32) -> Health {
            Health::healthy(format!("total {total}"))
        }
    }

    #[test]
    fn the_context_persists_until_stop_and_every_start_is_fresh() {
        let mut i = Instance::new(Counter);
        assert_eq!(i.message(1).unwrap_err().name, "ServiceStateError");
        assert!(!i.health().healthy);
        i.start().unwrap();
        assert_eq!(i.message(2), Ok(2));
        assert_eq!(i.message(3), Ok(5));
        assert_eq!(i.message(0).unwrap_err().name, "RangeError", "an error fails that message only");
        assert_eq!(i.message(1), Ok(6));
        assert_eq!(i.health(), Health::healthy("total 6"));
        i.stop().unwrap();
        assert_eq!(i.stop().unwrap_err().name, "ServiceStateError");
        i.start().unwrap();
        assert_eq!(i.message(1), Ok(1), "fresh context");
    }

    #[test]
    fn a_service_without_the_persistence_hooks_says_so() {
        let mut i = Instance::new(Counter);
        assert_eq!(i.snapshot().unwrap_err().name, "ServiceStateError");
        i.start().unwrap();
        assert_eq!(i.snapshot().unwrap_err().name, "NotSupportedError");
        let e = i.restore(serde_json::json!(1)).unwrap_err();
        assert_eq!(e.name, "NotSupportedError");
        assert!(e.message.contains("on_restore"), "{e}");
    }

    struct FailsToStart;

    impl Service for FailsToStart {
        type Context = ();
        type Message = ();
        type Reply = ();

        fn on_start(&self, _: &mut ()) -> Result<(), ServiceError> {
            Err(ServiceError::invalid("no"))
        }

        fn on_message(&self, _: (), _: &mut ()) -> Result<(), ServiceError> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_start_leaves_it_stopped() {
        let mut i = Instance::new(FailsToStart);
        assert_eq!(i.start().unwrap_err().to_string(), "ValidationError: no");
        assert_eq!(i.message(()).unwrap_err().name, "ServiceStateError");
    }

    /// Sends to "peer" at start, at each message and at stop; keeps what its replies said.
    #[derive(Default)]
    struct Talker;

    #[derive(Default)]
    struct Talk {
        out: Outbox,
        heard: Vec<(Ticket, Result<serde_json::Value, String>)>,
    }

    impl Service for Talker {
        type Context = Talk;
        type Message = u32;
        type Reply = usize;

        fn on_start(&self, ctx: &mut Talk) -> Result<(), ServiceError> {
            ctx.out.send("peer", "hello")?;
            Ok(())
        }

        fn on_message(&self, n: u32, ctx: &mut Talk) -> Result<usize, ServiceError> {
            ctx.out.send_with_timeout("peer", n, 10)?;
            Ok(ctx.heard.len())
        }

        fn on_stop(&self, ctx: &mut Talk) -> Result<(), ServiceError> {
            ctx.out.send("peer", "bye")?;
            Ok(())
        }

        fn outbox<'a>(&self, ctx: &'a mut Talk) -> Option<&'a mut Outbox> {
            Some(&mut ctx.out)
        }

        fn on_reply(&self, ticket: Ticket, reply: Result<serde_json::Value, ServiceError>, ctx: &mut Talk) {
            ctx.heard.push((ticket, reply.map_err(|e| e.to_string())));
        }
    }

    #[test]
    fn what_the_hooks_send_is_taken_after_each_and_replies_come_back_in_turn() {
        let mut i = Instance::new(Talker);
        assert!(i.take_sends().is_empty(), "nothing before a start");
        i.start().unwrap();
        let hello = i.take_sends();
        assert_eq!(hello.len(), 1);
        assert_eq!((hello[0].to.as_str(), &hello[0].message, hello[0].timeout_ms), ("peer", &json!("hello"), None));
        assert_eq!(i.message(7).unwrap(), 0);
        let seven = i.take_sends();
        assert_eq!((&seven[0].message, seven[0].timeout_ms), (&json!(7), Some(10)));
        assert!(i.take_sends().is_empty(), "taken once");
        i.reply(seven[0].ticket, Err(ServiceError::new("TimeoutError", "late")));
        i.reply(hello[0].ticket, Ok(json!("hi")));
        assert_eq!(i.message(8).unwrap(), 2, "both replies were handed to on_reply");
        i.take_sends();
        // What on_stop sends survives the context; replies after the stop are dropped.
        i.stop().unwrap();
        let bye = i.take_sends();
        assert_eq!(bye.len(), 1);
        assert_eq!(bye[0].message, json!("bye"));
        i.reply(bye[0].ticket, Ok(json!("ok")));
        // A fresh start: a fresh outbox, nothing heard.
        i.start().unwrap();
        i.take_sends();
        assert_eq!(i.message(1).unwrap(), 0);
    }

    #[test]
    fn a_service_without_an_outbox_sends_nothing() {
        let mut i = Instance::new(Counter);
        i.start().unwrap();
        i.message(1).unwrap();
        assert!(i.take_sends().is_empty());
        i.reply(Ticket(0), Ok(json!(1)));
    }
}
