//! Timers and listeners that may be dropped anywhere — including from inside their own callback,
//! where freeing the closure that is running would be unsound. Dropping one cancels it at once
//! and frees its closure after the current event handler returns.

use gloo_timers::callback::{Interval, Timeout};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, AddEventListenerOptions};

/// Drops `value` after the current event handler returns.
pub(crate) fn defer_drop<T: 'static>(value: T) {
    wasm_bindgen_futures::spawn_local(async move { drop(value) });
}

/// A one-shot timer.
#[derive(Debug)]
pub(crate) struct Timer(Option<Timeout>);

/// The longest delay `setTimeout` keeps: a longer one (passed on as a negative 32-bit number)
/// would fire at once.
const MAX_DELAY_MS: u32 = i32::MAX as u32;

impl Timer {
    /// Calls `f` after `ms`. A delay beyond [`MAX_DELAY_MS`] (about 24.8 days) never fires: no
    /// page waits that long, and the browser would otherwise fire it at once.
    pub(crate) fn new(ms: u32, f: impl FnOnce() + 'static) -> Self {
        Timer((ms <= MAX_DELAY_MS).then(|| Timeout::new(ms, f)))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            // `cancel` clears the timeout and hands back the closure, which we free later.
            defer_drop(t.cancel());
        }
    }
}

/// A repeating timer.
#[derive(Debug)]
pub(crate) struct Repeat(Option<Interval>);

impl Repeat {
    pub(crate) fn new(ms: u32, f: impl FnMut() + 'static) -> Self {
        Repeat(Some(Interval::new(ms, f)))
    }
}

impl Drop for Repeat {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            defer_drop(t.cancel());
        }
    }
}

/// Listens for `abort` on the caller's `AbortSignal` for as long as the call lives; dropping it
/// removes the listener (no listener outlives its call).
#[derive(Debug)]
pub(crate) struct AbortWatch {
    signal: AbortSignal,
    listener: Option<Closure<dyn FnMut()>>,
}

impl AbortWatch {
    pub(crate) fn new(signal: AbortSignal, on_abort: impl FnOnce() + 'static) -> Self {
        let mut on_abort = Some(on_abort);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = on_abort.take() {
                f();
            }
        });
        let options = AddEventListenerOptions::new();
        options.set_once(true);
        let _ = signal.add_event_listener_with_callback_and_add_event_listener_options(
            "abort",
            listener.as_ref().unchecked_ref(),
            &options,
        );
        AbortWatch { signal, listener: Some(listener) }
    }
}

impl Drop for AbortWatch {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self.signal.remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
            defer_drop(listener);
        }
    }
}
