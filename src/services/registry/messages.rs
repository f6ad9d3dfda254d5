//! Messages both ways. To a service: `send` queues the message on its host (which posts what was
//! sent in one task turn as one batch; the service's host handles them in order) and keeps the
//! caller's [`Reply`] per sequence number; `abandon` settles one the caller stopped waiting for.
//! From a host: `on_host_event` decodes each batch it posts, entry by entry, and routes what it
//! says — a lifecycle confirmation to the waiting step, a reply to its caller, a failure or crash
//! to `fail`, a health answer to the health checks. Events of a replaced host are dropped by
//! generation.
//!
//! The caller's promise is settled directly through its `resolve` / `reject` functions: no
//! channel, no future and no task per message.

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use super::control::Expect;
use super::{js, Failure, Registry};
use crate::error::{Error, ErrorKind};
use crate::protocol::{FromService, ToService};
use crate::runtime::timer::{AbortWatch, Timer};
use crate::services::host::HostEvent;

/// A caller waiting for a message's reply: the functions that settle its promise, and — while it
/// waits — its time limit and its abort watch (dropped with it).
#[derive(Debug)]
pub(super) struct Reply {
    resolve: Function,
    reject: Function,
    _limits: (Option<Timer>, Option<AbortWatch>),
}

impl Reply {
    /// Settles the caller's promise with the handler's value, or with the error (the handler's
    /// own, or the bridge's). Called with no borrow of the registry held: resolving reads the
    /// value's `then`.
    pub(super) fn settle(self, result: Result<JsValue, JsValue>) {
        let _ = match result {
            Ok(value) => self.resolve.call1(&JsValue::UNDEFINED, &value),
            Err(error) => self.reject.call1(&JsValue::UNDEFINED, &error),
        };
    }
}

/// Settles every reply in `replies` with `error`.
pub(super) fn settle_all(replies: impl IntoIterator<Item = Reply>, error: &Error) {
    for reply in replies {
        reply.settle(Err(js(error)));
    }
}

impl Registry {
    /// Sends `payload`; the promise resolves with the reply of `onMessage` (or rejects with what
    /// it threw), rejects with `TimeoutError` after `timeout_ms` and with `AbortError` when
    /// `signal` aborts (the message itself still runs).
    pub(crate) fn send(
        &self,
        name: &str,
        payload: JsValue,
        timeout_ms: Option<u32>,
        signal: Option<AbortSignal>,
    ) -> Result<Promise, Error> {
        self.with(name, |s| {
            s.life.check_accepts_messages()?;
            let host =
                s.host.as_ref().ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "the service's host is gone"))?;
            let seq = s.next_seq;
            s.next_seq = s.next_seq.wrapping_add(1);
            host.queue(ToService::Message { seq }, payload);
            let mut settle = None;
            let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
            let (resolve, reject) = settle.expect("invariant: a Promise runs its executor at once");
            let abandon = |error: Error| {
                let (weak, events, name) = (Rc::downgrade(&self.inner), self.events.clone(), name.to_owned());
                move || {
                    if let Some(inner) = weak.upgrade() {
                        Registry { inner, events }.abandon(&name, seq, error);
                    }
                }
            };
            let timer = timeout_ms
                .map(|ms| Timer::new(ms, abandon(Error::new(ErrorKind::Timeout, format!("no reply within {ms} ms")))));
            let watch =
                signal.map(|s| AbortWatch::new(s, abandon(Error::new(ErrorKind::Abort, "the call was aborted"))));
            s.replies.insert(seq, Reply { resolve, reject, _limits: (timer, watch) });
            Ok(promise)
        })
    }

    /// Gives up waiting for the reply to `seq` (timeout or abort).
    fn abandon(&self, name: &str, seq: u32, error: Error) {
        if let Some(reply) = self.with(name, |s| Ok(s.replies.remove(&seq))).ok().flatten() {
            reply.settle(Err(js(&error)));
        }
    }

    /// The reply to `seq` arrived (or the message could not be sent): settle its caller, if it
    /// still waits.
    fn answer(&self, name: &str, seq: u32, handled: bool, result: Result<JsValue, JsValue>) {
        let reply = self.with(name, |s| {
            if handled {
                s.handled += 1;
            }
            Ok(s.replies.remove(&seq))
        });
        if let Some(reply) = reply.ok().flatten() {
            reply.settle(result);
        }
    }

    pub(super) fn on_host_event(&self, name: &str, generation: u32, event: HostEvent) {
        if !self.is_current(name, generation) {
            return;
        }
        let data = match event {
            HostEvent::Crashed(message) => {
                self.fail(name, Error::new(ErrorKind::WorkerCrashed, message));
                return;
            }
            HostEvent::Refused(refused) => {
                for (seq, error) in refused {
                    self.answer(name, seq, false, Err(js(&error)));
                }
                return;
            }
            HostEvent::Message(data) => data,
        };
        let broke = |message: &str| {
            self.fail(
                name,
                Error::new(ErrorKind::WorkerCrashed, format!("the service host broke protocol: {message}")),
            );
        };
        let Some(text) = Reflect::get(&data, &JsValue::from_str("m")).ok().and_then(|m| m.as_string()) else {
            return broke("a batch is { m: text, p? }");
        };
        let entries = match FromService::decode_batch(&text) {
            Ok(entries) => entries,
            Err(e) => return broke(e.message()),
        };
        let payloads =
            Reflect::get(&data, &JsValue::from_str("p")).ok().filter(Array::is_array).map(|p| Array::from(&p));
        // Entries are handled in order. One that does not decode fails its message alone when it
        // names one; otherwise — it may have been a lifecycle confirmation that will never come —
        // the service fails, after the rest of the batch.
        let mut unreadable = None;
        for (i, entry) in entries.into_iter().enumerate() {
            if !self.is_current(name, generation) {
                return;
            }
            match entry {
                Ok(msg) => {
                    let payload = || payloads.as_ref().map_or(JsValue::UNDEFINED, |p| p.get(i as u32));
                    self.on_service_message(name, msg, payload);
                }
                Err((Some(seq), e)) => {
                    let error = Error::new(ErrorKind::WorkerCrashed, format!("the service host broke protocol: {e}"));
                    self.answer(name, seq, true, Err(js(&error)));
                }
                Err((None, e)) => unreadable = unreadable.or(Some(e)),
            }
        }
        if let Some(e) = unreadable {
            if self.is_current(name, generation) {
                broke(e.message());
            }
        }
    }

    /// Whether `generation` is the service's current host.
    fn is_current(&self, name: &str, generation: u32) -> bool {
        self.with(name, |s| Ok(s.generation == generation && s.host.is_some())).unwrap_or(false)
    }

    /// One message from the service's host; `payload` reads what travelled beside it.
    fn on_service_message(&self, name: &str, msg: FromService, payload: impl FnOnce() -> JsValue) {
        let confirm = |expect: Expect, result: Result<(), Failure>| {
            let _ = self.with(name, |s| {
                match s.waiter.take() {
                    Some((want, tx)) if want == expect => {
                        let _ = tx.send(result);
                    }
                    other => s.waiter = other,
                }
                Ok(())
            });
        };
        match msg {
            FromService::Reply { seq } => self.answer(name, seq, true, Ok(payload())),
            // The caller sees what the handler threw: its name, message and stack.
            FromService::ReplyFailed { seq, error } => {
                self.answer(name, seq, true, Err(Failure::Thrown(error).to_js()))
            }
            FromService::Loaded => confirm(Expect::Loaded, Ok(())),
            FromService::Started => confirm(Expect::Started, Ok(())),
            FromService::Stopped => confirm(Expect::Stopped, Ok(())),
            FromService::Failed { error } => {
                // What the hook threw (or a Rust hook returned), as it was: its own name and stack.
                let error = Failure::Thrown(error);
                let waiting = self.with(name, |s| Ok(s.waiter.is_some())).unwrap_or(false);
                if waiting {
                    let _ = self.with(name, |s| {
                        if let Some((_, tx)) = s.waiter.take() {
                            let _ = tx.send(Err(error.clone()));
                        }
                        Ok(())
                    });
                } else {
                    self.fail(name, error);
                }
            }
            FromService::Crashed { error } => {
                self.fail(name, Error::new(ErrorKind::WorkerCrashed, error.message));
            }
            FromService::Health { healthy, detail } => self.on_health(name, healthy, detail),
        }
    }
}
