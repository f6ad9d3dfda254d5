//! Every `web_sys::Worker` call of the pool lives here: spawning through `worker/spawn.js`,
//! posting envelopes with their transfer lists, and the event listeners, which this handle owns
//! and removes when it is dropped (no `forget()`).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, Event, MessageEvent, Worker};

use crate::error::{Error, ErrorKind};
use crate::io::wire;
use crate::protocol::{encode_batch, ToWorker};
use crate::runtime::glue::glue_url;
use crate::runtime::js_error::describe;
use crate::shared::{CancelBlock, Heartbeat, ProgressBlock};

#[wasm_bindgen(module = "/worker/spawn.js")]
extern "C" {
    /// Creates `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })` (or from
    /// `worker_url`) and posts it the compiled module and the glue's URL.
    #[wasm_bindgen(js_name = spawnWorker, catch)]
    fn spawn_worker(
        module: &JsValue,
        glue_url: &str,
        worker_id: u32,
        name: &str,
        threads: u32,
        busy_poll_us: u32,
        worker_url: Option<String>,
    ) -> Result<Worker, JsValue>;
}

/// Test builds only: the URL workers start from without `workerUrl`.
#[cfg(feature = "test-ops")]
#[wasm_bindgen(module = "/worker/spawn.js")]
extern "C" {
    #[wasm_bindgen(js_name = defaultWorkerUrl)]
    pub(crate) fn default_worker_url() -> String;
}

// Names `worker/worker.js` so wasm-bindgen copies it beside `spawn.js` in `pkg/snippets/`; the
// worker bootstrap is only ever started by URL, never called through this binding.
#[wasm_bindgen(module = "/worker/worker.js")]
extern "C" {
    #[wasm_bindgen(js_name = isWorkerBridgeWorker)]
    fn _is_worker_bridge_worker() -> bool;
}

// Names `worker/protocol.js` (the envelopes the worker scripts build) so wasm-bindgen copies it
// beside the scripts that import it; nothing in Rust calls it.
#[wasm_bindgen(module = "/worker/protocol.js")]
extern "C" {
    #[wasm_bindgen(js_name = envelope)]
    fn _envelope(msg: &JsValue, payload: &JsValue) -> JsValue;
}

// Names `worker/threads.js` (the threaded build's helper threads, which worker.js imports in
// both builds) for the same reason.
#[wasm_bindgen(module = "/worker/threads.js")]
extern "C" {
    #[wasm_bindgen(js_name = runThread)]
    fn _run_thread();
}

// Names `worker/glue.js` (how worker scripts find the generated glue) for the same reason.
#[wasm_bindgen(module = "/worker/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = loadGlue)]
    fn _load_glue(glue_url: &str) -> js_sys::Promise;
}

#[cfg(feature = "test-ops")]
thread_local! {
    static BROKEN_BOOTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Test builds only: the next `n` workers get an unreachable glue URL, so (where the bundler's
/// relative import of the glue fails, as in the test runner) they really fail to boot.
#[cfg(feature = "test-ops")]
pub(crate) fn break_boots(n: u32) {
    BROKEN_BOOTS.with(|b| b.set(n));
}

#[cfg(feature = "test-ops")]
fn take_broken_boot() -> bool {
    BROKEN_BOOTS.with(|b| {
        let n = b.get();
        b.set(n.saturating_sub(1));
        n > 0
    })
}

/// What a worker tells its slot.
#[derive(Debug)]
pub(crate) enum WorkerEvent {
    /// A message (an envelope plus, maybe, a `body`).
    Message(JsValue),
    /// An uncaught exception or a wasm trap in the worker, or its script failed to load.
    Error(String),
    /// A message from the worker could not be deserialised.
    MessageError,
}

/// What travels beside a message: the input bytes and, when memory is shared, the call's
/// progress and cancel blocks.
#[derive(Debug, Default)]
pub(crate) struct Attachments {
    /// A `Uint8Array` or a `Blob`.
    pub(crate) body: Option<JsValue>,
    pub(crate) transfer_body: bool,
    /// The body is the caller's buffer, moved with `transfer: true` (`wire::Attachment::callers`).
    pub(crate) callers: bool,
    /// An app's task's input, in place of a body, and what it moves (when `transfer_body`).
    pub(crate) value: Option<crate::io::source::TaskValue>,
    /// An input stream, in place of a body: a `ReadableStream` or the `MessagePort` relaying
    /// one (`io::stream::portable`), always moved.
    pub(crate) stream: Option<JsValue>,
    /// Where the output goes: a `WritableStream` or the port relaying one (moved), or a
    /// `FileSystemFileHandle` (cloned).
    pub(crate) sink: Option<JsValue>,
    pub(crate) progress: Option<ProgressBlock>,
    pub(crate) cancel: Option<CancelBlock>,
    /// The worker's heartbeat, with its first request.
    pub(crate) beat: Option<Heartbeat>,
}

/// One message waiting to be posted, with what travels beside it.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) msg: ToWorker,
    pub(crate) attachments: Attachments,
}

impl Outgoing {
    /// A call for the worker's queue: a request not over streams (those run beside it).
    pub(crate) fn is_call(&self) -> bool {
        matches!(self.msg, ToWorker::Request { .. })
            && self.attachments.stream.is_none()
            && self.attachments.sink.is_none()
    }
}

/// A running worker and the listeners that route its events to the pool.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    worker: Worker,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_error: Closure<dyn FnMut(Event)>,
    on_message_error: Closure<dyn FnMut(MessageEvent)>,
}

impl WorkerHandle {
    /// Spawns worker `id` running this page's own compiled wasm module, with `threads` threads
    /// (its own included; more than 1 only in the threaded build), polling for its next call at
    /// most `busy_poll_us` between calls.
    ///
    /// # Errors
    /// `NotSupportedError` when the browser refuses to create the worker (no `Worker`, CSP).
    pub(crate) fn spawn(
        id: u32,
        threads: u32,
        busy_poll_us: u32,
        worker_url: Option<&str>,
        mut on_event: impl FnMut(WorkerEvent) + Clone + 'static,
    ) -> Result<Self, Error> {
        let glue_url = glue_url();
        #[cfg(feature = "test-ops")]
        let glue_url = if take_broken_boot() { format!("{glue_url}.missing.js") } else { glue_url };
        let name = format!("worker-bridge-{id}");
        let worker = spawn_worker(
            &wasm_bindgen::module(),
            &glue_url,
            id,
            &name,
            threads,
            busy_poll_us,
            worker_url.map(str::to_owned),
        )
        .map_err(|e| Error::new(ErrorKind::Unsupported, format!("cannot create a worker: {}", describe(&e))))?;

        let mut on_msg = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            on_msg(WorkerEvent::Message(ev.data()));
        });
        let mut on_err = on_event.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
            // Keep the page's console clean: the pool reports the crash through the call's promise.
            ev.prevent_default();
            // An uncaught exception or trap gives an `ErrorEvent`; a script the browser refused to
            // load (CSP, 404) gives a plain `Event` with no message.
            let message = ev.dyn_ref::<ErrorEvent>().map(ErrorEvent::message).filter(|m| !m.is_empty());
            on_err(WorkerEvent::Error(message.unwrap_or_else(|| "the worker script failed to load".into())));
        });
        let on_message_error = Closure::<dyn FnMut(MessageEvent)>::new(move |_ev: MessageEvent| {
            on_event(WorkerEvent::MessageError);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        worker.set_onmessageerror(Some(on_message_error.as_ref().unchecked_ref()));
        Ok(WorkerHandle { worker, on_message, on_error, on_message_error })
    }

    /// Posts `batch` in one message (the wire: `io::wire`). A body is moved (its buffer in the
    /// transfer list) unless its `transfer_body` is false, when the browser copies it.
    ///
    /// # Errors
    /// `ValidationError` when the browser cannot clone or transfer the message.
    pub(crate) fn post(&self, batch: &[Outgoing]) -> Result<(), Error> {
        let msgs: Vec<&ToWorker> = batch.iter().map(|o| &o.msg).collect();
        let mut wire = wire::Outgoing::new(encode_batch(&msgs)?.into_bytes());
        for Outgoing { attachments: a, .. } in batch {
            let mut blocks = Vec::new();
            if let Some(progress) = &a.progress {
                blocks.push(("progress", progress.words()));
            }
            if let Some(cancel) = &a.cancel {
                blocks.push(("cancel", cancel.words()));
            }
            if let Some(beat) = &a.beat {
                blocks.push(("beat", beat.words()));
            }
            wire.attach(wire::Attachment {
                body: a.body.as_ref(),
                transfer_body: a.transfer_body,
                callers: a.callers,
                blocks,
                value: a.value.as_ref().map(|v| &v.value),
                transfer: a.value.as_ref().map(|v| &v.transfer).filter(|_| a.transfer_body),
                stream: a.stream.as_ref(),
                sink: a.sink.as_ref(),
            });
        }
        let (message, transfer) = wire.finish();
        self.worker
            .post_message_with_transfer(&message, &transfer)
            .map_err(|e| Error::validation(format!("cannot send the message to a worker: {}", describe(&e))))
    }

    /// Posts any value as is (tests of the worker's input validation).
    #[cfg(feature = "test-ops")]
    pub(crate) fn post_raw(&self, value: &JsValue) -> Result<(), Error> {
        self.worker.post_message(value).map_err(|e| Error::validation(describe(&e)))
    }

    /// Stops the worker at once; its listeners go when the handle is dropped.
    pub(crate) fn terminate(&self) {
        self.worker.terminate();
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.worker.terminate();
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.set_onmessageerror(None);
        let _ = (&self.on_message, &self.on_error, &self.on_message_error);
    }
}
