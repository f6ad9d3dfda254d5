//! The wasm-bindgen surface: `WorkerBridge` and its facades. Each export converts its arguments
//! to typed Rust values once, hands a [`Task`] to the executor and maps errors to named JS
//! `Error`s; no work happens here.

mod crypto;
mod input;
mod js_error;

pub use crypto::CryptoFacade;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::{Error, ErrorKind};
use crate::executor::{Executor, Inline, Task};
use crate::ops::Op;
use crate::pool::{Pool, PoolConfig};
use crate::scheduler::{Strategy, DEFAULT_MAX_QUEUE};
use input::{owned_bytes, parse_options, CallOptions};
use js_error::to_js;

/// Largest pool a bridge will spawn: beyond this, workers cost memory without adding cores.
const MAX_POOL_SIZE: u32 = 64;

/// When to run on the main thread instead of in workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fallback {
    /// When `Worker` is missing or a worker fails to boot.
    #[default]
    Auto,
    /// Always (no workers are spawned).
    Always,
    /// Never: `create()` rejects instead.
    Never,
}

/// `WorkerBridge.create(options)`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct CreateOptions {
    pool_size: Option<u32>,
    fallback: Fallback,
    strategy: Strategy,
    max_queue: Option<u32>,
}

impl CreateOptions {
    const KEYS: &'static [&'static str] = &["poolSize", "fallback", "strategy", "maxQueue"];
}

/// What the bridge and its facades share.
#[derive(Debug)]
pub(crate) struct Core {
    executor: Executor,
    cross_origin_isolated: bool,
    fallback_reason: Option<String>,
}

impl Core {
    async fn create(options: CreateOptions) -> Result<Core, Error> {
        let global = js_sys::global();
        let cross_origin_isolated = flag(&global, "crossOriginIsolated");
        let max_queue = options.max_queue.map_or(DEFAULT_MAX_QUEUE, |n| n as usize);
        if max_queue == 0 {
            return Err(Error::validation("maxQueue must be at least 1"));
        }
        let size = match options.pool_size {
            Some(n) if (1..=MAX_POOL_SIZE).contains(&n) => n,
            Some(n) => return Err(Error::validation(format!("poolSize must be 1..={MAX_POOL_SIZE}, got {n}"))),
            None => default_pool_size(&global),
        };
        let inline = |reason: Option<String>| Core {
            executor: Executor::Inline(Inline::new(max_queue)),
            cross_origin_isolated,
            fallback_reason: reason,
        };
        if options.fallback == Fallback::Always {
            return Ok(inline(None));
        }
        if !Reflect::has(&global, &"Worker".into()).unwrap_or(false) {
            let reason = "Web Workers are not available in this environment";
            return match options.fallback {
                Fallback::Never => Err(Error::new(ErrorKind::Unsupported, reason)),
                _ => Ok(inline(Some(reason.into()))),
            };
        }
        let config = PoolConfig { size: size as usize, strategy: options.strategy, max_queue };
        match Pool::start(config).await {
            Ok(pool) => Ok(Core { executor: Executor::Pool(pool), cross_origin_isolated, fallback_reason: None }),
            Err(e) if options.fallback == Fallback::Auto => {
                web_sys::console::warn_1(&format!("worker-bridge: running on the main thread: {e}").into());
                Ok(inline(Some(e.to_string())))
            }
            Err(e) => Err(e),
        }
    }

    /// Validates the call and queues it now; the promise settles with its output. Argument
    /// errors reject the promise rather than throw, so callers handle one failure path.
    pub(crate) fn call(&self, op: Op, data: &JsValue, options: &JsValue) -> Promise {
        let submitted = CallOptions::from_js(options).and_then(|options| {
            if self.executor.is_terminated() {
                return Err(crate::executor::terminated());
            }
            let input = owned_bytes(data, options.transfer)?;
            self.executor.submit(Task { op, input, priority: options.priority })
        });
        match submitted {
            Ok(result) => future_to_promise(async move { result.await.map(JsValue::from).map_err(|e| to_js(&e)) }),
            Err(e) => Promise::reject(&to_js(&e)),
        }
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
    /// `maxQueue` (default 10,000).
    #[wasm_bindgen(unchecked_return_type = "Promise<WorkerBridge>")]
    pub fn create(options: JsValue) -> Promise {
        future_to_promise(async move {
            let options: CreateOptions =
                parse_options(&options, "WorkerBridge options", CreateOptions::KEYS).map_err(|e| to_js(&e))?;
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

    /// Crypto ops: `sha256`.
    #[wasm_bindgen(getter)]
    pub fn crypto(&self) -> CryptoFacade {
        CryptoFacade::new(self.core.clone())
    }

    /// `{ mode, crossOriginIsolated, workers: [{ id, state, busy, tasksDone }], queued, ... }`.
    pub fn status(&self) -> JsValue {
        let mut status = self.core.executor.status(self.core.cross_origin_isolated);
        status.fallback_reason = self.core.fallback_reason.clone();
        serde::Serialize::serialize(&status, &serde_wasm_bindgen::Serializer::new()).unwrap_or(JsValue::NULL)
    }

    /// Rejects every pending and queued call with `TerminatedError` and stops the workers.
    /// Later calls reject with `TerminatedError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn terminate(&self) -> Promise {
        self.core.executor.terminate();
        Promise::resolve(&JsValue::UNDEFINED)
    }
}

fn flag(global: &JsValue, key: &str) -> bool {
    Reflect::get(global, &key.into()).map(|v| v.is_truthy()).unwrap_or(false)
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
