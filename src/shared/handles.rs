//! The shared-memory types as JavaScript sees them. Create them on the page, pass them to any
//! bridge call (`{ progress, signal }`), read them from anywhere — including another worker of
//! yours, if you post it the `buffer` (when the page is cross-origin isolated).

use std::cell::RefCell;

use js_sys::{Atomics, Int32Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, AbortSignal};

use super::{words, CancelBlock, ProgressBlock};

/// Progress of a call, readable from any thread: `current`, `total`, `percent`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SharedProgress {
    block: ProgressBlock,
}

#[wasm_bindgen]
impl SharedProgress {
    /// A tracker starting at 0 of `total` (0 = unknown until a call reports it). Shared memory
    /// when the page is cross-origin isolated, plain memory otherwise.
    #[wasm_bindgen(constructor)]
    pub fn new(total: Option<f64>) -> SharedProgress {
        let block = ProgressBlock::new(true);
        block.write(0, total.unwrap_or(0.0).max(0.0) as u64);
        SharedProgress { block }
    }

    /// Units done (bytes, for byte-stream ops).
    #[wasm_bindgen(getter)]
    pub fn current(&self) -> f64 {
        self.block.read().done as f64
    }

    /// Units in all.
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> f64 {
        self.block.read().total as f64
    }

    /// 0..=100.
    #[wasm_bindgen(getter)]
    pub fn percent(&self) -> f64 {
        self.block.read().percent()
    }

    /// Whether the memory is a `SharedArrayBuffer` (written by workers directly).
    #[wasm_bindgen(getter, js_name = isShared)]
    pub fn is_shared(&self) -> bool {
        self.block.is_shared()
    }

    /// The underlying words, for the bridge.
    #[doc(hidden)]
    #[wasm_bindgen(getter, js_name = __progressWords)]
    pub fn progress_words(&self) -> Int32Array {
        self.block.words().clone()
    }
}

/// A cancellation flag any bridge call can watch (`signal` option); `toAbortSignal()` bridges it
/// to APIs that take an `AbortSignal`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SharedCancellation {
    block: CancelBlock,
    /// One controller for the token, made on first use: every `toAbortSignal()` (and every call
    /// given this token) shares its signal, so nothing accumulates per call.
    controller: RefCell<Option<AbortController>>,
}

impl Default for SharedCancellation {
    fn default() -> Self {
        SharedCancellation { block: CancelBlock::new(true), controller: RefCell::new(None) }
    }
}

#[wasm_bindgen]
impl SharedCancellation {
    /// A flag, not yet cancelled.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SharedCancellation {
        SharedCancellation::default()
    }

    /// Sets the flag (every call watching it stops) and aborts the signals made by `toAbortSignal`.
    pub fn cancel(&self) {
        self.block.cancel();
        // Release the borrow before `abort()` runs listeners (which may call `cancel()` again).
        let controller = self.controller.borrow().clone();
        if let Some(controller) = controller {
            controller.abort();
        }
    }

    /// Whether `cancel()` was called.
    #[wasm_bindgen(getter, js_name = isCancelled)]
    pub fn is_cancelled(&self) -> bool {
        self.block.is_cancelled()
    }

    /// An `AbortSignal` that aborts when this flag is cancelled through `cancel()`.
    #[wasm_bindgen(js_name = toAbortSignal)]
    pub fn to_abort_signal(&self) -> Result<AbortSignal, JsValue> {
        let existing = self.controller.borrow().clone();
        let controller = match existing {
            Some(c) => c,
            None => {
                let c = AbortController::new()?;
                *self.controller.borrow_mut() = Some(c.clone());
                c
            }
        };
        if self.is_cancelled() {
            controller.abort();
        }
        Ok(controller.signal())
    }

    /// The underlying words, for the bridge.
    #[doc(hidden)]
    #[wasm_bindgen(getter, js_name = __cancelWords)]
    pub fn cancel_words(&self) -> Int32Array {
        self.block.words().clone()
    }
}

/// A counter many threads can bump atomically.
#[wasm_bindgen]
#[derive(Debug)]
pub struct SharedCounter {
    words: Int32Array,
}

#[wasm_bindgen]
impl SharedCounter {
    /// A counter starting at `initial` (default 0).
    #[wasm_bindgen(constructor)]
    pub fn new(initial: Option<i32>) -> SharedCounter {
        let counter = SharedCounter { words: words(1, true) };
        let _ = Atomics::store(&counter.words, 0, initial.unwrap_or(0));
        counter
    }

    /// The current value.
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> i32 {
        Atomics::load(&self.words, 0).unwrap_or(0)
    }

    /// Adds `by` (default 1) and returns the new value.
    pub fn increment(&self, by: Option<i32>) -> i32 {
        let by = by.unwrap_or(1);
        Atomics::add(&self.words, 0, by).map(|old| old.wrapping_add(by)).unwrap_or(0)
    }

    /// The underlying `Int32Array` (one word), e.g. to post to a worker of yours.
    #[wasm_bindgen(getter)]
    pub fn words(&self) -> Int32Array {
        self.words.clone()
    }
}

/// `createProgressTracker(total)` → `{ progress, cleanup }`: a [`SharedProgress`] to pass to a
/// call (`{ progress }`) and read from anywhere, and a function that frees it.
#[wasm_bindgen(js_name = createProgressTracker)]
pub fn create_progress_tracker(total: Option<f64>) -> Result<JsValue, JsValue> {
    let progress = JsValue::from(SharedProgress::new(total));
    pair(("progress", progress.clone()), ("cleanup", bound_method(&progress, "free")?))
}

/// `createCancellationToken()` → `{ cancellation, cancel }`: a [`SharedCancellation`] to pass
/// as a call's `signal` (or turn into an `AbortSignal`), and the function that cancels it.
#[wasm_bindgen(js_name = createCancellationToken)]
pub fn create_cancellation_token() -> Result<JsValue, JsValue> {
    let cancellation = JsValue::from(SharedCancellation::new());
    pair(("cancellation", cancellation.clone()), ("cancel", bound_method(&cancellation, "cancel")?))
}

/// `object[name].bind(object)`: a plain function, so no Rust closure is created (or leaked).
fn bound_method(object: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let method: js_sys::Function = js_sys::Reflect::get(object, &name.into())?.dyn_into()?;
    Ok(method.bind0(object).into())
}

fn pair(a: (&str, JsValue), b: (&str, JsValue)) -> Result<JsValue, JsValue> {
    let obj = js_sys::Object::new();
    js_sys::Reflect::set(&obj, &a.0.into(), &a.1)?;
    js_sys::Reflect::set(&obj, &b.0.into(), &b.1)?;
    Ok(obj.into())
}
