//! The main-thread executor: the same ops, run in time slices that yield back to the page so it
//! stays responsive. Calls run one at a time in queue order (priority, deadline, arrival), as
//! they would on a one-worker pool, with the same contract: timeouts, cancellation, progress.
//!
//! Shared fate: a call here shares the page's thread. Slicing keeps input handling and painting
//! alive, but a single step still blocks for its duration (about [`SLICE_MS`] for byte-stream
//! ops), and a timeout can only be noticed between steps.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::cancel::LocalCancel;
use super::progress::SharedSink;
use super::{aborted, terminated, timed_out, Counters, FrameTicker, Pending};
use crate::error::Error;
use crate::ops::{Cancel, Env, NoProgress, Progress, Step};
use crate::output::JsOutput;
use crate::protocol::RequestId;
use crate::scheduler::Queue;
use crate::source::PageSource;
use crate::status::{Mode, Status};

/// Longest stretch of work between two yields: half a 60 Hz frame.
const SLICE_MS: f64 = 8.0;
/// Chunk size on the main thread: small enough to check the clock often.
const INLINE_CHUNK: usize = 256 * 1024;

#[derive(Debug)]
struct State {
    queue: Queue<Pending>,
    /// The call being run and its cancel flag.
    current: Option<(RequestId, Rc<LocalCancel>, Option<SharedSink>)>,
    draining: bool,
    tasks_done: u32,
    terminated: bool,
    cross_origin_isolated: bool,
    fallback_reason: Option<String>,
}

/// Runs calls on the main thread.
#[derive(Debug, Clone)]
pub(crate) struct Inline {
    state: Rc<RefCell<State>>,
    counters: Rc<Counters>,
    ticker: Rc<FrameTicker>,
}

impl Inline {
    pub(crate) fn new(max_queue: usize, counters: Rc<Counters>, fallback_reason: Option<String>) -> Self {
        let state = Rc::new(RefCell::new(State {
            queue: Queue::new(max_queue),
            current: None,
            draining: false,
            tasks_done: 0,
            terminated: false,
            cross_origin_isolated: crate::shared::shared_memory_available(),
            fallback_reason,
        }));
        let weak: Weak<RefCell<State>> = Rc::downgrade(&state);
        let ticker = Rc::new(FrameTicker::new(move || {
            let Some(state) = weak.upgrade() else { return false };
            let sink = state.borrow().current.as_ref().and_then(|(_, _, sink)| sink.clone());
            match sink {
                Some(sink) if sink.borrow().has_callback() => {
                    sink.borrow_mut().flush();
                    true
                }
                _ => false,
            }
        }));
        Inline { state, counters, ticker }
    }

    pub(crate) fn submit(&self, pending: Pending) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        if st.terminated {
            return Err(terminated());
        }
        let (id, priority, deadline) = (pending.id, pending.task.priority, pending.task.deadline);
        st.queue.push(id, pending, priority, deadline)?;
        self.counters.submitted();
        if !st.draining {
            st.draining = true;
            wasm_bindgen_futures::spawn_local(drain(self.clone()));
        }
        Ok(())
    }

    /// Removes a queued call, or stops the running one at its next step; either way the caller's
    /// promise rejects with `AbortError` now.
    pub(crate) fn cancel(&self, id: RequestId) {
        let mut st = self.state.borrow_mut();
        if let Some(pending) = st.queue.remove(id) {
            drop(st);
            pending.settle(Err(aborted()), &self.counters);
            return;
        }
        if let Some((current, flag, _)) = &st.current {
            if *current == id {
                flag.cancel();
            }
        }
    }

    pub(crate) fn status(&self) -> Status {
        let st = self.state.borrow();
        Status {
            mode: if st.terminated { Mode::Terminated } else { Mode::MainThread },
            cross_origin_isolated: st.cross_origin_isolated,
            workers: Vec::new(),
            queued: st.queue.len() as u32,
            main_thread_tasks_done: st.tasks_done,
            fallback_reason: st.fallback_reason.clone(),
            counters: self.counters.snapshot(),
        }
    }

    pub(crate) fn terminate(&self) {
        let drained = {
            let mut st = self.state.borrow_mut();
            st.terminated = true;
            // The running call stops at its next step; a fetch is aborted now.
            if let Some((_, flag, _)) = &st.current {
                flag.cancel();
            }
            st.queue.drain()
        };
        for (_, pending) in drained {
            pending.settle(Err(terminated()), &self.counters);
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state.borrow().terminated
    }

    /// Takes over calls a pool accepted but can no longer run (its workers kept failing).
    pub(crate) fn adopt(&self, calls: Vec<Pending>) {
        let mut st = self.state.borrow_mut();
        for pending in calls {
            let (id, priority, deadline) = (pending.id, pending.task.priority, pending.task.deadline);
            st.queue.push_accepted(id, pending, priority, deadline);
        }
        if !st.draining && !st.queue.is_empty() {
            st.draining = true;
            wasm_bindgen_futures::spawn_local(drain(self.clone()));
        }
    }
}

/// Runs queued calls until the queue is empty.
async fn drain(inline: Inline) {
    loop {
        // Let the caller's code after `submit` run before the first slice.
        yield_to_page().await;
        let (pending, flag) = {
            let mut st = inline.state.borrow_mut();
            if st.terminated {
                st.draining = false;
                return;
            }
            let Some((id, pending)) = st.queue.pop() else {
                st.draining = false;
                return;
            };
            let flag = Rc::new(LocalCancel::default());
            st.current = Some((id, flag.clone(), pending.progress.clone()));
            (pending, flag)
        };
        if pending.progress.as_ref().is_some_and(|s| s.borrow().has_callback()) {
            inline.ticker.wake();
        }
        let result = run_sliced(&inline, &pending, &flag).await;
        let mut st = inline.state.borrow_mut();
        st.current = None;
        st.tasks_done += 1;
        drop(st);
        pending.settle(result, &inline.counters);
    }
}

/// A weak handle on the running call's cancel flag (for a timer that may outlive the call).
fn flag_handle(inline: &Inline, id: RequestId) -> std::rc::Weak<LocalCancel> {
    let st = inline.state.borrow();
    match &st.current {
        Some((current, flag, _)) if *current == id => Rc::downgrade(flag),
        _ => std::rc::Weak::new(),
    }
}

/// Main-thread time.
struct PageEnv;

impl Env for PageEnv {
    fn now_ms(&self) -> f64 {
        now_ms()
    }
}

/// Writes progress into the call's block for the ticker to pick up.
struct BlockProgress<'a>(&'a SharedSink, usize);

impl Progress for BlockProgress<'_> {
    fn report(&mut self, done: u64, total: u64) {
        self.0.borrow().block(self.1).write(done, total);
    }
}

struct Flags<'a> {
    local: &'a LocalCancel,
    shared: Option<&'a crate::shared::CancelBlock>,
}

impl Cancel for Flags<'_> {
    fn is_cancelled(&self) -> bool {
        self.local.is_cancelled() || self.shared.is_some_and(|b| b.is_cancelled())
    }
}

/// Steps the job in slices of at most [`SLICE_MS`], yielding between them, watching for
/// cancellation, the call's time limit and termination.
async fn run_sliced(inline: &Inline, pending: &Pending, flag: &LocalCancel) -> Result<JsValue, Error> {
    if let crate::ops::Op::Fetch(spec) = &pending.task.op {
        let mut silent = NoProgress;
        let mut block_progress = pending.progress.as_ref().map(|sink| BlockProgress(sink, pending.progress_part));
        let progress: &mut dyn Progress = match block_progress.as_mut() {
            Some(p) => p,
            None => &mut silent,
        };
        // Fetching is asynchronous anyway: nothing to slice on the main thread. The time limit
        // (and terminate) cancel the request itself.
        let expired = Rc::new(std::cell::Cell::new(false));
        let _timer = pending.task.timeout_ms.map(|ms| {
            let (expired, flag) = (expired.clone(), flag_handle(inline, pending.id));
            super::timer::Timer::new(ms, move || {
                expired.set(true);
                if let Some(flag) = flag.upgrade() {
                    flag.cancel();
                }
            })
        });
        return match crate::network::fetch(spec, &pending.task.input, progress, flag, pending.cancel.as_ref()).await {
            Ok((meta, body)) => Ok(crate::network::result_object(&meta, &body)),
            Err(_) if expired.get() => Err(timed_out(pending.task.timeout_ms.unwrap_or(0))),
            Err(_) if inline.state.borrow().terminated => Err(terminated()),
            Err(e) => Err(e),
        };
    }
    let mut job = pending.task.op.start()?;
    let mut source = PageSource::new(&pending.task.input, INLINE_CHUNK);
    let mut out = JsOutput::default();
    let cancel = Flags { local: flag, shared: pending.cancel.as_ref() };
    let mut silent = NoProgress;
    let mut block_progress = pending.progress.as_ref().map(|sink| BlockProgress(sink, pending.progress_part));
    let progress: &mut dyn Progress = match block_progress.as_mut() {
        Some(p) => p,
        None => &mut silent,
    };
    let started = now_ms();
    let mut slice_start = started;
    loop {
        if inline.state.borrow().terminated {
            return Err(terminated());
        }
        if cancel.is_cancelled() {
            return Err(aborted());
        }
        if let Some(limit) = pending.task.timeout_ms {
            if now_ms() - started >= f64::from(limit) {
                return Err(timed_out(limit));
            }
        }
        source.prepare().await?;
        match job.step(&mut source, &PageEnv, progress, &mut out)? {
            Step::Done => return out.finish(pending.task.output),
            Step::Wait(ms) => {
                // Waiting costs the page nothing: await a timer, then start a fresh slice.
                gloo_timers::future::TimeoutFuture::new(ms.ceil() as u32).await;
                slice_start = now_ms();
                continue;
            }
            Step::Continue => {}
        }
        if now_ms() - slice_start >= SLICE_MS {
            yield_to_page().await;
            slice_start = now_ms();
        }
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Gives the event loop a turn: the rest of the call continues in a new ordinary task, queued
/// behind timers, input and rendering. `scheduler.postTask` where the browser has it (no 4 ms
/// clamp); else a zero-delay timer. Not `scheduler.yield()`: its continuations are prioritised
/// over other tasks, which starved timers and delayed frames to ~100 ms in `bench:handlers`.
async fn yield_to_page() {
    let global = js_sys::global();
    let scheduler = Reflect::get(&global, &JsValue::from_str("scheduler")).unwrap_or(JsValue::UNDEFINED);
    if !scheduler.is_undefined() {
        if let Ok(f) = Reflect::get(&scheduler, &JsValue::from_str("postTask")) {
            if let Some(f) = f.dyn_ref::<Function>() {
                // `Function.prototype` is a callable no-op: no closure to allocate, no eval.
                let noop = Reflect::get(&global, &"Function".into())
                    .and_then(|c| Reflect::get(&c, &"prototype".into()))
                    .unwrap_or(JsValue::UNDEFINED);
                if let Ok(p) = f.call1(&scheduler, &noop) {
                    if let Ok(p) = p.dyn_into::<Promise>() {
                        let _ = JsFuture::from(p).await;
                        return;
                    }
                }
            }
        }
    }
    gloo_timers::future::TimeoutFuture::new(0).await;
}
