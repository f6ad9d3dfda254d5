//! Progress callbacks: `onProgress({ progress, done, total })`, `progress` in 0..=100.
//!
//! Workers (or the main-thread driver) write into the call's [`ProgressBlock`]; the executor's
//! frame ticker reads it at most once per animation frame and calls back only when the value has
//! advanced, so events are monotonic. A call whose total is unknown (a stream input: `total` 0)
//! calls back whenever `done` has grown, with `progress` 0 until the end. Values of 100 are held back while the call runs; the one
//! and only 100 is sent when the call succeeds, just before its promise resolves.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::shared::{ProgressBlock, ProgressReading};

/// One call's progress: where it is written and whom to tell. A call split into parts that run
/// in parallel has one block per part; the caller sees their sum.
#[derive(Debug)]
pub(crate) struct ProgressSink {
    blocks: Vec<ProgressBlock>,
    callback: Option<Function>,
    /// The caller's `SharedProgress` of a split call: its parts write their own blocks, so the
    /// sum is copied here at every flush (one block per part cannot be the caller's one block).
    mirror: Option<ProgressBlock>,
    last: f64,
    /// `done` at the last callback, for calls whose total is unknown.
    last_done: u64,
}

/// Shared between the running call (writer side, ticker) and the caller's future (final 100).
pub(crate) type SharedSink = Rc<RefCell<ProgressSink>>;

impl ProgressSink {
    pub(crate) fn new(block: ProgressBlock, callback: Option<Function>) -> SharedSink {
        Rc::new(RefCell::new(ProgressSink { blocks: vec![block], callback, mirror: None, last: -1.0, last_done: 0 }))
    }

    /// A sink for a call run as `parts` parallel parts; their sum also goes to `mirror`, the
    /// caller's `SharedProgress`, if it has one.
    pub(crate) fn with_parts(parts: usize, callback: Option<Function>, mirror: Option<ProgressBlock>) -> SharedSink {
        let blocks = (0..parts.max(1)).map(|_| ProgressBlock::new(true)).collect();
        Rc::new(RefCell::new(ProgressSink { blocks, callback, mirror, last: -1.0, last_done: 0 }))
    }

    /// The block part `part` writes (the first one when out of range).
    pub(crate) fn block(&self, part: usize) -> &ProgressBlock {
        self.blocks.get(part).unwrap_or(&self.blocks[0])
    }

    fn read(&self) -> ProgressReading {
        self.blocks.iter().map(ProgressBlock::read).fold(ProgressReading { done: 0, total: 0 }, |a, r| {
            // Saturating: the parts' figures come from workers (a misbehaving one may report
            // anything up to u64::MAX).
            ProgressReading { done: a.done.saturating_add(r.done), total: a.total.saturating_add(r.total) }
        })
    }

    pub(crate) fn is_split(&self) -> bool {
        self.blocks.len() > 1
    }

    /// Whether the frame ticker must flush this sink while its call runs: it has a callback, or
    /// a caller's block to mirror.
    pub(crate) fn has_callback(&self) -> bool {
        self.callback.is_some() || self.mirror.is_some()
    }

    /// Calls back if progress advanced since the last call (never with 100 before the end), and
    /// brings the mirror up to date.
    /// Calls `onProgress` if the call advanced. The callback runs after `sink`'s borrow is
    /// released: it may call into the bridge (a call it makes may share this sink).
    pub(crate) fn flush(sink: &SharedSink) {
        let emit = {
            let mut this = sink.borrow_mut();
            let reading = this.read();
            let unknown = reading.total == 0;
            if let Some(mirror) = &this.mirror {
                // Never 100 % before the end, as for callbacks.
                let done = if unknown { reading.done } else { reading.done.min(reading.total - 1) };
                mirror.write(done, reading.total);
            }
            let percent = reading.percent();
            let advanced = (percent > this.last && percent < 100.0) || (unknown && reading.done > this.last_done);
            advanced.then(|| {
                this.last = this.last.max(percent);
                this.last_done = reading.done;
                (this.callback.clone(), percent, reading.done as f64, reading.total as f64)
            })
        };
        if let Some((callback, progress, done, total)) = emit {
            emit_to(callback.as_ref(), progress, done, total);
        }
    }

    /// The call succeeded: mark the block complete and send the single 100 (after the borrow is
    /// released, as `flush`).
    pub(crate) fn finish(sink: &SharedSink) {
        let emit = {
            let mut this = sink.borrow_mut();
            let reading = this.read();
            let total = reading.total.max(reading.done);
            for block in &this.blocks {
                let r = block.read();
                let part_total = r.total.max(r.done);
                block.write(part_total, part_total);
            }
            if let Some(mirror) = &this.mirror {
                mirror.write(total, total);
            }
            (this.last < 100.0).then(|| {
                this.last = 100.0;
                (this.callback.clone(), total as f64)
            })
        };
        if let Some((callback, total)) = emit {
            emit_to(callback.as_ref(), 100.0, total, total);
        }
    }
}

/// Calls `onProgress` with `{ progress, done, total }`.
fn emit_to(callback: Option<&Function>, progress: f64, done: f64, total: f64) {
    let Some(callback) = callback else { return };
    let event = Object::new();
    let _ = Reflect::set(&event, &"progress".into(), &progress.into());
    let _ = Reflect::set(&event, &"done".into(), &done.into());
    let _ = Reflect::set(&event, &"total".into(), &total.into());
    if let Err(e) = callback.call1(&JsValue::UNDEFINED, &event) {
        // A throwing callback must not break the pool; report it where the developer looks.
        web_sys::console::error_2(&"worker-bridge: onProgress threw".into(), &e);
    }
}
