//! Messages both ways. To a service: `send` checks that the service takes messages and hands the
//! message to its host's link (`worker/service-link.js`), which queues it for the batch of this
//! task turn and settles the caller's promise when the reply comes (or the caller's timeout or
//! abort). From a host: `on_host_event` decodes, entry by entry, what the link hands over —
//! everything but a well-formed reply — and routes it: a lifecycle confirmation to the waiting
//! step, a failed reply to its caller, a failure or crash to `fail`, a health answer to the
//! health checks. Events of a replaced host are dropped by generation.

use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use super::control::Expect;
use super::{js, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::FromService;
use crate::services::host::{HostEvent, Link};
use crate::services::instances::{least_busy, Load};

impl Registry {
    /// Sends `payload`; the promise resolves with the reply of `onMessage` (or rejects with what
    /// it threw), rejects with `TimeoutError` after `timeout_ms` and with `AbortError` when
    /// `signal` aborts (the message itself still runs).
    pub(crate) fn send(
        &self,
        name: &str,
        payload: &JsValue,
        timeout_ms: Option<u32>,
        signal: Option<AbortSignal>,
    ) -> Result<Promise, Error> {
        let link = self.with(name, |s| {
            s.life.check_accepts_messages()?;
            // The least busy copy that can take it (not one being replaced).
            let loads: Vec<Option<Load>> = s
                .copies
                .iter()
                .map(|c| {
                    let link = c.serving()?.link();
                    Some(Load { waiting: link.waiting(), handled: link.handled() })
                })
                .collect();
            let i =
                least_busy(&loads).ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "the service's host is gone"))?;
            Ok(s.copies[i].host.as_ref().map(|h| h.link().clone()).expect("least_busy picks a copy with a host"))
        })?;
        // Sent after the registry's borrow is released: a message posted at once is cloned now,
        // and cloning runs the payload's own getters, which may call back into the registry.
        Ok(link.send(payload, timeout_ms, signal))
    }

    /// The link of host `generation` of `name`, if that host is still current.
    fn current_link(&self, name: &str, generation: u32) -> Option<Link> {
        self.with(name, |s| Ok(s.copy_of(generation).and_then(|(_, c)| c.host.as_ref()).map(|h| h.link().clone())))
            .ok()
            .flatten()
    }

    pub(super) fn on_host_event(&self, name: &str, generation: u32, event: HostEvent) {
        if self.current_link(name, generation).is_none() {
            return;
        }
        let batch = match event {
            HostEvent::Crashed(message) => {
                self.fail_copy(name, generation, Error::new(ErrorKind::WorkerCrashed, message));
                return;
            }
            HostEvent::Batch(batch) => batch,
        };
        let broke = |message: &str| {
            self.fail_copy(
                name,
                generation,
                Error::new(ErrorKind::WorkerCrashed, format!("the service host broke protocol: {message}")),
            );
        };
        let Some(text) = &batch.text else {
            return broke("a batch is { m: text, p? }, or replies { v, r, p } of this protocol's version");
        };
        let entries = match FromService::decode_batch(text) {
            Ok(entries) => entries,
            Err(e) => return broke(e.message()),
        };
        // Entries are handled in order. One that does not decode fails its message alone when it
        // names one; otherwise — it may have been a lifecycle confirmation that will never come —
        // the service fails, after the rest of the batch.
        let mut unreadable = None;
        for (i, entry) in entries.into_iter().enumerate() {
            let Some(link) = self.current_link(name, generation) else { return };
            match entry {
                // Settled outside the registry's borrow, like every call that could reach user code.
                Ok(FromService::Reply { seq }) => link.answer(seq, Ok(batch.payload(i))),
                // The caller sees what the handler threw: its name, message and stack.
                Ok(FromService::ReplyFailed { seq, error }) => link.answer(seq, Err(Failure::Thrown(error).to_js())),
                // The service's own `ctx.send`, relayed (`peers`).
                Ok(FromService::Send { seq, to }) => self.relay(name, generation, seq, &to, &batch.payload(i)),
                Ok(FromService::Connect { to }) => self.connect(name, generation, &to),
                Ok(msg) => self.on_lifecycle_message(name, generation, msg),
                Err((Some(seq), e)) => {
                    let error = Error::new(ErrorKind::WorkerCrashed, format!("the service host broke protocol: {e}"));
                    link.answer(seq, Err(js(&error)));
                }
                Err((None, e)) => unreadable = unreadable.or(Some(e)),
            }
        }
        if let Some(e) = unreadable {
            if self.current_link(name, generation).is_some() {
                broke(e.message());
            }
        }
    }

    /// Host `generation` answered the step its copy waits on with `result` (an answer no step
    /// waits for — late, or for another step — changes nothing).
    pub(super) fn confirm(&self, name: &str, generation: u32, expect: Expect, result: Result<(), Failure>) {
        let _ = self.with(name, |s| {
            if let Some((_, copy)) = s.copy_of(generation) {
                match copy.waiter.take() {
                    Some(step) if step.expects() == expect => step.settle(result),
                    other => copy.waiter = other,
                }
            }
            Ok(())
        });
    }

    /// A message of host `generation` that is not a reply: a lifecycle confirmation or failure,
    /// a crash, a health answer.
    fn on_lifecycle_message(&self, name: &str, generation: u32, msg: FromService) {
        let confirm = |expect: Expect, result: Result<(), Failure>| self.confirm(name, generation, expect, result);
        match msg {
            FromService::Loaded => confirm(Expect::Loaded, Ok(())),
            FromService::Started => confirm(Expect::Started, Ok(())),
            FromService::Stopped => confirm(Expect::Stopped, Ok(())),
            // What the hook threw (or a Rust hook returned), as it was: its own name and stack. It
            // fails the step this copy owes an answer to, or else the copy.
            FromService::Failed { error } => self.fail_copy(name, generation, Failure::Thrown(error)),
            FromService::Crashed { error } => {
                self.fail_copy(name, generation, Error::new(ErrorKind::WorkerCrashed, error.message));
            }
            FromService::Health { healthy, detail } => self.on_health(name, generation, healthy, detail),
            FromService::Restored => confirm(Expect::Restored, Ok(())),
            FromService::Snapshot { snapshot, stop } => self.on_snapshot(name, generation, &snapshot, stop),
            // Handled by the caller.
            FromService::Reply { .. }
            | FromService::ReplyFailed { .. }
            | FromService::Send { .. }
            | FromService::Connect { .. } => {}
        }
    }
}
