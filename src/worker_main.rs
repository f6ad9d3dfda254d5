//! The Rust side of a pool worker. `worker/worker.js` instantiates the page's wasm module inside
//! the worker and calls [`worker_main`], which answers `Ready` and then serves requests: decode
//! the envelope, run the op over the transferred body, post the output back transferred.
//!
//! Cancellation and progress take one of two routes, chosen per request by what the page sent:
//! shared memory (`Int32Array`s over `SharedArrayBuffer` beside the body: the worker reads the
//! cancel flag and writes progress directly, in a tight synchronous loop), or messages (the worker
//! posts `Progress` at most every [`PROGRESS_EVERY_MS`] and yields to its event loop every
//! `driver::YIELD_EVERY_MS` so a `Cancel` message can arrive). The op runs through the one
//! driver (`crate::driver`) in the worker's pace.
//!
//! A malformed message is answered with a `Failed` (carrying the request id when one can be read);
//! it never takes the worker down. A panic is reported as `Crashed` before the instance traps.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Int32Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::driver::{self, Outcome, WorkerPace};
use crate::error::Error;
use crate::io::source::Input;
use crate::ops::{Op, Progress};
use crate::protocol::{self, Caps, Envelope, FromWorker, HttpMeta, OutputKind, RequestId, ToWorker, WireError};
use crate::runtime::cancel::LocalCancel;
use crate::shared::{as_words, CancelBlock, ProgressBlock};

/// Message mode: how often a running op posts `Progress`.
const PROGRESS_EVERY_MS: f64 = 16.0;

type Listener = Closure<dyn FnMut(MessageEvent)>;

thread_local! {
    /// The worker's message listener, kept for the worker's whole life.
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
    /// The request being run and its cancel flag (message mode).
    static CURRENT: RefCell<Option<(RequestId, Rc<LocalCancel>)>> = const { RefCell::new(None) };
}

/// Entry point of a pool worker, called by `worker/worker.js` once the module is instantiated.
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeWorkerMain)]
pub fn worker_main(worker_id: u32) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| JsValue::from_str("worker-bridge: worker_main must run in a dedicated worker"))?;
    std::panic::set_hook(Box::new(|info| {
        // The instance traps right after this hook; tell the page why, so the call fails fast.
        if let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() {
            post(&scope, &FromWorker::Crashed { message: format!("panic: {info}") }, None);
        }
    }));
    let listener = Closure::<dyn FnMut(MessageEvent)>::new({
        let scope = scope.clone();
        move |ev: MessageEvent| serve(&scope, ev.data())
    });
    scope.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    LISTENER.with(|l| *l.borrow_mut() = Some(listener));

    let shared_memory = Reflect::get(&scope, &"crossOriginIsolated".into()).map(|v| v.is_truthy()).unwrap_or(false);
    let caps = Caps { shared_memory, version: env!("CARGO_PKG_VERSION").to_owned() };
    post(&scope, &FromWorker::Ready { worker: worker_id, caps }, None);
    Ok(())
}

/// Handles one message from the page.
fn serve(scope: &DedicatedWorkerGlobalScope, data: JsValue) {
    let msg = match protocol::decode::<ToWorker, _>(serde_wasm_bindgen::Deserializer::from(data.clone())) {
        Ok(msg) => msg,
        Err(error) => {
            let failed = FromWorker::Failed { id: readable_id(&data), error: WireError::from(&error) };
            return post(scope, &failed, None);
        }
    };
    match msg {
        ToWorker::Ping { seq } => {
            let memory = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>().buffer();
            let memory = Reflect::get(&memory, &"byteLength".into()).ok().and_then(|n| n.as_f64()).unwrap_or(0.0);
            post(scope, &FromWorker::Pong { seq, memory }, None)
        }
        #[cfg(feature = "test-ops")]
        ToWorker::Stall { ms } => {
            // Busy on purpose: the thread answers nothing, not even pings, until `ms` passed.
            let until = js_sys::Date::now() + f64::from(ms.min(crate::ops::TEST_OP_LIMIT));
            while js_sys::Date::now() < until {
                std::hint::spin_loop();
            }
        }
        ToWorker::Cancel { id } => CURRENT.with(|c| {
            if let Some((current, flag)) = &*c.borrow() {
                if *current == id {
                    flag.cancel();
                }
            }
        }),
        ToWorker::Request { id, op, progress, output } => {
            if CURRENT.with(|c| c.borrow().is_some()) {
                let error = Error::validation("the worker is already running a request");
                return post(scope, &FromWorker::Failed { id: Some(id), error: WireError::from(&error) }, None);
            }
            let flag = Rc::new(LocalCancel::default());
            CURRENT.with(|c| *c.borrow_mut() = Some((id, flag.clone())));
            let scope = scope.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let result = run(&scope, id, &op, progress, output, &data, &flag).await;
                CURRENT.with(|c| c.borrow_mut().take());
                match result {
                    Ok((body, http)) => post(&scope, &FromWorker::Response { id, http }, Some(&body)),
                    Err(error) => {
                        post(&scope, &FromWorker::Failed { id: Some(id), error: WireError::from(&error) }, None)
                    }
                }
            });
        }
    }
}

/// Publishes progress: straight into shared memory, or as throttled `Progress` messages.
struct WorkerProgress<'a> {
    scope: &'a DedicatedWorkerGlobalScope,
    id: RequestId,
    block: Option<ProgressBlock>,
    last_post: f64,
}

impl Progress for WorkerProgress<'_> {
    fn report(&mut self, done: u64, total: u64) {
        match &self.block {
            Some(block) => block.write(done, total),
            None => {
                let now = js_sys::Date::now();
                if now - self.last_post >= PROGRESS_EVERY_MS {
                    self.last_post = now;
                    let msg = FromWorker::Progress { id: self.id, done: done as f64, total: total as f64 };
                    post(self.scope, &msg, None);
                }
            }
        }
    }
}

fn attachment(data: &JsValue, key: &str) -> Option<Int32Array> {
    Reflect::get(data, &key.into()).ok().and_then(|v| as_words(&v))
}

/// Runs one request through the driver in the worker's pace.
async fn run(
    scope: &DedicatedWorkerGlobalScope,
    id: RequestId,
    op: &Op,
    wants_progress: bool,
    output: OutputKind,
    data: &JsValue,
    flag: &LocalCancel,
) -> Result<(JsValue, Option<HttpMeta>), Error> {
    let body = Reflect::get(data, &"body".into())
        .ok()
        .and_then(Input::from_js)
        .ok_or_else(|| Error::validation("the request has no Uint8Array or Blob body"))?;
    // Shared blocks count only when they really are shared; plain ones would be copies.
    let cancel = attachment(data, "cancel").and_then(CancelBlock::from_words).filter(CancelBlock::is_shared);
    let progress_block =
        attachment(data, "progress").and_then(ProgressBlock::from_words).filter(ProgressBlock::is_shared);

    let mut progress = WorkerProgress { scope, id, block: progress_block, last_post: f64::NEG_INFINITY };
    let mut silent = crate::ops::NoProgress;
    let sink: &mut dyn Progress = if wants_progress { &mut progress } else { &mut silent };
    let mut pace = WorkerPace::new(flag, cancel.as_ref());
    match driver::run(op, &body, output, &mut pace, sink).await? {
        Outcome::Body(body) => Ok((body, None)),
        Outcome::Http(meta, body) => Ok((body, Some(meta))),
    }
}

/// The id of a message that failed to decode, if it has a well-formed one.
fn readable_id(data: &JsValue) -> Option<RequestId> {
    let msg = Reflect::get(data, &"msg".into()).ok()?;
    Reflect::get(&msg, &"id".into()).ok()?.as_string()?.parse().ok()
}

/// Posts `msg` with an optional `body`; a `Uint8Array`'s buffer is transferred, a `Blob` goes
/// by reference.
fn post(scope: &DedicatedWorkerGlobalScope, msg: &FromWorker, body: Option<&JsValue>) {
    let wire = match serde::Serialize::serialize(&Envelope::new(msg), &serde_wasm_bindgen::Serializer::new()) {
        Ok(wire) => wire,
        Err(e) => {
            web_sys::console::error_1(&format!("worker-bridge: cannot encode a reply: {e}").into());
            return;
        }
    };
    let transfer = Array::new();
    if let Some(body) = body {
        let _ = Reflect::set(&wire, &"body".into(), body);
        if let Some(bytes) = body.dyn_ref::<Uint8Array>() {
            transfer.push(&bytes.buffer());
        }
    }
    if let Err(e) = scope.post_message_with_transfer(&wire, &transfer) {
        web_sys::console::error_2(&"worker-bridge: cannot post a reply".into(), &e);
    }
}
