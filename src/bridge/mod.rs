//! The wasm-bindgen surface: `WorkerBridge` and its facades. Each export converts its arguments
//! to typed Rust values once, hands a call to the executor and maps errors to named JS `Error`s;
//! no work happens here.

mod compression;
mod crypto;
mod file;
mod input;
mod network;
mod parts;
mod services;

pub use compression::CompressionFacade;
pub use crypto::CryptoFacade;
pub use file::FileFacade;
pub use network::NetworkFacade;
pub use services::ServicesFacade;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use js_sys::{Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::call::progress::{ProgressSink, SharedSink};
use crate::call::{aborted, terminated, Counters, Pending, Task};
use crate::error::Error;
use crate::executor::{Executor, Fallback};
use crate::io::source::Input;
use crate::ops::Op;
use crate::pool::PoolConfig;
use crate::protocol::{OutputKind, RequestId};
use crate::runtime::js_error::to_js;
use crate::runtime::timer::AbortWatch;
use crate::scheduler::{Strategy, DEFAULT_MAX_QUEUE};
use crate::shared::{CancelBlock, ProgressBlock};
use input::{milliseconds, owned_input, parse_options, CallOptions, MAX_RETRIES};

/// Largest pool a bridge will spawn: beyond this, workers cost memory without adding cores.
const MAX_POOL_SIZE: u32 = 64;
const DEFAULT_TIMEOUT_MS: u32 = 60_000;
const DEFAULT_RETRIES: u32 = 1;
const DEFAULT_HEALTH_INTERVAL_MS: u32 = 5_000;
const DEFAULT_CANCEL_GRACE_MS: u32 = 250;

/// `WorkerBridge.create(options)`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CreateOptions {
    pool_size: Option<u32>,
    fallback: Fallback,
    strategy: Strategy,
    max_queue: Option<u32>,
    timeout_ms: Option<f64>,
    retries: Option<u32>,
    health_interval_ms: Option<f64>,
    cancel_grace_ms: Option<f64>,
}

impl CreateOptions {
    const KEYS: &'static [&'static str] =
        &["poolSize", "fallback", "strategy", "maxQueue", "timeoutMs", "retries", "healthIntervalMs", "cancelGraceMs"];
}

/// What the bridge and its facades share.
#[derive(Debug)]
pub(crate) struct Core {
    executor: Executor,
    events: Rc<crate::events::EventHub>,
    services: crate::services::Registry,
    nonces: RefCell<crate::nonce_guard::NonceGuard>,
    /// Per-call default; 0 = none.
    timeout_ms: u32,
    retries: u32,
}

impl Core {
    async fn create(options: CreateOptions) -> Result<Core, Error> {
        let global = js_sys::global();
        let max_queue = options.max_queue.map_or(DEFAULT_MAX_QUEUE, |n| n as usize);
        if max_queue == 0 {
            return Err(Error::validation("maxQueue must be at least 1"));
        }
        let size = match options.pool_size {
            Some(n) if (1..=MAX_POOL_SIZE).contains(&n) => n,
            Some(n) => return Err(Error::validation(format!("poolSize must be 1..={MAX_POOL_SIZE}, got {n}"))),
            None => default_pool_size(&global),
        };
        let retries = options.retries.unwrap_or(DEFAULT_RETRIES);
        if retries > MAX_RETRIES {
            return Err(Error::validation(format!("retries must be at most {MAX_RETRIES}")));
        }
        let timeout_ms = options.timeout_ms.map_or(Ok(DEFAULT_TIMEOUT_MS), |ms| milliseconds(ms, "timeoutMs"))?;
        let health_interval_ms = options
            .health_interval_ms
            .map_or(Ok(DEFAULT_HEALTH_INTERVAL_MS), |ms| milliseconds(ms, "healthIntervalMs"))?;
        let cancel_grace_ms =
            options.cancel_grace_ms.map_or(Ok(DEFAULT_CANCEL_GRACE_MS), |ms| milliseconds(ms, "cancelGraceMs"))?;

        let counters = Rc::new(Counters::default());
        let events = Rc::new(crate::events::EventHub::default());
        let core = |executor| Core {
            executor,
            services: crate::services::Registry::new(events.clone()),
            events: events.clone(),
            nonces: RefCell::default(),
            timeout_ms,
            retries,
        };
        let config = PoolConfig {
            size: size as usize,
            strategy: options.strategy,
            max_queue,
            health_interval_ms,
            cancel_grace_ms,
        };
        Executor::start(config, options.fallback, counters, events.clone()).await.map(core)
    }

    /// Validates the call and queues it now; the promise settles with its output. Argument
    /// errors reject the promise rather than throw, so callers handle one failure path.
    pub(crate) fn call(self: &Rc<Self>, op: Op, data: &JsValue, options: &JsValue) -> Promise {
        self.call_with(op, data, options, OutputKind::Bytes)
    }

    /// [`call`](Self::call) for ops with their own option keys (`extra`), read by the facade.
    pub(crate) fn call_extra(self: &Rc<Self>, op: Op, data: &JsValue, options: &JsValue, extra: &[&str]) -> Promise {
        let submitted = CallOptions::from_js(options, extra).and_then(|opts| {
            self.check_open(&opts)?;
            let input = owned_input(data, opts.transfer)?;
            let progress = self.sink_for(&opts, 1);
            self.submit_part(&opts, op, input, OutputKind::Bytes, progress, 0)
        });
        match submitted {
            Ok((_, result)) => future_to_promise(async move { result.await.map_err(|e| to_js(&e)) }),
            Err(e) => Promise::reject(&to_js(&e)),
        }
    }

    /// Records an encryption's (key, nonce) pair, refusing one used before.
    pub(crate) fn record_nonce(&self, key: &[u8], nonce: &[u8]) -> Result<(), Error> {
        self.nonces.borrow_mut().check_and_record(key, nonce)
    }

    /// [`call`](Self::call) for ops whose output defaults to `output` (e.g. a `Blob`).
    pub(crate) fn call_with(self: &Rc<Self>, op: Op, data: &JsValue, options: &JsValue, output: OutputKind) -> Promise {
        match self.submit(op, data, options, output) {
            Ok(result) => future_to_promise(async move { result.await.map_err(|e| to_js(&e)) }),
            Err(e) => Promise::reject(&to_js(&e)),
        }
    }

    fn submit(
        self: &Rc<Self>,
        op: Op,
        data: &JsValue,
        options: &JsValue,
        output: OutputKind,
    ) -> Result<impl std::future::Future<Output = Result<JsValue, Error>>, Error> {
        let options = CallOptions::from_js(options, &[])?;
        self.check_open(&options)?;
        let input = owned_input(data, options.transfer)?;
        let progress = self.sink_for(&options, 1);
        self.submit_part(&options, op, input, output, progress, 0).map(|(_, result)| result)
    }

    /// Rejects a call on a terminated bridge or with an already-aborted signal.
    pub(crate) fn check_open(&self, options: &CallOptions) -> Result<(), Error> {
        if self.executor.is_terminated() {
            return Err(terminated());
        }
        if options.signal.as_ref().is_some_and(|s| s.aborted())
            || options.cancel.as_ref().is_some_and(|c| c.is_cancelled())
        {
            return Err(aborted());
        }
        Ok(())
    }

    /// The progress sink for a call run in `parts` parts, if the caller watches progress.
    pub(crate) fn sink_for(&self, options: &CallOptions, parts: usize) -> Option<SharedSink> {
        if options.on_progress.is_none() && options.progress.is_none() {
            return None;
        }
        Some(match (&options.progress, parts) {
            (Some(block), 1) => ProgressSink::new(block.clone(), options.on_progress.clone()),
            (None, 1) => ProgressSink::new(ProgressBlock::new(true), options.on_progress.clone()),
            // A SharedProgress is one block; a split call reports through `onProgress` only.
            (_, n) => ProgressSink::with_parts(n, options.on_progress.clone()),
        })
    }

    /// How many parts a splittable call may run in: the pool's workers, or 1 on the main thread.
    pub(crate) fn parallelism(&self) -> usize {
        self.executor.parallelism()
    }

    /// Queues one call (or one part of a split call); returns its id and its result.
    pub(crate) fn submit_part(
        self: &Rc<Self>,
        options: &CallOptions,
        op: Op,
        input: Input,
        output: OutputKind,
        progress: Option<SharedSink>,
        progress_part: usize,
    ) -> Result<(RequestId, impl std::future::Future<Output = Result<JsValue, Error>>), Error> {
        let id = RequestId::random();
        // A caller's SharedCancellation is watched, never written: the bridge's own cancels
        // (a sibling part failed) must not cancel the caller's other calls on the same token.
        let (cancel, owns_cancel) = match (&options.cancel, &options.signal) {
            (Some(block), _) => (Some(block.clone()), false),
            (None, Some(_)) => (Some(CancelBlock::new(true)), true),
            (None, None) => (None, false),
        };
        let watch = options.signal.clone().map(|signal| {
            let core: Weak<Core> = Rc::downgrade(self);
            AbortWatch::new(signal, move || {
                if let Some(core) = core.upgrade() {
                    core.executor.cancel(id);
                }
            })
        });
        let timeout_ms = options.timeout_ms.unwrap_or(self.timeout_ms);
        let task = Task {
            op,
            input,
            output: options.output.unwrap_or(output),
            priority: options.priority,
            deadline: options.deadline,
            timeout_ms: (timeout_ms > 0).then_some(timeout_ms),
            retries: options.retries.unwrap_or(self.retries),
            transferred: options.transfer,
        };
        let (reply, result) = oneshot::channel();
        let pending =
            Pending { id, task, reply, progress, progress_part, cancel, owns_cancel, _watch: watch, attempts: 0 };
        self.executor.submit(pending, result).map(|f| (id, f))
    }

    /// Cancels a call (a part of a split call whose sibling failed).
    pub(crate) fn cancel(&self, id: RequestId) {
        self.executor.cancel(id);
    }
}

/// A pool of Web Workers running worker-bridge ops, or the main-thread fallback.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WorkerBridge {
    core: Rc<Core>,
}

/// The shared bridge's core once created (`None` while creation is pending).
type SharedCore = Rc<RefCell<Option<Weak<Core>>>>;

thread_local! {
    /// `WorkerBridge.shared()`: the pending or settled creation, and the bridge once it exists.
    static SHARED: RefCell<Option<(Promise, SharedCore)>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
impl WorkerBridge {
    /// Spawns the pool (or sets up the main-thread fallback) and resolves once it takes calls.
    ///
    /// Options: `poolSize` (default `max(1, hardwareConcurrency - 1)`), `fallback`
    /// (`'auto'` | `'always'` | `'never'`), `strategy` (`'least-busy'` | `'round-robin'`),
    /// `maxQueue` (10,000), `timeoutMs` (60,000; 0 = none), `retries` (1), `healthIntervalMs`
    /// (5,000; 0 = no pings), `cancelGraceMs` (250).
    #[wasm_bindgen(unchecked_return_type = "Promise<WorkerBridge>")]
    pub fn create(options: JsValue) -> Promise {
        future_to_promise(async move {
            let options: CreateOptions =
                parse_options(&options, "WorkerBridge options", CreateOptions::KEYS, &[]).map_err(|e| to_js(&e))?;
            let core = Core::create(options).await.map_err(|e| to_js(&e))?;
            Ok(WorkerBridge { core: Rc::new(core) }.into())
        })
    }

    /// One bridge for the whole page, created with default options on first use. After it is
    /// terminated, the next call creates a fresh one.
    #[wasm_bindgen(unchecked_return_type = "Promise<WorkerBridge>")]
    pub fn shared() -> Promise {
        SHARED.with(|shared| {
            let mut shared = shared.borrow_mut();
            if let Some((promise, core)) = shared.as_ref() {
                let alive = match &*core.borrow() {
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
                    match Core::create(CreateOptions::default()).await {
                        Ok(core) => {
                            let core = Rc::new(core);
                            *slot.borrow_mut() = Some(Rc::downgrade(&core));
                            Ok(WorkerBridge { core }.into())
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
        CryptoFacade::new(self.core.clone())
    }

    /// Compression: `gzip`/`gunzip`, `deflate`/`inflate` (raw), `zlib`/`unzlib`.
    #[wasm_bindgen(getter)]
    pub fn compression(&self) -> CompressionFacade {
        CompressionFacade::new(self.core.clone())
    }

    /// Network: `fetch` in a worker, with progress, cancellation and hashing.
    #[wasm_bindgen(getter)]
    pub fn network(&self) -> NetworkFacade {
        NetworkFacade::new(self.core.clone())
    }

    /// Long-running services: `register`, `start`, `stop`, `restart`, `send`, `list`, `status`, …
    #[wasm_bindgen(getter)]
    pub fn services(&self) -> ServicesFacade {
        services::facade(&self.core.services, &self.core.events)
    }

    /// Calls `listener({ type: 'event', event, data })` on every `event`: `service_state_changed`,
    /// `health_check_result`, `worker_state_changed` or `registry_loaded`.
    ///
    /// # Errors
    /// `ValidationError` for any other name.
    pub fn on(&self, event: String, listener: js_sys::Function) -> Result<(), JsValue> {
        crate::events::known(std::slice::from_ref(&event)).map_err(|e| to_js(&e))?;
        self.core.events.on(&event, listener);
        Ok(())
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: String, listener: js_sys::Function) {
        self.core.events.off(&event, &listener);
    }

    /// Adds `listener` to every event in `events`; returns the function that removes it again.
    ///
    /// # Errors
    /// `ValidationError` for an unknown event name (nothing is added then).
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(&self, events: Vec<String>, listener: js_sys::Function) -> Result<js_sys::Function, JsValue> {
        crate::events::subscribe(&self.core.events, events, listener).map_err(|e| to_js(&e))
    }

    /// Removes `listener` from every event in `events`.
    pub fn unsubscribe(&self, events: Vec<String>, listener: js_sys::Function) {
        for event in events {
            self.core.events.off(&event, &listener);
        }
    }

    /// Files and Blobs: `sha256`, `chunkPlan`, `readSlice`.
    #[wasm_bindgen(getter)]
    pub fn file(&self) -> FileFacade {
        FileFacade::new(self.core.clone())
    }

    /// `{ mode, crossOriginIsolated, workers: [{ id, state, busy, tasksDone, errors, restarts,
    /// lastError, startedAt }], queued, mainThreadTasksDone, fallbackReason?, counters }`.
    pub fn status(&self) -> JsValue {
        let status = self.core.executor.status();
        serde::Serialize::serialize(&status, &serde_wasm_bindgen::Serializer::new()).unwrap_or(JsValue::NULL)
    }

    /// Grows or shrinks the pool to `size` workers at runtime; queued calls are kept. Busy
    /// workers leave when their call finishes; new ones take calls once ready.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn resize(&self, size: u32) -> Promise {
        let result = if (1..=MAX_POOL_SIZE).contains(&size) {
            self.core.executor.resize(size as usize)
        } else {
            Err(Error::validation(format!("size must be 1..={MAX_POOL_SIZE}, got {size}")))
        };
        match result {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => Promise::reject(&to_js(&e)),
        }
    }

    /// Rejects every pending and queued call with `TerminatedError`, stops the workers and ends every
    /// service (their workers too). Later calls reject with `TerminatedError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn terminate(&self) -> Promise {
        self.core.executor.terminate();
        self.core.services.terminate();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Test builds only: runs a test op (`{ kind: 'echo' | 'sleep' | 'spin' | 'panic' |
    /// 'progress', ... }`) with the usual call options.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __testOp)]
    pub fn test_op(&self, op: JsValue, data: JsValue, options: JsValue) -> Promise {
        match serde_wasm_bindgen::from_value::<Op>(op) {
            Ok(op) => self.core.call(op, &data, &options),
            Err(e) => Promise::reject(&to_js(&Error::validation(format!("not an op: {e}")))),
        }
    }

    /// Test builds only: the next `n` workers spawned fail to boot.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __breakWorkerBoots)]
    pub fn break_worker_boots(n: u32) {
        crate::pool::break_boots(n);
    }

    /// Test builds only: posts `value` to pool worker `index` as is.
    #[cfg(feature = "test-ops")]
    #[doc(hidden)]
    #[wasm_bindgen(js_name = __postRaw)]
    pub fn post_raw(&self, index: u32, value: JsValue) -> Result<(), JsValue> {
        self.core.executor.post_raw(index as usize, &value).map_err(|e| to_js(&e))
    }
}

/// `max(1, hardwareConcurrency - 1)`: leave a core for the page.
fn default_pool_size(global: &JsValue) -> u32 {
    let cores = Reflect::get(global, &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .unwrap_or(2.0) as u32;
    cores.saturating_sub(1).clamp(1, MAX_POOL_SIZE)
}
