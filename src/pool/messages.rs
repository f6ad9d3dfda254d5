//! What a worker says, routed to its slot: every listener event and every `FromWorker` message
//! arrives here, is checked against the slot it claims to come from (a late event of a stopped
//! worker is dropped), and goes to dispatch, progress or failure handling. Anything a worker
//! sends that does not decode is a protocol violation, handled as a crash.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use worker_bridge_core::pool::SlotState;

use super::announce::log_later;
use super::worker_handle::WorkerEvent;
use super::Inner;
use crate::error::{Error, ErrorKind};
use crate::io::wire::{Attached, Incoming};
use crate::protocol::{self, FromWorker, RequestId};

impl Inner {
    /// One event from worker `worker_id`'s listeners or boot timer; then dispatch whatever it
    /// freed.
    pub(super) fn on_event(inner: &Rc<RefCell<Inner>>, worker_id: u32, event: WorkerEvent) {
        let mut guard = inner.borrow_mut();
        let this = &mut *guard;
        if this.terminated {
            return;
        }
        let Some(index) = this.slot_of(worker_id) else { return };
        if this.slots[index].handle.is_none() {
            return; // a late event from a worker already stopped
        }
        match event {
            WorkerEvent::Message(data) => {
                this.awake.woke();
                this.on_message(index, &data);
            }
            WorkerEvent::Error(message) => this.on_crash(index, message),
            WorkerEvent::MessageError => this.on_crash(index, "a message from the worker could not be read".into()),
        }
        this.pump();
        // More answers are due: poll for them too.
        this.await_answers();
    }

    /// A batch from worker `index` (`io::wire`): each entry in order, with its attachment.
    fn on_message(&mut self, index: usize, data: &JsValue) {
        let batch = Incoming::read(data)
            .and_then(|incoming| Ok((protocol::decode_batch::<FromWorker>(&*incoming.envelopes)?, incoming)));
        let (entries, incoming) = match batch {
            Ok(batch) => batch,
            Err(e) => return self.on_crash(index, format!("the worker broke protocol: {}", e.message())),
        };
        let worker_id = self.slots[index].worker_id;
        // It is not hung, whatever it says: it may be sent joins again.
        self.slots[index].join_overdue = false;
        for (i, entry) in entries.into_iter().enumerate() {
            // An earlier entry may have replaced the worker: the rest are the old worker's.
            if self.slots.get(index).is_none_or(|s| s.worker_id != worker_id || s.handle.is_none()) {
                return;
            }
            let msg = match entry {
                Ok(msg) => msg,
                Err(rejected) => {
                    let why = format!("the worker broke protocol: {}", rejected.error.message());
                    return self.on_crash(index, why);
                }
            };
            self.on_one(index, msg, &incoming.attachment(i));
        }
    }

    /// An app's task's run time as its worker reported it (`ms`): what the pool learns whether
    /// to send the task ahead by (`TaskCosts`). Learned even when its caller was answered early.
    fn learn(&mut self, index: usize, id: RequestId, ms: Option<f64>) {
        let running = self.slots[index].in_flight.iter().find(|r| r.id == id);
        if let (Some(ms), Some(key)) = (ms, running.and_then(|r| r.task.as_deref())) {
            self.task_costs.observe(key, ms);
        }
    }

    fn on_one(&mut self, index: usize, msg: FromWorker, attached: &Attached) {
        let slot = &mut self.slots[index];
        match msg {
            FromWorker::Ready { caps, .. } if slot.state == SlotState::Starting => {
                if caps.version != env!("CARGO_PKG_VERSION") {
                    let message = format!(
                        "worker runs worker-bridge {} but the page runs {} (a stale cached script?)",
                        caps.version,
                        env!("CARGO_PKG_VERSION")
                    );
                    return self.on_crash(index, message);
                }
                slot.set_state(SlotState::Idle, &self.events, None);
                slot.shared_memory = caps.shared_memory;
                slot.threads = caps.threads.max(1);
                slot.boot_failures = 0;
                slot.boot_timer = None;
                if let Some(boot) = slot.boot.take() {
                    let _ = boot.send(Ok(()));
                }
            }
            FromWorker::Response { id, http, ms } => {
                self.learn(index, id, ms);
                // An op's output, or an app's task's value (which may be `undefined`).
                let body = attached
                    .body()
                    .or_else(|| attached.value())
                    .ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "a response arrived without its body"));
                let result = match http {
                    Some(meta) => body.map(|b| crate::io::network::result_object(&meta, &b)),
                    None => body,
                };
                self.finish(index, id, result);
            }
            FromWorker::Failed { id: Some(id), error, ms } => {
                self.learn(index, id, ms);
                self.finish(index, id, Err(error.into()));
            }
            FromWorker::Failed { id: None, error, .. } => {
                // The worker refused a message it could not read and carries on; keep the reason.
                let reason = format!("the worker rejected a message: {}: {}", error.name, error.message);
                log_later(false, format!("worker-bridge: {reason}"));
                slot.last_error = Some(reason);
            }
            FromWorker::Progress { id, done, total } => self.on_progress(index, id, done, total),
            FromWorker::Pong { memory, .. } => {
                slot.ping_outstanding = false;
                slot.last_sign = js_sys::Date::now();
                slot.memory_bytes = memory;
            }
            FromWorker::Joined { id } => self.on_joined(index, id, attached.body()),
            FromWorker::Spare => {
                if let Some(buffer) = attached.body().and_then(|b| b.dyn_into::<Uint8Array>().ok()) {
                    if let Ok(buffer) = buffer.buffer().dyn_into::<ArrayBuffer>() {
                        crate::io::copy::keep_spare(buffer);
                    }
                }
            }
            FromWorker::Crashed { message } | FromWorker::BootFailed { message } => self.on_crash(index, message),
            FromWorker::Ready { .. } => {}
        }
    }
}
