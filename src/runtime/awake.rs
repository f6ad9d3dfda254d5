//! Busy polling (`worker/awake.js`): the thread polls its event loop while a message is due,
//! instead of sleeping — the page while pool calls are out, a pool worker between calls — for a
//! window that adapts to how long the waits turn out to be, and only while few messages are due
//! (with many, they come back to back).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/worker/awake.js")]
extern "C" {
    /// One thread's busy polling: `idle()` when it starts waiting, `woke()` when a message came.
    #[wasm_bindgen(js_name = Awake)]
    #[derive(Debug)]
    pub(crate) type Awake;
    /// Polling at most `max_us` at a time (0: never).
    #[wasm_bindgen(constructor, js_class = "Awake")]
    pub(crate) fn new(max_us: u32) -> Awake;
    /// The thread waits for `due` messages from `senders` threads: poll for the window if
    /// some are due but no more than one a sender (`worker/awake.js` says why).
    #[wasm_bindgen(method)]
    pub(crate) fn idle(this: &Awake, due: u32, senders: u32);
    /// A message came: stop polling, and let the window learn how long the wait was.
    #[wasm_bindgen(method)]
    pub(crate) fn woke(this: &Awake);
    /// For good: the bridge is gone.
    #[wasm_bindgen(method)]
    pub(crate) fn stop(this: &Awake);
    /// Turns polled so far (tests).
    #[cfg(feature = "test-ops")]
    #[wasm_bindgen(method, getter)]
    pub(crate) fn turns(this: &Awake) -> f64;
    /// Whether a turn is queued (tests).
    #[cfg(feature = "test-ops")]
    #[wasm_bindgen(method, getter)]
    pub(crate) fn running(this: &Awake) -> bool;
}
