//! Where a call runs. One interface, two placements: the [`Pool`] of Web Workers, or [`Inline`]
//! on the main thread, in slices that yield to the page. The API layer builds a [`Pending`] call
//! and hands it here; it never does the work itself, so fallback is not a second code path
//! through the handlers but the other placement.
//!
//! The fallback decision lives here and only here: at start (no `Worker`, or workers that fail
//! to boot) and later, when the pool reports that it has no live slot left and hands back its
//! queue. The pool knows nothing of the main thread.
//!
//! Both placements honour the same call contract: priority and deadline order, `timeoutMs`,
//! `AbortSignal`, progress, and every promise settles exactly once.

mod inline;

pub(crate) use inline::Inline;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Array;
use serde::Deserialize;
use web_sys::Blob;

use crate::call::{terminated, Counters, Pending, Stop};
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::pool::{OnGivenUp, Pool, PoolConfig};
use crate::protocol::RequestId;
use crate::status::{Mode, Status};

/// When calls may run on the main thread (`WorkerBridge.create({ fallback })`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fallback {
    /// When `Worker` is missing or workers fail to boot.
    #[default]
    Auto,
    /// Always (no workers are spawned).
    Always,
    /// Never: `create()` rejects instead.
    Never,
}

/// The most bytes in `Uint8Array` parts that [`Executor::join`] sends to a worker: a split call's
/// head and trailer, not a split `compress`'s output.
const JOIN_BYTES_MAX: u64 = 64 << 10;

/// Runs calls in the pool or on the page; see the module docs.
#[derive(Debug)]
pub(crate) struct Executor {
    placement: Placement,
    /// Set once the pool gave up on every worker and its calls moved to the page.
    fallen_back: Rc<RefCell<Option<Inline>>>,
}

#[derive(Debug)]
enum Placement {
    Pool(Pool),
    Inline(Inline),
}

impl Executor {
    /// Starts the pool, or the main-thread executor where `fallback` says so.
    ///
    /// # Errors
    /// `NotSupportedError` when workers are unavailable or fail to boot and `fallback` is
    /// `never`.
    pub(crate) async fn start(
        config: PoolConfig,
        fallback: Fallback,
        counters: Rc<Counters>,
        events: Rc<EventHub>,
    ) -> Result<Executor, Error> {
        let page = |reason: Option<String>| Executor {
            placement: Placement::Inline(Inline::new(config.max_queue, counters.clone(), reason)),
            fallen_back: Rc::default(),
        };
        if fallback == Fallback::Always {
            return Ok(page(None));
        }
        if !js_sys::Reflect::has(&js_sys::global(), &"Worker".into()).unwrap_or(false) {
            let reason = "Web Workers are not available in this environment";
            return match fallback {
                Fallback::Never => Err(Error::new(ErrorKind::Unsupported, reason)),
                _ => Ok(page(Some(reason.into()))),
            };
        }
        let fallen_back: Rc<RefCell<Option<Inline>>> = Rc::default();
        let on_given_up = {
            let (fallen_back, counters, max_queue) = (fallen_back.clone(), counters.clone(), config.max_queue);
            move |queued: Vec<Pending>, reason: String| -> bool {
                if fallback != Fallback::Auto {
                    for pending in queued {
                        pending.settle(Err(Error::new(ErrorKind::WorkerCrashed, reason.clone())), &counters);
                    }
                    return false;
                }
                // Calls handed over later (a retried call of a leaving worker) join the same
                // main-thread executor.
                let existing = fallen_back.borrow().clone();
                match existing {
                    Some(inline) => inline.adopt(queued),
                    None => {
                        let inline = Inline::new(max_queue, counters.clone(), Some(reason));
                        inline.adopt(queued);
                        *fallen_back.borrow_mut() = Some(inline);
                    }
                }
                true
            }
        };
        match Pool::start(config.clone(), counters.clone(), events, OnGivenUp(Box::new(on_given_up))).await {
            Ok(pool) => Ok(Executor { placement: Placement::Pool(pool), fallen_back }),
            Err(e) if fallback == Fallback::Auto => {
                web_sys::console::warn_1(&format!("worker-bridge: running on the main thread: {e}").into());
                Ok(page(Some(e.to_string())))
            }
            Err(e) => Err(e),
        }
    }

    /// The main-thread executor calls go to now, if the pool fell back to it.
    fn fallback(&self) -> Option<Inline> {
        self.fallen_back.borrow().clone()
    }

    /// Queues the call now (so queue order is call order); its `reply` carries the result.
    ///
    /// # Errors
    /// `QueueFullError` or `TerminatedError` at once (the call is dropped).
    pub(crate) fn submit(&self, pending: Pending) -> Result<(), Error> {
        match (&self.placement, self.fallback()) {
            (Placement::Pool(pool), _) if pool.is_terminated() => Err(terminated()),
            (_, Some(inline)) => inline.submit(pending),
            (Placement::Inline(inline), None) => inline.submit(pending),
            (Placement::Pool(pool), None) => pool.submit(pending),
        }
    }

    /// Why [`submit`](Self::submit) would refuse a call that is not streamed now, if it would:
    /// asked before a call takes its input, so that a refused call leaves a buffer passed with
    /// `transfer: true` to its caller.
    pub(crate) fn refusal(&self) -> Option<Error> {
        match (&self.placement, self.fallback()) {
            (Placement::Pool(pool), _) if pool.is_terminated() => Some(terminated()),
            (_, Some(inline)) => inline.refusal(),
            (Placement::Inline(inline), None) => inline.refusal(),
            (Placement::Pool(pool), None) => pool.refusal(),
        }
    }

    /// Cancels call `id` if it is still queued or running.
    pub(crate) fn cancel(&self, id: RequestId) {
        self.stop(id, Stop::Abort);
    }

    /// Stops call `id` for `why`, if it is still queued or running.
    pub(crate) fn stop(&self, id: RequestId, why: Stop) {
        match (&self.placement, self.fallback()) {
            // After the fallback a call may still run on a worker that leaves after it: each
            // placement ignores an id it does not hold.
            (Placement::Pool(pool), Some(inline)) => {
                inline.stop(id, why);
                pool.stop(id, why);
            }
            (Placement::Inline(inline), _) => inline.stop(id, why),
            (Placement::Pool(pool), None) => pool.stop(id, why),
        }
    }

    pub(crate) fn status(&self) -> Status {
        match (&self.placement, self.fallback()) {
            (Placement::Inline(inline), _) => inline.status(),
            (Placement::Pool(pool), None) => pool.status(),
            (Placement::Pool(pool), Some(inline)) => {
                // The pool's (given-up) workers, the page's queue and work.
                let (pool, page) = (pool.status(), inline.status());
                Status {
                    mode: if pool.mode == Mode::Terminated { Mode::Terminated } else { Mode::MainThread },
                    queued: if pool.mode == Mode::Terminated { pool.queued } else { page.queued },
                    main_thread_tasks_done: if pool.mode == Mode::Terminated { 0 } else { page.main_thread_tasks_done },
                    fallback_reason: page.fallback_reason,
                    threads: 1,
                    ..pool
                }
            }
        }
    }

    /// Grows or shrinks the pool.
    ///
    /// # Errors
    /// `NotSupportedError` on the main thread; `TerminatedError` after `terminate()`.
    pub(crate) fn resize(&self, size: usize) -> Result<(), Error> {
        match (&self.placement, self.fallback()) {
            (Placement::Inline(_), _) => Err(Error::new(ErrorKind::Unsupported, "the bridge runs on the main thread")),
            (Placement::Pool(pool), _) if pool.is_terminated() => Err(terminated()),
            (Placement::Pool(_), Some(_)) => {
                Err(Error::new(ErrorKind::Unsupported, "the pool gave up on its workers and runs on the main thread"))
            }
            (Placement::Pool(pool), None) => pool.resize(size),
        }
    }

    /// How many calls can run at once (a split call uses this many parts).
    pub(crate) fn parallelism(&self) -> usize {
        match (&self.placement, self.fallback()) {
            (Placement::Pool(pool), None) => pool.live_workers().max(1),
            _ => 1,
        }
    }

    /// Rejects every queued and running call with `TerminatedError` and stops the workers.
    pub(crate) fn terminate(&self) {
        if let Placement::Pool(pool) = &self.placement {
            pool.terminate();
        }
        if let Some(inline) = self.fallback() {
            inline.terminate();
        }
        if let Placement::Inline(inline) = &self.placement {
            inline.terminate();
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        match &self.placement {
            Placement::Pool(pool) => pool.is_terminated(),
            Placement::Inline(inline) => inline.is_terminated(),
        }
    }

    /// `parts` (`Blob`s and `Uint8Array`s, in order) as one `Blob`: joined by an idle pool
    /// worker where there is one (building it can wait on the browser for over a frame, see
    /// `pool::join`), else on the page. Parts of more than [`JOIN_BYTES_MAX`] bytes in
    /// `Uint8Array`s are joined on the page: the message to a worker would copy them there
    /// (they are cloned, so that the page can still join them if the worker fails), and the
    /// worker again.
    ///
    /// # Errors
    /// `ValidationError` when the browser refuses to build it.
    pub(crate) fn join(&self, parts: Array) -> impl std::future::Future<Output = Result<Blob, Error>> {
        let in_worker = match (&self.placement, self.fallback()) {
            (Placement::Pool(pool), None) if crate::io::output::bytes_in(&parts) <= JOIN_BYTES_MAX => pool.join(&parts),
            _ => None,
        };
        async move {
            if let Some(joined) = in_worker {
                if let Ok(blob) = joined.await {
                    return Ok(blob);
                }
            }
            crate::io::output::join_here(&parts)
        }
    }

    /// Test builds only: see `Pool::worker_joins`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn worker_joins(&self) -> u32 {
        match &self.placement {
            Placement::Pool(pool) => pool.worker_joins(),
            Placement::Inline(_) => 0,
        }
    }

    /// Test builds only: see `Pool::slot_count`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn slot_count(&self) -> usize {
        match &self.placement {
            Placement::Pool(pool) => pool.slot_count(),
            Placement::Inline(_) => 0,
        }
    }

    /// Test builds only: posts a raw value to pool worker `index`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn post_raw(&self, index: usize, value: &wasm_bindgen::JsValue) -> Result<(), Error> {
        match &self.placement {
            Placement::Pool(pool) => pool.post_raw(index, value),
            Placement::Inline(_) => Err(Error::new(ErrorKind::Unsupported, "no workers")),
        }
    }

    /// Test builds only: see `Pool::worker_blob_slices`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn worker_blob_slices(&self, on: bool) -> Result<(), Error> {
        match &self.placement {
            Placement::Pool(pool) => pool.worker_blob_slices(on),
            Placement::Inline(_) => Err(Error::new(ErrorKind::Unsupported, "no workers")),
        }
    }

    /// Test builds only: the page's busy polling for the pool's answers — turns so far, and
    /// whether it polls now (`(0, false)` without a pool).
    #[cfg(feature = "test-ops")]
    pub(crate) fn awake_probe(&self) -> (f64, bool) {
        match &self.placement {
            Placement::Pool(pool) => pool.awake_probe(),
            Placement::Inline(_) => (0.0, false),
        }
    }
}

impl Drop for Executor {
    /// A bridge dropped without `terminate()` still settles every call, in both placements.
    fn drop(&mut self) {
        self.terminate();
    }
}
