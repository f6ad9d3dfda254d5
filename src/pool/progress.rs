//! Progress of running calls. A worker without shared memory reports `Progress` messages, which
//! are written into the call's sink here; a worker with shared memory writes the sink's block
//! itself. Either way the callers' `onProgress` callbacks run once per animation frame, from the
//! pool's ticker, never while the pool's state is borrowed.

use std::cell::RefCell;
use std::rc::Weak;

use worker_bridge_core::pool::reported_progress;

use super::Inner;
use crate::call::progress::{ProgressSink, SharedSink};
use crate::protocol::RequestId;

impl Inner {
    /// Slot `index` reported progress of call `id`: record it, if that call is still running
    /// there and its caller is still waiting.
    pub(super) fn on_progress(&mut self, index: usize, id: RequestId, done: f64, total: f64) {
        let slot = &self.slots[index];
        let pending = slot.in_flight.iter().chain(&slot.side).find(|r| r.id == id).and_then(|r| r.pending.as_ref());
        if let Some((sink, part)) = pending.and_then(|p| Some((p.progress.clone()?, p.progress_part))) {
            sink.borrow().block(part).write(reported_progress(done), reported_progress(total));
        }
    }
}

/// Calls back every running call's `onProgress` that advanced; returns whether any still wants frames.
pub(super) fn flush_progress(inner: &Weak<RefCell<Inner>>) -> bool {
    let Some(inner) = inner.upgrade() else { return false };
    let sinks: Vec<SharedSink> = {
        let inner = inner.borrow();
        inner
            .slots
            .iter()
            .flat_map(|s| s.in_flight.iter().chain(&s.side))
            .filter_map(|r| r.pending.as_ref()?.progress.clone())
            .filter(|sink| sink.borrow().has_callback())
            .collect()
    };
    // The borrow is released: a callback may call back into the bridge.
    for sink in &sinks {
        ProgressSink::flush(sink);
    }
    !sinks.is_empty()
}
