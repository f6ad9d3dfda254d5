//! Giving the event loop a turn between slices of work — on the main thread, and in a pool worker
//! that lets `Cancel` messages in — and the page's slices themselves ([`Slices`]).

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Gives the event loop a turn: the rest of the call continues in a new ordinary task, queued
/// behind timers, input and rendering on the page (in a worker, behind its messages).
/// `scheduler.postTask` where the browser has it (no 4 ms clamp, which a long op's nested turns
/// would each pay); else a zero-delay timer. Not `scheduler.yield()`: its continuations are
/// prioritised over other tasks, which starved timers and delayed frames to ~100 ms in
/// `bench:handlers`.
pub(crate) async fn yield_to_event_loop() {
    let posted = POST_TASK.with(|p| p.as_ref().and_then(|(f, scheduler, noop)| f.call1(scheduler, noop).ok()));
    match posted.and_then(|p| p.dyn_into::<Promise>().ok()) {
        Some(p) => {
            let _ = JsFuture::from(p).await;
        }
        None => gloo_timers::future::TimeoutFuture::new(0).await,
    }
}

thread_local! {
    /// `scheduler.postTask`, the scheduler, and the callback it is given, looked up once: the
    /// lookups by name cost more than the call. `Function.prototype` is a callable no-op: no
    /// closure to allocate, no eval.
    static POST_TASK: Option<(Function, JsValue, JsValue)> = {
        let global = js_sys::global();
        let scheduler = Reflect::get(&global, &JsValue::from_str("scheduler")).unwrap_or(JsValue::UNDEFINED);
        let post_task = (!scheduler.is_undefined())
            .then(|| Reflect::get(&scheduler, &JsValue::from_str("postTask")).ok())
            .flatten()
            .and_then(|f| f.dyn_into::<Function>().ok());
        let noop = Reflect::get(&global, &"Function".into())
            .and_then(|c| Reflect::get(&c, &"prototype".into()))
            .unwrap_or(JsValue::UNDEFINED);
        post_task.map(|f| (f, scheduler, noop))
    };
}

/// Longest stretch of work on the page between two yields: half a 60 Hz frame, so the page can
/// still paint and handle input every frame.
pub(crate) const SLICE_MS: f64 = 8.0;

/// Work on the page cut into slices of at most [`SLICE_MS`]: do a bounded piece of work, then
/// [`pace`](Self::pace), which yields to the page once the current slice has used its time.
/// Every piece must itself be well under a slice (a copy of 1 MiB, a step over 64 KiB).
#[derive(Debug)]
pub(crate) struct Slices {
    start: f64,
}

impl Default for Slices {
    fn default() -> Self {
        Slices { start: now_ms() }
    }
}

impl Slices {
    /// Yields to the page if this slice is used up (the next slice starts after the yield);
    /// true if it did.
    pub(crate) async fn pace(&mut self) -> bool {
        if now_ms() - self.start < SLICE_MS {
            return false;
        }
        yield_to_event_loop().await;
        self.restart();
        true
    }

    /// Starts a fresh slice (after an await that gave the page its turn anyway).
    pub(crate) fn restart(&mut self) {
        self.start = now_ms();
    }
}

/// The page's clock, in milliseconds (the driver's too).
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}
