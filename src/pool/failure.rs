//! Every way a worker fails, and what the pool does about it — in one place, so that each path
//! settles the caller and leaves the slot in a known state:
//! - `on_crash`: the worker died or broke protocol; its calls are retried or failed, the
//!   worker respawned (with back-off while it cannot boot, then given up);
//! - `replace`: the worker is alive but useless (a call timed out, a cancel was ignored,
//!   a ping went unanswered); its caller was already answered;
//! - `give_up_if_no_workers`: no live slot is left; the queue goes to the owner.
//!
//! The rules (back-off, give up, retry, which worker is hung) are `worker_bridge_core::pool`'s.

use worker_bridge_core::pool::{
    boot_retry, health_check, no_live_slot, BootRetry, HealthCheck, SlotState, MAX_BOOT_FAILURES,
};

use std::cell::RefCell;
use std::rc::Weak;

use super::announce::log_later;
use super::slot::Slot;
use super::worker_handle::{Attachments, Outgoing};
use super::Inner;
use crate::call::{timed_out, Pending, Stop};
use crate::error::{Error, ErrorKind};
use crate::protocol::{RequestId, ToWorker};
use crate::runtime::timer::Timer;
use crate::shared::Heartbeat;

impl Inner {
    /// The worker in slot `index` died or misbehaved: retry or fail its calls, and replace it.
    pub(super) fn on_crash(&mut self, index: usize, message: String) {
        let slot = &mut self.slots[index];
        let booting = slot.state == SlotState::Starting;
        slot.set_state(SlotState::Crashed, &self.events, Some(&message));
        slot.note_error(&message);
        slot.stop();
        self.retry_or_fail_in_flight(index, &format!("the worker crashed: {message}"));
        let slot = &mut self.slots[index];
        if slot.retiring {
            return self.remove_slot(index);
        }
        if booting {
            slot.boot_failures += 1;
            if let Some(boot) = slot.boot.take() {
                // First boot: the bridge decides (fall back or reject); no respawn.
                slot.set_state(SlotState::Crashed, &self.events, Some(&message));
                let error = Error::new(ErrorKind::Unsupported, format!("a worker failed to start: {message}"));
                let _ = boot.send(Err(error));
                return;
            }
            // Back off before the next attempt: a worker that cannot start must not spin.
            let delay = match boot_retry(slot.boot_failures) {
                BootRetry::GiveUp => {
                    slot.state = SlotState::GivenUp;
                    return self.give_up_if_no_workers();
                }
                BootRetry::After(ms) => ms,
            };
            slot.state = SlotState::Starting;
            let worker_id = slot.worker_id;
            let me = self.me.clone();
            slot.respawn_timer = Some(Timer::new(delay, move || {
                if let Some(inner) = me.upgrade() {
                    let mut inner = inner.borrow_mut();
                    if let Some(index) = inner.slot_of(worker_id) {
                        inner.respawn(index);
                        inner.pump();
                    }
                }
            }));
            return;
        }
        self.respawn(index);
    }

    /// Every call in flight on slot `index`, whose worker is gone. The first — the one that ran —
    /// is run again if its options allow (`Pending::retryable`), else it fails with
    /// `WorkerCrashedError`. Those sent ahead behind it had not started (or, at most, had run
    /// without fault): they go back to the queue as they were, without spending an attempt (once
    /// per call) — their input was copied, never moved, and only ops that are safe to repeat are
    /// sent ahead. Calls already answered are dropped.
    fn retry_or_fail_in_flight(&mut self, index: usize, why: &str) {
        // Calls over streams read or wrote what cannot be read or written again: they fail.
        for running in std::mem::take(&mut self.slots[index].side) {
            if let Some(pending) = running.pending {
                pending.settle(Err(Error::new(ErrorKind::WorkerCrashed, why)), &self.counters);
            }
        }
        // A task that was running when its worker died or was stopped ran at least this long.
        if let Some((key, started)) =
            self.slots[index].in_flight.front().and_then(|r| Some((r.task.clone()?, r.ran_from?)))
        {
            self.task_costs.observe(&key, js_sys::Date::now() - started);
        }
        let in_flight = self.take_in_flight(index);
        // Put back last-sent first, so the queue keeps their order.
        for (position, running) in in_flight.into_iter().enumerate().rev() {
            let Some(mut pending) = running.pending else { continue };
            if position > 0 && !pending.requeued {
                // Once: a call the worker may have reached after all (a crash can come after
                // answers it had not sent yet) is not sent around for free forever.
                pending.requeued = true;
                let (id, priority) = (pending.id, pending.task.priority);
                self.queue.unpop(id, pending, priority);
            } else if pending.retryable() {
                pending.attempts += 1;
                self.counters.retried();
                let (id, priority) = (pending.id, pending.task.priority);
                self.queue.unpop(id, pending, priority);
            } else {
                pending.settle(Err(Error::new(ErrorKind::WorkerCrashed, why)), &self.counters);
            }
        }
    }

    /// Replaces the worker of slot `index` (it hung, timed out or ignored a cancel); the calls
    /// that were waiting behind the culprit are retried or fail by their own options.
    pub(super) fn replace(&mut self, index: usize, reason: &str) {
        let slot = &mut self.slots[index];
        slot.set_state(SlotState::Crashed, &self.events, Some(reason));
        slot.note_error(reason);
        slot.stop();
        self.retry_or_fail_in_flight(index, &format!("its worker was replaced: {reason}"));
        if self.slots[index].retiring {
            return self.remove_slot(index);
        }
        self.respawn(index);
    }

    fn respawn(&mut self, index: usize) {
        if self.terminated {
            return;
        }
        self.slots[index].restarts += 1;
        if let Err(e) = self.spawn_into(index) {
            self.on_crash(index, e.message().to_owned());
        }
    }

    /// With no live slot, nothing would ever run the queue: hand it to the owner. Calls put back
    /// in the queue afterwards (a retry from a worker that was leaving) are handed over too.
    /// Called after every change that can leave no live slot.
    pub(super) fn give_up_if_no_workers(&mut self) {
        if self.terminated || !no_live_slot(self.slots.iter().map(Slot::view)) {
            return;
        }
        if self.given_up && self.queue.is_empty() {
            return;
        }
        let last = self.slots.iter().find_map(|s| s.last_error.clone()).unwrap_or_default();
        let reason = format!("workers failed to start {MAX_BOOT_FAILURES} times in a row ({last})");
        if !self.given_up {
            log_later(true, format!("worker-bridge: {reason}"));
        }
        self.given_up = true;
        let queued: Vec<Pending> = self.queue.drain().into_iter().map(|(_, p)| p).collect();
        if (self.on_given_up.0)(queued, reason) {
            self.health = None;
        }
    }

    /// Stops call `id` for `why`, settling it with `why`'s error now. A queued call is dropped;
    /// one in flight is told to stop (its shared flag raised, a `Cancel` sent) — the worker
    /// drops it if it has not started it, and is replaced if it runs it past the grace period.
    /// Its siblings in the same worker are untouched. A deadline spares a call already running;
    /// an end-to-end limit replaces its worker at once, as any time limit does.
    pub(super) fn stop(&mut self, id: RequestId, why: Stop) {
        if let Some(pending) = self.queue.remove(id) {
            return pending.settle(Err(why.error()), &self.counters);
        }
        let beside =
            self.slots.iter().enumerate().find_map(|(i, s)| Some((i, s.side.iter().position(|r| r.id == id)?)));
        if let Some((index, position)) = beside {
            if why == Stop::Deadline {
                return; // sent at once: it started in time
            }
            // A call over streams stops at its next read or write: told, not timed.
            let running = &mut self.slots[index].side[position];
            running.grace = None;
            if let Some(pending) = running.pending.take() {
                if let Some(block) = pending.cancel.as_ref().filter(|_| pending.owns_cancel) {
                    block.cancel();
                }
                pending.settle(Err(why.error()), &self.counters);
            }
            return self.send(index, ToWorker::Cancel { id }, Attachments::default());
        }
        let found =
            self.slots.iter().enumerate().find_map(|(i, s)| Some((i, s.in_flight.iter().position(|r| r.id == id)?)));
        let Some((index, position)) = found else {
            return; // already settled
        };
        match why {
            Stop::Deadline if position == 0 => return, // it started in time
            Stop::Timeout(ms) if position == 0 => {
                let worker_id = self.slots[index].worker_id;
                return self.on_timeout(worker_id, id, ms);
            }
            _ => {}
        }
        let running = &mut self.slots[index].in_flight[position];
        if let Some(pending) = running.pending.take() {
            if let Some(block) = pending.cancel.as_ref().filter(|_| pending.owns_cancel) {
                block.cancel();
            }
            pending.settle(Err(why.error()), &self.counters);
        }
        if position == 0 {
            self.arm_first(index);
        }
        self.send(index, ToWorker::Cancel { id }, Attachments::default());
    }

    /// The timer that replaces worker `worker_id` if call `id` is still its running call after
    /// `grace_ms`.
    pub(super) fn grace_timer(me: Weak<RefCell<Inner>>, worker_id: u32, id: RequestId, grace_ms: u32) -> Timer {
        Timer::new(grace_ms, move || {
            if let Some(inner) = me.upgrade() {
                let mut inner = inner.borrow_mut();
                let found =
                    inner.slot_of(worker_id).filter(|&i| inner.slots[i].in_flight.front().is_some_and(|r| r.id == id));
                if let Some(index) = found {
                    inner.replace(index, &format!("did not stop within {grace_ms} ms of a cancel"));
                    inner.pump();
                }
            }
        })
    }

    /// Call `id` on worker `worker_id` ran past its `timeoutMs`: reject it and replace the worker.
    pub(super) fn on_timeout(&mut self, worker_id: u32, id: RequestId, ms: u32) {
        let Some(index) = self.slot_of(worker_id) else { return };
        let Some(running) = self.slots[index].in_flight.front_mut().filter(|r| r.id == id) else { return };
        if let Some(pending) = running.pending.take() {
            pending.settle(Err(timed_out(ms)), &self.counters);
        }
        self.replace(index, &format!("a call timed out after {ms} ms"));
    }

    /// One health tick: ping the idle workers, replace those that left the last ping unanswered.
    pub(super) fn check_health(&mut self) {
        if self.terminated {
            return;
        }
        let mut hung = Vec::new();
        let now = js_sys::Date::now();
        let interval = self.cfg.health_interval_ms;
        // A tick this late means the page itself was stalled (a long task of its own): no ping
        // went out and no answer was read meanwhile, and an answer may still wait behind this
        // tick. Its workers' silence counts from now; the next tick decides.
        let stalled = now - std::mem::replace(&mut self.last_tick, now) >= 2.0 * f64::from(interval);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let beat = slot.beat.as_ref().map(Heartbeat::read);
            if stalled || beat.is_some_and(|b| b != slot.last_beat) {
                slot.last_sign = now;
            }
            slot.last_beat = beat.unwrap_or(0);
            let running_task = slot.in_flight.front().is_some_and(|r| r.task.is_some());
            match health_check(slot.state, slot.ping_outstanding, now - slot.last_sign, interval, running_task) {
                HealthCheck::Skip => {}
                HealthCheck::Replace if stalled => {}
                HealthCheck::Replace => hung.push(index),
                HealthCheck::Ping => {
                    self.ping_seq = self.ping_seq.wrapping_add(1);
                    if let Some(handle) = &slot.handle {
                        let ping = Outgoing {
                            msg: ToWorker::Ping { seq: self.ping_seq },
                            attachments: Attachments::default(),
                        };
                        if handle.post(std::slice::from_ref(&ping)).is_ok() {
                            slot.ping_outstanding = true;
                        }
                    }
                }
            }
        }
        for index in hung.into_iter().rev() {
            self.replace(index, "did not answer a ping, nor move its heartbeat, for a whole health interval");
        }
        self.pump();
    }
}
