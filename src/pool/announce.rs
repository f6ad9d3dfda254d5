//! What the pool tells the page — a worker's state change, a console message — is sent after
//! the current handler returns: the pool's state is borrowed where these happen, and a listener
//! or an app's console hook may call back into the bridge (e.g. `status()`).

use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use worker_bridge_core::pool::SlotState;

use crate::events::EventHub;

/// Announces a pool worker's move as `worker_state_changed { kind: 'pool', worker, from, to,
/// reason? }`, after the pool's state is released (a listener may call back into the bridge).
pub(super) fn worker_state_changed(
    events: &Rc<EventHub>,
    worker: u32,
    from: &str,
    to: SlotState,
    reason: Option<&str>,
) {
    if !events.has_listeners("worker_state_changed") {
        return;
    }
    let data = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&data, &k.into(), &v);
    };
    set("kind", "pool".into());
    set("worker", worker.into());
    set("from", from.into());
    set("to", to.as_str().into());
    if let Some(reason) = reason {
        set("reason", reason.into());
    }
    let events = events.clone();
    wasm_bindgen_futures::spawn_local(async move { events.emit("worker_state_changed", &data) });
}

/// Logs to the console after the current handler returns: the pool's state is borrowed here,
/// and an app's console hook may call back into the bridge (e.g. `status()`).
pub(super) fn log_later(error: bool, message: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let message = JsValue::from(message);
        if error {
            web_sys::console::error_1(&message);
        } else {
            web_sys::console::warn_1(&message);
        }
    });
}
