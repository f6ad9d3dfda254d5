//! The API layer, the only wasm-bindgen surface with logic in its signatures: `WorkerBridge`
//! and its facades. Each export converts its arguments to typed Rust values once and goes
//! through the one call pipeline (`pipeline`: prepare → queue → promise); no work happens here.

mod compression;
mod crypto;
mod file;
mod input;
mod network;
mod options;
mod pipeline;
mod remote;
mod services;
mod staging;
mod tasks;

pub use compression::CompressionFacade;
pub use crypto::CryptoFacade;
pub use file::FileFacade;
pub use network::NetworkFacade;
pub use remote::RemoteServer;
pub use services::ServicesFacade;
pub use tasks::TasksFacade;

use std::cell::{OnceCell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::ops::engine::engines;
use crate::runtime::js_error::to_js;
#[cfg(feature = "test-ops")]
use crate::{error::Error, ops::Op, protocol::OutputKind};
use options::{check_pool_size, Settings};
use pipeline::{reject, Bridge};

/// A pool of Web Workers running worker-bridge ops, or the main-thread fallback.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WorkerBridge {
    bridge: Rc<Bridge>,
    /// The `services` object JavaScript gets, made at the first access: the same one every time
    /// (a new wrapper per access cost an allocation and a finalizer per `services.send`).
    services: OnceCell<JsValue>,
}

/// The shared bridge's bridge once created (`None` while creation is pending).
type SharedBridge = Rc<RefCell<Option<Weak<Bridge>>>>;

thread_local! {
    /// `WorkerBridge.shared()`: the pending or settled creation, and the bridge once it exists.
    static SHARED: RefCell<Option<(Promise, SharedBridge)>> = const { RefCell::new(None) };
}

impl WorkerBridge {
    fn new(bridge: Rc<Bridge>) -> Self {
        WorkerBridge { bridge, services: OnceCell::new() }
    }

    /// Long-running services: `register`, `start`, `stop`, `restart`, `send`, `list`, `status`, …
    /// (JavaScript reads the `services` property.)
    pub fn services(&self) -> ServicesFacade {
        services::facade(&self.bridge.services, &self.bridge.events)
    }
}

#[wasm_bindgen]
impl WorkerBridge {
    /// Spawns the pool (or sets up the main-thread fallback) and resolves once it takes calls.
    ///
    /// Options: `poolSize` (default `max(1, hardwareConcurrency - 1)`), `fallback`
    /// (`'auto'` | `'always'` | `'never'`), `strategy` (`'least-busy'` | `'round-robin'`),
    /// `maxQueue` (10,000), `timeoutMs` (60,000; 0 = none), `retries` (1), `healthIntervalMs`
    /// (5,000; 0 = no pings), `cancelGraceMs` (250), `serviceOrigins` (origins besides the page's
    /// that service handler modules may come from; none).
    #[wasm_bindgen(unchecked_return_type = "Promise<WorkerBridge>")]
    pub fn create(options: JsValue) -> Promise {
        future_to_promise(async move {
            let settings = Settings::from_js(&options).map_err(|e| to_js(&e))?;
            let bridge = Bridge::create(settings).await.map_err(|e| to_js(&e))?;
            Ok(WorkerBridge::new(Rc::new(bridge)).into())
        })
    }

    /// One bridge for the whole page, created with default options on first use. After it is
    /// terminated, the next call creates a fresh one.
    #[wasm_bindgen(unchecked_return_type = "Promise<WorkerBridge>")]
    pub fn shared() -> Promise {
        SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            if let Some((promise, bridge)) = shared.as_ref() {
                let alive = match &*bridge.borrow() {
                    None => true, // still being created
                    Some(weak) => weak.upgrade().is_some_and(|c| !c.executor.is_terminated()),
                };
                if alive {
                    return promise.clone();
                }
            }
            let slot = Rc::new(RefCell::new(None));
            let promise = future_to_promise({
                let slot = slot.clone();
                async move {
                    match async { Bridge::create(Settings::defaults()?).await }.await {
                        Ok(bridge) => {
                            let bridge = Rc::new(bridge);
                            *slot.borrow_mut() = Some(Rc::downgrade(&bridge));
                            Ok(WorkerBridge::new(bridge).into())
                        }
                        Err(e) => {
                            SHARED.with(|s| s.borrow_mut().take());
                            Err(to_js(&e))
                        }
                    }
                }
            });
            *shared = Some((promise.clone(), slot));
            promise
        })
    }

    /// Crypto: `sha256`, `generateKey`, `generateNonce`, `encrypt`, `decrypt`, `encryptFile`,
    /// `decryptFile`.
    #[wasm_bindgen(getter)]
    pub fn crypto(&self) -> CryptoFacade {
        CryptoFacade::new(self.bridge.clone())
    }

    /// Compression: `gzip`/`gunzip`, `deflate`/`inflate` (raw), `zlib`/`unzlib`.
    #[wasm_bindgen(getter)]
    pub fn compression(&self) -> CompressionFacade {
        CompressionFacade::new(self.bridge.clone())
    }

    /// Your own tasks: `register(name, { module, export })` and `run(name, input, options)`, in
    /// the pool like the built-in ops.
    #[wasm_bindgen(getter)]
    pub fn tasks(&self) -> TasksFacade {
        TasksFacade::new(self.bridge.clone())
    }

    /// Network: `fetch` in a worker, with progress, cancellation and hashing.
    #[wasm_bindgen(getter)]
    pub fn network(&self) -> NetworkFacade {
        NetworkFacade::new(self.bridge.clone())
    }

    /// Long-running services: `register`, `start`, `stop`, `restart`, `send`, `list`, `status`, …
    /// (the same object at every access).
    #[doc(hidden)] // Rust callers use `services()`.
    #[wasm_bindgen(getter = services, unchecked_return_type = "ServicesFacade")]
    pub fn services_js(&self) -> JsValue {
        self.services.get_or_init(|| self.services().into()).clone()
    }

    /// Calls `listener({ type: 'event', event, data })` on every `event`: `service_state_changed`,
    /// `health_check_result`, `worker_state_changed` or `registry_loaded`. Adding the same
    /// listener to the same event again does nothing.
    ///
    /// # Errors
    /// `ValidationError` for any other name; `LimitExceededError` when the event has 1,000
    /// listeners already.
    pub fn on(&self, event: String, listener: js_sys::Function) -> Result<(), JsValue> {
        crate::events::known(std::slice::from_ref(&event)).map_err(|e| to_js(&e))?;
        self.bridge.events.on(&event, listener).map_err(|e| to_js(&e))
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: String, listener: js_sys::Function) {
        self.bridge.events.off(&event, &listener);
    }

    /// Adds `listener` to every event in `events`; returns the function that removes it again.
    ///
    /// A subscription that includes `registry_loaded` first gets the registry as it is now —
    /// `registry_loaded { services, status, initial: true }` — in a microtask after this returns.
    ///
    /// # Errors
    /// `ValidationError` for an unknown event name, `LimitExceededError` for an event that has
    /// 1,000 listeners already (nothing is added then).
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(&self, events: Vec<String>, listener: js_sys::Function) -> Result<js_sys::Function, JsValue> {
        let snapshot = events.iter().any(|e| e == "registry_loaded");
        let stop = crate::events::subscribe(&self.bridge.events, events, listener.clone()).map_err(|e| to_js(&e))?;
        if snapshot {
            let (registry, events) = (self.bridge.services.clone(), self.bridge.events.clone());
            wasm_bindgen_futures::spawn_local(async move { services::deliver_snapshot(&registry, &events, &listener) });
        }
        Ok(stop)
    }

    /// Removes `listener` from every event in `events`.
    pub fn unsubscribe(&self, events: Vec<String>, listener: js_sys::Function) {
        for event in events {
            self.bridge.events.off(&event, &listener);
        }
    }

    /// Files and Blobs: `sha256`, `chunkPlan`, `readSlice`.
    #[wasm_bindgen(getter)]
    pub fn file(&self) -> FileFacade {
        FileFacade::new(self.bridge.clone())
    }

    /// `{ mode, crossOriginIsolated, workers: [{ id, state, busy, tasksDone, errors, restarts,
    /// lastError, startedAt }], queued, mainThreadTasksDone, fallbackReason?, counters }`.
    pub fn status(&self) -> JsValue {
        let mut status = self.bridge.executor.status();
        status.engines = Some(engines(self.bridge.engine, crate::io::webcrypto::available()));
        serde::Serialize::serialize(&status, &serde_wasm_bindgen::Serializer::new()).unwrap_or(JsValue::NULL)
    }

    /// Grows or shrinks the pool to `size` workers at runtime; queued calls are kept. Busy
    /// workers leave when their call finishes; new ones take calls once ready.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn resize(&self, size: u32) -> Promise {
        match check_pool_size(size, "size").and_then(|size| self.bridge.executor.resize(size as usize)) {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => reject(e),
        }
    }

    /// Rejects every pending and queued call with `TerminatedError`, stops the workers and ends every
    /// service (their workers too). Later calls reject with `TerminatedError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn terminate(&self) -> Promise {
        self.bridge.executor.terminate();
        self.bridge.services.terminate();
        crate::io::copy::drop_spares();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Test builds only: runs a test op (`{ kind: 'echo' | 'sleep' | 'spin' | 'panic' |
    /// 'progress', ... }`) with the usual call options.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __testOp)]
    pub fn test_op(&self, op: JsValue, data: JsValue, options: JsValue) -> Promise {
        let op = serde_wasm_bindgen::from_value::<Op>(op).map_err(|e| Error::validation(format!("not an op: {e}")));
        self.bridge.call(op, &data, &options, &[], OutputKind::Bytes)
    }

    /// Test builds only, for `npm run bench:ipc`: what one request envelope costs to encode and
    /// decode on this thread — as the JSON bytes the pool sends, as a JSON string, and as the
    /// object tree serde-wasm-bindgen builds (the encoding before protocol version 2) — in µs
    /// per message over `n` messages: `{ bytesEncodeUs, bytesDecodeUs, stringEncodeUs,
    /// stringDecodeUs, objectEncodeUs, objectDecodeUs }`.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __envelopeCosts)]
    pub fn envelope_costs(n: u32) -> Result<JsValue, JsValue> {
        use crate::protocol::{decode, decode_batch, encode_batch, Envelope, ToWorker};
        let n = n.max(1);
        let request = ToWorker::Request {
            id: crate::protocol::RequestId::next(),
            op: Op::Sha256,
            progress: false,
            output: OutputKind::Bytes,
            engine: Default::default(),
        };
        let per_message = |start: f64| (js_sys::Date::now() - start) * 1000.0 / f64::from(n);
        let fail = |e: Error| to_js(&e);
        let start = js_sys::Date::now();
        let mut bytes = js_sys::Uint8Array::new_with_length(0);
        for _ in 0..n {
            bytes = js_sys::Uint8Array::from(encode_batch(std::slice::from_ref(&request)).map_err(fail)?.as_bytes());
        }
        let bytes_encode = per_message(start);
        let start = js_sys::Date::now();
        for _ in 0..n {
            std::hint::black_box(decode_batch::<ToWorker>(bytes.to_vec()).map_err(fail)?);
        }
        let bytes_decode = per_message(start);
        let start = js_sys::Date::now();
        let mut text = JsValue::UNDEFINED;
        for _ in 0..n {
            text = JsValue::from_str(&encode_batch(std::slice::from_ref(&request)).map_err(fail)?);
        }
        let string_encode = per_message(start);
        let start = js_sys::Date::now();
        for _ in 0..n {
            std::hint::black_box(decode_batch::<ToWorker>(text.as_string().unwrap_or_default()).map_err(fail)?);
        }
        let string_decode = per_message(start);
        let start = js_sys::Date::now();
        let mut object = JsValue::UNDEFINED;
        for _ in 0..n {
            object = serde::Serialize::serialize(&Envelope::new(&request), &serde_wasm_bindgen::Serializer::new())
                .map_err(|e| JsValue::from_str(&e.to_string()))?;
        }
        let object_encode = per_message(start);
        let start = js_sys::Date::now();
        for _ in 0..n {
            let back: ToWorker = decode(serde_wasm_bindgen::Deserializer::from(object.clone())).map_err(fail)?;
            std::hint::black_box(back);
        }
        let object_decode = per_message(start);
        let out = js_sys::Object::new();
        for (key, value) in [
            ("bytesEncodeUs", bytes_encode),
            ("bytesDecodeUs", bytes_decode),
            ("stringEncodeUs", string_encode),
            ("stringDecodeUs", string_decode),
            ("objectEncodeUs", object_encode),
            ("objectDecodeUs", object_decode),
        ] {
            js_sys::Reflect::set(&out, &key.into(), &value.into())?;
        }
        Ok(out.into())
    }

    /// Test builds only: the bytes of spare buffers the page keeps for large copies
    /// (`io::copy`); with `drop_them`, they are let go after being counted.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __spareBytes)]
    pub fn spare_bytes(drop_them: bool) -> f64 {
        crate::io::copy::spare_bytes(drop_them) as f64
    }

    /// Test builds only: takes turns back to back through the `MessageChannel` that
    /// `yield_to_event_loop` uses where `scheduler.postTask` is missing, until `until()` is
    /// truthy or `max` turns are taken; resolves to the number taken.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __channelTurns)]
    pub fn channel_turns(until: js_sys::Function, max: u32) -> Promise {
        future_to_promise(async move {
            let mut turns = 0u32;
            while turns < max && !until.call0(&JsValue::UNDEFINED)?.is_truthy() {
                let turn = crate::runtime::yielding::channel_turn().ok_or("no MessageChannel")?;
                wasm_bindgen_futures::JsFuture::from(turn).await?;
                turns += 1;
            }
            Ok(turns.into())
        })
    }

    /// Test builds only: the URL workers start from without `workerUrl`.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __defaultWorkerUrl)]
    pub fn default_worker_url() -> String {
        crate::pool::default_worker_url()
    }

    /// Test builds only: the next `n` workers spawned fail to boot.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __breakWorkerBoots)]
    pub fn break_worker_boots(n: u32) {
        crate::pool::break_boots(n);
    }

    /// Test builds only: streams travel to workers transferred where the browser can transfer
    /// them, instead of through the chunk relay (`MessagePort`), which measured faster.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __transferStreams)]
    pub fn transfer_streams(on: bool) {
        crate::io::stream::set_transfer_streams(on);
    }

    /// Test builds only: this thread reads `Blob`s for WebCrypto in slices (`true`), as a
    /// browser without BYOB readers does, or through their streams where it can (`false`).
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __blobSlices)]
    pub fn blob_slices(on: bool) {
        crate::io::source::force_slices(on);
    }

    /// Test builds only: this bridge's workers read `Blob`s in slices (`true`), as a browser
    /// without BYOB readers does, or through their streams where they can (`false`); the
    /// message goes ahead of the calls made after it.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __workerBlobSlices)]
    pub fn worker_blob_slices(&self, on: bool) -> Result<(), JsValue> {
        self.bridge.executor.worker_blob_slices(on).map_err(|e| to_js(&e))
    }

    /// Test builds only: `parts` (`Blob`s and `Uint8Array`s) joined into one `Blob` as a split
    /// call's output is (by an idle worker, else on the page).
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __joinBlobs, unchecked_return_type = "Promise<Blob>")]
    pub fn join_blobs(&self, parts: js_sys::Array) -> Promise {
        let joined = self.bridge.executor.join(parts);
        future_to_promise(async move { joined.await.map(JsValue::from).map_err(|e| to_js(&e)) })
    }

    /// Test builds only: how many joins this bridge's workers answered with a `Blob`.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __workerJoins)]
    pub fn worker_joins(&self) -> u32 {
        self.bridge.executor.worker_joins()
    }

    /// Test builds only: the pool's worker slots, those leaving after their work included.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __slotCount)]
    pub fn slot_count(&self) -> u32 {
        self.bridge.executor.slot_count() as u32
    }

    /// Test builds only: posts `value` to pool worker `index` as is.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __postRaw)]
    pub fn post_raw(&self, index: u32, value: JsValue) -> Result<(), JsValue> {
        self.bridge.executor.post_raw(index as usize, &value).map_err(|e| to_js(&e))
    }

    /// Test builds only: the page's busy polling for this bridge's answers, as
    /// `[turns so far, polling now]`.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __awake)]
    pub fn awake(&self) -> js_sys::Array {
        let (turns, polling) = self.bridge.executor.awake_probe();
        js_sys::Array::of2(&turns.into(), &polling.into())
    }
}
