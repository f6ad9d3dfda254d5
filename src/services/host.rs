//! Where a service runs: its own worker, or a `MessageChannel` in the page whose far end is
//! served by the same host code (`worker/service-host.js`). One interface for both placements;
//! every `web_sys` call of the services lives here.
//!
//! Messages travel in batches both ways (see `protocol::service`). [`Host::queue`] puts a message
//! in the host's outbox, and a microtask posts the outbox at the end of the task turn: a burst of
//! `send`s costs one `postMessage`. [`Host::post`] (lifecycle steps, health checks) posts at once,
//! after whatever the outbox holds, so the order the registry sent things in is the order the
//! host sees them.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, Event, MessageChannel, MessageEvent, MessagePort, Worker};

use crate::error::{Error, ErrorKind};
use crate::protocol::{encode_batch, ToService, MAX_BATCH};
use crate::runtime::js_error::describe;
use crate::runtime::timer::defer_drop;

#[wasm_bindgen(module = "/worker/spawn.js")]
extern "C" {
    #[wasm_bindgen(js_name = spawnServiceWorker, catch)]
    fn spawn_service_worker(name: &str, rust: bool) -> Result<Worker, JsValue>;
}

#[wasm_bindgen(module = "/worker/main-service.js")]
extern "C" {
    /// Serves `port` on this thread; returns the function that closes the host.
    #[wasm_bindgen(js_name = hostMainService)]
    fn host_main_service(port: &MessagePort) -> Function;
}

// Names `worker/service-host.js` so wasm-bindgen copies it into `pkg/snippets/` (the files above
// import it; nothing in Rust calls it directly).
#[wasm_bindgen(module = "/worker/service-host.js")]
extern "C" {
    #[wasm_bindgen(js_name = hostService)]
    fn _host_service(port: &MessagePort, rust_instance: &JsValue) -> Function;
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

/// What the host tells the registry.
#[derive(Debug)]
pub(crate) enum HostEvent {
    /// A batch from the host: `{ m, p }` (see `protocol::service`).
    Message(JsValue),
    /// The worker died (an uncaught error, a trap, or its script failed to load).
    Crashed(String),
    /// Messages the browser would not send (a payload it cannot clone), by `seq`, with why.
    Refused(Vec<(u32, Error)>),
}

/// Where messages are posted: the service's worker, or the page's end of its channel.
#[derive(Debug, Clone)]
enum Endpoint {
    Worker(Worker),
    Port(MessagePort),
}

/// Messages waiting for the end of the task turn, each with its payload.
#[derive(Debug, Default)]
struct Outbox {
    msgs: Vec<ToService>,
    payloads: Vec<Option<JsValue>>,
    /// A microtask will post the outbox.
    scheduled: bool,
}

/// The sending side of a host, shared with the microtask that flushes its outbox (which finds
/// nothing to do once the host is dropped).
struct Link {
    endpoint: Endpoint,
    outbox: RefCell<Outbox>,
    on_event: Rc<dyn Fn(HostEvent)>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("endpoint", &self.endpoint).field("outbox", &self.outbox).finish_non_exhaustive()
    }
}

impl Link {
    /// Posts the outbox, one message per [`MAX_BATCH`]. A batch the browser refuses is posted
    /// again one message at a time, so only the message it cannot clone fails: a refused `Message`
    /// is reported (`HostEvent::Refused`, after the caller's borrow of the registry is released);
    /// the error of any other refused message is returned.
    fn flush(&self) -> Result<(), Error> {
        let (msgs, payloads) = {
            let mut outbox = self.outbox.borrow_mut();
            outbox.scheduled = false;
            (std::mem::take(&mut outbox.msgs), std::mem::take(&mut outbox.payloads))
        };
        let mut refused = Vec::new();
        let mut result = Ok(());
        for (msgs, payloads) in msgs.chunks(MAX_BATCH).zip(payloads.chunks(MAX_BATCH)) {
            if self.post(msgs, payloads).is_ok() {
                continue;
            }
            for (msg, payload) in msgs.iter().zip(payloads) {
                if let Err(e) = self.post(std::slice::from_ref(msg), std::slice::from_ref(payload)) {
                    match msg {
                        ToService::Message { seq } => refused.push((*seq, e)),
                        _ => result = Err(e),
                    }
                }
            }
        }
        if !refused.is_empty() {
            let on_event = self.on_event.clone();
            wasm_bindgen_futures::spawn_local(async move { on_event(HostEvent::Refused(refused)) });
        }
        result
    }

    /// Posts one batch: the envelopes as JSON text in `m`, the payloads at the same index of `p`.
    fn post(&self, msgs: &[ToService], payloads: &[Option<JsValue>]) -> Result<(), Error> {
        let wire = Object::new();
        let _ = Reflect::set(&wire, &JsValue::from_str("m"), &JsValue::from_str(&encode_batch(msgs)?));
        if payloads.iter().any(Option::is_some) {
            let p = Array::new_with_length(payloads.len() as u32);
            for (i, payload) in payloads.iter().enumerate() {
                if let Some(payload) = payload {
                    p.set(i as u32, payload.clone());
                }
            }
            let _ = Reflect::set(&wire, &JsValue::from_str("p"), &p);
        }
        let sent = match &self.endpoint {
            Endpoint::Worker(w) => w.post_message(&wire),
            Endpoint::Port(p) => p.post_message(&wire),
        };
        sent.map_err(|e| {
            Error::validation(format!(
                "the message cannot be sent to a service (it must be structured-cloneable): {}",
                describe(&e)
            ))
        })
    }
}

/// A running host and the listeners it owns (removed on drop).
#[derive(Debug)]
pub(crate) struct Host {
    link: Rc<Link>,
    /// For main placement: the channel's far end and the function that closes its host.
    far: Option<(MessagePort, Function)>,
    on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
    on_error: Option<Closure<dyn FnMut(Event)>>,
}

impl Host {
    /// Starts the host of service `name` (`rust`: whether it is a Rust service).
    pub(crate) fn spawn(
        name: &str,
        placement: Placement,
        rust: bool,
        on_event: impl Fn(HostEvent) + 'static,
    ) -> Result<Host, Error> {
        let on_event: Rc<dyn Fn(HostEvent)> = Rc::new(on_event);
        let on_msg = on_event.clone();
        let on_message =
            Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| on_msg(HostEvent::Message(ev.data())));
        let link = |endpoint| Rc::new(Link { endpoint, outbox: RefCell::default(), on_event: on_event.clone() });
        match placement {
            Placement::Worker => {
                let worker = spawn_service_worker(name, rust)
                    .map_err(|_| Error::new(ErrorKind::Unsupported, "cannot create the service's worker"))?;
                let on_err = on_event.clone();
                let on_error = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
                    ev.prevent_default();
                    let message = ev.dyn_ref::<ErrorEvent>().map(ErrorEvent::message).filter(|m| !m.is_empty());
                    on_err(HostEvent::Crashed(message.unwrap_or_else(|| "the service worker failed".into())));
                });
                worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                let link = link(Endpoint::Worker(worker));
                Ok(Host { link, far: None, on_message: Some(on_message), on_error: Some(on_error) })
            }
            Placement::Main => {
                let channel =
                    MessageChannel::new().map_err(|_| Error::new(ErrorKind::Unsupported, "no MessageChannel"))?;
                let (port, far) = (channel.port1(), channel.port2());
                port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                let close = host_main_service(&far);
                let link = link(Endpoint::Port(port));
                Ok(Host { link, far: Some((far, close)), on_message: Some(on_message), on_error: None })
            }
        }
    }

    /// Queues `msg`, with `payload` (structured clone) beside it, to be posted with everything
    /// else queued in this task turn. A message the browser cannot send comes back as
    /// `HostEvent::Refused`.
    pub(crate) fn queue(&self, msg: ToService, payload: JsValue) {
        let mut outbox = self.link.outbox.borrow_mut();
        outbox.msgs.push(msg);
        outbox.payloads.push(Some(payload));
        if outbox.scheduled {
            return;
        }
        outbox.scheduled = true;
        let link = Rc::downgrade(&self.link);
        // A microtask: after the caller's synchronous code, before the page does anything else.
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(link) = link.upgrade() {
                // Only messages wait in the outbox, and their refusals are reported as events.
                let _ = link.flush();
            }
        });
    }

    /// Posts `msg` (with `payload` beside it, when given) now, after everything queued before it.
    ///
    /// # Errors
    /// `ValidationError` when the browser cannot send `msg`.
    pub(crate) fn post(&self, msg: &ToService, payload: Option<&JsValue>) -> Result<(), Error> {
        {
            let mut outbox = self.link.outbox.borrow_mut();
            outbox.msgs.push(msg.clone());
            outbox.payloads.push(payload.cloned());
        }
        self.link.flush()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some((_, close)) = &self.far {
            let _ = close.call0(&JsValue::UNDEFINED);
        }
        match &self.link.endpoint {
            Endpoint::Worker(w) => {
                w.terminate();
                w.set_onmessage(None);
                w.set_onerror(None);
            }
            Endpoint::Port(port) => {
                port.set_onmessage(None);
                port.close();
            }
        }
        if let Some((far, _)) = &self.far {
            far.close();
        }
        // The listeners may be running right now (a host dropped from its own event).
        defer_drop((self.on_message.take(), self.on_error.take()));
    }
}
