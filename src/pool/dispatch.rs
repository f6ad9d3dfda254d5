//! Dispatch: queued calls go to workers in the order the strategy picks, several per worker
//! (pipelining: `worker_bridge_core::pool::may_pipeline` says how many), so a worker starts its
//! next call without waiting for a round trip. Everything for one worker that is sent in one
//! task turn travels in one message — [`Inner::send`] fills the slot's outbox and a microtask
//! posts it ([`Inner::flush`]) — except a call to a worker that holds nothing else, which is
//! posted at once (the calls after it in that turn travel together).
//!
//! A worker runs its calls in the order it got them, so the first in flight is the running one:
//! its `timeoutMs` starts when it becomes first (its worker starts it then), not when it was
//! sent. The worker's answer settles the caller and frees the place (a retiring slot leaves
//! when its last call is answered).

use std::collections::VecDeque;

use wasm_bindgen::{JsCast, JsValue};

use worker_bridge_core::pool::{may_pipeline, Mailbox, SlotState};
use worker_bridge_core::tasks::TaskCosts;

use super::announce::log_later;
use super::slot::Running;
use super::worker_handle::{Attachments, Outgoing};
use super::Inner;
use crate::call::Pending;
use crate::error::Error;
use crate::io::source::Input;
use crate::io::stream::portable;
use crate::protocol::{RequestId, ToWorker, MAX_BATCH};
use crate::runtime::js_error::describe;
use crate::runtime::timer::Timer;
use crate::scheduler::SlotLoad;

/// What `pending` weighs for pipelining, and its key in `TaskCosts` if it is an app's task: a
/// task by how long it ran before — or by its input's bytes when that is a buffer or a view and
/// weighs more (a task learned on small inputs may take a large one) —, unless its input's
/// buffers were moved (a crash of the call ahead of it would lose them); anything else by its
/// input (`Pending::weight`).
fn pending_weight(costs: &TaskCosts, pending: &Pending) -> (u64, Option<String>) {
    let key = TaskCosts::key(&pending.task.op);
    let weight = match (&key, &pending.task.input) {
        (Some(key), Input::Value(input)) if !pending.task.transferred && !pending.is_streamed() => {
            costs.weight(key).max(byte_length(&input.value))
        }
        _ => pending.weight(),
    };
    (weight, key)
}

/// The bytes of `value` if it is an `ArrayBuffer` or a view of one, else 0.
fn byte_length(value: &JsValue) -> u64 {
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return u64::from(buffer.byte_length());
    }
    if js_sys::ArrayBuffer::is_view(value) {
        let length = js_sys::Reflect::get(value, &crate::runtime::names::name("byteLength")).ok();
        return length.and_then(|n| n.as_f64()).map_or(0, |n| n as u64);
    }
    0
}

impl Inner {
    /// Sends queued calls to workers with room, per the strategy.
    pub(super) fn pump(&mut self) {
        if self.terminated {
            return;
        }
        let mut wake_ticker = false;
        // What the call at the queue's head weighs (the one `pop` takes below) and its task key.
        while let Some(((next, task), streamed)) =
            self.queue.peek().map(|p| (pending_weight(&self.task_costs, p), p.is_streamed()))
        {
            let max_in_flight = self.cfg.max_in_flight;
            let queue_full = self.queue.len() >= self.cfg.max_queue;
            let loads: Vec<SlotLoad> = self
                .slots
                .iter()
                .map(|s| {
                    let held = s.in_flight.iter().fold(0u64, |sum, r| sum.saturating_add(r.weight));
                    // Nothing is sent ahead behind a call already answered early (aborted): it
                    // may be the stuck one its grace timer is about to end — not even a call
                    // over streams, which could not be retried after that worker's end.
                    let first_alive = s.in_flight.front().is_none_or(|r| r.pending.is_some());
                    let live = matches!(s.state, SlotState::Idle | SlotState::Busy) && !s.retiring;
                    let in_flight = s.in_flight.len() as u32;
                    // The calls of this turn's message for it are not posted yet.
                    let unposted = s.outbox.iter().filter(|o| o.is_call()).count() as u32;
                    let mailbox = Mailbox { in_flight, posted: in_flight.saturating_sub(unposted), held };
                    SlotLoad {
                        // A call over streams goes to any live worker at once, beside its calls.
                        available: live
                            && first_alive
                            && (streamed || may_pipeline(mailbox, next, max_in_flight, queue_full)),
                        // A worker joining a split call's parts (`join`) is busier than one that is not.
                        in_flight: (s.in_flight.len() + s.side.len() + s.joins.len()) as u32,
                        done: u64::from(s.tasks_done),
                    }
                })
                .collect();
            let Some(index) = self.picker.pick(&loads) else { break };
            let Some((id, pending)) = self.queue.pop() else { break };
            if pending.reply.is_canceled() {
                continue;
            }
            if let Some(why) = pending.expired(js_sys::Date::now()) {
                pending.settle(Err(why.error()), &self.counters);
                continue;
            }
            let shared = self.slots[index].shared_memory;
            let sent_ahead = !self.slots[index].in_flight.is_empty();
            let sink = pending.progress.as_ref();
            let value = match &pending.task.input {
                Input::Value(value) => Some(value.clone()),
                _ => None,
            };
            // A stream taken by someone else since the call was made cannot travel: that call
            // fails alone.
            let stream = match &pending.task.input {
                Input::Stream(stream) => Some(portable(stream)),
                _ => None,
            }
            .transpose();
            let output = pending
                .task
                .sink
                .as_ref()
                .map(|sink| match sink.is_instance_of::<web_sys::WritableStream>() {
                    true => portable(sink),
                    false => Ok(sink.clone()),
                })
                .transpose();
            let (stream, output) = match (stream, output) {
                (Ok(stream), Ok(output)) => (stream, output),
                (Err(e), _) | (_, Err(e)) => {
                    let why = format!("the call's stream cannot be sent to a worker: {}", describe(&e));
                    pending.settle(Err(Error::validation(why)), &self.counters);
                    continue;
                }
            };
            // Keep the input for a retry: send a copy instead of moving it. A call sent ahead
            // (small, at most PIPELINE_BYTES) is always copied: if the call ahead of it kills
            // its worker, it runs again elsewhere.
            let mut transfer_body = !pending.retryable() && !sent_ahead;
            let mut body = (value.is_none() && stream.is_none()).then(|| pending.task.input.as_js().clone());
            // The bridge's own short copies are over buffers of their length: cloned as they are.
            let own = !pending.task.transferred && crate::io::copy::owns_its_buffer(pending.task.input_len);
            if !transfer_body && !own {
                // A copy in a spare buffer: its own bytes, moved (a clone copies the whole buffer).
                if let Some(own) = body.as_ref().and_then(crate::io::copy::exact) {
                    (body, transfer_body) = (Some(own.into()), true);
                }
            }
            let attachments = Attachments {
                body,
                value,
                stream,
                sink: output,
                transfer_body,
                callers: pending.task.transferred,
                progress: sink
                    .map(|s| s.borrow().block(pending.progress_part).clone())
                    .filter(|b| shared && b.is_shared()),
                cancel: pending.cancel.clone().filter(|b| shared && b.is_shared()),
                beat: None,
            };
            let request = ToWorker::Request {
                id,
                op: pending.task.op.clone(),
                progress: sink.is_some(),
                output: pending.task.output,
                engine: pending.task.engine,
            };
            wake_ticker |= sink.is_some_and(|s| s.borrow().has_callback());
            let weight = next;
            let slot = &mut self.slots[index];
            let mut attachments = attachments;
            if streamed {
                if shared && !slot.beat_sent {
                    attachments.beat = slot.beat.clone();
                    slot.beat_sent = true;
                }
                // Its own time limit, if it has one (no default for streams: they wait on others).
                let limit = pending.task.timeout_ms.map(|ms| Self::side_timer(self.me.clone(), id, ms));
                if !slot.is_busy() {
                    // The busy worker's silence counts from now, not from its last answer while
                    // idle: after a long task of the page that was up to a whole health interval
                    // ago, and the next tick replaced a worker just given a stream call.
                    slot.last_sign = js_sys::Date::now();
                }
                slot.set_state(SlotState::Busy, &self.events, None);
                slot.side.push(Running::sent(id, pending, weight, task, limit));
                self.send(index, request, attachments);
                continue;
            }
            if shared && !slot.beat_sent {
                attachments.beat = slot.beat.clone();
                slot.beat_sent = true;
            }
            if slot.in_flight.is_empty() {
                slot.last_sign = js_sys::Date::now();
            }
            slot.set_state(SlotState::Busy, &self.events, None);
            slot.in_flight.push_back(Running::sent(id, pending, weight, task, None));
            self.send(index, request, attachments);
            if self.slots[index].in_flight.len() == 1 {
                self.arm_first(index);
            }
        }
        if wake_ticker {
            if let Some(ticker) = &self.ticker {
                ticker.wake();
            }
        }
    }

    /// The page waits for its calls' answers now: it polls for them if few are due
    /// (`runtime::awake`).
    pub(super) fn await_answers(&self) {
        let out: usize = self.slots.iter().map(|s| s.in_flight.len()).sum();
        self.awake.idle(out as u32, self.slots.len() as u32);
    }

    /// Queues `msg` for slot `index`'s worker; it is posted with everything else sent in this
    /// task turn, or at once when it is the only call the worker holds.
    pub(super) fn send(&mut self, index: usize, msg: ToWorker, attachments: Attachments) {
        let outgoing = Outgoing { msg, attachments };
        let slot = &mut self.slots[index];
        // The only call a worker holds goes at once: a caller awaiting each answer pays for no
        // microtask (~15 µs of a 16-byte echo's 200 µs round trip went between the call and its
        // postMessage). Calls made after it in this turn travel together, as before. One the
        // browser refuses goes to the outbox, whose flush fails just that call.
        if outgoing.is_call() && slot.outbox.is_empty() && slot.in_flight.len() == 1 {
            if let Some(handle) = &slot.handle {
                if handle.post(std::slice::from_ref(&outgoing)).is_ok() {
                    self.await_answers();
                    return;
                }
            }
        }
        slot.outbox.push(outgoing);
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            let me = self.me.clone();
            // A microtask: after the caller's synchronous code, before the page does anything else.
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(inner) = me.upgrade() {
                    let mut inner = inner.borrow_mut();
                    inner.flush();
                    inner.pump();
                }
            });
        }
    }

    /// Posts every slot's outbox, one message per worker (split every `MAX_BATCH`). A batch the
    /// browser refuses (a value it cannot clone) is posted again one message at a time, so only
    /// the refused message's call fails.
    pub(super) fn flush(&mut self) {
        self.flush_scheduled = false;
        let mut refused = Vec::new();
        let mut posted = false;
        for slot in &mut self.slots {
            let outbox = std::mem::take(&mut slot.outbox);
            let Some(handle) = &slot.handle else { continue };
            for batch in outbox.chunks(MAX_BATCH) {
                if handle.post(batch).is_ok() {
                    posted = true;
                    continue;
                }
                for one in batch {
                    if let (Err(e), ToWorker::Request { id, .. }) = (handle.post(std::slice::from_ref(one)), &one.msg) {
                        refused.push((slot.worker_id, *id, e));
                        // The heartbeat it carried goes with the next request instead.
                        if one.attachments.beat.is_some() {
                            slot.beat_sent = false;
                        }
                    }
                }
            }
        }
        if posted {
            self.await_answers();
        }
        for (worker_id, id, error) in refused {
            if let Some(index) = self.slot_of(worker_id) {
                self.finish(index, id, Err(error));
            }
        }
    }

    /// Starts the clock of the first in flight of slot `index` — the call its worker runs now —
    /// and arms the grace period of a call cancelled while it was still waiting in the worker.
    pub(super) fn arm_first(&mut self, index: usize) {
        let me = self.me.clone();
        let grace_ms = self.cfg.cancel_grace_ms;
        let slot = &mut self.slots[index];
        let worker_id = slot.worker_id;
        let Some(first) = slot.in_flight.front_mut() else { return };
        let now = *first.ran_from.get_or_insert_with(js_sys::Date::now);
        let id = first.id;
        match &first.pending {
            Some(pending) if first.started.is_none() => {
                let started = pending.task.clock_start(now);
                first.started = Some(started);
                if let Some(ms) = pending.task.timeout_ms {
                    self.arm_watchdog(index, started + f64::from(ms));
                }
            }
            None if first.grace.is_none() => first.grace = Some(Inner::grace_timer(me, worker_id, id, grace_ms)),
            _ => {}
        }
    }

    /// Makes sure slot `index`'s watchdog fires by `due`. One timer serves every call of a
    /// worker: a timer already due earlier is kept (when it fires it checks the call running
    /// then, and re-arms for it), so a stream of short calls costs no timer each.
    fn arm_watchdog(&mut self, index: usize, due: f64) {
        let slot = &mut self.slots[index];
        if slot.watchdog.as_ref().is_some_and(|(_, at)| *at <= due) {
            return;
        }
        let me = self.me.clone();
        let worker_id = slot.worker_id;
        let wait = (due - js_sys::Date::now()).ceil().clamp(0.0, f64::from(u32::MAX)) as u32;
        let timer = Timer::new(wait, move || {
            if let Some(inner) = me.upgrade() {
                let mut inner = inner.borrow_mut();
                inner.on_watchdog(worker_id);
                inner.pump();
            }
        });
        slot.watchdog = Some((timer, due));
    }

    /// Worker `worker_id`'s watchdog fired: time out its running call if it is past its limit,
    /// else wait for that call's own limit.
    fn on_watchdog(&mut self, worker_id: u32) {
        let Some(index) = self.slot_of(worker_id) else { return };
        self.slots[index].watchdog = None;
        let first = self.slots[index].in_flight.front();
        let Some((id, started, ms)) =
            first.and_then(|r| Some((r.id, r.started?, r.pending.as_ref()?.task.timeout_ms?)))
        else {
            return;
        };
        if js_sys::Date::now() - started >= f64::from(ms) {
            self.on_timeout(worker_id, id, ms);
        } else {
            self.arm_watchdog(index, started + f64::from(ms));
        }
    }

    /// The worker answered call `id`: settle it (unless it was answered early) and free its place.
    pub(super) fn finish(&mut self, index: usize, id: RequestId, result: Result<JsValue, Error>) {
        let slot = &mut self.slots[index];
        // A call over streams ran beside the queue; any other was in flight, `position` in line.
        let (running, position) = match slot.side.iter().position(|r| r.id == id) {
            Some(beside) => (slot.side.remove(beside), None),
            None => {
                let Some(position) = slot.in_flight.iter().position(|r| r.id == id) else {
                    log_later(false, format!("worker-bridge: dropped an answer for unknown request {id}"));
                    return;
                };
                (slot.in_flight.remove(position).expect("invariant: found above"), Some(position))
            }
        };
        slot.tasks_done += 1;
        if !slot.is_busy() {
            slot.set_state(SlotState::Idle, &self.events, None);
            // A ping sent while it was busy may be answered after its last answers: an idle
            // worker is judged by the pings it gets while idle.
            slot.ping_outstanding = false;
        }
        if let Some(pending) = running.pending {
            pending.settle(result, &self.counters);
        }
        if position == Some(0) {
            self.arm_first(index);
        }
        self.leave_if_done(index);
    }

    /// The time limit of call `id` run beside its worker's calls: when it runs out the call is
    /// stopped (`TimeoutError`), its worker told to cancel it.
    fn side_timer(me: std::rc::Weak<std::cell::RefCell<Inner>>, id: RequestId, ms: u32) -> Timer {
        Timer::new(ms, move || {
            if let Some(inner) = me.upgrade() {
                inner.borrow_mut().stop(id, crate::call::Stop::Timeout(ms));
            }
        })
    }

    /// Takes every call in flight on slot `index` (its worker is gone), in the order they were sent.
    pub(super) fn take_in_flight(&mut self, index: usize) -> VecDeque<Running> {
        std::mem::take(&mut self.slots[index].in_flight)
    }
}
