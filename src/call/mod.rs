//! One call, from the moment the API layer accepts it until it settles: what to run ([`Task`]),
//! the caller's side of it ([`Pending`]: reply channel, progress sink, cancel flag), the bridge's
//! counters, and the errors every placement settles calls with. Both executors — the pool and
//! the page — take [`Pending`] calls; neither knows the other.

pub(crate) mod progress;

use std::cell::Cell;

use futures_channel::oneshot;
use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{Error, ErrorKind};
use crate::io::source::Input;
use crate::ops::engine::EngineChoice;
use crate::ops::Op;
use crate::protocol::{OutputKind, RequestId};
use crate::runtime::js_error::to_js;
use crate::runtime::timer::{AbortWatch, Timer};
use crate::scheduler::{Priority, TimeoutFrom};
use crate::shared::CancelBlock;
use crate::status::CounterSnapshot;
use progress::SharedSink;
use worker_bridge_core::pool::{may_retry, pipeline_weight};

/// What to run and how.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) op: Op,
    /// Owned by the bridge: a private copy, the caller's buffer moved in (`transfer: true`), or
    /// a `Blob`.
    pub(crate) input: Input,
    /// `input.len()`, read once: the pool weighs the call on every look at its queue, and each
    /// read of a length is a call into JavaScript.
    pub(crate) input_len: u64,
    /// The length of the whole call's input, of which `input` may be one part: it decides, as
    /// for a call in one piece, whether bytes are kept for a retry ([`RETRY_COPY_LIMIT`]), so a
    /// call split across the pool is retried exactly when it would be on one worker.
    pub(crate) call_len: u64,
    /// The container the output comes back in ([`OutputKind::Stream`]: written to `sink`).
    pub(crate) output: OutputKind,
    /// Where the output is written as it is produced: a `WritableStream` or a
    /// `FileSystemFileHandle`.
    pub(crate) sink: Option<JsValue>,
    /// Which engine may run it.
    pub(crate) engine: EngineChoice,
    pub(crate) priority: Priority,
    pub(crate) deadline: Option<f64>,
    /// Time limit, counted from `timeout_from`.
    pub(crate) timeout_ms: Option<u32>,
    pub(crate) timeout_from: TimeoutFrom,
    /// When the call was made (`Date.now()`), for a limit counted from submission.
    pub(crate) submitted_at: f64,
    /// How many times a call whose worker crashed may be run again.
    pub(crate) retries: u32,
    /// The caller moved its buffer in: it cannot be kept for a retry.
    pub(crate) transferred: bool,
}

/// Largest byte input kept (copied when posting) so that a call can be retried after a crash:
/// the whole call's input, however many parts it is split into (`Task::call_len`).
pub(crate) const RETRY_COPY_LIMIT: u64 = 8 * 1024 * 1024;

/// Where a call's result goes; dropping it unsent settles the caller with `TerminatedError`.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A future of the bridge's awaits the result (a part of a split call, a call with progress
    /// or an output stream: they have work left after the result).
    Channel(oneshot::Sender<Result<JsValue, Error>>),
    /// The caller's promise, settled here: a call with nothing left to do after its result
    /// saves the future, its waker and the microtask hops between them (`npm run bench:ipc`).
    Promise(PromiseReply),
}

impl Reply {
    fn send(self, result: Result<JsValue, Error>) {
        match self {
            Reply::Channel(sender) => {
                let _ = sender.send(result);
            }
            Reply::Promise(mut promise) => promise.settle(result),
        }
    }

    /// Nobody waits for the result any more (a dropped future; never a promise).
    pub(crate) fn is_canceled(&self) -> bool {
        matches!(self, Reply::Channel(sender) if sender.is_canceled())
    }
}

/// A promise's `resolve` and `reject`. It must be settled with values no code runs on: bytes,
/// `Blob`s, plain objects — never an app's value, which may be a thenable.
#[derive(Debug)]
pub(crate) struct PromiseReply(Option<(Function, Function)>);

impl PromiseReply {
    pub(crate) fn new(resolve: Function, reject: Function) -> Self {
        PromiseReply(Some((resolve, reject)))
    }

    fn settle(&mut self, result: Result<JsValue, Error>) {
        if let Some((resolve, reject)) = self.0.take() {
            let _ = match result {
                Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
                Err(error) => reject.call1(&JsValue::UNDEFINED, &to_js(&error)),
            };
        }
    }
}

impl Drop for PromiseReply {
    /// Dropped unsettled: `TerminatedError`, one microtask later — a call refused while being
    /// queued (`QueueFullError`) is dropped before its caller rejects it with the real reason,
    /// which must come first.
    fn drop(&mut self) {
        if let Some((_, reject)) = self.0.take() {
            let reject: JsValue = reject.bind1(&JsValue::UNDEFINED, &to_js(&terminated())).into();
            queue_microtask(reject.unchecked_ref());
        }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `queueMicrotask`, on the page and in workers.
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
}

/// A call from submission until it settles.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: RequestId,
    pub(crate) task: Task,
    pub(crate) reply: Reply,
    pub(crate) progress: Option<SharedSink>,
    /// Which of the sink's blocks this call writes (a part of a call split across workers).
    pub(crate) progress_part: usize,
    /// Set when the caller can cancel; a worker watches it (shared memory) or is told (message).
    pub(crate) cancel: Option<CancelBlock>,
    /// `cancel` was made for this call (else it is the caller's, only read).
    pub(crate) owns_cancel: bool,
    /// The listener on the caller's `AbortSignal`; held only so that it is removed when the
    /// call is dropped.
    pub(crate) _watch: Option<AbortWatch>,
    /// Timers that stop the call when its deadline passes or its end-to-end limit runs out.
    pub(crate) _expiry: Vec<Timer>,
    pub(crate) attempts: u32,
    /// It went back to the queue once without spending an attempt (it was sent ahead on a
    /// worker that died before reaching it); a second time counts.
    pub(crate) requeued: bool,
}

impl Pending {
    /// Why a call about to be sent (or run) at `now` must not be: its deadline passed before it
    /// ever started, or its time limit counted from submission ran out. Their timers fire
    /// later when the page was busy; a call must not start late, nor with a time limit already
    /// spent (it would end its worker at once). A call back in the queue after its worker
    /// crashed had started in time (or may have): its deadline no longer applies.
    pub(crate) fn expired(&self, now: f64) -> Option<Stop> {
        let started = self.attempts > 0 || self.requeued;
        if !started && self.task.deadline.is_some_and(|deadline| deadline <= now) {
            return Some(Stop::Deadline);
        }
        let limit = self.task.timeout_ms.filter(|_| self.task.timeout_from == TimeoutFrom::Submit)?;
        (self.task.submitted_at + f64::from(limit) <= now).then_some(Stop::Timeout(limit))
    }

    /// Whether a crash of its worker may be answered by running it again. A retry needs the
    /// input to survive the crash: a `Blob` always does; bytes only if a copy is kept, which the
    /// main thread pays for, so only for calls of up to [`RETRY_COPY_LIMIT`] in all and never
    /// for moved inputs.
    /// A stream can be read only once, and output already written cannot be taken back: a call
    /// with either is never retried.
    pub(crate) fn retryable(&self) -> bool {
        if self.task.sink.is_some() {
            return false;
        }
        let input_survives = match &self.task.input {
            Input::Blob(_) => true,
            Input::Bytes(_) => !self.task.transferred && self.task.call_len <= RETRY_COPY_LIMIT,
            // Cloned when posted, so the caller's value survives, unless buffers were moved.
            Input::Value(_) => !self.task.transferred,
            Input::Stream(_) => false,
        };
        may_retry(input_survives, self.attempts, self.task.retries, self.task.op.is_idempotent())
    }

    /// What the call weighs for pipelining (`worker_bridge_core::pool::pipeline_weight`).
    /// Whether it reads or writes a stream: it runs beside its worker's other calls (see
    /// `pool::slot::Slot::side`) and is never retried.
    pub(crate) fn is_streamed(&self) -> bool {
        self.task.input.is_stream() || self.task.sink.is_some()
    }

    /// A stream's length is unknown, and writing to one may wait on its consumer: such a call
    /// weighs as a long one.
    pub(crate) fn weight(&self) -> u64 {
        let known = !self.task.input.is_stream() && self.task.sink.is_none();
        pipeline_weight(known && self.task.op.cost_follows_input(), self.task.input_len)
    }

    /// Sends the result (counting it) and drops the call's listeners.
    pub(crate) fn settle(self, result: Result<JsValue, Error>, counters: &Counters) {
        counters.record(&result);
        self.reply.send(result);
    }
}

impl Task {
    /// When the call's time limit starts counting, if it started running at `now`.
    pub(crate) fn clock_start(&self, now: f64) -> f64 {
        match self.timeout_from {
            TimeoutFrom::Start => now,
            TimeoutFrom::Submit => self.submitted_at,
        }
    }
}

/// Why the bridge stops a call before it finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Its caller aborted it (`AbortError`): a running call is stopped cooperatively, its worker
    /// replaced if it does not stop within the grace period.
    Abort,
    /// Its deadline passed before it started (`TimeoutError`); a call already running carries on.
    Deadline,
    /// Its end-to-end `timeoutMs` (`timeoutFrom: 'submit'`) ran out (`TimeoutError`): a running
    /// call's worker is replaced, as for any time limit.
    Timeout(u32),
}

impl Stop {
    /// The error the call settles with.
    pub(crate) fn error(self) -> Error {
        match self {
            Stop::Abort => aborted(),
            Stop::Deadline => Error::new(ErrorKind::Timeout, "the call's deadline passed before it started"),
            Stop::Timeout(ms) => timed_out(ms),
        }
    }
}

/// The bridge's counters, shared by both placements (a pool that falls back keeps counting).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    submitted: Cell<u32>,
    completed: Cell<u32>,
    failed: Cell<u32>,
    cancelled: Cell<u32>,
    timed_out: Cell<u32>,
    retried: Cell<u32>,
}

impl Counters {
    fn bump(cell: &Cell<u32>) {
        cell.set(cell.get().saturating_add(1));
    }

    pub(crate) fn submitted(&self) {
        Self::bump(&self.submitted);
    }

    /// A call stopped before it reached the executor (while staged): never submitted, but
    /// its end is counted (an abort as cancelled), so `cancelled` counts every call its caller
    /// aborted. Not one whose deadline passed meanwhile: refused like a call made with a
    /// deadline already past, which no counter counts.
    pub(crate) fn stopped_while_staged(&self, error: &Error) {
        if error.kind() != ErrorKind::Timeout {
            self.record(&Err(error.clone()));
        }
    }

    pub(crate) fn retried(&self) {
        Self::bump(&self.retried);
    }

    fn record(&self, result: &Result<JsValue, Error>) {
        match result {
            Ok(_) => Self::bump(&self.completed),
            Err(e) if e.kind() == ErrorKind::Abort => Self::bump(&self.cancelled),
            Err(e) if e.kind() == ErrorKind::Timeout => Self::bump(&self.timed_out),
            Err(_) => Self::bump(&self.failed),
        }
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            submitted: self.submitted.get(),
            completed: self.completed.get(),
            failed: self.failed.get(),
            cancelled: self.cancelled.get(),
            timed_out: self.timed_out.get(),
            retried: self.retried.get(),
        }
    }
}

/// Rejects a call because the bridge is gone.
pub(crate) fn terminated() -> Error {
    Error::new(ErrorKind::Terminated, "the bridge was terminated")
}

pub(crate) use crate::runtime::cancel::aborted;

/// Rejects a call that ran past its limit.
pub(crate) fn timed_out(ms: u32) -> Error {
    Error::new(ErrorKind::Timeout, format!("the call did not finish within {ms} ms"))
}
