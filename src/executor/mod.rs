//! Where a [`Task`] runs. One interface, two placements: the [`Pool`] of Web Workers, or
//! [`Inline`] on the main thread, in slices that yield to the page. The bridge builds a task and
//! hands it to whichever executor it has; it never does the work itself, so fallback is not a
//! second code path through the handlers but the other executor.

mod inline;

pub(crate) use inline::Inline;

use std::future::Future;

use futures_channel::oneshot;
use js_sys::Uint8Array;

use crate::error::{Error, ErrorKind};
use crate::ops::Op;
use crate::pool::Pool;
use crate::scheduler::Priority;
use crate::status::Status;

/// One call: the op, its input (owned by the bridge: a private copy or a transferred buffer),
/// and how urgent it is.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) op: Op,
    pub(crate) input: Uint8Array,
    pub(crate) priority: Priority,
}

/// Where a call's result goes; dropping it unsent settles the caller with `TerminatedError`.
pub(crate) type Reply = oneshot::Sender<Result<Uint8Array, Error>>;

/// A task waiting for (or running on) an executor, with its reply channel.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) task: Task,
    pub(crate) reply: Reply,
}

/// The two placements.
#[derive(Debug)]
pub(crate) enum Executor {
    Pool(Pool),
    Inline(Inline),
}

impl Executor {
    /// Queues `task` now (so queue order is call order) and returns a future of its output.
    ///
    /// # Errors
    /// `QueueFullError` or `TerminatedError` at once; the future settles with the task's own result.
    pub(crate) fn submit(&self, task: Task) -> Result<impl Future<Output = Result<Uint8Array, Error>>, Error> {
        let (reply, result) = oneshot::channel();
        let pending = Pending { task, reply };
        match self {
            Executor::Pool(pool) => pool.submit(pending)?,
            Executor::Inline(inline) => inline.submit(pending)?,
        }
        Ok(async move { result.await.unwrap_or_else(|_| Err(terminated())) })
    }

    pub(crate) fn status(&self, cross_origin_isolated: bool) -> Status {
        match self {
            Executor::Pool(pool) => pool.status(cross_origin_isolated),
            Executor::Inline(inline) => inline.status(cross_origin_isolated),
        }
    }

    /// Rejects every queued and running call with `TerminatedError` and stops the workers.
    pub(crate) fn terminate(&self) {
        match self {
            Executor::Pool(pool) => pool.terminate(),
            Executor::Inline(inline) => inline.terminate(),
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        match self {
            Executor::Pool(pool) => pool.is_terminated(),
            Executor::Inline(inline) => inline.is_terminated(),
        }
    }
}

/// Rejects a call because the bridge is gone.
pub(crate) fn terminated() -> Error {
    Error::new(ErrorKind::Terminated, "the bridge was terminated")
}
