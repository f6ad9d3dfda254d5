//! Rust services by name: the table of [`Service`] factories ([`register_service`], plus the
//! built-in `kv`), and the object a service host drives (`worker/service-host.js`). The host
//! instantiates this wasm module for the service — in the service's own worker, or, for
//! main-thread placement, as a separate instance on the page, so a panic cannot poison the
//! bridge's own instance — and calls `__workerBridgeRustService(name)`, which returns an object
//! with the same `onStart` / `onMessage` / `onStop` / `health` (and `onSnapshot` / `onRestore`)
//! as a JavaScript handler module, plus `takeSends` / `onReply` for what the service sends other
//! services through its `Outbox`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use serde::de::DeserializeOwned;
use worker_bridge_core::services::{Config, Health, Instance, KvStore, Outgoing, Service, ServiceError, Ticket};

/// A service with its message types erased to JavaScript values.
trait Hosted {
    fn start(&mut self) -> Result<(), ServiceError>;
    fn message(&mut self, message: JsValue) -> Result<JsValue, ServiceError>;
    fn stop(&mut self) -> Result<(), ServiceError>;
    fn health(&self) -> Health;
    fn snapshot(&self) -> Result<String, ServiceError>;
    fn restore(&mut self, snapshot: &str) -> Result<(), ServiceError>;
    fn reply(&mut self, ticket: Ticket, reply: Result<serde_json::Value, ServiceError>);
    fn take_sends(&mut self) -> Vec<Outgoing>;
}

impl<S: Service> Hosted for Instance<S> {
    fn start(&mut self) -> Result<(), ServiceError> {
        Instance::start(self)
    }

    fn message(&mut self, message: JsValue) -> Result<JsValue, ServiceError> {
        let message = serde_wasm_bindgen::from_value(message)
            .map_err(|e| ServiceError::invalid(format!("the service cannot read this message: {e}")))?;
        let reply = Instance::message(self, message)?;
        to_js(&reply).map_err(|e| ServiceError::invalid(format!("the service's reply cannot be sent: {e}")))
    }

    fn stop(&mut self) -> Result<(), ServiceError> {
        Instance::stop(self)
    }

    fn health(&self) -> Health {
        Instance::health(self)
    }

    fn snapshot(&self) -> Result<String, ServiceError> {
        Instance::snapshot(self).map(|value| value.to_string())
    }

    fn restore(&mut self, snapshot: &str) -> Result<(), ServiceError> {
        let value = serde_json::from_str(snapshot)
            .map_err(|e| ServiceError::invalid(format!("the snapshot is not JSON: {e}")))?;
        Instance::restore(self, value)
    }

    fn reply(&mut self, ticket: Ticket, reply: Result<serde_json::Value, ServiceError>) {
        Instance::reply(self, ticket, reply);
    }

    fn take_sends(&mut self) -> Vec<Outgoing> {
        Instance::take_sends(self)
    }
}

/// `value` as JavaScript: maps become plain objects, missing values `null`.
fn to_js(value: &impl Serialize) -> Result<JsValue, serde_wasm_bindgen::Error> {
    value.serialize(
        &serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true).serialize_missing_as_null(true),
    )
}

/// Makes one hosted service from the config's JSON text (`None`: no config).
type Factory = Rc<dyn Fn(Option<&str>) -> Result<Box<dyn Hosted>, ServiceError>>;

thread_local! {
    static FACTORIES: RefCell<Vec<(String, Factory)>> = const { RefCell::new(Vec::new()) };
    /// Told the panic message just before a service's instance traps.
    static ON_PANIC: RefCell<Option<Function>> = const { RefCell::new(None) };
}

fn add_factory(name: &str, factory: Factory) {
    FACTORIES.with(|f| {
        let mut f = f.borrow_mut();
        f.retain(|(n, _)| n != name);
        f.push((name.to_owned(), factory));
    });
}

/// A factory that reads the config as `C` and makes the service from it.
fn configured<S: Service, C: DeserializeOwned>(make: impl Fn(C) -> S + 'static) -> Factory {
    Rc::new(move |json| Ok(Box::new(Instance::new(make(Config::parse(json)?))) as Box<dyn Hosted>))
}

/// Makes a Rust service available as `{ rust: name }` to `bridge.services.register`. Call it in
/// your crate's `#[wasm_bindgen(start)]` function, so that every instance of your module — the
/// page's, and the one each service runs in — knows the name. A later registration of the same
/// name replaces the earlier one. A service that takes settings registers with
/// [`register_configured_service`] instead.
///
/// ```no_run
/// # use worker_bridge::services::{register_service, KvStore};
/// register_service("settings", || KvStore);
/// ```
pub fn register_service<S: Service>(name: &str, make: impl Fn() -> S + 'static) {
    add_factory(name, Rc::new(move |_| Ok(Box::new(Instance::new(make())) as Box<dyn Hosted>)));
}

/// Like [`register_service`], for a service configured by the `config` of its registration
/// (`register(name, { rust: name }, { config })`, or a `services.load()` entry): `make` gets that
/// JSON deserialized into its own type `C` each time the service is created (no config reads as
/// `null`: use an `Option` or a `#[serde(default)]` type when the config is optional). A config
/// that does not fit `C` fails the start with `ValidationError`, saying why.
///
/// ```no_run
/// # use worker_bridge::services::{register_configured_service, KvStore};
/// #[derive(serde::Deserialize)]
/// struct Settings { capacity: usize }
///
/// register_configured_service("settings", |s: Settings| { let _ = s.capacity; KvStore });
/// ```
pub fn register_configured_service<S: Service, C: DeserializeOwned + 'static>(
    name: &str,
    make: impl Fn(C) -> S + 'static,
) {
    add_factory(name, configured(make));
}

fn factory(name: &str) -> Option<Factory> {
    let registered = FACTORIES.with(|f| f.borrow().iter().find(|(n, _)| n == name).map(|(_, f)| f.clone()));
    registered.or_else(|| builtin(name))
}

fn builtin(name: &str) -> Option<Factory> {
    match name {
        "kv" => Some(Rc::new(|_| Ok(Box::new(Instance::new(KvStore)) as Box<dyn Hosted>))),
        #[cfg(feature = "test-ops")]
        "test-counter" => Some(configured(worker_bridge_core::services::TestCounter::new)),
        _ => None,
    }
}

/// Whether this instance knows a Rust service called `name`.
pub(crate) fn is_known(name: &str) -> bool {
    factory(name).is_some()
}

fn js_error(e: ServiceError) -> JsValue {
    let error = js_sys::Error::new(&e.message);
    error.set_name(&e.name);
    error.into()
}

/// What a call into a service's instance answers: `{ value }`, or `{ error }` for an error the
/// service returned. The methods below never throw, so the host can tell anything that escapes a
/// call — a trap, or an exception that unwound through the instance mid-call (V8 reports a stack
/// overflow as a `RangeError`) — for what it is: the instance failing, not the service's answer.
fn outcome(result: Result<JsValue, ServiceError>) -> JsValue {
    let out = Object::new();
    let _ = match result {
        Ok(value) => Reflect::set(&out, &"value".into(), &value),
        Err(e) => Reflect::set(&out, &"error".into(), &js_error(e)),
    };
    out.into()
}

/// One Rust service, as a service host sees it.
#[doc(hidden)]
#[wasm_bindgen(js_name = RustServiceInstance)]
pub struct RustServiceInstance {
    inner: Box<dyn Hosted>,
}

impl std::fmt::Debug for RustServiceInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustServiceInstance")
    }
}

#[wasm_bindgen(js_class = RustServiceInstance)]
impl RustServiceInstance {
    /// Starts with a fresh context: `{ value: undefined }` or `{ error }`.
    #[wasm_bindgen(js_name = onStart)]
    pub fn on_start(&mut self) -> JsValue {
        outcome(self.inner.start().map(|()| JsValue::UNDEFINED))
    }

    /// Handles one message: `{ value: reply }` or `{ error }`.
    #[wasm_bindgen(js_name = onMessage)]
    pub fn on_message(&mut self, message: JsValue) -> JsValue {
        outcome(self.inner.message(message))
    }

    /// Stops and drops the context: `{ value: undefined }` or `{ error }`.
    #[wasm_bindgen(js_name = onStop)]
    pub fn on_stop(&mut self) -> JsValue {
        outcome(self.inner.stop().map(|()| JsValue::UNDEFINED))
    }

    /// The context's snapshot: `{ value: jsonText }` or `{ error }`.
    #[wasm_bindgen(js_name = onSnapshot)]
    pub fn on_snapshot(&self) -> JsValue {
        outcome(self.inner.snapshot().map(JsValue::from))
    }

    /// Restores a snapshot (its JSON text): `{ value: undefined }` or `{ error }`.
    #[wasm_bindgen(js_name = onRestore)]
    pub fn on_restore(&mut self, snapshot: &str) -> JsValue {
        outcome(self.inner.restore(snapshot).map(|()| JsValue::UNDEFINED))
    }

    /// What the service's hooks sent since the last call (`Service::outbox`), in order, as
    /// `{ ticket, to, message, timeoutMs }`: the host sends them after every call.
    #[wasm_bindgen(js_name = takeSends)]
    pub fn take_sends(&mut self) -> Array {
        self.inner
            .take_sends()
            .into_iter()
            .map(|Outgoing { ticket, to, message, timeout_ms }| {
                let out = Object::new();
                // A ticket counts from 0 within one start: far below 2^53, exact as a number.
                let _ = Reflect::set(&out, &"ticket".into(), &(ticket.0 as f64).into());
                let _ = Reflect::set(&out, &"to".into(), &to.into());
                let _ = Reflect::set(&out, &"message".into(), &to_js(&message).unwrap_or(JsValue::NULL));
                if let Some(ms) = timeout_ms {
                    let _ = Reflect::set(&out, &"timeoutMs".into(), &ms.into());
                }
                JsValue::from(out)
            })
            .collect()
    }

    /// The reply to the send of `ticket`: its JSON text (what `JSON.stringify` made of it, as
    /// snapshots cross), or when there is none the error `name` and `message` it failed with.
    /// `{ value: undefined }`.
    #[wasm_bindgen(js_name = onReply)]
    pub fn on_reply(&mut self, ticket: f64, json: Option<String>, name: String, message: String) -> JsValue {
        let reply = match json {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| ServiceError::invalid(format!("the reply cannot be read as JSON: {e}"))),
            None => Err(ServiceError::new(name, message)),
        };
        self.inner.reply(Ticket(ticket as u64), reply);
        outcome(Ok(JsValue::UNDEFINED))
    }

    /// `{ healthy, detail }`.
    pub fn health(&self) -> JsValue {
        let Health { healthy, detail } = self.inner.health();
        let out = Object::new();
        let _ = Reflect::set(&out, &"healthy".into(), &healthy.into());
        let _ = Reflect::set(&out, &"detail".into(), &detail.into());
        out.into()
    }
}

/// Creates the Rust service `name` in this instance, from its config's JSON text (`None`: no
/// config); `on_panic(message)` is called if any
/// service of this instance panics, just before the instance traps. The host then fails every
/// service of the instance, and the next service created gets a fresh instance (wasm-bindgen's
/// glue refuses the objects of the dead one: "stale object").
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeRustService)]
pub fn rust_service(name: &str, config: Option<String>, on_panic: Function) -> Result<RustServiceInstance, JsValue> {
    let make = factory(name).ok_or_else(|| {
        js_error(ServiceError::invalid(format!(
            "no Rust service is registered as {name:?} in this module (call register_service in your \
             #[wasm_bindgen(start)] function, so that every instance knows it)"
        )))
    })?;
    ON_PANIC.with(|p| *p.borrow_mut() = Some(on_panic));
    std::panic::set_hook(Box::new(|info| {
        let message = format!("{info}");
        ON_PANIC.with(|p| {
            if let Some(f) = p.try_borrow().ok().as_deref().and_then(Option::as_ref) {
                let _ = f.call1(&JsValue::UNDEFINED, &message.into());
            }
        });
        // The instance traps right after this hook (panic = abort): the next call into the
        // module gets a fresh instance of it (wasm-bindgen's glue re-instantiates it).
        wasm_bindgen::handler::schedule_reinit();
    }));
    Ok(RustServiceInstance { inner: make(config.as_deref()).map_err(js_error)? })
}

/// Does nothing. A service host calls it before `__workerBridgeRustService`: if the instance
/// trapped, wasm-bindgen's glue replaces it at this call, before any argument is copied in (its
/// wrappers copy string arguments into the old instance first, then check; wasm-bindgen 0.2.130).
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeFreshInstance)]
pub fn fresh_instance() {}

/// Asks wasm-bindgen's glue for a fresh instance at the next call. The panic hook does this
/// itself; a service host calls it after a trap that no panic announced (an allocation failure or
/// an explicit abort), which leaves the instance just as unusable.
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeScheduleFresh)]
pub fn schedule_fresh() {
    wasm_bindgen::handler::schedule_reinit();
}
