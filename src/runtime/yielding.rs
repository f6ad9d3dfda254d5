//! Giving the event loop a turn between slices of work — on the main thread, and in a pool worker
//! that lets `Cancel` messages in — and the page's slices themselves ([`Slices`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageChannel, MessagePort};

/// Gives the event loop a turn: the rest of the call continues in a new ordinary task, queued
/// behind timers, input and rendering on the page (in a worker, behind its messages).
/// `scheduler.postTask` where the browser has it; else a message this thread posts itself
/// ([`Channel`]); a zero-delay timer only where neither works. Never a bare timer where
/// avoidable: from the fifth nested one the browser clamps it to 4 ms, which a long op's turns
/// would each pay. Not `scheduler.yield()`: its continuations are prioritised over other tasks,
/// which starved timers and delayed frames to ~100 ms in `bench:handlers`.
pub(crate) async fn yield_to_event_loop() {
    let posted = POST_TASK.with(|p| p.as_ref().and_then(|(f, scheduler, noop)| f.call1(scheduler, noop).ok()));
    let turn = posted.and_then(|p| p.dyn_into::<Promise>().ok()).or_else(channel_turn);
    match turn {
        Some(p) => {
            let _ = JsFuture::from(p).await;
        }
        None => gloo_timers::future::TimeoutFuture::new(0).await,
    }
}

/// One turn through this thread's [`Channel`]: a promise that resolves in a task of its own.
/// `None` where `MessageChannel` is missing or the post failed.
pub(crate) fn channel_turn() -> Option<Promise> {
    CHANNEL.with(|c| c.as_ref().and_then(Channel::turn))
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

    /// Made at the first turn that needs it; lives as long as the thread.
    static CHANNEL: Option<Channel> = Channel::new();
}

/// A `MessageChannel` whose one end posts the other a message per turn, for browsers without
/// `scheduler.postTask` (Safari): its task is an ordinary one, queued behind the thread's
/// earlier messages (a pool worker's `Cancel`) and beside its timers, and it is never clamped.
/// Measured in a worker working 16 ms between turns: WebKitGTK 2.50, a zero-delay timer
/// 3.3 ms per turn (83% of the time working), this channel 0.03–0.05 ms (99.8%).
struct Channel {
    /// The end turns are posted on.
    post: MessagePort,
    /// The end they arrive at, whose handler resolves the oldest waiting turn.
    _receive: MessagePort,
    /// Each waiting turn's `resolve`, oldest first (messages arrive in order).
    waiting: Rc<RefCell<VecDeque<Function>>>,
    _on_message: Closure<dyn FnMut()>,
}

impl Channel {
    fn new() -> Option<Channel> {
        let channel = MessageChannel::new().ok()?;
        let waiting: Rc<RefCell<VecDeque<Function>>> = Rc::default();
        let queue = waiting.clone();
        let on_message = Closure::<dyn FnMut()>::new(move || {
            let next = queue.borrow_mut().pop_front();
            if let Some(resolve) = next {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
        });
        let receive = channel.port1();
        receive.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Channel { post: channel.port2(), _receive: receive, waiting, _on_message: on_message })
    }

    fn turn(&self) -> Option<Promise> {
        let mut resolver = None;
        let promise = Promise::new(&mut |resolve, _| resolver = Some(resolve));
        self.waiting.borrow_mut().push_back(resolver?);
        if self.post.post_message(&JsValue::NULL).is_err() {
            self.waiting.borrow_mut().pop_back();
            return None;
        }
        Some(promise)
    }
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
