//! The pool: owns the workers, feeds them queued calls, routes their answers to the callers.
//!
//! Each slot runs one call at a time (a worker is synchronous while it works), so calls wait in
//! the [`Queue`] where priority and deadlines can act, not in a worker's mailbox. A worker is
//! spawned with the page's compiled `WebAssembly.Module` and counts only once it sends `Ready`.
//!
//! Failure handling, in one place:
//! - a crash (`error`, `messageerror`, a `Crashed` report of a panic, a protocol violation) fails
//!   or retries the running call and replaces the worker;
//! - a call past its `timeoutMs` rejects with `TimeoutError` and its worker (maybe stuck in a
//!   loop) is replaced;
//! - an aborted call rejects with `AbortError` at once; its worker is asked to stop and is
//!   replaced if it has not within the grace period;
//! - an idle worker that does not answer a ping within one health interval is replaced;
//! - a worker that keeps failing to boot is retried with backoff, then given up; when no slot is
//!   live any more the pool hands its queue to its owner (`on_given_up`), which decides whether
//!   the calls move to the main thread or fail.
//!
//! The decisions themselves (states, back-off, retry or fail, which slot retires) are pure
//! functions in `worker_bridge_core::pool`, tested natively; this module carries them out.
//!
//! All state sits in one `Rc<RefCell<_>>`. Listeners and timers hold a `Weak` to it, so dropping
//! the pool frees everything; no user callback runs while the state is borrowed.

mod worker_handle;

#[cfg(feature = "test-ops")]
pub(crate) use worker_handle::break_boots;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use worker_bridge_core::pool::{
    boot_retry, no_live_slot, retire_order, BootRetry, Retire, SlotState, SlotView, MAX_BOOT_FAILURES,
};

use crate::call::progress::SharedSink;
use crate::call::{aborted, terminated, timed_out, Counters, Pending};
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::protocol::{self, FromWorker, RequestId, ToWorker};
use crate::runtime::timer::{defer_drop, Repeat, Timer};
use crate::runtime::FrameTicker;
use crate::scheduler::{Picker, Queue, SlotLoad, Strategy};
use crate::status::{Mode, Status, WorkerStatus};
use worker_handle::{Attachments, WorkerEvent, WorkerHandle};

/// How long a worker may take from spawn to `Ready` (it fetches nothing: it gets the module).
const BOOT_TIMEOUT_MS: u32 = 15_000;
/// Told the calls nobody will run, and why, when the pool has no live slot left.
pub(crate) struct OnGivenUp(pub(crate) Box<dyn Fn(Vec<Pending>, String)>);

impl std::fmt::Debug for OnGivenUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnGivenUp")
    }
}

/// Pool settings, validated by the bridge.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) size: usize,
    pub(crate) strategy: Strategy,
    pub(crate) max_queue: usize,
    /// Ping idle workers this often (0: never).
    pub(crate) health_interval_ms: u32,
    /// How long an aborted call's worker gets to stop before it is replaced.
    pub(crate) cancel_grace_ms: u32,
}

/// A handle to the pool's shared state.
#[derive(Debug)]
pub(crate) struct Pool {
    inner: Rc<RefCell<Inner>>,
    counters: Rc<Counters>,
}

/// The call a slot is running. `pending` is `None` once the caller was answered early (abort,
/// timeout) and the worker's own answer is awaited only to free the slot.
#[derive(Debug)]
struct Running {
    id: RequestId,
    pending: Option<Pending>,
    _timeout: Option<Timer>,
    grace: Option<Timer>,
}

#[derive(Debug)]
struct Slot {
    worker_id: u32,
    handle: Option<WorkerHandle>,
    state: SlotState,
    running: Option<Running>,
    shared_memory: bool,
    tasks_done: u32,
    errors: u32,
    restarts: u32,
    last_error: Option<String>,
    started_at: f64,
    boot: Option<oneshot::Sender<Result<(), Error>>>,
    boot_timer: Option<Timer>,
    boot_failures: u32,
    respawn_timer: Option<Timer>,
    ping_outstanding: bool,
    /// The worker's wasm memory size at its last pong.
    memory_bytes: f64,
    /// Removed (by `resize`) as soon as its running call finishes.
    retiring: bool,
}

impl Slot {
    fn set_state(&mut self, to: SlotState, events: &Rc<EventHub>, reason: Option<&str>) {
        let from = std::mem::replace(&mut self.state, to);
        if from != to {
            worker_state_changed(events, self.worker_id, from.as_str(), to, reason);
        }
    }

    fn new(boot: Option<oneshot::Sender<Result<(), Error>>>) -> Self {
        Slot {
            worker_id: 0,
            handle: None,
            state: SlotState::Starting,
            running: None,
            shared_memory: false,
            tasks_done: 0,
            errors: 0,
            restarts: 0,
            last_error: None,
            started_at: js_sys::Date::now(),
            boot,
            boot_timer: None,
            boot_failures: 0,
            respawn_timer: None,
            ping_outstanding: false,
            memory_bytes: 0.0,
            retiring: false,
        }
    }

    /// The slot as the pool's decisions see it.
    fn view(&self) -> SlotView {
        SlotView { state: self.state, busy: self.running.is_some(), retiring: self.retiring }
    }

    fn note_error(&mut self, message: &str) {
        self.errors += 1;
        self.last_error = Some(message.to_owned());
    }

    /// Stops the worker and every timer of the slot.
    fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.terminate();
            defer_drop(handle);
        }
        self.boot_timer = None;
        self.respawn_timer = None;
        self.ping_outstanding = false;
    }
}

#[derive(Debug)]
struct Inner {
    slots: Vec<Slot>,
    queue: Queue<Pending>,
    picker: Picker,
    cfg: PoolConfig,
    counters: Rc<Counters>,
    next_worker_id: u32,
    ping_seq: u32,
    terminated: bool,
    cross_origin_isolated: bool,
    /// Where `worker_state_changed` goes.
    events: Rc<EventHub>,
    /// Where the queue goes when no slot is live (see the module docs).
    on_given_up: OnGivenUp,
    /// `on_given_up` was told, and no slot has been spawned since.
    given_up: bool,
    ticker: Option<Rc<FrameTicker>>,
    health: Option<Repeat>,
    me: Weak<RefCell<Inner>>,
}

impl Pool {
    /// Spawns `config.size` workers and waits until every one is ready.
    ///
    /// # Errors
    /// `NotSupportedError` when a worker cannot be created or fails to boot; every worker already
    /// spawned is then terminated.
    pub(crate) async fn start(
        config: PoolConfig,
        counters: Rc<Counters>,
        events: Rc<EventHub>,
        on_given_up: OnGivenUp,
    ) -> Result<Pool, Error> {
        let inner = Rc::new_cyclic(|me| {
            RefCell::new(Inner {
                slots: Vec::with_capacity(config.size),
                queue: Queue::new(config.max_queue),
                picker: Picker::new(config.strategy),
                cfg: config.clone(),
                counters: counters.clone(),
                next_worker_id: 1,
                ping_seq: 0,
                terminated: false,
                cross_origin_isolated: crate::shared::shared_memory_available(),
                events,
                on_given_up,
                given_up: false,
                ticker: None,
                health: None,
                me: me.clone(),
            })
        });
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().ticker = Some(Rc::new(FrameTicker::new(move || flush_progress(&weak))));
        if config.health_interval_ms > 0 {
            let weak = Rc::downgrade(&inner);
            let health = Repeat::new(config.health_interval_ms, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.borrow_mut().check_health();
                }
            });
            inner.borrow_mut().health = Some(health);
        }
        let pool = Pool { inner, counters };
        let mut boots = Vec::with_capacity(config.size);
        for _ in 0..config.size {
            let (tx, rx) = oneshot::channel();
            let spawned = {
                let mut inner = pool.inner.borrow_mut();
                inner.slots.push(Slot::new(Some(tx)));
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
                rx.await.unwrap_or_else(|_| Err(Error::new(ErrorKind::Unsupported, "worker boot was abandoned")));
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
        if no_live_slot(inner.slots.iter().map(Slot::view)) {
            // Nothing would ever run this call.
            return Err(Error::new(ErrorKind::WorkerCrashed, "every worker of the pool has failed"));
        }
        let (id, priority, deadline) = (pending.id, pending.task.priority, pending.task.deadline);
        inner.queue.push(id, pending, priority, deadline)?;
        self.counters.submitted();
        inner.pump();
        Ok(())
    }

    /// Rejects call `id` with `AbortError` now; a queued call is dropped, a running one is asked
    /// to stop and its worker replaced if it has not within the grace period.
    pub(crate) fn cancel(&self, id: RequestId) {
        self.inner.borrow_mut().cancel(id);
    }

    /// Grows or shrinks the pool to `size` workers; queued calls stay queued. Busy workers leave
    /// when their call finishes.
    pub(crate) fn resize(&self, size: usize) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        inner.resize(size)
    }

    pub(crate) fn status(&self) -> Status {
        let inner = self.inner.borrow();
        let workers = inner
            .slots
            .iter()
            .filter(|s| !s.retiring)
            .map(|s| WorkerStatus {
                id: s.worker_id,
                state: s.state.as_str(),
                busy: s.running.is_some(),
                tasks_done: s.tasks_done,
                errors: s.errors,
                restarts: s.restarts,
                last_error: s.last_error.clone(),
                started_at: s.started_at,
                memory_bytes: s.memory_bytes,
            })
            .collect();
        Status {
            mode: if inner.terminated { Mode::Terminated } else { Mode::Workers },
            cross_origin_isolated: inner.cross_origin_isolated,
            workers,
            queued: inner.queue.len() as u32,
            main_thread_tasks_done: 0,
            fallback_reason: None,
            counters: self.counters.snapshot(),
        }
    }

    /// Rejects every queued and running call with `TerminatedError` and stops every worker.
    pub(crate) fn terminate(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return;
        }
        inner.terminated = true;
        inner.health = None;
        let mut rejected: Vec<Pending> = inner.queue.drain().into_iter().map(|(_, p)| p).collect();
        let events = inner.events.clone();
        for slot in &mut inner.slots {
            slot.stop();
            if let Some(boot) = slot.boot.take() {
                let _ = boot.send(Err(terminated()));
            }
            rejected.extend(slot.running.take().and_then(|r| r.pending));
            slot.set_state(SlotState::Terminated, &events, None);
        }
        drop(inner);
        for pending in rejected {
            pending.settle(Err(terminated()), &self.counters);
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.inner.borrow().terminated
    }

    /// Workers that can take calls now or soon (0 once given up or terminated).
    pub(crate) fn live_workers(&self) -> usize {
        let inner = self.inner.borrow();
        if inner.terminated {
            return 0;
        }
        inner.slots.iter().filter(|s| !no_live_slot([s.view()])).count()
    }

    /// Posts a raw value to worker slot `index`, bypassing the protocol encoder: for tests that
    /// check a worker survives garbage.
    #[cfg(feature = "test-ops")]
    pub(crate) fn post_raw(&self, index: usize, value: &JsValue) -> Result<(), Error> {
        let inner = self.inner.borrow();
        let handle = inner.slots.get(index).and_then(|s| s.handle.as_ref());
        handle.ok_or_else(|| Error::validation("no such worker"))?.post_raw(value)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Calls back every running call's `onProgress` that advanced; returns whether any still wants frames.
fn flush_progress(inner: &Weak<RefCell<Inner>>) -> bool {
    let Some(inner) = inner.upgrade() else { return false };
    let sinks: Vec<SharedSink> = {
        let inner = inner.borrow();
        inner
            .slots
            .iter()
            .filter_map(|s| s.running.as_ref()?.pending.as_ref()?.progress.clone())
            .filter(|sink| sink.borrow().has_callback())
            .collect()
    };
    // The borrow is released: a callback may call back into the bridge.
    for sink in &sinks {
        sink.borrow_mut().flush();
    }
    !sinks.is_empty()
}

impl Inner {
    fn slot_of(&self, worker_id: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.worker_id == worker_id)
    }

    /// Spawns a fresh worker into slot `index`.
    fn spawn_into(&mut self, index: usize) -> Result<(), Error> {
        let worker_id = self.next_worker_id;
        self.next_worker_id += 1;
        let me = self.me.clone();
        let on_event = move |event: WorkerEvent| {
            if let Some(inner) = me.upgrade() {
                Inner::on_event(&inner, worker_id, event);
            }
        };
        self.given_up = false;
        let slot = &mut self.slots[index];
        slot.stop();
        slot.worker_id = worker_id;
        slot.state = SlotState::Starting;
        worker_state_changed(&self.events, worker_id, "none", SlotState::Starting, None);
        slot.started_at = js_sys::Date::now();
        slot.memory_bytes = 0.0;
        slot.handle = Some(WorkerHandle::spawn(worker_id, on_event)?);
        let me = self.me.clone();
        slot.boot_timer = Some(Timer::new(BOOT_TIMEOUT_MS, move || {
            if let Some(inner) = me.upgrade() {
                let msg = format!("worker {worker_id} sent no Ready within {BOOT_TIMEOUT_MS} ms");
                Inner::on_event(&inner, worker_id, WorkerEvent::Error(msg));
            }
        }));
        Ok(())
    }

    fn on_event(inner: &Rc<RefCell<Inner>>, worker_id: u32, event: WorkerEvent) {
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
                slot.set_state(SlotState::Idle, &self.events, None);
                slot.shared_memory = caps.shared_memory;
                slot.boot_failures = 0;
                slot.boot_timer = None;
                if let Some(boot) = slot.boot.take() {
                    let _ = boot.send(Ok(()));
                }
            }
            FromWorker::Response { id, http } => {
                let body = Reflect::get(data, &"body".into())
                    .ok()
                    .filter(|b| b.is_instance_of::<Uint8Array>() || b.is_instance_of::<web_sys::Blob>())
                    .ok_or_else(|| Error::new(ErrorKind::WorkerCrashed, "a response arrived without its body"));
                let result = match http {
                    Some(meta) => body.map(|b| crate::io::network::result_object(&meta, &b)),
                    None => body,
                };
                self.finish(index, id, result);
            }
            FromWorker::Failed { id: Some(id), error } => self.finish(index, id, Err(error.into())),
            FromWorker::Failed { id: None, error } => {
                // The worker refused a message it could not read and carries on; keep the reason.
                let reason = format!("the worker rejected a message: {}: {}", error.name, error.message);
                log_later(false, format!("worker-bridge: {reason}"));
                slot.last_error = Some(reason);
            }
            FromWorker::Progress { id, done, total } => {
                let pending = slot.running.as_ref().filter(|r| r.id == id).and_then(|r| r.pending.as_ref());
                if let Some((sink, part)) = pending.and_then(|p| Some((p.progress.clone()?, p.progress_part))) {
                    let valid = |x: f64| if x.is_finite() && x >= 0.0 { x as u64 } else { 0 };
                    sink.borrow().block(part).write(valid(done), valid(total));
                }
            }
            FromWorker::Pong { memory, .. } => {
                slot.ping_outstanding = false;
                slot.memory_bytes = memory;
            }
            FromWorker::Crashed { message } | FromWorker::BootFailed { message } => self.on_crash(index, message),
            FromWorker::Ready { .. } => {}
        }
    }

    /// The worker answered call `id`: settle it (unless it was answered early) and free the slot.
    fn finish(&mut self, index: usize, id: RequestId, result: Result<JsValue, Error>) {
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

    /// The worker in slot `index` died or misbehaved: retry or fail its call, and replace it.
    fn on_crash(&mut self, index: usize, message: String) {
        let slot = &mut self.slots[index];
        let booting = slot.state == SlotState::Starting;
        slot.set_state(SlotState::Crashed, &self.events, Some(&message));
        slot.note_error(&message);
        slot.stop();
        if let Some(pending) = slot.running.take().and_then(|r| r.pending) {
            if pending.retryable() {
                let mut pending = pending;
                pending.attempts += 1;
                self.counters.retried();
                let (id, priority) = (pending.id, pending.task.priority);
                self.queue.unpop(id, pending, priority);
            } else {
                let error = Error::new(ErrorKind::WorkerCrashed, format!("the worker crashed: {message}"));
                pending.settle(Err(error), &self.counters);
            }
        }
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

    /// Replaces the worker of slot `index` (it hung, timed out or ignored a cancel).
    fn replace(&mut self, index: usize, reason: &str) {
        let slot = &mut self.slots[index];
        slot.set_state(SlotState::Crashed, &self.events, Some(reason));
        slot.note_error(reason);
        slot.running = None;
        if slot.retiring {
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

    /// With no live slot, nothing would ever run the queue: hand it to the owner, once (until a
    /// slot is spawned again). Called after every change that can leave no live slot.
    fn give_up_if_no_workers(&mut self) {
        if self.given_up || self.terminated || !no_live_slot(self.slots.iter().map(Slot::view)) {
            return;
        }
        self.given_up = true;
        let last = self.slots.iter().find_map(|s| s.last_error.clone()).unwrap_or_default();
        let reason = format!("workers failed to start {MAX_BOOT_FAILURES} times in a row ({last})");
        log_later(true, format!("worker-bridge: {reason}"));
        let queued: Vec<Pending> = self.queue.drain().into_iter().map(|(_, p)| p).collect();
        (self.on_given_up.0)(queued, reason);
    }

    fn cancel(&mut self, id: RequestId) {
        if let Some(pending) = self.queue.remove(id) {
            return pending.settle(Err(aborted()), &self.counters);
        }
        let Some(index) = self.slots.iter().position(|s| s.running.as_ref().is_some_and(|r| r.id == id)) else {
            return; // already settled
        };
        let grace_ms = self.cfg.cancel_grace_ms;
        let me = self.me.clone();
        let slot = &mut self.slots[index];
        let worker_id = slot.worker_id;
        let running = slot.running.as_mut().expect("invariant: found above");
        if let Some(pending) = running.pending.take() {
            if let Some(block) = pending.cancel.as_ref().filter(|_| pending.owns_cancel) {
                block.cancel();
            }
            pending.settle(Err(aborted()), &self.counters);
        }
        if running.grace.is_none() {
            running.grace = Some(Timer::new(grace_ms, move || {
                if let Some(inner) = me.upgrade() {
                    let mut inner = inner.borrow_mut();
                    let found = inner
                        .slot_of(worker_id)
                        .filter(|&i| inner.slots[i].running.as_ref().is_some_and(|r| r.id == id));
                    if let Some(index) = found {
                        inner.replace(index, &format!("did not stop within {grace_ms} ms of a cancel"));
                        inner.pump();
                    }
                }
            }));
        }
        if let Some(handle) = &slot.handle {
            let _ = handle.post(&ToWorker::Cancel { id }, Attachments::default());
        }
    }

    fn on_timeout(&mut self, worker_id: u32, id: RequestId, ms: u32) {
        let Some(index) = self.slot_of(worker_id) else { return };
        let Some(running) = self.slots[index].running.as_mut().filter(|r| r.id == id) else { return };
        if let Some(pending) = running.pending.take() {
            pending.settle(Err(timed_out(ms)), &self.counters);
        }
        self.replace(index, &format!("a call timed out after {ms} ms"));
    }

    fn check_health(&mut self) {
        if self.terminated {
            return;
        }
        let mut hung = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.state != SlotState::Idle {
                continue;
            }
            if slot.ping_outstanding {
                hung.push(index);
                continue;
            }
            self.ping_seq = self.ping_seq.wrapping_add(1);
            if let Some(handle) = &slot.handle {
                if handle.post(&ToWorker::Ping { seq: self.ping_seq }, Attachments::default()).is_ok() {
                    slot.ping_outstanding = true;
                }
            }
        }
        for index in hung.into_iter().rev() {
            self.replace(index, "did not answer a ping");
        }
        self.pump();
    }

    fn resize(&mut self, size: usize) -> Result<(), Error> {
        let live = self.slots.iter().filter(|s| !s.retiring).count();
        if size > live {
            for _ in live..size {
                self.slots.push(Slot::new(None));
                let index = self.slots.len() - 1;
                if let Err(e) = self.spawn_into(index) {
                    self.on_crash(index, e.message().to_owned());
                }
            }
        } else {
            let views: Vec<SlotView> = self.slots.iter().map(Slot::view).collect();
            // Highest index first, so each removal leaves the other indices valid.
            for (index, how) in retire_order(&views, live - size) {
                match how {
                    Retire::Now => self.remove_slot(index),
                    Retire::AfterCall => self.slots[index].retiring = true,
                }
            }
        }
        self.give_up_if_no_workers();
        self.pump();
        Ok(())
    }

    fn remove_slot(&mut self, index: usize) {
        let mut slot = self.slots.remove(index);
        slot.set_state(SlotState::Terminated, &self.events, Some("removed by resize"));
        slot.stop();
        if let Some(boot) = slot.boot.take() {
            let _ = boot.send(Err(terminated()));
        }
        self.give_up_if_no_workers();
    }

    /// Starts queued calls on idle workers, per the strategy.
    fn pump(&mut self) {
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
}

/// Logs to the console after the current handler returns: the pool's state is borrowed here,
/// and an app's console hook may call back into the bridge (e.g. `status()`).
/// Announces a pool worker's move as `worker_state_changed { kind: 'pool', worker, from, to,
/// reason? }`, after the pool's state is released (a listener may call back into the bridge).
fn worker_state_changed(events: &Rc<EventHub>, worker: u32, from: &str, to: SlotState, reason: Option<&str>) {
    if !events.has_listeners("worker_state_changed") {
        return;
    }
    let data = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&data, &k.into(), &v);
    };
    set("kind", "pool".into());
    set("worker", worker.into());
    set("from", from.into());
    set("to", to.as_str().into());
    if let Some(reason) = reason {
        set("reason", reason.into());
    }
    let events = events.clone();
    wasm_bindgen_futures::spawn_local(async move { events.emit("worker_state_changed", &data) });
}

fn log_later(error: bool, message: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let message = JsValue::from(message);
        if error {
            web_sys::console::error_1(&message);
        } else {
            web_sys::console::warn_1(&message);
        }
    });
}
