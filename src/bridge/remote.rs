//! `services.serve(transport, options)`: the remote-control envelope of `services.handle` over a
//! `BroadcastChannel` or a `WebSocket`, as JSON text, for a devtools tab or a dashboard's server.
//! Every request passes a gate first — its size, the transport's rate, the token, decided by
//! `core::services::remote` — and the events a peer subscribes to go back over the same
//! transport. `RegistryClient` (`js/registry-client.js`) is the other side.
//!
//! What is sent: requests `{ id, type: 'request', action, params, token? }`, responses `{ id,
//! type: 'response', data | error: { name, message } }`, events `{ type: 'event', event, data }`,
//! each as the text of one message (a WebSocket text frame). A request that cannot be read (not
//! text, not JSON, too large) is answered with `id: null`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, JsString, Object, Reflect, JSON};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, EventTarget, MessageEvent, WebSocket};

use super::input::parse_options;
use super::services::{answer, deliver_snapshot, Answer};
use crate::error::Error;
use crate::events::{EventHub, EVENTS};
use crate::runtime::js_error::to_js;
use crate::runtime::yielding::now_ms;
use crate::services::remote::{Gate, Limits};
use crate::services::Registry;

/// `serve(transport, options)` options.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServeOptions {
    token: Option<String>,
    max_message_bytes: Option<u32>,
    rate_per_second: Option<u32>,
    burst: Option<u32>,
}

const SERVE_KEYS: &[&str] = &["token", "maxMessageBytes", "ratePerSecond", "burst"];

/// Where requests come from and answers go.
#[derive(Debug)]
enum Transport {
    /// A channel; `owned` when made from `{ channel: name }` (closed with the server).
    Channel {
        channel: BroadcastChannel,
        owned: bool,
    },
    Socket(WebSocket),
}

impl Transport {
    fn from_js(value: &JsValue) -> Result<Self, Error> {
        if let Some(channel) = value.dyn_ref::<BroadcastChannel>() {
            return Ok(Transport::Channel { channel: channel.clone(), owned: false });
        }
        if let Some(socket) = value.dyn_ref::<WebSocket>() {
            return Ok(Transport::Socket(socket.clone()));
        }
        let name = if value.is_object() { Reflect::get(value, &"channel".into()).ok() } else { None };
        match name.and_then(|n| n.as_string()) {
            Some(name) if !name.is_empty() => {
                let channel = BroadcastChannel::new(&name)
                    .map_err(|e| Error::validation(format!("cannot open BroadcastChannel {name:?}: {e:?}")))?;
                Ok(Transport::Channel { channel, owned: true })
            }
            _ => Err(Error::validation("a transport is a BroadcastChannel, { channel: name } or a WebSocket")),
        }
    }

    fn target(&self) -> &EventTarget {
        match self {
            Transport::Channel { channel, .. } => channel,
            Transport::Socket(socket) => socket,
        }
    }

    /// Sends `text`; a transport that is closing or closed drops it (the peer is gone).
    fn send(&self, text: &str) {
        let _ = match self {
            Transport::Channel { channel, .. } => channel.post_message(&text.into()),
            Transport::Socket(socket) if socket.ready_state() == WebSocket::OPEN => socket.send_with_str(text),
            Transport::Socket(_) => Ok(()),
        };
    }
}

/// A transport being served until `close()` (or a socket's close); dropping the handle does not
/// stop it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RemoteServer {
    serving: Rc<Serving>,
}

#[derive(Debug)]
struct Serving {
    transport: Transport,
    gate: RefCell<Gate>,
    registry: Registry,
    events: Rc<EventHub>,
    closed: Cell<bool>,
    /// The transport's `message` listener (and a socket's `close`).
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_close: Closure<dyn FnMut()>,
    /// What subscriptions call: sends the event to the peer. One function, so a peer that
    /// subscribes again adds nothing.
    on_event: Closure<dyn FnMut(JsValue)>,
    /// Itself, until `close()`: serving goes on when the caller drops the handle (or the
    /// garbage collector frees it), as a listener on the transport would.
    keep: RefCell<Option<Rc<Serving>>>,
}

impl RemoteServer {
    pub(super) fn start(
        registry: Registry,
        events: Rc<EventHub>,
        transport: &JsValue,
        options: &JsValue,
    ) -> Result<Self, Error> {
        let options: ServeOptions = parse_options(options, "serve options", SERVE_KEYS, &[])?;
        if options.token.as_deref() == Some("") {
            return Err(Error::validation("token must not be empty (leave it out for none)"));
        }
        let defaults = Limits::default();
        let limits = Limits {
            max_message_bytes: options.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            rate_per_second: options.rate_per_second.unwrap_or(defaults.rate_per_second),
            burst: options.burst.unwrap_or(defaults.burst),
        };
        let transport = Transport::from_js(transport)?;
        let serving = Rc::new_cyclic(|this: &Weak<Serving>| {
            let on_message = {
                let this = this.clone();
                Closure::new(move |event: MessageEvent| {
                    if let Some(serving) = this.upgrade() {
                        serving.receive(event.data());
                    }
                })
            };
            let on_close = {
                let this = this.clone();
                Closure::new(move || {
                    if let Some(serving) = this.upgrade() {
                        serving.close();
                    }
                })
            };
            let on_event = {
                let this = this.clone();
                Closure::new(move |envelope: JsValue| {
                    if let Some(serving) = this.upgrade() {
                        serving.send(&envelope);
                    }
                })
            };
            Serving {
                transport,
                gate: RefCell::new(Gate::new(limits, options.token)),
                registry,
                events,
                closed: Cell::new(false),
                on_message,
                on_close,
                on_event,
                keep: RefCell::new(None),
            }
        });
        *serving.keep.borrow_mut() = Some(serving.clone());
        let target = serving.transport.target();
        target
            .add_event_listener_with_callback("message", serving.on_message.as_ref().unchecked_ref())
            .map_err(|e| Error::validation(format!("cannot listen to the transport: {e:?}")))?;
        if let Transport::Socket(_) = serving.transport {
            let _ = target.add_event_listener_with_callback("close", serving.on_close.as_ref().unchecked_ref());
        }
        Ok(RemoteServer { serving })
    }
}

#[wasm_bindgen]
impl RemoteServer {
    /// Stops serving: no more requests are read, the peer's subscriptions end, and a channel made
    /// from `{ channel: name }` is closed. A `WebSocket` or `BroadcastChannel` passed in stays
    /// open (it is the caller's). Calling it again does nothing.
    pub fn close(&self) {
        self.serving.close();
    }

    /// Whether `close()` was called (or the socket closed).
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.serving.closed.get()
    }
}

impl Serving {
    fn listener(&self) -> &Function {
        self.on_event.as_ref().unchecked_ref()
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let target = self.transport.target();
        let _ = target.remove_event_listener_with_callback("message", self.on_message.as_ref().unchecked_ref());
        let _ = target.remove_event_listener_with_callback("close", self.on_close.as_ref().unchecked_ref());
        self.unsubscribe_all();
        if let Transport::Channel { channel, owned: true } = &self.transport {
            channel.close();
        }
        // The caller of `close` holds another reference: this one may go now.
        let itself = self.keep.borrow_mut().take();
        drop(itself);
    }

    /// Unsubscribes the peer from everything (after `close`, a subscription that was under way).
    fn unsubscribe_all(&self) {
        for event in EVENTS {
            self.events.off(event, self.listener());
        }
    }

    /// Sends a response or an event as JSON text.
    fn send(&self, message: &JsValue) {
        if self.closed.get() {
            return;
        }
        match JSON::stringify(message).ok().and_then(|t| t.as_string()) {
            Some(text) => self.transport.send(&text),
            None => {
                web_sys::console::error_2(&"worker-bridge: a remote-control message has no JSON form".into(), message)
            }
        }
    }

    /// An error response to a request that could not be read, or was refused.
    fn refuse(&self, id: &JsValue, error: Error) {
        let out = Object::new();
        let _ = Reflect::set(&out, &"id".into(), id);
        let _ = Reflect::set(&out, &"type".into(), &"response".into());
        let js = to_js(&error);
        let detail = Object::new();
        let _ = Reflect::set(&detail, &"name".into(), &error.kind().name().into());
        let _ = Reflect::set(&detail, &"message".into(), &Reflect::get(&js, &"message".into()).unwrap_or_default());
        let _ = Reflect::set(&out, &"error".into(), &detail);
        self.send(&out);
    }

    /// One message from the peer: checked by the gate, then answered by the registry. Messages
    /// that are not requests — answers and events that other peers on a shared channel post —
    /// are left alone: two servers on one `BroadcastChannel` would otherwise answer each other
    /// forever.
    fn receive(self: Rc<Self>, data: JsValue) {
        if self.closed.get() {
            return;
        }
        // UTF-16 units never outnumber UTF-8 bytes: a text longer than the limit in units is too
        // large without copying it out; a shorter one is measured exactly.
        let max = self.gate.borrow().limits().max_message_bytes;
        let text = data.dyn_ref::<JsString>();
        let owned = text.filter(|t| t.length() <= max).map(String::from);
        let bytes = match (text, &owned) {
            (Some(_), Some(t)) => t.len() as u64,
            (Some(_), None) => u64::from(max) + 1,
            (None, _) => 0,
        };
        // A request within the size is parsed before the rate is checked, so that a refusal
        // carries its id; whatever is read spends from the rate all the same.
        let request = owned.as_deref().and_then(|t| JSON::parse(t).ok()).filter(JsValue::is_object);
        if let Some(message) = &request {
            let kind = Reflect::get(message, &"type".into()).ok().and_then(|t| t.as_string());
            if matches!(kind.as_deref(), Some("response" | "event")) {
                return;
            }
        }
        let id = request.as_ref().and_then(|r| Reflect::get(r, &"id".into()).ok()).filter(|id| !id.is_undefined());
        let id = id.unwrap_or(JsValue::NULL);
        if let Err(refusal) = self.gate.borrow_mut().admit(bytes, now_ms()) {
            return self.refuse(&id, refusal.into());
        }
        if text.is_none() {
            return self.refuse(
                &JsValue::NULL,
                Error::validation("a request is the JSON text of { id, type: 'request', action, params }"),
            );
        }
        let Some(request) = request else {
            return self.refuse(&JsValue::NULL, Error::validation("a request is the JSON text of an object"));
        };
        let token = Reflect::get(&request, &"token".into()).ok().and_then(|t| t.as_string());
        if let Err(refusal) = self.gate.borrow().check_token(token.as_deref()) {
            return self.refuse(&id, refusal.into());
        }
        wasm_bindgen_futures::spawn_local(async move {
            if self.closed.get() {
                return;
            }
            let listener = self.listener().clone();
            let Answer { response, snapshot } =
                answer(self.registry.clone(), self.events.clone(), request, Some(listener.clone())).await;
            if self.closed.get() {
                // Closed while it was answered: a subscription it made must not outlive the server.
                return self.unsubscribe_all();
            }
            self.send(&response);
            if snapshot {
                deliver_snapshot(&self.registry, &self.events, &listener);
            }
        });
    }
}
