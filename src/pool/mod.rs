//! The pool: owns the workers, feeds them queued calls, routes their answers to the callers.
//!
//! A worker runs one call at a time, but holds a few more in its mailbox (pipelining) so it
//! starts the next one without waiting for a round trip; large calls, and anything beyond
//! `maxInFlightPerWorker`, wait in the [`Queue`] where priority and deadlines act and any worker
//! that frees up can take them. Messages to one worker sent in one task turn travel together
//! (but for a call to a worker holding nothing else: it goes at once). A
//! worker is spawned with the page's compiled `WebAssembly.Module` and counts only once it
//! sends `Ready`.
//!
//! The pool apart from one worker's lifecycle, as workerpool splits `Pool` from `WorkerHandler`:
//! - this file: the [`Pool`] handle the executor holds, and the state it shares;
//! - `slot`: one worker in its place — spawn, boot timer, stop, what the pool's decisions see;
//! - `dispatch`: queued calls onto workers with room, batched messages, answers back to callers;
//! - `messages`: what a worker says (`FromWorker`), routed to its slot;
//! - `progress`: running calls' progress, flushed to `onProgress` once per frame;
//! - `failure`: crashes, timeouts, cancels, health pings — every way a worker is replaced;
//! - `scaling`: slots added and removed by `resize`;
//! - `join`: a split call's parts joined into one `Blob` by an idle worker;
//! - `announce`: state changes and console messages, sent after the state is released;
//! - `worker_handle`: every `web_sys::Worker` call.
//!
//! Failure handling (`failure`):
//! - a crash (`error`, `messageerror`, a `Crashed` report of a panic, a protocol violation) fails
//!   or retries every call in flight on the worker (per their options) and replaces the worker;
//! - a call past its `timeoutMs` rejects with `TimeoutError` and its worker (maybe stuck in a
//!   loop) is replaced; the calls waiting behind it are retried or fail by their options;
//! - an aborted call rejects with `AbortError` at once; its worker is asked to stop it (or drop
//!   it, if it has not started it) and is replaced if it runs it past the grace period;
//! - an idle worker that does not answer a ping within one health interval is replaced;
//! - a worker that keeps failing to boot is retried with backoff, then given up; when no slot is
//!   live any more the pool hands its queue to its owner (`on_given_up`), which decides whether
//!   the calls move to the main thread or fail.
//!
//! The decisions themselves (states, back-off, retry or fail, which slot retires, which worker
//! is hung) are pure functions in `worker_bridge_core::pool`, tested natively; this module
//! carries them out.
//!
//! All state sits in one `Rc<RefCell<_>>`. Listeners and timers hold a `Weak` to it, so dropping
//! the pool frees everything; no user callback runs while the state is borrowed.

mod announce;
mod dispatch;
mod failure;
mod join;
mod messages;
mod progress;
mod scaling;
mod slot;
mod worker_handle;

#[cfg(feature = "test-ops")]
pub(crate) use worker_handle::{break_boots, default_worker_url};

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
#[cfg(feature = "test-ops")]
use wasm_bindgen::JsValue;

use worker_bridge_core::pool::{no_live_slot, SlotState};
use worker_bridge_core::tasks::TaskCosts;

use crate::call::{terminated, Counters, Pending, Stop};
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::protocol::RequestId;
use crate::runtime::awake::Awake;
use crate::runtime::timer::Repeat;
use crate::runtime::FrameTicker;
use crate::scheduler::{Picker, Queue, Strategy};
use crate::status::{Mode, Status, WorkerStatus};
use slot::Slot;

/// Told the calls nobody will run, and why, when the pool has no live slot left.
/// It answers whether the calls moved elsewhere for good (then the pool stops its health pings:
/// no worker will be spawned again).
pub(crate) struct OnGivenUp(pub(crate) Box<dyn Fn(Vec<Pending>, String) -> bool>);

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
    /// Calls one worker holds at once (see `worker_bridge_core::pool::may_pipeline`).
    pub(crate) max_in_flight: u32,
    /// The longest the page polls for an answer, and a worker for its next call, instead of
    /// sleeping (`runtime::awake`, `worker/awake.js`; 0: never).
    pub(crate) busy_poll_us: u32,
    /// Threads each worker starts, its own included (`worker_bridge_core::pool::arrangement`).
    pub(crate) threads: u32,
    /// `navigator.hardwareConcurrency`: what `resize` fits threads into.
    pub(crate) cores: u32,
    /// Where the workers' script (the package's `worker.js`) is served, when not beside the
    /// glue (`workerUrl`): absolute.
    pub(crate) worker_url: Option<String>,
}

/// A handle to the pool's shared state.
#[derive(Debug)]
pub(crate) struct Pool {
    inner: Rc<RefCell<Inner>>,
    counters: Rc<Counters>,
}

/// The pool's state, shared by the handle, the workers' listeners and the timers. Its methods
/// are spread over this module's files, one concern each.
#[derive(Debug)]
struct Inner {
    slots: Vec<Slot>,
    queue: Queue<Pending>,
    picker: Picker,
    cfg: PoolConfig,
    counters: Rc<Counters>,
    next_worker_id: u32,
    ping_seq: u32,
    /// The last `ToWorker::Join` id (`join`).
    join_seq: u32,
    /// Test builds only: joins answered with a `Blob` (`join`).
    #[cfg(feature = "test-ops")]
    joined: u32,
    terminated: bool,
    /// A microtask will post the slots' outboxes.
    flush_scheduled: bool,
    cross_origin_isolated: bool,
    /// Where `worker_state_changed` goes.
    events: Rc<EventHub>,
    /// Where the queue goes when no slot is live (see the module docs).
    on_given_up: OnGivenUp,
    /// `on_given_up` was told, and no slot has been spawned since: later calls put back in the
    /// queue (a retry) are handed over too, without a second give-up.
    given_up: bool,
    ticker: Option<Rc<FrameTicker>>,
    health: Option<Repeat>,
    /// When the last health tick ran: a tick much later than its interval finds the page itself
    /// stalled (`failure::check_health`).
    last_tick: f64,
    /// How long each of the app's tasks ran, as its workers report: the short ones are sent
    /// ahead (`pending_weight`).
    task_costs: TaskCosts,
    /// Polls the page's event loop while calls are out, so their answers find it running.
    awake: Awake,
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
                join_seq: 0,
                #[cfg(feature = "test-ops")]
                joined: 0,
                terminated: false,
                flush_scheduled: false,
                cross_origin_isolated: crate::shared::cross_origin_isolated(),
                events,
                on_given_up,
                given_up: false,
                ticker: None,
                health: None,
                last_tick: js_sys::Date::now(),
                task_costs: TaskCosts::default(),
                awake: Awake::new(config.busy_poll_us),
                me: me.clone(),
            })
        });
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().ticker = Some(Rc::new(FrameTicker::new(move || progress::flush_progress(&weak))));
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
                inner.slots[index].threads_asked = inner.cfg.threads;
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
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let mut inner = self.inner.borrow_mut();
        let (id, priority, deadline) = (pending.id, pending.task.priority, pending.task.deadline);
        inner.queue.push(id, pending, priority, deadline)?;
        self.counters.submitted();
        inner.pump();
        Ok(())
    }

    /// Why [`submit`](Self::submit) would refuse a call now, if it would.
    pub(crate) fn refusal(&self) -> Option<Error> {
        let inner = self.inner.borrow();
        if inner.terminated {
            return Some(terminated());
        }
        if no_live_slot(inner.slots.iter().map(Slot::view)) {
            // Nothing would ever run this call.
            return Some(Error::new(ErrorKind::WorkerCrashed, "every worker of the pool has failed"));
        }
        inner.queue.refusal()
    }

    /// Stops call `id` for `why` (see `failure::stop`).
    pub(crate) fn stop(&self, id: RequestId, why: Stop) {
        let mut inner = self.inner.borrow_mut();
        inner.stop(id, why);
        inner.pump();
    }

    /// Grows or shrinks the pool to `size` workers; queued calls stay queued. Busy workers leave
    /// when their calls in flight (and the joins they make) finish.
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
                busy: s.is_busy(),
                tasks_done: s.tasks_done,
                errors: s.errors,
                restarts: s.restarts,
                last_error: s.last_error.clone(),
                started_at: s.started_at,
                memory_bytes: s.memory_bytes,
                threads: s.threads,
            })
            .collect::<Vec<_>>();
        Status {
            mode: if inner.terminated { Mode::Terminated } else { Mode::Workers },
            build: crate::runtime::threads::BUILD,
            simd: crate::runtime::threads::SIMD,
            threads: workers
                .iter()
                .filter(|w| matches!(w.state, "idle" | "busy"))
                .map(|w| w.threads)
                .max()
                .unwrap_or(1),
            cross_origin_isolated: inner.cross_origin_isolated,
            workers,
            queued: inner.queue.len() as u32,
            main_thread_tasks_done: 0,
            fallback_reason: None,
            counters: self.counters.snapshot(),
            engines: None,
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
        inner.awake.stop();
        let mut rejected: Vec<Pending> = inner.queue.drain().into_iter().map(|(_, p)| p).collect();
        let events = inner.events.clone();
        for slot in &mut inner.slots {
            slot.stop();
            if let Some(boot) = slot.boot.take() {
                let _ = boot.send(Err(terminated()));
            }
            rejected.extend(std::mem::take(&mut slot.in_flight).into_iter().filter_map(|r| r.pending));
            rejected.extend(std::mem::take(&mut slot.side).into_iter().filter_map(|r| r.pending));
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

    /// Test builds only: every worker that has booted (idle or busy) reads `Blob`s in slices
    /// (`on`), as where the browser has no BYOB reader, or through their streams
    /// (`ToWorker::BlobSlices`, queued ahead of later calls). A worker still starting, or
    /// started later, reads them its own way.
    ///
    /// # Errors
    /// `TerminatedError` once the pool is terminated.
    #[cfg(feature = "test-ops")]
    pub(crate) fn worker_blob_slices(&self, on: bool) -> Result<(), Error> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return Err(terminated());
        }
        for index in 0..inner.slots.len() {
            if matches!(inner.slots[index].state, SlotState::Idle | SlotState::Busy) {
                let msg = crate::protocol::ToWorker::BlobSlices { on };
                inner.send(index, msg, worker_handle::Attachments::default());
            }
        }
        Ok(())
    }

    /// Test builds only: see `Executor::awake_probe`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn awake_probe(&self) -> (f64, bool) {
        let inner = self.inner.borrow();
        (inner.awake.turns(), inner.awake.running())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

impl Inner {
    /// The slot whose current worker is `worker_id`: a timer or listener of a replaced worker
    /// finds none.
    fn slot_of(&self, worker_id: u32) -> Option<usize> {
        self.slots.iter().position(|s| s.worker_id == worker_id)
    }
}
