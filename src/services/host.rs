//! Where a service runs: its own worker, or a `MessageChannel` in the page whose far end is
//! served by the same host code (`worker/service-host.js`). One interface for both placements;
//! every `web_sys` call of the services lives here.

use js_sys::{Function, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, Event, MessageChannel, MessageEvent, MessagePort, Worker};

use crate::error::{Error, ErrorKind};
use crate::protocol::{Envelope, ToService};
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
    Message(JsValue),
    /// The worker died (an uncaught error, a trap, or its script failed to load).
    Crashed(String),
}

/// A running host and the listeners it owns (removed on drop).
#[derive(Debug)]
pub(crate) struct Host {
    target: Target,
    on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
    on_error: Option<Closure<dyn FnMut(Event)>>,
}

#[derive(Debug)]
enum Target {
    Worker(Worker),
    Port { port: MessagePort, far: MessagePort, close: Function },
}

impl Host {
    /// Starts the host of service `name` (`rust`: whether it is a Rust service).
    pub(crate) fn spawn(
        name: &str,
        placement: Placement,
        rust: bool,
        on_event: impl FnMut(HostEvent) + Clone + 'static,
    ) -> Result<Host, Error> {
        let mut on_msg = on_event.clone();
        let on_message =
            Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| on_msg(HostEvent::Message(ev.data())));
        match placement {
            Placement::Worker => {
                let worker = spawn_service_worker(name, rust)
                    .map_err(|_| Error::new(ErrorKind::Unsupported, "cannot create the service's worker"))?;
                let mut on_err = on_event;
                let on_error = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
                    ev.prevent_default();
                    let message = ev.dyn_ref::<ErrorEvent>().map(ErrorEvent::message).filter(|m| !m.is_empty());
                    on_err(HostEvent::Crashed(message.unwrap_or_else(|| "the service worker failed".into())));
                });
                worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
                Ok(Host { target: Target::Worker(worker), on_message: Some(on_message), on_error: Some(on_error) })
            }
            Placement::Main => {
                let channel =
                    MessageChannel::new().map_err(|_| Error::new(ErrorKind::Unsupported, "no MessageChannel"))?;
                let (port, far) = (channel.port1(), channel.port2());
                port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                let close = host_main_service(&far);
                Ok(Host { target: Target::Port { port, far, close }, on_message: Some(on_message), on_error: None })
            }
        }
    }

    /// Posts `msg`, with `payload` (structured clone) beside it when given.
    pub(crate) fn post(&self, msg: &ToService, payload: Option<&JsValue>) -> Result<(), Error> {
        let wire = Serialize::serialize(&Envelope::new(msg), &serde_wasm_bindgen::Serializer::new())
            .map_err(|e| Error::validation(format!("cannot encode a service message: {e}")))?;
        if let Some(payload) = payload {
            let _ = Reflect::set(&wire, &"payload".into(), payload);
        }
        let sent = match &self.target {
            Target::Worker(w) => w.post_message(&wire),
            Target::Port { port, .. } => port.post_message(&wire),
        };
        sent.map_err(|_| Error::validation("the message cannot be sent to a service (it must be structured-cloneable)"))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        match &self.target {
            Target::Worker(w) => {
                w.terminate();
                w.set_onmessage(None);
                w.set_onerror(None);
            }
            Target::Port { port, far, close } => {
                let _ = close.call0(&JsValue::UNDEFINED);
                port.set_onmessage(None);
                port.close();
                far.close();
            }
        }
        // The listeners may be running right now (a host dropped from its own event).
        defer_drop((self.on_message.take(), self.on_error.take()));
    }
}
