//! One worker in its place: a slot keeps its place in the pool (and its counters) while the
//! worker in it is spawned, booted, stopped and replaced — the pool's `WorkerHandler`. A fresh
//! worker gets a fresh id, so the listeners and timers of the one it replaced find no slot.

use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::oneshot;

use worker_bridge_core::pool::{SlotState, SlotView};

use super::announce::worker_state_changed;
use super::worker_handle::{Outgoing, WorkerEvent, WorkerHandle};
use super::Inner;
use crate::call::Pending;
use crate::error::Error;
use crate::events::EventHub;
use crate::protocol::RequestId;
use crate::runtime::timer::{defer_drop, Timer};
use crate::shared::Heartbeat;

/// How long a worker may take from spawn to `Ready` (it fetches nothing: it gets the module).
const BOOT_TIMEOUT_MS: u32 = 15_000;

/// A call sent to a slot's worker: the first of a slot's `in_flight` runs, the others wait in
/// the worker's mailbox, in order. `pending` is `None` once the caller was answered early
/// (abort, timeout) and the worker's own answer is awaited only to free its place.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) id: RequestId,
    pub(super) pending: Option<Pending>,
    /// What it weighs for pipelining (`dispatch::pending_weight`).
    pub(super) weight: u64,
    /// An app's own task: the key its run times are learned under (`TaskCosts`). A task may
    /// hold its worker's thread silently (no heartbeat, no pong) until its time limit: the
    /// health check leaves its worker alone.
    pub(super) task: Option<String>,
    /// When its `timeoutMs` counts from: when it became the first in flight (its worker started
    /// it then), or when it was submitted (`timeoutFrom: 'submit'`).
    pub(super) started: Option<f64>,
    /// When it became the first in flight, answered early or not: a task its worker died or was
    /// stopped in ran at least since then (`TaskCosts`).
    pub(super) ran_from: Option<f64>,
    /// Armed when it was cancelled while running: the worker is replaced if it does not stop.
    pub(super) grace: Option<Timer>,
}

impl Running {
    /// A call just sent, not started yet; `grace` is a call over streams' own time limit.
    pub(super) fn sent(
        id: RequestId,
        pending: Pending,
        weight: u64,
        task: Option<String>,
        grace: Option<Timer>,
    ) -> Self {
        Running { id, pending: Some(pending), weight, task, started: None, ran_from: None, grace }
    }
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) worker_id: u32,
    pub(super) handle: Option<WorkerHandle>,
    pub(super) state: SlotState,
    /// The calls sent to its worker, in the order it runs them.
    pub(super) in_flight: VecDeque<Running>,
    /// Calls over streams its worker runs beside `in_flight`, as they come (they wait on their
    /// streams' other ends, which may be calls still queued). No watchdog: a stream call's
    /// time limit is a timer of its own (`grace`), and it is never retried.
    pub(super) side: Vec<Running>,
    /// Messages for its worker, posted together at the end of the task turn (`dispatch::flush`);
    /// a call to a worker that holds nothing else skips it (`dispatch::send`).
    pub(super) outbox: Vec<Outgoing>,
    /// One timer for the time limits of every call the worker runs, and when it fires
    /// (`dispatch::arm_watchdog`).
    pub(super) watchdog: Option<(Timer, f64)>,
    pub(super) shared_memory: bool,
    /// Threads its jobs may use, as its `Ready` said.
    pub(super) threads: u32,
    /// Threads its worker is asked to start (set when the slot is made; a replacement asks
    /// for as many).
    pub(super) threads_asked: u32,
    pub(super) tasks_done: u32,
    pub(super) errors: u32,
    pub(super) restarts: u32,
    pub(super) last_error: Option<String>,
    pub(super) started_at: f64,
    pub(super) boot: Option<oneshot::Sender<Result<(), Error>>>,
    pub(super) boot_timer: Option<Timer>,
    pub(super) boot_failures: u32,
    pub(super) respawn_timer: Option<Timer>,
    pub(super) ping_outstanding: bool,
    /// The worker's heartbeat (shared memory only), sent with its first request, and its value
    /// at the last health tick.
    pub(super) beat: Option<Heartbeat>,
    pub(super) beat_sent: bool,
    pub(super) last_beat: i32,
    /// When it last showed life (a pong, its heartbeat advancing, or being given work while
    /// idle): what a busy worker's health check measures.
    pub(super) last_sign: f64,
    /// The worker's wasm memory size at its last pong.
    pub(super) memory_bytes: f64,
    /// Removed (by `resize`) as soon as its calls in flight and its joins finish.
    pub(super) retiring: bool,
    /// Joins sent to its worker (`join`), by id: dropped when it is stopped, which tells each
    /// caller to join on the page.
    pub(super) joins: Vec<super::join::Join>,
    /// Its worker let a join pass `join::JOIN_LIMIT_MS` and has sent nothing since: it gets no
    /// more joins until it does.
    pub(super) join_overdue: bool,
}

impl Slot {
    pub(super) fn set_state(&mut self, to: SlotState, events: &Rc<EventHub>, reason: Option<&str>) {
        let from = std::mem::replace(&mut self.state, to);
        if from != to {
            worker_state_changed(events, self.worker_id, from.as_str(), to, reason);
        }
    }

    pub(super) fn new(boot: Option<oneshot::Sender<Result<(), Error>>>) -> Self {
        Slot {
            worker_id: 0,
            handle: None,
            state: SlotState::Starting,
            in_flight: VecDeque::new(),
            side: Vec::new(),
            outbox: Vec::new(),
            watchdog: None,
            shared_memory: false,
            threads: 1,
            threads_asked: 1,
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
            beat: None,
            beat_sent: false,
            last_beat: 0,
            last_sign: 0.0,
            memory_bytes: 0.0,
            retiring: false,
            joins: Vec::new(),
            join_overdue: false,
        }
    }

    /// The slot as the pool's decisions see it.
    pub(super) fn view(&self) -> SlotView {
        // A worker joining Blobs leaves after its joins: `resize` retiring it mid-join would
        // waste the join and make the page do it again.
        SlotView { state: self.state, busy: self.is_busy(), joining: !self.joins.is_empty(), retiring: self.retiring }
    }

    /// Whether its worker runs or holds a call.
    pub(super) fn is_busy(&self) -> bool {
        !self.in_flight.is_empty() || !self.side.is_empty()
    }

    pub(super) fn note_error(&mut self, message: &str) {
        self.errors += 1;
        self.last_error = Some(message.to_owned());
    }

    /// Stops the worker and every timer of the slot.
    pub(super) fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.terminate();
            defer_drop(handle);
        }
        self.outbox.clear();
        self.joins.clear();
        self.join_overdue = false;
        self.watchdog = None;
        self.boot_timer = None;
        self.respawn_timer = None;
        self.ping_outstanding = false;
    }
}

impl Inner {
    /// Spawns a fresh worker into slot `index`.
    pub(super) fn spawn_into(&mut self, index: usize) -> Result<(), Error> {
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
        slot.beat = Heartbeat::new();
        slot.beat_sent = false;
        slot.last_beat = 0;
        slot.last_sign = js_sys::Date::now();
        slot.threads = 1;
        let worker_url = self.cfg.worker_url.as_deref();
        let busy_poll_us = self.cfg.busy_poll_us;
        slot.handle = Some(WorkerHandle::spawn(worker_id, slot.threads_asked, busy_poll_us, worker_url, on_event)?);
        let me = self.me.clone();
        slot.boot_timer = Some(Timer::new(BOOT_TIMEOUT_MS, move || {
            if let Some(inner) = me.upgrade() {
                let msg = format!("worker {worker_id} sent no Ready within {BOOT_TIMEOUT_MS} ms");
                Inner::on_event(&inner, worker_id, WorkerEvent::Error(msg));
            }
        }));
        Ok(())
    }
}
