//! Bridge events (`service_state_changed`, `health_check_result`, …): listeners registered with
//! `bridge.on(name, listener)` receive `{ type: 'event', event, data }`, the shape the protocol
//! uses. Listeners are called after the emitter has released its state, so they may call back
//! into the bridge; one that throws is reported and does not stop the others.

use std::cell::RefCell;

use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::Error;

/// Every event the bridge emits.
pub(crate) const EVENTS: &[&str] =
    &["service_state_changed", "health_check_result", "worker_state_changed", "registry_loaded"];

/// Checks that every name is one of [`EVENTS`].
pub(crate) fn known(names: &[String]) -> Result<(), Error> {
    match names.iter().find(|n| !EVENTS.contains(&n.as_str())) {
        Some(n) => Err(Error::validation(format!("unknown event {n:?} (expected one of {EVENTS:?})"))),
        None => Ok(()),
    }
}

#[wasm_bindgen(module = "/worker/subscription.js")]
extern "C" {
    #[wasm_bindgen(js_name = unsubscribeFunction)]
    fn unsubscribe_function(subscription: Subscription) -> Function;
}

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

    /// Whether anyone listens to `event` (lets emitters skip building the data).
    pub(crate) fn has_listeners(&self, event: &str) -> bool {
        self.listeners.borrow().iter().any(|(e, _)| e == event)
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

/// One listener on several events, until cancelled (what `bridge.subscribe` hands out, as a
/// function). Dropping it does not unsubscribe: only calling the function does.
#[doc(hidden)]
#[wasm_bindgen]
#[derive(Debug)]
pub struct Subscription {
    hub: Rc<EventHub>,
    names: Vec<String>,
    listener: Option<Function>,
}

#[wasm_bindgen]
impl Subscription {
    /// Removes the listener from every event it was added to; later calls do nothing.
    pub fn cancel(&mut self) {
        if let Some(listener) = self.listener.take() {
            for name in &self.names {
                self.hub.off(name, &listener);
            }
        }
    }
}

/// Adds `listener` to every event in `names` and returns the function that removes it.
pub(crate) fn subscribe(hub: &Rc<EventHub>, names: Vec<String>, listener: Function) -> Result<Function, Error> {
    known(&names)?;
    for name in &names {
        hub.on(name, listener.clone());
    }
    Ok(unsubscribe_function(Subscription { hub: hub.clone(), names, listener: Some(listener) }))
}
