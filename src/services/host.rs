//! Where a service runs: its own worker, or a `MessageChannel` in the page whose far end is
//! served by the same host code (`worker/service-host.js`). One interface for both placements;
//! every `web_sys` call of the services lives here.
//!
//! The page's end of the link is `worker/service-link.js`: it carries each message's hot path
//! (its sequence number, the caller's promise, batching, settling a reply) in JavaScript, so a
//! message and its reply cost no trip through wasm. Messages travel in batches both ways (see
//! `protocol::service`; messages and plain replies in the fast form, `seqBatch`): what `send` queues in one task turn is posted as one batch by a microtask;
//! [`Host::post`] (lifecycle steps, health checks) posts at once, after what is queued, so the
//! host sees everything in the order the registry sent it. From the host, a well-formed reply
//! settles its caller in JavaScript; everything else reaches the registry as a
//! [`HostEvent::Batch`], which Rust decodes and decides on.

use js_sys::{Array, Function, Object, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, ErrorEvent, Event, MessageChannel, MessagePort, Worker};

use crate::error::{Error, ErrorKind};
use crate::protocol::{encode_batch, ToService};
use crate::runtime::js_error::describe;
use crate::runtime::timer::defer_drop;

#[wasm_bindgen(module = "/worker/spawn.js")]
extern "C" {
    #[wasm_bindgen(js_name = spawnServiceWorker, catch)]
    fn spawn_service_worker(name: &str, rust: bool) -> Result<Worker, JsValue>;
}

#[wasm_bindgen(module = "/worker/main-service.js")]
extern "C" {
    /// Serves `port` on this thread (with `handler`, an inline handler object, if given); returns
    /// the function that closes the host.
    #[wasm_bindgen(js_name = hostMainService)]
    fn host_main_service(port: &MessagePort, handler: Option<Object>) -> Function;
}

// Names `worker/service-host.js` so wasm-bindgen copies it into `pkg/snippets/` (the files above
// import it; nothing in Rust calls it directly).
#[wasm_bindgen(module = "/worker/service-host.js")]
extern "C" {
    #[wasm_bindgen(js_name = hostService)]
    fn _host_service(port: &MessagePort, rust_instance: &JsValue, handler: &JsValue) -> Function;
}

#[wasm_bindgen(module = "/worker/service-link.js")]
extern "C" {
    /// The page's end of a host's link (`worker/service-link.js`).
    #[derive(Debug, Clone)]
    #[wasm_bindgen(js_name = ServiceLink)]
    pub(crate) type Link;

    /// `busy_poll_us`: how long the page polls for replies (`busyPollUs`; 0: never).
    #[wasm_bindgen(constructor, js_class = ServiceLink)]
    fn new(endpoint: &JsValue, on_batch: &Function, busy_poll_us: u32) -> Link;

    /// Queues `payload` (or posts it at once when nothing is queued or awaited) and returns the
    /// caller's promise. Call it with no borrow of the registry held: posting clones the payload,
    /// which runs its getters.
    #[wasm_bindgen(method, js_class = ServiceLink)]
    pub(crate) fn send(this: &Link, payload: &JsValue, timeout_ms: Option<u32>, signal: Option<AbortSignal>)
        -> Promise;

    #[wasm_bindgen(method, catch, js_class = ServiceLink)]
    fn post(this: &Link, text: &str, payloads: &Array, transfer: &Array) -> Result<(), JsValue>;

    #[wasm_bindgen(method, js_class = ServiceLink)]
    fn settle(this: &Link, seq: u32, ok: bool, value: &JsValue, handled: bool);

    #[wasm_bindgen(method, js_class = ServiceLink, js_name = failAll)]
    fn fail_all_named(this: &Link, name: &str, message: &str);

    #[wasm_bindgen(method, js_class = ServiceLink)]
    fn close(this: &Link, name: &str, message: &str);

    /// Replies received since the link was made (`messagesHandled`).
    #[wasm_bindgen(method, getter, js_class = ServiceLink)]
    pub(crate) fn handled(this: &Link) -> u32;

    /// Messages whose reply is awaited (`queueLength`).
    #[wasm_bindgen(method, getter, js_class = ServiceLink)]
    pub(crate) fn waiting(this: &Link) -> u32;
}

impl Link {
    /// Settles the caller of message `seq` (if it still waits) with the reply, or with the error
    /// the handler threw (or the bridge's); the reply counts as handled. Call it with no borrow of
    /// the registry held: resolving reads the value's `then`.
    pub(crate) fn answer(&self, seq: u32, result: Result<JsValue, JsValue>) {
        match result {
            Ok(value) => self.settle(seq, true, &value, true),
            Err(error) => self.settle(seq, false, &error, true),
        }
    }

    /// Rejects every caller still waiting with `error` (each gets an `Error` of its own).
    pub(crate) fn fail_all(&self, error: &Error) {
        self.fail_all_named(error.kind().name(), error.message());
    }
}

/// Where a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Its own dedicated worker (state never shared with pool tasks).
    #[default]
    Worker,
    /// The page's thread: cheaper, but it shares the page's fate (see the README).
    Main,
}

/// What a host runs: a handler module, a Rust service, or an inline handler object (main
/// placement only: it cannot be cloned into a worker).
#[derive(Debug)]
pub(crate) enum HostKind {
    Module,
    Rust,
    Inline(Object),
}

/// A new `MessageChannel`'s two ports: a direct route between two services' workers.
///
/// # Errors
/// `NotSupportedError` when the browser cannot make one.
pub(crate) fn channel() -> Result<(MessagePort, MessagePort), Error> {
    let channel = MessageChannel::new().map_err(|_| Error::new(ErrorKind::Unsupported, "no MessageChannel"))?;
    Ok((channel.port1(), channel.port2()))
}

/// An inline handler cannot be cloned into a worker: the error says what to do instead.
pub(crate) fn inline_in_worker() -> Error {
    Error::validation(
        "an inline handler runs on the page only (placement: 'main'); for placement 'worker' (the \
         default), put the handler in a module and register { module: new URL('./x.service.js', \
         import.meta.url) }",
    )
}

/// A batch the registry decides on: its text (`None` when what arrived was no batch at all) and
/// the payloads beside its entries.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) text: Option<String>,
    payloads: Array,
}

impl Batch {
    /// The payload of entry `i` (`undefined` when it has none).
    pub(crate) fn payload(&self, i: usize) -> JsValue {
        self.payloads.get(i as u32)
    }
}

/// What the host tells the registry.
#[derive(Debug)]
pub(crate) enum HostEvent {
    /// Messages for the registry: everything but a well-formed reply (see `protocol::service`).
    Batch(Batch),
    /// The worker died (an uncaught error, a trap, or its script failed to load).
    Crashed(String),
}

/// Where messages are posted: the service's worker, or the page's end of its channel.
#[derive(Debug)]
enum Endpoint {
    Worker(Worker),
    Port { port: MessagePort, far: MessagePort, close: Function },
}

/// What the link calls with a batch for the registry: its text and payloads.
type OnBatch = Closure<dyn FnMut(Option<String>, Array)>;

/// A running host, its link and the listeners it owns (removed on drop).
#[derive(Debug)]
pub(crate) struct Host {
    endpoint: Endpoint,
    link: Link,
    on_batch: Option<OnBatch>,
    on_error: Option<Closure<dyn FnMut(Event)>>,
}

impl Host {
    /// Starts the host of service `name`, for what it runs; the page polls for a worker's
    /// replies for at most `busy_poll_us` (see `worker/awake.js`).
    ///
    /// # Errors
    /// `ValidationError` for an inline handler in a worker; `UnsupportedError` when the browser
    /// cannot make the worker or the channel.
    pub(crate) fn spawn(
        name: &str,
        placement: Placement,
        kind: HostKind,
        busy_poll_us: u32,
        on_event: impl Fn(HostEvent) + Clone + 'static,
    ) -> Result<Host, Error> {
        let on_msg = on_event.clone();
        let on_batch = OnBatch::new(move |text, payloads| {
            on_msg(HostEvent::Batch(Batch { text, payloads }));
        });
        let on_batch_fn: &Function = on_batch.as_ref().unchecked_ref();
        match placement {
            Placement::Worker => {
                let rust = match kind {
                    HostKind::Inline(_) => return Err(inline_in_worker()),
                    HostKind::Rust => true,
                    HostKind::Module => false,
                };
                let worker = spawn_service_worker(name, rust)
                    .map_err(|_| Error::new(ErrorKind::Unsupported, "cannot create the service's worker"))?;
                let on_error = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
                    ev.prevent_default();
                    let message = ev.dyn_ref::<ErrorEvent>().map(ErrorEvent::message).filter(|m| !m.is_empty());
                    on_event(HostEvent::Crashed(message.unwrap_or_else(|| "the service worker failed".into())));
                });
                worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                let link = Link::new(&worker, on_batch_fn, busy_poll_us);
                let endpoint = Endpoint::Worker(worker);
                Ok(Host { endpoint, link, on_batch: Some(on_batch), on_error: Some(on_error) })
            }
            Placement::Main => {
                let channel =
                    MessageChannel::new().map_err(|_| Error::new(ErrorKind::Unsupported, "no MessageChannel"))?;
                let (port, far) = (channel.port1(), channel.port2());
                // The host answers on this thread: nothing to wake, nothing to poll for.
                let link = Link::new(&port, on_batch_fn, 0);
                let handler = match kind {
                    HostKind::Inline(handler) => Some(handler),
                    HostKind::Module | HostKind::Rust => None,
                };
                let close = host_main_service(&far, handler);
                Ok(Host {
                    endpoint: Endpoint::Port { port, far, close },
                    link,
                    on_batch: Some(on_batch),
                    on_error: None,
                })
            }
        }
    }

    /// The page's end of the link: messages, their callers, their counts.
    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// Posts `msg` (with `payload` beside it, when given) now, after everything queued before it.
    ///
    /// # Errors
    /// `ValidationError` when the browser cannot send `msg`.
    pub(crate) fn post(&self, msg: &ToService, payload: Option<&JsValue>) -> Result<(), Error> {
        self.post_moving(msg, payload, &Array::new())
    }

    /// Posts `msg` with `port` beside it, moved to the host (the end of a direct route).
    ///
    /// # Errors
    /// `ValidationError` when the browser cannot send it.
    pub(crate) fn post_port(&self, msg: &ToService, port: &MessagePort) -> Result<(), Error> {
        self.post_moving(msg, Some(port.as_ref()), &Array::of1(port))
    }

    fn post_moving(&self, msg: &ToService, payload: Option<&JsValue>, transfer: &Array) -> Result<(), Error> {
        let payloads: Array = payload.into_iter().collect();
        self.link.post(&encode_batch(std::slice::from_ref(msg))?, &payloads, transfer).map_err(|e| {
            Error::validation(format!(
                "the message cannot be sent to a service (it must be structured-cloneable): {}",
                describe(&e)
            ))
        })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The registry fails whoever waits before it drops a host; this is for when the
        // registry itself goes.
        self.link.close(ErrorKind::Terminated.name(), "the service registry is gone");
        match &self.endpoint {
            Endpoint::Worker(w) => {
                w.terminate();
                w.set_onerror(None);
            }
            Endpoint::Port { port, far, close } => {
                let _ = close.call0(&JsValue::UNDEFINED);
                port.close();
                far.close();
            }
        }
        // The listeners may be running right now (a host dropped from its own event).
        defer_drop((self.on_batch.take(), self.on_error.take()));
    }
}
