//! The pool: owns the workers, feeds them queued calls, routes their answers to the callers.
//!
//! Each slot runs one call at a time (a worker is synchronous while it works), so calls wait in
//! the [`Queue`] where priority and deadlines can act, not in a worker's mailbox. A worker is
//! spawned with the page's compiled `WebAssembly.Module` and counts only once it sends `Ready`.
//! A worker that crashes fails its running call with `WorkerCrashedError` and is replaced; one
//! that keeps failing to boot is left `crashed` rather than respawned in a tight loop.
//!
//! All state sits in one `Rc<RefCell<_>>`. Event listeners hold a `Weak` to it, so dropping the
//! pool frees everything; handlers never hold the borrow across an `await` or a callback.

mod slot;
mod worker_handle;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use gloo_timers::callback::Timeout;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{Error, ErrorKind};
use crate::executor::{terminated, Pending};
use crate::protocol::{self, FromWorker, RequestId, ToWorker};
use crate::scheduler::{Picker, Queue, SlotLoad, Strategy};
use crate::status::{Mode, Status, WorkerStatus};
use slot::SlotState;
use worker_handle::{WorkerEvent, WorkerHandle};

/// How long a worker may take from spawn to `Ready` (fetching nothing: it gets the compiled module).
const BOOT_TIMEOUT_MS: u32 = 15_000;
/// Consecutive boot failures after which a slot is left `crashed` instead of respawned.
const MAX_BOOT_FAILURES: u32 = 3;

/// Pool settings, validated by the bridge.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) size: usize,
    pub(crate) strategy: Strategy,
    pub(crate) max_queue: usize,
}

/// A handle to the pool's shared state.
#[derive(Debug)]
pub(crate) struct Pool {
    inner: Rc<RefCell<Inner>>,
}

#[derive(Debug)]
struct Slot {
    worker_id: u32,
    handle: Option<WorkerHandle>,
    state: SlotState,
    running: Option<(RequestId, Pending)>,
    tasks_done: u32,
    boot: Option<oneshot::Sender<Result<(), Error>>>,
    boot_timer: Option<Timeout>,
    boot_failures: u32,
}

#[derive(Debug)]
struct Inner {
    slots: Vec<Slot>,
    queue: Queue<Pending>,
    picker: Picker,
    next_worker_id: u32,
    terminated: bool,
    me: Weak<RefCell<Inner>>,
}

impl Pool {
    /// Spawns `config.size` workers and waits until every one is ready.
    ///
    /// # Errors
    /// `NotSupportedError` when a worker cannot be created, or the error of the first worker that
    /// failed to boot; every worker already spawned is then terminated.
    pub(crate) async fn start(config: PoolConfig) -> Result<Pool, Error> {
        let inner = Rc::new_cyclic(|me| {
            RefCell::new(Inner {
                slots: Vec::with_capacity(config.size),
                queue: Queue::new(config.max_queue),
                picker: Picker::new(config.strategy),
                next_worker_id: 1,
                terminated: false,
                me: me.clone(),
            })
        });
        let pool = Pool { inner };
        let mut boots = Vec::with_capacity(config.size);
        for _ in 0..config.size {
            let (tx, rx) = oneshot::channel();
            let spawned = {
                let mut inner = pool.inner.borrow_mut();
                inner.slots.push(Slot {
                    worker_id: 0,
                    handle: None,
                    state: SlotState::Starting,
                    running: None,
                    tasks_done: 0,
                    boot: Some(tx),
                    boot_timer: None,
                    boot_failures: 0,
                });
                let index = inner.slots.len() - 1;
                inner.spawn_into(index)
            };
            if let Err(e) = spawned {
                pool.terminate();
                return Err(e);
            }
            boots.push(rx);
        }
        for rx in boots {
            let booted =
                rx.await.unwrap_or_else(|_| Err(Error::new(ErrorKind::WorkerCrashed, "worker boot was abandoned")));
            if let Err(e) = booted {
                pool.terminate();
                return Err(e);
            }
        }
        Ok(pool)
    }

    /// Queues a call and starts it if a worker is idle.
    pub(crate) fn submit(&self, pending: Pending) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        if !inner.slots.iter().any(|s| s.state != SlotState::Crashed) {
            return Err(Error::new(ErrorKind::WorkerCrashed, "every worker of the pool has crashed"));
        }
        let priority = pending.task.priority;
        inner.queue.push(RequestId::random(), pending, priority, None)?;
        inner.pump();
        Ok(())
    }

    pub(crate) fn status(&self, cross_origin_isolated: bool) -> Status {
        let inner = self.inner.borrow();
        Status {
            mode: if inner.terminated { Mode::Terminated } else { Mode::Workers },
            cross_origin_isolated,
            workers: inner
                .slots
                .iter()
                .map(|s| WorkerStatus {
                    id: s.worker_id,
                    state: s.state.as_str(),
                    busy: s.running.is_some(),
                    tasks_done: s.tasks_done,
                })
                .collect(),
            queued: inner.queue.len() as u32,
            main_thread_tasks_done: 0,
            fallback_reason: None,
        }
    }

    /// Rejects every queued and running call with `TerminatedError` and stops every worker.
    pub(crate) fn terminate(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return;
        }
        inner.terminated = true;
        let mut rejected: Vec<Pending> = inner.queue.drain().into_iter().map(|(_, p)| p).collect();
        for slot in &mut inner.slots {
            if let Some(handle) = slot.handle.take() {
                handle.terminate();
                defer_drop(handle);
            }
            defer_drop(slot.boot_timer.take());
            if let Some(boot) = slot.boot.take() {
                let _ = boot.send(Err(terminated()));
            }
            rejected.extend(slot.running.take().map(|(_, p)| p));
            slot.state = SlotState::Terminated;
        }
        drop(inner);
        for pending in rejected {
            let _ = pending.reply.send(Err(terminated()));
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.inner.borrow().terminated
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

impl Inner {
    fn slot_of(&self, worker_id: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.worker_id == worker_id && s.handle.is_some())
    }

    /// Spawns a fresh worker into slot `index`, replacing (and terminating) any previous one.
    fn spawn_into(&mut self, index: usize) -> Result<(), Error> {
        let worker_id = self.next_worker_id;
        self.next_worker_id += 1;
        let me = self.me.clone();
        let on_event = move |event: WorkerEvent| {
            if let Some(inner) = me.upgrade() {
                Inner::on_event(&inner, worker_id, event);
            }
        };
        let handle = WorkerHandle::spawn(worker_id, on_event)?;
        let me = self.me.clone();
        let timer = Timeout::new(BOOT_TIMEOUT_MS, move || {
            if let Some(inner) = me.upgrade() {
                let msg = format!("worker {worker_id} sent no Ready within {BOOT_TIMEOUT_MS} ms");
                Inner::on_event(&inner, worker_id, WorkerEvent::Error(msg));
            }
        });
        let slot = &mut self.slots[index];
        if let Some(old) = slot.handle.replace(handle) {
            old.terminate();
            defer_drop(old);
        }
        defer_drop(slot.boot_timer.replace(timer));
        slot.worker_id = worker_id;
        slot.state = SlotState::Starting;
        Ok(())
    }

    fn on_event(inner: &Rc<RefCell<Inner>>, worker_id: u32, event: WorkerEvent) {
        let mut guard = inner.borrow_mut();
        let this = &mut *guard;
        if this.terminated {
            return;
        }
        let Some(index) = this.slot_of(worker_id) else { return };
        match event {
            WorkerEvent::Message(data) => this.on_message(index, &data),
            WorkerEvent::Error(message) => this.on_crash(index, message),
            WorkerEvent::MessageError => this.on_crash(index, "a message from the worker could not be read".into()),
        }
        this.pump();
    }

    fn on_message(&mut self, index: usize, data: &JsValue) {
        let msg = match protocol::decode::<FromWorker, _>(serde_wasm_bindgen::Deserializer::from(data.clone())) {
            Ok(msg) => msg,
            Err(e) => return self.on_crash(index, format!("the worker broke protocol: {}", e.message())),
        };
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
                slot.state = SlotState::Idle;
                slot.boot_failures = 0;
                defer_drop(slot.boot_timer.take());
                if let Some(boot) = slot.boot.take() {
                    let _ = boot.send(Ok(()));
                }
            }
            FromWorker::Response { id } => {
                let body = Reflect::get(data, &JsValue::from_str("body"))
                    .ok()
                    .and_then(|b| b.dyn_into::<Uint8Array>().ok())
                    .ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "a response arrived without its body"));
                self.finish(index, id, body);
            }
            FromWorker::Failed { id: Some(id), error } => self.finish(index, id, Err(error.into())),
            FromWorker::Failed { id: None, error } => {
                web_sys::console::warn_1(
                    &format!("worker-bridge: a worker rejected a message: {}", error.message).into(),
                );
            }
            FromWorker::BootFailed { message } => self.on_crash(index, message),
            FromWorker::Ready { .. } | FromWorker::Pong { .. } => {}
        }
    }

    /// Settles the running call `id` of slot `index` and frees the slot.
    fn finish(&mut self, index: usize, id: RequestId, result: Result<Uint8Array, Error>) {
        let slot = &mut self.slots[index];
        match slot.running.take() {
            Some((running, pending)) if running == id => {
                slot.tasks_done += 1;
                slot.state = SlotState::Idle;
                let _ = pending.reply.send(result);
            }
            other => {
                slot.running = other;
                web_sys::console::warn_1(
                    &format!("worker-bridge: a response for unknown request {id} was dropped").into(),
                );
            }
        }
    }

    /// The worker in slot `index` died or misbehaved: fail its call and put a new worker in its place.
    fn on_crash(&mut self, index: usize, message: String) {
        let slot = &mut self.slots[index];
        let booting = slot.state == SlotState::Starting;
        if let Some(handle) = slot.handle.take() {
            handle.terminate();
            defer_drop(handle);
        }
        defer_drop(slot.boot_timer.take());
        if let Some((_, pending)) = slot.running.take() {
            let error = Error::new(ErrorKind::WorkerCrashed, format!("worker {} crashed: {message}", slot.worker_id));
            let _ = pending.reply.send(Err(error));
        }
        if booting {
            slot.boot_failures += 1;
            if let Some(boot) = slot.boot.take() {
                // First boot: the bridge decides (fallback or reject); no respawn.
                slot.state = SlotState::Crashed;
                let _ =
                    boot.send(Err(Error::new(ErrorKind::Unsupported, format!("a worker failed to start: {message}"))));
                return;
            }
            if slot.boot_failures >= MAX_BOOT_FAILURES {
                slot.state = SlotState::Crashed;
                web_sys::console::error_1(
                    &format!("worker-bridge: a worker failed to start {MAX_BOOT_FAILURES} times: {message}").into(),
                );
                self.fail_queue_if_no_workers();
                return;
            }
        }
        if let Err(e) = self.spawn_into(index) {
            self.slots[index].state = SlotState::Crashed;
            web_sys::console::error_1(&format!("worker-bridge: cannot replace a crashed worker: {e}").into());
            self.fail_queue_if_no_workers();
        }
    }

    /// With every slot crashed nothing would ever run the queue: settle it now.
    fn fail_queue_if_no_workers(&mut self) {
        if self.slots.iter().all(|s| s.state == SlotState::Crashed) {
            for (_, pending) in self.queue.drain() {
                let error = Error::new(ErrorKind::WorkerCrashed, "every worker of the pool has crashed");
                let _ = pending.reply.send(Err(error));
            }
        }
    }

    /// Starts queued calls on idle workers, per the strategy.
    fn pump(&mut self) {
        while !self.queue.is_empty() {
            let loads: Vec<SlotLoad> = self
                .slots
                .iter()
                .map(|s| SlotLoad {
                    available: s.state == SlotState::Idle,
                    in_flight: u32::from(s.running.is_some()),
                    done: u64::from(s.tasks_done),
                })
                .collect();
            let Some(index) = self.picker.pick(&loads) else { return };
            let Some((id, pending)) = self.queue.pop() else { return };
            if pending.reply.is_canceled() {
                continue;
            }
            let slot = &mut self.slots[index];
            let handle = slot.handle.as_ref().expect("invariant: an idle slot has a worker");
            let request = ToWorker::Request { id, op: pending.task.op.clone() };
            match handle.post(&request, Some(&pending.task.input)) {
                Ok(()) => {
                    slot.state = SlotState::Busy;
                    slot.running = Some((id, pending));
                }
                Err(e) => {
                    let _ = pending.reply.send(Err(e));
                }
            }
        }
    }
}

/// Drops `value` after the current event handler returns: a worker's listener or a timer's
/// callback must not be freed while it is running.
fn defer_drop<T: 'static>(value: T) {
    wasm_bindgen_futures::spawn_local(async move { drop(value) });
}
