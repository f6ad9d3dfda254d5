//! A thread that polls its event loop while a message is due soon (`worker/awake.js`), for as
//! long as its window says (`worker_bridge_core::busy_poll`): the page while a pool call is out,
//! a pool worker between calls.

use wasm_bindgen::prelude::*;
use worker_bridge_core::busy_poll::BusyPoll;

#[wasm_bindgen(module = "/worker/awake.js")]
extern "C" {
    /// Keeps the thread's event loop turning until a time, or until stopped.
    #[wasm_bindgen(js_name = Awake)]
    #[derive(Debug)]
    type Poller;
    #[wasm_bindgen(constructor, js_class = "Awake")]
    fn new() -> Poller;
    #[wasm_bindgen(method)]
    fn keep(this: &Poller, us: f64);
    #[wasm_bindgen(method)]
    fn stop(this: &Poller);
    #[wasm_bindgen(method, getter)]
    fn turns(this: &Poller) -> f64;
    #[wasm_bindgen(method, getter)]
    fn running(this: &Poller) -> bool;
    /// `performance.now()`: the window is µs, which `Date.now()` cannot see.
    fn now() -> f64;
}

/// One thread's busy polling: [`idle`](Self::idle) when it starts waiting for a message,
/// [`woke`](Self::woke) when one arrives.
#[derive(Debug)]
pub(crate) struct Awake {
    /// `None` when polling is off (`busyPollUs: 0`).
    poller: Option<Poller>,
    window: BusyPoll,
}

impl Awake {
    /// Polling at most `max_us` at a time (0: never).
    pub(crate) fn new(max_us: u32) -> Awake {
        Awake { poller: (max_us > 0).then(Poller::new), window: BusyPoll::new(max_us) }
    }

    /// The thread waits for a message now: poll for the window.
    pub(crate) fn idle(&mut self) {
        if let Some(poller) = &self.poller {
            poller.keep(self.window.idle(now()));
        }
    }

    /// A message arrived: stop polling, and let the window learn how long it took.
    pub(crate) fn woke(&mut self) {
        if let Some(poller) = &self.poller {
            self.window.event(now());
            poller.stop();
        }
    }

    /// Stops polling (nothing is due any more).
    pub(crate) fn stop(&self) {
        if let Some(poller) = &self.poller {
            poller.stop();
        }
    }

    /// Turns polled so far, and whether it polls now (tests).
    #[cfg(feature = "test-ops")]
    pub(crate) fn probe(&self) -> (f64, bool) {
        self.poller.as_ref().map_or((0.0, false), |p| (p.turns(), p.running()))
    }
}
