//! The Rust side of a pool worker. `worker/worker.js` instantiates the page's wasm module inside
//! the worker and calls [`worker_main`], which answers `Ready` and then serves requests: decode
//! the envelope, run the op over the transferred body, post the output back transferred.
//!
//! A malformed message is answered with a `Failed` (carrying the request id when one can be read);
//! it never takes the worker down.

use std::cell::RefCell;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::error::Error;
use crate::ops::{self, NeverCancel, NoProgress, DEFAULT_CHUNK};
use crate::protocol::{self, Caps, Envelope, FromWorker, RequestId, ToWorker, WireError};
use crate::source::JsBytesSource;

type Listener = Closure<dyn FnMut(MessageEvent)>;

thread_local! {
    /// The worker's message listener, kept for the worker's whole life.
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
}

/// Entry point of a pool worker, called by `worker/worker.js` once the module is instantiated.
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeWorkerMain)]
pub fn worker_main(worker_id: u32) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| JsValue::from_str("worker-bridge: worker_main must run in a dedicated worker"))?;
    let listener = Closure::<dyn FnMut(MessageEvent)>::new({
        let scope = scope.clone();
        move |ev: MessageEvent| serve(&scope, &ev.data())
    });
    scope.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    LISTENER.with(|l| *l.borrow_mut() = Some(listener));

    let shared_memory =
        Reflect::get(&scope, &JsValue::from_str("crossOriginIsolated")).map(|v| v.is_truthy()).unwrap_or(false);
    let caps = Caps { shared_memory, version: env!("CARGO_PKG_VERSION").to_owned() };
    post(&scope, &FromWorker::Ready { worker: worker_id, caps }, None);
    Ok(())
}

/// Handles one message from the page.
fn serve(scope: &DedicatedWorkerGlobalScope, data: &JsValue) {
    let msg = match protocol::decode::<ToWorker, _>(serde_wasm_bindgen::Deserializer::from(data.clone())) {
        Ok(msg) => msg,
        Err(error) => {
            let failed = FromWorker::Failed { id: readable_id(data), error: WireError::from(&error) };
            return post(scope, &failed, None);
        }
    };
    match msg {
        ToWorker::Ping { seq } => post(scope, &FromWorker::Pong { seq }, None),
        ToWorker::Request { id, op } => match run(&op, data) {
            Ok(out) => {
                let body = Uint8Array::from(out.as_slice());
                post(scope, &FromWorker::Response { id }, Some(&body));
            }
            Err(error) => post(scope, &FromWorker::Failed { id: Some(id), error: WireError::from(&error) }, None),
        },
    }
}

fn run(op: &ops::Op, data: &JsValue) -> Result<Vec<u8>, Error> {
    let body = Reflect::get(data, &JsValue::from_str("body"))
        .ok()
        .and_then(|b| b.dyn_into::<Uint8Array>().ok())
        .ok_or_else(|| Error::validation("the request has no Uint8Array body"))?;
    ops::drive(op.start()?, &mut JsBytesSource::new(body, DEFAULT_CHUNK), &mut NoProgress, &NeverCancel)
}

/// The id of a message that failed to decode, if it has a well-formed one.
fn readable_id(data: &JsValue) -> Option<RequestId> {
    let msg = Reflect::get(data, &JsValue::from_str("msg")).ok()?;
    Reflect::get(&msg, &JsValue::from_str("id")).ok()?.as_string()?.parse().ok()
}

/// Posts `msg` with an optional `body` whose buffer is transferred.
fn post(scope: &DedicatedWorkerGlobalScope, msg: &FromWorker, body: Option<&Uint8Array>) {
    let wire = match serde::Serialize::serialize(&Envelope::new(msg), &serde_wasm_bindgen::Serializer::new()) {
        Ok(wire) => wire,
        Err(e) => {
            web_sys::console::error_1(&format!("worker-bridge: cannot encode a reply: {e}").into());
            return;
        }
    };
    let transfer = Array::new();
    if let Some(body) = body {
        let _ = Reflect::set(&wire, &JsValue::from_str("body"), body);
        transfer.push(&body.buffer());
    }
    if let Err(e) = scope.post_message_with_transfer(&wire, &transfer) {
        web_sys::console::error_2(&"worker-bridge: cannot post a reply".into(), &e);
    }
}
