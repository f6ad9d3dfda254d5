//! `bridge.services`: register long-running services written as JavaScript handler modules,
//! place them in a worker or on the main thread, and drive their lifecycle.

use std::future::Future;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::input::{absolute_url, milliseconds, page_origin, parse_options, CallOptions, SEND_KEYS};
use super::pipeline::reject;
use crate::defaults;
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::runtime::js_error::describe;
use crate::services::{
    check_dependencies, inline_in_worker, instances, is_rust_service, origin, persist, restart, Config, Definition,
    Failure, Placement, Registry, ServiceOptions,
};

/// `register(name, definition, options)` options.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RegisterOptions {
    placement: Placement,
    start_timeout_ms: Option<f64>,
    stop_timeout_ms: Option<f64>,
    restart: Option<String>,
    max_restarts: Option<u32>,
    health_interval_ms: Option<f64>,
    instances: Option<f64>,
    depends_on: Option<Vec<String>>,
    persist: Option<bool>,
    snapshot_interval_ms: Option<f64>,
}

const REGISTER_KEYS: &[&str] = &[
    "placement",
    "startTimeoutMs",
    "stopTimeoutMs",
    "restart",
    "maxRestarts",
    "healthIntervalMs",
    "config",
    "instances",
    "dependsOn",
    "persist",
    "snapshotIntervalMs",
];

/// The `config` option: any JSON value (absent or `null`: none), checked by `JSON.stringify`.
fn config(options: &JsValue) -> Result<Option<Config>, Error> {
    let value = if options.is_object() {
        Reflect::get(options, &"config".into()).unwrap_or_default()
    } else {
        JsValue::UNDEFINED
    };
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let not_json = |why: String| {
        Error::validation(format!(
            "config must be JSON (plain objects, arrays, strings, numbers, booleans, null): {why}"
        ))
    };
    let text = js_sys::JSON::stringify(&value).map_err(|e| not_json(describe(&e)))?;
    let text = text.as_string().ok_or_else(|| not_json(format!("{value:?} has no JSON form")))?;
    Config::from_json(&text).map(Some)
}

/// Long-running services.
#[wasm_bindgen]
#[derive(Debug)]
pub struct ServicesFacade {
    registry: Registry,
    events: Rc<EventHub>,
}

impl ServicesFacade {
    pub(crate) fn new(registry: Registry, events: Rc<EventHub>) -> Self {
        ServicesFacade { registry, events }
    }
}

fn response(id: &JsValue, result: Result<JsValue, JsValue>) -> JsValue {
    let out = Object::new();
    let _ = Reflect::set(&out, &"id".into(), id);
    let _ = Reflect::set(&out, &"type".into(), &"response".into());
    match result {
        Ok(data) => {
            let _ = Reflect::set(&out, &"data".into(), &data);
        }
        Err(e) => {
            let error = Object::new();
            let _ =
                Reflect::set(&error, &"name".into(), &Reflect::get(&e, &"name".into()).unwrap_or(JsValue::UNDEFINED));
            let _ = Reflect::set(
                &error,
                &"message".into(),
                &Reflect::get(&e, &"message".into()).unwrap_or(JsValue::UNDEFINED),
            );
            let _ = Reflect::set(&out, &"error".into(), &error);
        }
    }
    out.into()
}

fn param_string(params: &JsValue, key: &str) -> Result<String, Error> {
    Reflect::get(params, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| Error::validation(format!("params.{key} must be a string")))
}

fn param_events(params: &JsValue) -> Result<Vec<String>, Error> {
    let list = Reflect::get(params, &"events".into()).unwrap_or(JsValue::UNDEFINED);
    if !Array::is_array(&list) {
        return Err(Error::validation("params.events must be an array of event names"));
    }
    let names = Array::from(&list)
        .iter()
        .map(|e| e.as_string().ok_or_else(|| Error::validation(format!("event names are strings, got {e:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    crate::events::known(&names)?;
    Ok(names)
}

/// What `register` was given: `{ rust: name }` (a Rust service registered in this module), or
/// a handler module's URL as `{ module }`, a `URL` or a string — resolved against the page and
/// accepted only from the page's origin or one of `origins` (`serviceOrigins`).
fn definition(definition: &JsValue, origins: &[String]) -> Result<Definition, Error> {
    let handler = Reflect::get(definition, &"handler".into()).ok().filter(|h| !h.is_undefined());
    if let Some(handler) = handler {
        return inline(&handler);
    }
    let rust = Reflect::get(definition, &"rust".into()).ok().filter(|r| !r.is_undefined());
    if let Some(rust) = rust {
        let name = rust.as_string().ok_or_else(|| Error::validation("{ rust } must be a service name"))?;
        if !is_rust_service(&name) {
            return Err(Error::validation(format!(
                "no Rust service is registered as {name:?} (built in: \"kv\"; yours need register_service)"
            )));
        }
        return Ok(Definition::Rust(name));
    }
    let module = Reflect::get(definition, &"module".into()).ok().filter(|m| !m.is_undefined());
    let value = module.unwrap_or_else(|| definition.clone());
    let text = value
        .as_string()
        .or_else(|| Reflect::get(&value, &"href".into()).ok().and_then(|h| h.as_string()))
        .ok_or_else(|| {
            Error::validation(
                "a service definition is { module: URL | string } (a handler module's URL) or { rust: name }",
            )
        })?;
    let url = absolute_url(&text)?;
    origin::check_module_url(&url, page_origin().as_deref(), origins)?;
    Ok(Definition::Module(url))
}

/// `{ handler }`: an object whose `onMessage` is a function, and whose `onStart`, `onStop` and
/// `health`, when present, are too.
fn inline(handler: &JsValue) -> Result<Definition, Error> {
    let shape =
        "an inline handler is an object { onStart?, onMessage, onStop?, health?, onSnapshot?, onRestore? } of functions";
    if !handler.is_object() {
        return Err(Error::validation(shape));
    }
    for (hook, required) in [
        ("onMessage", true),
        ("onStart", false),
        ("onStop", false),
        ("health", false),
        ("onSnapshot", false),
        ("onRestore", false),
    ] {
        let f = Reflect::get(handler, &hook.into()).unwrap_or_default();
        if !(f.is_function() || (!required && f.is_undefined())) {
            return Err(Error::validation(format!("{shape}: {hook} is not a function")));
        }
    }
    Ok(Definition::Inline(handler.clone().unchecked_into()))
}

/// `dependsOn`: service names (checked when the services start, or by `load()`: they may be
/// registered later).
fn depends_on(names: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let names = names.unwrap_or_default();
    if names.iter().any(String::is_empty) {
        return Err(Error::validation("dependsOn lists service names (non-empty strings)"));
    }
    Ok(names)
}

/// A definition with options it can run with: an inline handler only on the page.
fn fits(definition: Definition, options: ServiceOptions) -> Result<(Definition, ServiceOptions), Error> {
    if matches!(definition, Definition::Inline(_)) && options.placement == Placement::Worker {
        return Err(inline_in_worker());
    }
    Ok((definition, options))
}

/// The promise of a lifecycle step: it rejects with what a hook threw as it was (its own name,
/// message and stack), or with the bridge's own typed error.
fn lifecycle(step: impl Future<Output = Result<JsValue, Failure>> + 'static) -> Promise {
    future_to_promise(async move { step.await.map_err(|e| e.to_js()) })
}

/// `register`'s options, checked.
fn service_options(options: &JsValue) -> Result<ServiceOptions, Error> {
    let o: RegisterOptions = parse_options(options, "service options", REGISTER_KEYS, &["config"])?;
    let restart_on_failure = match o.restart.as_deref() {
        None | Some("never") => false,
        Some("on-failure") => true,
        Some(other) => {
            return Err(Error::validation(format!("restart must be 'never' or 'on-failure', got {other:?}")))
        }
    };
    let ms = |value: Option<f64>, default: u32, what: &str| value.map_or(Ok(default), |ms| milliseconds(ms, what));
    Ok(ServiceOptions {
        placement: o.placement,
        start_timeout_ms: ms(o.start_timeout_ms, defaults::SERVICE_START_TIMEOUT_MS, "startTimeoutMs")?,
        stop_timeout_ms: ms(o.stop_timeout_ms, defaults::SERVICE_STOP_TIMEOUT_MS, "stopTimeoutMs")?,
        restart: restart::Policy {
            on_failure: restart_on_failure,
            max_restarts: o.max_restarts.unwrap_or(defaults::SERVICE_MAX_RESTARTS),
        },
        health_interval_ms: ms(o.health_interval_ms, defaults::SERVICE_HEALTH_INTERVAL_MS, "healthIntervalMs")?,
        config: config(options)?,
        instances: instances::check_instances(o.instances)?,
        depends_on: depends_on(o.depends_on)?,
        persist: persist::check_persist(
            o.persist,
            o.snapshot_interval_ms.map(|ms| milliseconds(ms, "snapshotIntervalMs")).transpose()?,
        )?,
    })
}

#[wasm_bindgen]
impl ServicesFacade {
    /// Registers `name` with a handler module (`{ module: new URL('./x.service.js',
    /// import.meta.url) }`) or a Rust service (`{ rust: 'kv' }`). Options: `placement` (`'worker'` | `'main'`), `startTimeoutMs`,
    /// `stopTimeoutMs` (default 10,000; 0 = no limit), `restart` (`'never'` | `'on-failure'`), `maxRestarts` (3),
    /// `healthIntervalMs`, `config`, `instances`, `dependsOn`, `persist` and `snapshotIntervalMs`
    /// (see `core::services::persist`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn register(&self, name: String, definition: JsValue, options: JsValue) -> Promise {
        let registered = self::definition(&definition, &self.registry.module_origins())
            .and_then(|definition| fits(definition, service_options(&options)?))
            .and_then(|(definition, options)| self.registry.register(&name, definition, options));
        match registered {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => reject(e),
        }
    }

    /// Registers a whole configuration — `[{ name, module | rust, placement, …options }]`, plain
    /// JSON so it can come from a file or a remote — all or nothing, then emits
    /// `registry_loaded { services }` with the names in order.
    #[wasm_bindgen(unchecked_return_type = "Promise<string[]>")]
    pub fn load(&self, entries: JsValue) -> Promise {
        let parsed = (|| {
            if !Array::is_array(&entries) {
                return Err(Error::validation("load takes an array of { name, module | rust, ...options }"));
            }
            let mut out = Vec::new();
            let mut names = self.registry.names();
            let origins = self.registry.module_origins();
            for entry in Array::from(&entries).iter() {
                if !entry.is_object() {
                    return Err(Error::validation("each entry is an object { name, module | rust, ...options }"));
                }
                let name = param_string(&entry, "name")?;
                if name.is_empty() || names.contains(&name) {
                    return Err(Error::validation(format!(
                        "a service named {name:?} is already registered (or the name is empty)"
                    )));
                }
                names.push(name.clone());
                let options = Object::assign(&Object::new(), entry.unchecked_ref());
                for key in ["name", "module", "rust", "handler"] {
                    let _ = Reflect::delete_property(&options, &key.into());
                }
                let (definition, options) = fits(definition(&entry, &origins)?, service_options(&options)?)?;
                out.push((name, definition, options));
            }
            Ok(out)
        })();
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return reject(e),
        };
        // Dependencies are checked with the whole configuration known: the registered services
        // and these.
        let mut graph = self.registry.graph();
        graph.extend(parsed.iter().map(|(n, _, o)| (n.clone(), o.depends_on.clone())));
        let loaded: Vec<&str> = parsed.iter().map(|(n, _, _)| n.as_str()).collect();
        if let Err(e) = check_dependencies(&graph, &loaded) {
            return reject(e);
        }
        let names: Array = parsed.iter().map(|(n, _, _)| JsValue::from(n.as_str())).collect();
        for (name, definition, options) in parsed {
            if let Err(e) = self.registry.register(&name, definition, options) {
                return reject(e);
            }
        }
        let data = Object::new();
        let _ = Reflect::set(&data, &"services".into(), &names);
        self.events.emit("registry_loaded", &data);
        Promise::resolve(&JsValue::from(names))
    }

    /// Removes a service that is not running.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unregister(&self, name: String) -> Promise {
        match self.registry.unregister(&name) {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => reject(e),
        }
    }

    /// Loads (first time) and starts the service, after its `dependsOn` services (those not
    /// running are started first); `ServiceStateError` if it is already running,
    /// `ValidationError` for an unknown dependency or a cycle.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn start(&self, name: String) -> Promise {
        let r = self.registry.clone();
        lifecycle(async move { r.start_with_dependencies(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stops the services that depend on it (recursively, dependents first), then the service,
    /// after the messages queued before the stop. A stop that fails (it times
    /// out, `onStop` throws) leaves the service `failed` and never restarts it automatically.
    /// Stopping a failed service cancels its pending automatic restart (failed → stopped).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self, name: String) -> Promise {
        let r = self.registry.clone();
        lifecycle(async move { r.stop_with_dependents(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stops (if running) and starts again with a fresh context; also recovers a failed service.
    /// Counted in `restarts`, not against `maxRestarts` (it renews the automatic restart budget).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn restart(&self, name: String) -> Promise {
        let r = self.registry.clone();
        lifecycle(async move { r.restart(&name).await.map(|()| JsValue::UNDEFINED) })
    }

    /// Starts every registered service that is not running — dependencies first, else in
    /// registration order. An unknown `dependsOn` name or a cycle is a `ValidationError` before
    /// anything starts.
    #[wasm_bindgen(js_name = startAll, unchecked_return_type = "Promise<void>")]
    pub fn start_all(&self) -> Promise {
        let r = self.registry.clone();
        lifecycle(async move { r.start_all().await.map(|()| JsValue::UNDEFINED) })
    }

    /// Stops every running service, and every failed one (no automatic restart follows) —
    /// dependents first, else in reverse registration order.
    #[wasm_bindgen(js_name = stopAll, unchecked_return_type = "Promise<void>")]
    pub fn stop_all(&self) -> Promise {
        let r = self.registry.clone();
        lifecycle(async move { r.stop_all().await.map(|()| JsValue::UNDEFINED) })
    }

    /// Sends `message` (structured-cloneable) to a running service; resolves with what its
    /// `onMessage` returns, rejects with what it throws. Options: `{ timeoutMs, signal }`, read
    /// as a call's (`timeoutMs` 0 or absent: no limit — a reply that never comes then waits until
    /// the service fails or the bridge is terminated; `signal` an `AbortSignal` or a
    /// `SharedCancellation`; any other key is a `ValidationError`).
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn send(&self, name: String, message: JsValue, options: JsValue) -> Promise {
        // Most sends have no options: skip the parser then.
        let options = if options.is_undefined() {
            CallOptions::default()
        } else {
            match CallOptions::parse(&options, SEND_KEYS, &[]) {
                Ok(options) => options,
                Err(e) => return reject(e),
            }
        };
        // 0 is no limit, as for calls; a SharedCancellation arrives as its AbortSignal.
        let timeout = options.timeout_ms.filter(|&ms| ms > 0);
        if options.signal.as_ref().is_some_and(|s| s.aborted()) {
            return reject(Error::new(ErrorKind::Abort, "the call was aborted"));
        }
        self.registry.send(&name, &message, timeout, options.signal).unwrap_or_else(reject)
    }

    /// The remote-control envelope: `{ id, type: 'request', action, params }` →
    /// `{ id, type: 'response', data | error }`, for a devtools panel, another tab or a WebSocket
    /// bridge. Actions: `list_services`, `get_service { name }`, `service_action { name, action:
    /// 'start' | 'stop' | 'restart' }`, `subscribe { events }` / `unsubscribe { events }` (events
    /// go to `onEvent`). Never rejects: a malformed request gets an error response.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{ id: unknown, type: 'response', data?: unknown, error?: { name: string, message: string } }>"
    )]
    pub fn handle(&self, request: JsValue, on_event: Option<js_sys::Function>) -> Promise {
        let (registry, events) = (self.registry.clone(), self.events.clone());
        future_to_promise(async move {
            let Answer { response, snapshot } =
                answer(registry.clone(), events.clone(), request, on_event.clone()).await;
            if let Some(listener) = on_event.filter(|_| snapshot) {
                // In a later microtask, with nothing borrowed.
                wasm_bindgen_futures::spawn_local(async move { deliver_snapshot(&registry, &events, &listener) });
            }
            Ok(response)
        })
    }

    /// Serves the remote-control envelope of [`handle`](Self::handle) over `transport` — a
    /// `BroadcastChannel`, `{ channel: name }` (one made and closed here) or a `WebSocket` —
    /// as JSON text, until `close()`. Options: `token` (every request must carry it),
    /// `maxMessageBytes` (64 KiB), `ratePerSecond` (50) and `burst` (100); a request over a
    /// limit or with a wrong token gets a `LimitExceededError` or `AuthenticationError`
    /// response and does nothing. `RegistryClient` is the other side.
    ///
    /// # Errors
    /// `ValidationError` for another transport or a bad option.
    #[wasm_bindgen(unchecked_return_type = "RemoteServer")]
    pub fn serve(&self, transport: JsValue, options: JsValue) -> Result<super::remote::RemoteServer, JsValue> {
        super::remote::RemoteServer::start(self.registry.clone(), self.events.clone(), &transport, &options)
            .map_err(|e| crate::runtime::js_error::to_js(&e))
    }

    /// The registered names, in registration order.
    pub fn list(&self) -> Array {
        self.registry.names().iter().map(|n| JsValue::from(n.as_str())).collect()
    }

    /// Diagnostics per service: `{ name, state, placement, lastError, startedAt, restarts,
    /// autoRestarts, messagesHandled, queueLength, lastHealth, instances, instanceRestarts }`.
    pub fn status(&self) -> JsValue {
        self.registry.status()
    }
}

/// What [`answer`] gives back: the response, and whether the request subscribed to
/// `registry_loaded` (the subscriber is then owed the registry's snapshot, which the caller
/// delivers after the response: [`deliver_snapshot`]).
pub(super) struct Answer {
    pub(super) response: JsValue,
    pub(super) snapshot: bool,
}

/// The remote-control envelope's answer to `request` (never an exception: a malformed request
/// gets an error response); `subscribe` / `unsubscribe` add and remove `on_event`.
pub(super) async fn answer(
    registry: Registry,
    events: Rc<EventHub>,
    request: JsValue,
    on_event: Option<js_sys::Function>,
) -> Answer {
    let id =
        if request.is_object() { Reflect::get(&request, &"id".into()).unwrap_or(JsValue::NULL) } else { JsValue::NULL };
    let id = if id.is_undefined() { JsValue::NULL } else { id };
    let mut snapshot = false;
    let run = async {
        if !request.is_object() || Array::is_array(&request) {
            return Err(Failure::from(Error::validation(
                "a request is an object { id, type: 'request', action, params }",
            )));
        }
        if Reflect::get(&request, &"type".into()).ok().and_then(|t| t.as_string()).as_deref() != Some("request") {
            return Err(Error::validation("request.type must be 'request'").into());
        }
        let action = Reflect::get(&request, &"action".into())
            .ok()
            .and_then(|a| a.as_string())
            .ok_or_else(|| Error::validation("request.action must be a string"))?;
        let params = Reflect::get(&request, &"params".into()).unwrap_or(JsValue::UNDEFINED);
        let params = if params.is_object() { params } else { Object::new().into() };
        match action.as_str() {
            "list_services" => Ok(registry.status()),
            "get_service" => {
                let name = param_string(&params, "name")?;
                registry
                    .status_of(&name)
                    .ok_or_else(|| Error::validation(format!("no service is registered as {name:?}")).into())
            }
            "service_action" => {
                let name = param_string(&params, "name")?;
                match param_string(&params, "action")?.as_str() {
                    "start" => registry.start_with_dependencies(&name).await?,
                    "stop" => registry.stop_with_dependents(&name).await?,
                    "restart" => registry.restart(&name).await?,
                    other => return Err(Error::validation(format!("unknown service action {other:?}")).into()),
                }
                Ok(registry.status_of(&name).unwrap_or(JsValue::NULL))
            }
            "subscribe" | "unsubscribe" => {
                let names = param_events(&params)?;
                let listener =
                    on_event.clone().ok_or_else(|| Error::validation(format!("{action} needs an onEvent function")))?;
                if action == "subscribe" {
                    events.on_all(&names, &listener)?;
                    snapshot = names.iter().any(|n| n == "registry_loaded");
                } else {
                    for name in &names {
                        events.off(name, &listener);
                    }
                }
                let out = Object::new();
                let key = if action == "subscribe" { "subscribed" } else { "unsubscribed" };
                let list: Array = names.iter().map(|n| JsValue::from(n.as_str())).collect();
                let _ = Reflect::set(&out, &key.into(), &list);
                Ok(out.into())
            }
            other => Err(Error::validation(format!("unknown action {other:?}")).into()),
        }
    };
    let response = response(&id, run.await.map_err(|e: Failure| e.to_js()));
    Answer { response, snapshot }
}

/// `registry_loaded { services, status, initial: true }` to one new subscriber: the names in
/// registration order and every service's status, as they are now (nothing if it unsubscribed
/// meanwhile).
pub(super) fn deliver_snapshot(registry: &Registry, events: &EventHub, listener: &js_sys::Function) {
    if !events.listens("registry_loaded", listener) {
        return;
    }
    let data = Object::new();
    let names: Array = registry.names().iter().map(|n| JsValue::from(n.as_str())).collect();
    let _ = Reflect::set(&data, &"services".into(), &names);
    let _ = Reflect::set(&data, &"status".into(), &registry.status());
    let _ = Reflect::set(&data, &"initial".into(), &JsValue::TRUE);
    crate::events::deliver(listener, "registry_loaded", &data);
}

/// Shared with the bridge.
pub(crate) fn facade(registry: &Registry, events: &Rc<EventHub>) -> ServicesFacade {
    ServicesFacade::new(registry.clone(), events.clone())
}
