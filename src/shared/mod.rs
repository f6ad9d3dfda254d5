//! Memory the page and a worker both see: progress a worker publishes and the page reads
//! without a message, and a cancellation flag a worker sees in the middle of a synchronous loop.
//!
//! Each is an `Int32Array` read and written only through `Atomics` (sequentially consistent, so
//! no further ordering argument is needed). Over a `SharedArrayBuffer` — when the page is
//! cross-origin isolated — the worker writes straight into the page's memory. Otherwise the same
//! types sit over a plain `ArrayBuffer` (`Atomics` works on those too, minus `wait`/`notify`) and
//! the pool relays `Progress`/`Cancel` messages into them: callers see no difference.
//!
//! The public wrappers (`SharedProgress`, `SharedCancellation`, `SharedCounter`) are in
//! [`handles`]; [`ProgressBlock`] and [`CancelBlock`] are the layouts the pool and workers use.

mod handles;

pub use handles::{
    create_cancellation_token, create_progress_tracker, SharedCancellation, SharedCounter, SharedProgress,
};

use js_sys::{ArrayBuffer, Atomics, Int32Array, SharedArrayBuffer};
use wasm_bindgen::{JsCast, JsValue};

/// True when this global (the page, or a worker) is cross-origin isolated.
pub(crate) fn cross_origin_isolated() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into()).map(|v| v.is_truthy()).unwrap_or(false)
}

/// True when this global may allocate `SharedArrayBuffer`s that can be posted to workers: it is
/// cross-origin isolated *and* has `SharedArrayBuffer`. Each is detected on its own: WebKitGTK
/// 2.50 reports `crossOriginIsolated` under COOP/COEP with no `SharedArrayBuffer` at all.
pub(crate) fn shared_memory_available() -> bool {
    cross_origin_isolated()
        && js_sys::Reflect::get(&js_sys::global(), &"SharedArrayBuffer".into()).is_ok_and(|v| v.is_function())
}

/// An `Int32Array` of `len` zeroed words: shared when `shared` (and possible), else plain.
fn words(len: u32, shared: bool) -> Int32Array {
    let bytes = len * 4;
    if shared && shared_memory_available() {
        Int32Array::new(&SharedArrayBuffer::new(bytes))
    } else {
        Int32Array::new(&ArrayBuffer::new(bytes))
    }
}

fn is_shared(words: &Int32Array) -> bool {
    words.buffer().is_instance_of::<SharedArrayBuffer>()
}

fn load(words: &Int32Array, index: u32) -> i32 {
    Atomics::load(words, index).unwrap_or(0)
}

fn store(words: &Int32Array, index: u32, value: i32) {
    let _ = Atomics::store(words, index, value);
}

/// Progress of one call: `done` of `total` units, as a seqlock so a reader never sees `done` from
/// one write and `total` from another.
///
/// Layout (i32 words): 0 sequence (odd while a write is in progress), 1–2 `done` (high, low
/// 32 bits), 3–4 `total` (high, low), 5 percent in hundredths (0..=10000). One writer at a time.
#[derive(Debug, Clone)]
pub(crate) struct ProgressBlock {
    words: Int32Array,
}

const PROGRESS_WORDS: u32 = 8;
const SEQ: u32 = 0;
const DONE: u32 = 1;
const TOTAL: u32 = 3;
const PERCENT: u32 = 5;

/// A consistent reading of a [`ProgressBlock`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProgressReading {
    pub(crate) done: u64,
    pub(crate) total: u64,
}

impl ProgressReading {
    /// 0..=100; with an unknown total (0), 0.
    pub(crate) fn percent(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.done.min(self.total) as f64 / self.total as f64) * 100.0
        }
    }
}

impl ProgressBlock {
    pub(crate) fn new(shared: bool) -> Self {
        ProgressBlock { words: words(PROGRESS_WORDS, shared) }
    }

    /// Wraps words received from the page (a worker's view of the same memory).
    pub(crate) fn from_words(words: Int32Array) -> Option<Self> {
        (words.length() >= PROGRESS_WORDS).then_some(ProgressBlock { words })
    }

    pub(crate) fn words(&self) -> &Int32Array {
        &self.words
    }

    pub(crate) fn is_shared(&self) -> bool {
        is_shared(&self.words)
    }

    pub(crate) fn write(&self, done: u64, total: u64) {
        let w = &self.words;
        let seq = load(w, SEQ);
        store(w, SEQ, seq.wrapping_add(1));
        store(w, DONE, (done >> 32) as i32);
        store(w, DONE + 1, done as u32 as i32);
        store(w, TOTAL, (total >> 32) as i32);
        store(w, TOTAL + 1, total as u32 as i32);
        let hundredths = ProgressReading { done, total }.percent() * 100.0;
        store(w, PERCENT, hundredths.round() as i32);
        store(w, SEQ, seq.wrapping_add(2));
    }

    /// A consistent snapshot; retries while a write is in progress (bounded: a writer that died
    /// mid-write leaves the last complete values readable via the final attempt).
    pub(crate) fn read(&self) -> ProgressReading {
        let w = &self.words;
        let mut reading = ProgressReading { done: 0, total: 0 };
        for _ in 0..64 {
            let before = load(w, SEQ);
            let word = |i| u64::from(load(w, i) as u32);
            reading =
                ProgressReading { done: word(DONE) << 32 | word(DONE + 1), total: word(TOTAL) << 32 | word(TOTAL + 1) };
            if before % 2 == 0 && load(w, SEQ) == before {
                break;
            }
        }
        reading
    }
}

/// A cancellation flag: word 0 is 0 until cancelled, then 1.
#[derive(Debug, Clone)]
pub(crate) struct CancelBlock {
    words: Int32Array,
}

const FLAG: u32 = 0;

impl CancelBlock {
    pub(crate) fn new(shared: bool) -> Self {
        CancelBlock { words: words(2, shared) }
    }

    pub(crate) fn from_words(words: Int32Array) -> Option<Self> {
        (words.length() >= 1).then_some(CancelBlock { words })
    }

    pub(crate) fn words(&self) -> &Int32Array {
        &self.words
    }

    pub(crate) fn is_shared(&self) -> bool {
        is_shared(&self.words)
    }

    pub(crate) fn cancel(&self) {
        store(&self.words, FLAG, 1);
        if self.is_shared() {
            // Wakes a worker parked in `wait` (the test-ops `sleep`), so it sees the flag now.
            let _ = Atomics::notify(&self.words, FLAG);
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        load(&self.words, FLAG) != 0
    }

    /// Blocks up to `ms` or until cancelled. Only where blocking is allowed (a worker) and the
    /// memory is shared; returns `false` when it could not wait.
    pub(crate) fn wait(&self, ms: f64) -> bool {
        if !self.is_shared() {
            return false;
        }
        Atomics::wait_with_timeout(&self.words, FLAG, 0, ms).is_ok()
    }
}

/// A worker's heartbeat: word 0 counts the steps its calls have taken, so the page's health
/// check sees that a busy worker in a tight loop — one that cannot answer a ping — still moves.
/// Only the worker writes it; it wraps around.
#[derive(Debug, Clone)]
pub(crate) struct Heartbeat {
    words: Int32Array,
}

const BEAT: u32 = 0;

impl Heartbeat {
    /// A heartbeat in shared memory, or `None` when the page cannot share memory (a busy worker
    /// without shared memory yields often enough to answer pings instead).
    pub(crate) fn new() -> Option<Self> {
        shared_memory_available().then(|| Heartbeat { words: words(1, true) })
    }

    pub(crate) fn from_words(words: Int32Array) -> Option<Self> {
        (words.length() >= 1 && is_shared(&words)).then_some(Heartbeat { words })
    }

    pub(crate) fn words(&self) -> &Int32Array {
        &self.words
    }

    pub(crate) fn bump(&self) {
        let _ = Atomics::add(&self.words, BEAT, 1);
    }

    pub(crate) fn read(&self) -> i32 {
        load(&self.words, BEAT)
    }
}

/// Reads an `Int32Array` option or message field, if it is one.
pub(crate) fn as_words(value: &JsValue) -> Option<Int32Array> {
    value.dyn_ref::<Int32Array>().cloned()
}
