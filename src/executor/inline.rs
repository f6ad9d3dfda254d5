//! The main-thread executor: the same ops, run in time slices that yield back to the page so it
//! stays responsive. Calls run one at a time in queue order (priority, deadline, arrival), as
//! they would on a one-worker pool.
//!
//! Shared fate: a call here shares the page's thread. Slicing keeps input handling and painting
//! alive, but a slice still blocks for up to [`SLICE_MS`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{terminated, Pending};
use crate::error::Error;
use crate::ops::{ChunkSource, Job};
use crate::protocol::RequestId;
use crate::scheduler::Queue;
use crate::source::JsBytesSource;
use crate::status::{Mode, Status};

/// Longest stretch of work between two yields: half a 60 Hz frame.
const SLICE_MS: f64 = 8.0;
/// Chunk size on the main thread: small enough to check the clock often.
const INLINE_CHUNK: usize = 256 * 1024;

#[derive(Debug)]
struct State {
    queue: Queue<Pending>,
    draining: bool,
    tasks_done: u32,
    terminated: bool,
}

/// Runs tasks on the main thread.
#[derive(Debug, Clone)]
pub(crate) struct Inline {
    state: Rc<RefCell<State>>,
}

impl Inline {
    pub(crate) fn new(max_queue: usize) -> Self {
        Inline {
            state: Rc::new(RefCell::new(State {
                queue: Queue::new(max_queue),
                draining: false,
                tasks_done: 0,
                terminated: false,
            })),
        }
    }

    pub(crate) fn submit(&self, pending: Pending) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        if st.terminated {
            return Err(terminated());
        }
        let priority = pending.task.priority;
        st.queue.push(RequestId::random(), pending, priority, None)?;
        if !st.draining {
            st.draining = true;
            wasm_bindgen_futures::spawn_local(drain(self.state.clone()));
        }
        Ok(())
    }

    pub(crate) fn status(&self, cross_origin_isolated: bool) -> Status {
        let st = self.state.borrow();
        Status {
            mode: if st.terminated { Mode::Terminated } else { Mode::MainThread },
            cross_origin_isolated,
            workers: Vec::new(),
            queued: st.queue.len() as u32,
            main_thread_tasks_done: st.tasks_done,
            fallback_reason: None,
        }
    }

    pub(crate) fn terminate(&self) {
        let drained = {
            let mut st = self.state.borrow_mut();
            st.terminated = true;
            st.queue.drain()
        };
        for (_, pending) in drained {
            let _ = pending.reply.send(Err(terminated()));
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state.borrow().terminated
    }
}

/// Runs queued tasks until the queue is empty.
async fn drain(state: Rc<RefCell<State>>) {
    loop {
        let next = {
            let mut st = state.borrow_mut();
            match st.queue.pop() {
                Some((_, pending)) => pending,
                None => {
                    st.draining = false;
                    return;
                }
            }
        };
        // Let the caller's code after `submit` run before the first slice.
        yield_to_page().await;
        let result = run_sliced(&state, next.task.op.start(), next.task.input).await;
        let mut st = state.borrow_mut();
        st.tasks_done += 1;
        drop(st);
        let _ = next.reply.send(result);
    }
}

/// Feeds the job in slices of at most [`SLICE_MS`], yielding between them.
async fn run_sliced(
    state: &Rc<RefCell<State>>,
    job: Result<Box<dyn Job>, Error>,
    input: js_sys::Uint8Array,
) -> Result<js_sys::Uint8Array, Error> {
    let mut job = job?;
    let mut source = JsBytesSource::new(input, INLINE_CHUNK);
    let mut buf = Vec::new();
    let mut slice_start = js_sys::Date::now();
    loop {
        if state.borrow().terminated {
            return Err(terminated());
        }
        if !source.next_chunk(&mut buf)? {
            break;
        }
        job.update(&buf)?;
        if js_sys::Date::now() - slice_start >= SLICE_MS {
            yield_to_page().await;
            slice_start = js_sys::Date::now();
        }
    }
    let out = job.finish()?;
    Ok(js_sys::Uint8Array::from(out.as_slice()))
}

/// Gives the event loop a turn: `scheduler.yield()` where the browser has it (no 4 ms clamp,
/// keeps our priority), else a zero-delay timer.
async fn yield_to_page() {
    let global = js_sys::global();
    let scheduler = Reflect::get(&global, &JsValue::from_str("scheduler")).unwrap_or(JsValue::UNDEFINED);
    if !scheduler.is_undefined() {
        if let Ok(f) = Reflect::get(&scheduler, &JsValue::from_str("yield")) {
            if let Some(f) = f.dyn_ref::<Function>() {
                if let Ok(p) = f.call0(&scheduler) {
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
