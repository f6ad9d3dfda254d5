//! Dispatch: queued calls go to idle workers, one call per worker, in the order the strategy
//! picks; a call's `timeoutMs` starts when it reaches its worker. The worker's answer settles the
//! caller and frees the slot (or lets a retiring slot leave).

use wasm_bindgen::JsValue;

use worker_bridge_core::pool::SlotState;

use super::announce::log_later;
use super::slot::Running;
use super::worker_handle::Attachments;
use super::Inner;
use crate::error::Error;
use crate::protocol::{RequestId, ToWorker};
use crate::runtime::timer::Timer;
use crate::scheduler::SlotLoad;

impl Inner {
    /// Starts queued calls on idle workers, per the strategy.
    pub(super) fn pump(&mut self) {
        if self.terminated {
            return;
        }
        let mut wake_ticker = false;
        while !self.queue.is_empty() {
            let loads: Vec<SlotLoad> = self
                .slots
                .iter()
                .map(|s| SlotLoad {
                    available: s.state == SlotState::Idle && !s.retiring,
                    in_flight: u32::from(s.running.is_some()),
                    done: u64::from(s.tasks_done),
                })
                .collect();
            let Some(index) = self.picker.pick(&loads) else { break };
            let Some((id, pending)) = self.queue.pop() else { break };
            if pending.reply.is_canceled() {
                continue;
            }
            let slot = &mut self.slots[index];
            let handle = slot.handle.as_ref().expect("invariant: an idle slot has a worker");
            let sink = pending.progress.as_ref();
            let shared = slot.shared_memory;
            let attachments = Attachments {
                body: Some(pending.task.input.as_js()),
                // Keep the input for a retry: send a copy instead of moving it.
                transfer_body: !pending.retryable(),
                progress: sink
                    .map(|s| s.borrow().block(pending.progress_part).clone())
                    .filter(|b| shared && b.is_shared()),
                cancel: pending.cancel.clone().filter(|b| shared && b.is_shared()),
            };
            let request = ToWorker::Request {
                id,
                op: pending.task.op.clone(),
                progress: sink.is_some(),
                output: pending.task.output,
            };
            if let Err(e) = handle.post(&request, attachments) {
                pending.settle(Err(e), &self.counters);
                continue;
            }
            wake_ticker |= sink.is_some_and(|s| s.borrow().has_callback());
            let timeout = pending.task.timeout_ms.map(|ms| {
                let me = self.me.clone();
                let worker_id = slot.worker_id;
                Timer::new(ms, move || {
                    if let Some(inner) = me.upgrade() {
                        let mut inner = inner.borrow_mut();
                        inner.on_timeout(worker_id, id, ms);
                        inner.pump();
                    }
                })
            });
            slot.set_state(SlotState::Busy, &self.events, None);
            slot.running = Some(Running { id, pending: Some(pending), _timeout: timeout, grace: None });
        }
        if wake_ticker {
            if let Some(ticker) = &self.ticker {
                ticker.wake();
            }
        }
    }

    /// The worker answered call `id`: settle it (unless it was answered early) and free the slot.
    pub(super) fn finish(&mut self, index: usize, id: RequestId, result: Result<JsValue, Error>) {
        let slot = &mut self.slots[index];
        let Some(running) = slot.running.take_if(|r| r.id == id) else {
            log_later(false, format!("worker-bridge: dropped an answer for unknown request {id}"));
            return;
        };
        slot.tasks_done += 1;
        slot.set_state(SlotState::Idle, &self.events, None);
        if let Some(pending) = running.pending {
            pending.settle(result, &self.counters);
        }
        if slot.retiring {
            self.remove_slot(index);
        }
    }
}
