//! The main-thread executor: the same ops, run in time slices that yield back to the page so it
//! stays responsive. Calls run one at a time in queue order (priority, deadline, arrival), as
//! they would on a one-worker pool, with the same contract: timeouts, cancellation, progress.
//! Calls over streams run at once, beside the queue, as in a worker: they wait on their streams'
//! other ends, which may be calls queued behind them.
//!
//! Shared fate: a call here shares the page's thread. Slicing keeps input handling and painting
//! alive, but a single step still blocks for its duration (a 64 KiB step: a few ms even for
//! AES-GCM in wasm), and a timeout can only be noticed between steps.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;

use crate::call::progress::{ProgressSink, SharedSink};
use crate::call::{terminated, timed_out, Counters, Pending, Stop};
use crate::driver::{self, Flags, Outcome, PagePace};
use crate::error::Error;
use crate::io::copy;
use crate::io::network::result_object;
use crate::io::source::Input;
use crate::ops::{NoProgress, Progress};
use crate::protocol::RequestId;
use crate::runtime::cancel::LocalCancel;
use crate::runtime::timer::Timer;
use crate::runtime::yielding::yield_to_event_loop;
use crate::runtime::FrameTicker;
use crate::scheduler::Queue;
use crate::status::{Mode, Status};

#[derive(Debug)]
struct State {
    queue: Queue<Pending>,
    /// The call being run and its cancel flag.
    current: Option<(RequestId, Rc<LocalCancel>, Option<SharedSink>)>,
    /// Calls over streams running beside the queue, and theirs.
    beside: Vec<(RequestId, Rc<LocalCancel>, Option<SharedSink>)>,
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
            beside: Vec::new(),
            draining: false,
            tasks_done: 0,
            terminated: false,
            cross_origin_isolated: crate::shared::cross_origin_isolated(),
            fallback_reason,
        }));
        let weak: Weak<RefCell<State>> = Rc::downgrade(&state);
        let ticker = Rc::new(FrameTicker::new(move || {
            let Some(state) = weak.upgrade() else { return false };
            let sinks: Vec<SharedSink> = {
                let st = state.borrow();
                st.current.iter().chain(&st.beside).filter_map(|(_, _, sink)| sink.clone()).collect()
            };
            let mut wanted = false;
            for sink in sinks.iter().filter(|sink| sink.borrow().has_callback()) {
                ProgressSink::flush(sink);
                wanted = true;
            }
            wanted
        }));
        Inline { state, counters, ticker }
    }

    pub(crate) fn submit(&self, pending: Pending) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        if st.terminated {
            return Err(terminated());
        }
        if pending.is_streamed() {
            drop(st);
            self.counters.submitted();
            self.run_beside(pending);
            return Ok(());
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

    /// Stops call `id` for `why`: a queued call is removed and settles with `why`'s error now;
    /// an aborted running call stops at its next step. A running call is spared by its deadline
    /// (it started in time), and its end-to-end limit is watched by its pace, which counts from
    /// submission.
    pub(crate) fn stop(&self, id: RequestId, why: Stop) {
        let mut st = self.state.borrow_mut();
        if let Some(pending) = st.queue.remove(id) {
            drop(st);
            pending.settle(Err(why.error()), &self.counters);
            return;
        }
        if let Some((current, flag, _)) = &st.current {
            if *current == id && why == Stop::Abort {
                flag.cancel();
            }
        }
        if let Some((_, flag, _)) = st.beside.iter().find(|(beside, _, _)| *beside == id) {
            if why != Stop::Deadline {
                flag.cancel();
            }
        }
    }

    /// Runs a call over streams now, beside the queue (see the module docs).
    fn run_beside(&self, pending: Pending) {
        let flag = Rc::new(LocalCancel::default());
        self.state.borrow_mut().beside.push((pending.id, flag.clone(), pending.progress.clone()));
        if pending.progress.as_ref().is_some_and(|s| s.borrow().has_callback()) {
            self.ticker.wake();
        }
        let inline = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = run_sliced(&inline, &pending, &flag).await;
            let mut st = inline.state.borrow_mut();
            st.beside.retain(|(id, _, _)| *id != pending.id);
            st.tasks_done += 1;
            drop(st);
            pending.settle(result, &inline.counters);
        });
    }

    pub(crate) fn status(&self) -> Status {
        let st = self.state.borrow();
        Status {
            mode: if st.terminated { Mode::Terminated } else { Mode::MainThread },
            build: crate::runtime::threads::BUILD,
            simd: crate::runtime::threads::SIMD,
            threads: 1,
            cross_origin_isolated: st.cross_origin_isolated,
            workers: Vec::new(),
            queued: st.queue.len() as u32,
            main_thread_tasks_done: st.tasks_done,
            fallback_reason: st.fallback_reason.clone(),
            counters: self.counters.snapshot(),
            engines: None,
        }
    }

    pub(crate) fn terminate(&self) {
        let drained = {
            let mut st = self.state.borrow_mut();
            st.terminated = true;
            // The running call stops at its next step; a fetch is aborted now.
            for (_, flag, _) in st.current.iter().chain(&st.beside) {
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

    /// Why [`submit`](Self::submit) would refuse a call that is not streamed now, if it would.
    pub(crate) fn refusal(&self) -> Option<Error> {
        let st = self.state.borrow();
        if st.terminated {
            return Some(terminated());
        }
        st.queue.refusal()
    }

    /// Takes over calls a pool accepted but can no longer run (its workers kept failing).
    pub(crate) fn adopt(&self, calls: Vec<Pending>) {
        let mut st = self.state.borrow_mut();
        let mut beside = Vec::new();
        for pending in calls {
            if pending.is_streamed() {
                beside.push(pending);
                continue;
            }
            let (id, priority, deadline) = (pending.id, pending.task.priority, pending.task.deadline);
            st.queue.push_accepted(id, pending, priority, deadline);
        }
        if !st.draining && !st.queue.is_empty() {
            st.draining = true;
            wasm_bindgen_futures::spawn_local(drain(self.clone()));
        }
        drop(st);
        for pending in beside {
            self.run_beside(pending);
        }
    }
}

/// Runs queued calls until the queue is empty.
async fn drain(inline: Inline) {
    loop {
        // Let the caller's code after `submit` run before the first slice.
        yield_to_event_loop().await;
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
            if let Some(why) = pending.expired(js_sys::Date::now()) {
                drop(st);
                pending.settle(Err(why.error()), &inline.counters);
                continue;
            }
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
fn flag_handle(inline: &Inline, id: RequestId) -> Weak<LocalCancel> {
    let st = inline.state.borrow();
    match st.current.iter().chain(&st.beside).find(|(current, _, _)| *current == id) {
        Some((_, flag, _)) => Rc::downgrade(flag),
        None => Weak::new(),
    }
}

/// Writes progress into the call's block for the ticker to pick up.
struct BlockProgress<'a>(&'a SharedSink, usize);

impl Progress for BlockProgress<'_> {
    fn report(&mut self, done: u64, total: u64) {
        self.0.borrow().block(self.1).write(done, total);
    }
}

/// Runs the call through the driver in the page's pace: slices of at most `SLICE_MS`, yielding
/// between them, watching for cancellation, the call's time limit and termination.
async fn run_sliced(inline: &Inline, pending: &Pending, flag: &LocalCancel) -> Result<JsValue, Error> {
    let mut silent = NoProgress;
    let mut block_progress = pending.progress.as_ref().map(|sink| BlockProgress(sink, pending.progress_part));
    let progress: &mut dyn Progress = match block_progress.as_mut() {
        Some(p) => p,
        None => &mut silent,
    };
    let flags = Flags { local: flag, shared: pending.cancel.as_ref() };
    let is_terminated = || inline.state.borrow().terminated;
    let task = &pending.task;
    // A fetch, or a job WebCrypto runs whole, is not stepped, so the pace cannot watch its time
    // limit: a timer raises the call's flag (which aborts a fetch at once, and fails a WebCrypto
    // job as it ends) and the error is named for why.
    let expired = Rc::new(Cell::new(false));
    let now = js_sys::Date::now();
    let limit = task.timeout_ms.map(|ms| (ms, task.clock_start(now)));
    let _timer = limit.map(|(ms, since)| {
        let (expired, flag) = (expired.clone(), flag_handle(inline, pending.id));
        let left = (f64::from(ms) - (now - since)).max(0.0) as u32;
        Timer::new(left, move || {
            expired.set(true);
            if let Some(flag) = flag.upgrade() {
                flag.cancel();
            }
        })
    });
    let mut pace = PagePace::new(flags, &is_terminated, limit);
    let outcome = driver::run(&task.op, &task.input, task.output, task.sink.as_ref(), task.engine, &mut pace, progress);
    let outcome = outcome.await;
    // The input's buffer, done with, serves a later copy (`io::copy`), as a worker's comes back.
    if let Input::Bytes(input) = &task.input {
        let output = match &outcome {
            Ok(Outcome::Body(body)) => Some(body),
            _ => None,
        };
        if let Some(buffer) = copy::spare_of(input, output).filter(copy::is_copy) {
            copy::keep_spare(buffer);
        }
    }
    match outcome {
        Ok(Outcome::Body(body)) => Ok(body),
        Ok(Outcome::Http(meta, body)) => Ok(result_object(&meta, &body)),
        Ok(Outcome::Value(value, _)) => Ok(value),
        Err(_) if expired.get() => Err(timed_out(task.timeout_ms.unwrap_or(0))),
        Err(_) if is_terminated() => Err(terminated()),
        Err(e) => Err(e),
    }
}
