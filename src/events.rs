//! Bridge events (`service_state_changed`, `health_check_result`, …): listeners registered with
//! `bridge.on(name, listener)` receive `{ type: 'event', event, data }`, the shape the protocol
//! uses. Listeners are called after the emitter has released its state, so they may call back
//! into the bridge; one that throws is reported and does not stop the others.
//!
//! The listeners of an event are a set: adding the same function again does nothing (so a remote
//! peer repeating `subscribe` through `services.handle` cannot grow the list), and an event takes
//! at most [`MAX_LISTENERS_PER_EVENT`](crate::defaults::MAX_LISTENERS_PER_EVENT) of them.

use std::cell::RefCell;

use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::defaults::MAX_LISTENERS_PER_EVENT;
use crate::error::{Error, ErrorKind};

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
    /// Adds `listener` to `event`, unless it is there already.
    ///
    /// # Errors
    /// `LimitExceededError` if `event` has [`MAX_LISTENERS_PER_EVENT`] listeners already.
    pub(crate) fn on(&self, event: &str, listener: Function) -> Result<(), Error> {
        self.on_all(std::slice::from_ref(&event.to_owned()), &listener)
    }

    /// Adds `listener` to every event in `events` where it is not yet, all or nothing.
    ///
    /// # Errors
    /// `LimitExceededError` if one of them has [`MAX_LISTENERS_PER_EVENT`] listeners already
    /// (nothing is added then).
    pub(crate) fn on_all(&self, events: &[String], listener: &Function) -> Result<(), Error> {
        let mut listeners = self.listeners.borrow_mut();
        let mut new = Vec::new();
        for event in events {
            let mut current = listeners.iter().filter(|(e, _)| e == event).map(|(_, f)| f);
            let count = current.clone().count();
            if current.any(|f| Object::is(f, listener)) || new.contains(&event) {
                continue;
            }
            if count >= MAX_LISTENERS_PER_EVENT {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "'{event}' has {MAX_LISTENERS_PER_EVENT} listeners, the most it takes (remove some with off or \
                         unsubscribe)"
                    ),
                ));
            }
            new.push(event);
        }
        for event in new {
            listeners.push((event.clone(), listener.clone()));
        }
        Ok(())
    }

    /// Removes `listener` from `event`.
    pub(crate) fn off(&self, event: &str, listener: &Function) {
        let mut listeners = self.listeners.borrow_mut();
        if let Some(i) = listeners.iter().position(|(e, f)| e == event && Object::is(f, listener)) {
            listeners.remove(i);
        }
    }

    /// Whether `listener` listens to `event`.
    pub(crate) fn listens(&self, event: &str, listener: &Function) -> bool {
        self.listeners.borrow().iter().any(|(e, f)| e == event && Object::is(f, listener))
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
        let envelope = envelope(event, data);
        for f in targets {
            call(&f, event, &envelope);
        }
    }
}

/// `{ type: 'event', event, data }`.
fn envelope(event: &str, data: &JsValue) -> Object {
    let envelope = Object::new();
    let _ = Reflect::set(&envelope, &"type".into(), &"event".into());
    let _ = Reflect::set(&envelope, &"event".into(), &event.into());
    let _ = Reflect::set(&envelope, &"data".into(), data);
    envelope
}

fn call(listener: &Function, event: &str, envelope: &Object) {
    if let Err(e) = listener.call1(&JsValue::UNDEFINED, envelope) {
        web_sys::console::error_2(&format!("worker-bridge: a '{event}' listener threw").into(), &e);
    }
}

/// Calls one listener with an event meant for it alone (the `registry_loaded` snapshot a new
/// subscriber gets). The caller must hold no borrow the listener could call back into.
pub(crate) fn deliver(listener: &Function, event: &str, data: &JsValue) {
    call(listener, event, &envelope(event, data));
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

/// Adds `listener` to every event in `names` (all or nothing) and returns the function that
/// removes it.
pub(crate) fn subscribe(hub: &Rc<EventHub>, names: Vec<String>, listener: Function) -> Result<Function, Error> {
    known(&names)?;
    hub.on_all(&names, &listener)?;
    Ok(unsubscribe_function(Subscription { hub: hub.clone(), names, listener: Some(listener) }))
}
