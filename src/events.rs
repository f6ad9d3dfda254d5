//! Bridge events (`service_state_changed`, `health_check_result`, …): listeners registered with
//! `bridge.on(name, listener)` receive `{ type: 'event', event, data }`, the shape the protocol
//! uses. Listeners are called after the emitter has released its state, so they may call back
//! into the bridge; one that throws is reported and does not stop the others.

use std::cell::RefCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::JsValue;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct EventHub {
    listeners: RefCell<Vec<(String, Function)>>,
}

impl EventHub {
    pub(crate) fn on(&self, event: &str, listener: Function) {
        self.listeners.borrow_mut().push((event.to_owned(), listener));
    }

    /// Removes `listener` from `event` (the first registration of it).
    pub(crate) fn off(&self, event: &str, listener: &Function) {
        let mut listeners = self.listeners.borrow_mut();
        if let Some(i) = listeners.iter().position(|(e, f)| e == event && Object::is(f, listener)) {
            listeners.remove(i);
        }
    }

    pub(crate) fn emit(&self, event: &str, data: &JsValue) {
        let targets: Vec<Function> =
            self.listeners.borrow().iter().filter(|(e, _)| e == event).map(|(_, f)| f.clone()).collect();
        if targets.is_empty() {
            return;
        }
        let envelope = Object::new();
        let _ = Reflect::set(&envelope, &"type".into(), &"event".into());
        let _ = Reflect::set(&envelope, &"event".into(), &event.into());
        let _ = Reflect::set(&envelope, &"data".into(), data);
        for f in targets {
            if let Err(e) = f.call1(&JsValue::UNDEFINED, &envelope) {
                web_sys::console::error_2(&format!("worker-bridge: a '{event}' listener threw").into(), &e);
            }
        }
    }
}
