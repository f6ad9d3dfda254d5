//! A split call's parts joined into one `Blob` by an idle worker. Building a `Blob` of other
//! `Blob`s is a synchronous call to the browser, which waits while the browser is still taking
//! in the workers' own `Blob`s: on the page's thread, right after a split `encryptFile`, it held
//! up tasks of up to 23.5 ms (a trace of 12 rounds). A worker's thread may wait.
//!
//! A join is no call: it is neither queued nor retried. It goes only to a worker that holds no
//! call (so nothing it runs delays it). When none is idle, or its worker is stopped, cannot build
//! the `Blob` or takes longer than [`JOIN_LIMIT_MS`], the caller joins the parts on the page.

use futures_channel::oneshot;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

use worker_bridge_core::pool::SlotState;

use super::worker_handle::{Attachments, Outgoing};
use super::{Inner, Pool};
use crate::io::source::TaskValue;
use crate::protocol::ToWorker;
use crate::runtime::timer::Timer;

/// How long a worker may take to answer a join before the page joins the parts itself: from the
/// last part's answer to the joined `Blob` took 1.4–47.6 ms (a trace of 12 `encryptFile`s of 64
/// MiB), and a worker that does not answer (a hung thread when health checks are off, a message
/// it could not read) must not leave the call unsettled.
pub(crate) const JOIN_LIMIT_MS: u32 = 2_000;

impl Pool {
    /// Asks an idle worker to join `parts` (`Blob`s and `Uint8Array`s, in order) into one
    /// `Blob`. `None` when no worker is idle; the receiver is cancelled when the worker is
    /// stopped first or could not build it.
    pub(crate) fn join(&self, parts: &Array) -> Option<oneshot::Receiver<Blob>> {
        let mut inner = self.inner.borrow_mut();
        if inner.terminated {
            return None;
        }
        // Not one that let a join pass its time limit and has said nothing since: a hung worker
        // (with no health check to replace it) would hold every later join for the limit. Nor
        // one leaving (`resize`) once its joins are done: more would keep it.
        let idle = |s: &super::Slot| {
            s.state == SlotState::Idle && s.handle.is_some() && !s.is_busy() && !s.join_overdue && !s.retiring
        };
        // A worker not joining already, else any idle one.
        let index = (inner.slots.iter().position(|s| idle(s) && s.joins.is_empty()))
            .or_else(|| inner.slots.iter().position(idle))?;
        inner.join_seq = inner.join_seq.wrapping_add(1);
        let id = inner.join_seq;
        // Posted at once, not through the outbox: nothing else waits on this worker, and the
        // page's own join is the answer to a refusal. The parts are cloned, never moved: if
        // the worker dies, the page joins the same parts.
        let value = TaskValue { value: parts.into(), transfer: Array::new() };
        let join = Outgoing {
            msg: ToWorker::Join { id },
            attachments: Attachments { value: Some(value), ..Attachments::default() },
        };
        inner.slots[index].handle.as_ref()?.post(std::slice::from_ref(&join)).ok()?;
        let (tx, rx) = oneshot::channel();
        let me = inner.me.clone();
        let worker_id = inner.slots[index].worker_id;
        let limit = Timer::new(JOIN_LIMIT_MS, move || {
            if let Some(inner) = me.upgrade() {
                let mut inner = inner.borrow_mut();
                if let Some(index) = inner.slot_of(worker_id) {
                    let slot = &mut inner.slots[index];
                    slot.joins.retain(|join| join.id != id);
                    slot.join_overdue = true;
                    inner.leave_if_done(index);
                }
            }
        });
        inner.slots[index].joins.push(Join { id, tx, _limit: limit });
        Some(rx)
    }

    /// Test builds only: how many joins workers answered with a `Blob`.
    #[cfg(feature = "test-ops")]
    pub(crate) fn worker_joins(&self) -> u32 {
        self.inner.borrow().joined
    }

    /// Test builds only: the pool's slots, those leaving after their work included (`status()`
    /// leaves them out).
    #[cfg(feature = "test-ops")]
    pub(crate) fn slot_count(&self) -> usize {
        self.inner.borrow().slots.len()
    }
}

/// A join sent to a slot's worker: dropping it (the worker stopped, or [`JOIN_LIMIT_MS`] passed)
/// tells the caller to join on the page.
#[derive(Debug)]
pub(super) struct Join {
    id: u32,
    tx: oneshot::Sender<Blob>,
    /// Drops this join when it fires.
    _limit: Timer,
}

impl Inner {
    /// Worker `index`'s answer to join `id`: the joined `Blob`, or nothing (the browser refused
    /// it there; the caller joins on the page).
    pub(super) fn on_joined(&mut self, index: usize, id: u32, body: Option<JsValue>) {
        let joins = &mut self.slots[index].joins;
        let Some(at) = joins.iter().position(|join| join.id == id) else { return };
        let Join { tx, .. } = joins.swap_remove(at);
        if let Some(blob) = body.and_then(|b| b.dyn_into::<Blob>().ok()) {
            #[cfg(feature = "test-ops")]
            {
                self.joined += 1;
            }
            let _ = tx.send(blob);
        }
        self.leave_if_done(index);
    }
}
