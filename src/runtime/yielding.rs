//! Giving the page's event loop a turn between slices of work on the main thread.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Gives the event loop a turn: the rest of the call continues in a new ordinary task, queued
/// behind timers, input and rendering. `scheduler.postTask` where the browser has it (no 4 ms
/// clamp); else a zero-delay timer. Not `scheduler.yield()`: its continuations are prioritised
/// over other tasks, which starved timers and delayed frames to ~100 ms in `bench:handlers`.
pub(crate) async fn yield_to_page() {
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
