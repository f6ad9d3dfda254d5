//! The one call pipeline every facade method goes through:
//!
//! 1. **prepare** — parse the call options (plus the facade's own keys), refuse a call on a
//!    terminated bridge or with an already-aborted signal, take the input
//!    ([`take_input`](super::input::take_input): a `Blob` as is, a transferred buffer moved,
//!    other bytes borrowed until they are copied);
//! 2. **queue** ([`Bridge::queue`]) — make the input the bridge's (the copy of borrowed bytes),
//!    build the [`Pending`] call (its id, progress sink, cancel flag, the caller's `AbortSignal`
//!    watch) and queue it on the executor. Queue order is call order: a call is queued during the
//!    call when its input is ready at once (a `Blob`, a moved buffer, a copy within the task's
//!    budget) and no earlier call is still being prepared; otherwise it takes a turn in
//!    [`Staging`] and is queued once its turn comes and its copy, made in slices that yield to
//!    the page, is complete (a 64 MiB copy made at once was a 70–110 ms long task);
//! 3. **promise** — the JavaScript `Promise` that settles with the output, or with a named
//!    `Error`.
//!
//! [`Bridge::call`] runs all three for a plain call. A call split into parts that run on several
//! workers at once (sealing or opening a large file) queues its parts together, each with its
//! range of the input copied straight into a buffer of its own; [`Bridge::submit_split`] waits
//! for every part and cancels the rest when one fails. Argument errors reject the promise rather
//! than throw, so callers handle one failure path.

use std::cell::RefCell;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::future_to_promise;

use super::input::{take_input, CallOptions, Taken};
use super::options::Settings;
use super::staging::{Staging, Turn};
use crate::call::progress::{ProgressSink, SharedSink};
use crate::call::{aborted, terminated, Counters, Pending, PromiseReply, Reply, Stop, Task};
use crate::error::Error;
use crate::events::EventHub;
use crate::executor::Executor;
use crate::io::output;
use crate::io::source::Input;
use crate::io::stream::OutputEnd;
use crate::nonce_guard::NonceGuard;
use crate::ops::engine::EngineChoice;
use crate::ops::Op;
use crate::protocol::{OutputKind, RequestId};
use crate::runtime::js_error::to_js;
use crate::runtime::timer::{AbortWatch, Timer};
use crate::scheduler::TimeoutFrom;
use crate::services::Registry;
use crate::shared::{CancelBlock, ProgressBlock};

/// What the bridge and its facades share.
#[derive(Debug)]
pub(crate) struct Bridge {
    pub(crate) executor: Executor,
    pub(crate) events: Rc<EventHub>,
    pub(crate) services: Registry,
    /// The app's own tasks (`bridge.tasks`).
    pub(crate) tasks: super::tasks::Tasks,
    /// Calls not queued yet because they (or calls before them) are still being prepared.
    staging: Staging,
    nonces: RefCell<NonceGuard>,
    /// Per-call default; 0 = none.
    timeout_ms: u32,
    timeout_from: TimeoutFrom,
    retries: u32,
    /// Which engine may run the crypto ops.
    pub(crate) engine: EngineChoice,
    /// The executor's counters: a call stopped while still staged is counted here.
    counters: Rc<Counters>,
}

/// A call that passed step 1: its options and its input, taken.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) options: CallOptions,
    pub(crate) input: Taken,
}

/// A call on its way to the queue ([`Bridge::queue`]): resolves once it is queued to the future
/// of its parts' outputs, in order, or to why it was refused (nothing of it was queued).
pub(crate) type Queued = Pin<Box<dyn Future<Output = Result<Outputs, Error>>>>;

/// The outputs of a queued call's parts, in order.
pub(crate) type Outputs = Pin<Box<dyn Future<Output = Result<Vec<JsValue>, Error>>>>;

/// Which part of its call a submission is (part 0 of 1 for a call in one piece), and the call's
/// progress sink.
#[derive(Debug)]
struct Part {
    sink: Option<SharedSink>,
    index: usize,
    count: usize,
    /// The whole call's input length (see `Task::call_len`); `None` for a call in one piece.
    call_len: Option<u64>,
}

/// A call between steps 1 and 2: its parts' ops and ranges of the input, not yet queued.
#[derive(Debug)]
struct Call {
    options: CallOptions,
    ops: Vec<Op>,
    ranges: Vec<Range<u64>>,
    input: Taken,
    output: OutputKind,
}

impl Call {
    fn new(options: CallOptions, parts: Vec<(Op, Range<u64>)>, input: Taken, output: OutputKind) -> Call {
        let (ops, ranges) = parts.into_iter().unzip();
        Call { options, ops, ranges, input, output }
    }

    /// The bytes its parts cover together (their ranges overlap where a compressed range
    /// repeats the bytes before it as its dictionary).
    fn len(&self) -> u64 {
        let start = self.ranges.iter().map(|r| r.start).min().unwrap_or(0);
        self.ranges.iter().map(|r| r.end).max().unwrap_or(0).saturating_sub(start)
    }
}

/// A queued call's output, once it settles.
pub(crate) type Output = Result<JsValue, Error>;

/// Step 3: the promise of `result`, its error a named JS `Error`.
pub(crate) fn promise(result: impl Future<Output = Output> + 'static) -> Promise {
    future_to_promise(async move { result.await.map_err(|e| to_js(&e)) })
}

/// A promise already rejected with `error`.
pub(crate) fn reject(error: Error) -> Promise {
    Promise::reject(&to_js(&error))
}

/// The output of a call queued in one part.
pub(crate) async fn single(queued: Queued) -> Output {
    first(queued.await?).await
}

/// The output of a call in one part, once queued.
pub(crate) async fn first(outputs: Outputs) -> Output {
    let mut outputs = outputs.await?;
    Ok(outputs.pop().expect("invariant: a call in one part has one output"))
}

impl Bridge {
    /// Starts the executor (the pool, or the main thread) with validated settings.
    ///
    /// # Errors
    /// Whatever the executor's start reports (`NotSupportedError` without workers and without
    /// fallback).
    pub(crate) async fn create(settings: Settings) -> Result<Bridge, Error> {
        let counters = Rc::new(Counters::default());
        let events = Rc::new(EventHub::default());
        let busy_poll_us = settings.pool.busy_poll_us;
        let executor = Executor::start(settings.pool, settings.fallback, counters.clone(), events.clone()).await?;
        Ok(Bridge {
            executor,
            services: Registry::new(events.clone(), settings.service_origins, busy_poll_us),
            tasks: RefCell::default(),
            events,
            staging: Staging::default(),
            nonces: RefCell::default(),
            timeout_ms: settings.timeout_ms,
            timeout_from: settings.timeout_from,
            engine: settings.engine,
            retries: settings.retries,
            counters,
        })
    }

    /// Steps 1 to 3 for one call of `op` over `data`; `extra` names the option keys the facade
    /// reads itself, `output` the container the result comes in unless the caller names one.
    /// `op` is the facade's own validation of its arguments, which comes first.
    pub(crate) fn call(
        self: &Rc<Self>,
        op: Result<Op, Error>,
        data: &JsValue,
        options: &JsValue,
        extra: &[&str],
        output: OutputKind,
    ) -> Promise {
        let queued = op.and_then(|op| {
            let Prepared { options, input } = self.prepare(data, options, extra)?;
            let len = input.len();
            // The common call — nothing to do once its result is in, its input ready now, no
            // call before it still being prepared — settles its promise straight from the
            // executor.
            let direct = !op.is_task()
                && options.sink.is_none()
                && options.on_progress.is_none()
                && options.progress.is_none()
                && self.staging.is_idle();
            let whole = 0..len;
            let whole = std::slice::from_ref(&whole);
            if let Some(input) = direct.then(|| input.pieces_now(whole)).flatten().and_then(|mut p| p.pop()) {
                return Ok(Ok(self.submit_direct(&options, op, input, output)));
            }
            Ok(Err(self.queue(options, vec![(op, 0..len)], input, output)))
        });
        match queued {
            Ok(Ok(direct)) => direct,
            Ok(Err(queued)) => promise(single(queued)),
            Err(e) => reject(e),
        }
    }

    /// Queues a call in one part whose promise the executor settles (see [`Reply::Promise`]);
    /// refused (`QueueFullError`, `TerminatedError`), the promise rejects.
    fn submit_direct(self: &Rc<Self>, options: &CallOptions, op: Op, input: Input, output: OutputKind) -> Promise {
        let mut settle = None;
        let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        let (resolve, reject) = settle.expect("invariant: the Promise executor runs at once");
        let part = Part { sink: None, index: 0, count: 1, call_len: None };
        // The returned future has nothing to wait for: the reply is the promise. A call refused
        // here rejects this promise (its dropped reply's `TerminatedError` comes later, ignored).
        let reply = Some(PromiseReply::new(resolve, reject.clone()));
        if let Err(e) = self.submit_part(options, op, input, output, part, reply) {
            let _ = reject.call1(&JsValue::UNDEFINED, &to_js(&e));
        }
        promise
    }

    /// Step 1 (see the module docs).
    ///
    /// # Errors
    /// `ValidationError` for bad options or input, `TerminatedError`, `AbortError`.
    pub(crate) fn prepare(&self, data: &JsValue, options: &JsValue, extra: &[&str]) -> Result<Prepared, Error> {
        let options = self.options(options, extra)?;
        let input = self.take(data, &options)?;
        Ok(Prepared { options, input })
    }

    /// Takes an op's input (`input::take_input`) — after the refusals that would otherwise come
    /// once it is taken, so that a refused call leaves a buffer passed with `transfer: true` to
    /// its caller: `output: 'value'` (for tasks only) and a queue that is full now (or a bridge
    /// terminated, or a pool whose every worker failed). A call still waits its turn behind
    /// earlier ones being copied (`staging`); refused then, it has taken its input.
    ///
    /// # Errors
    /// `ValidationError`, `QueueFullError`, `TerminatedError`, `WorkerCrashedError`; the input's
    /// own (`take_input`).
    pub(crate) fn take(&self, data: &JsValue, options: &CallOptions) -> Result<Taken, Error> {
        if options.output == Some(OutputKind::Value) {
            return Err(value_output());
        }
        let streamed = data.is_instance_of::<web_sys::ReadableStream>() || options.sink.is_some();
        if let Some(refusal) = self.executor.refusal().filter(|_| !streamed) {
            return Err(refusal);
        }
        take_input(data, options.transfer)
    }

    /// The options part of step 1, for facades that build the input themselves.
    ///
    /// # Errors
    /// `ValidationError` for bad options, `TerminatedError`, `AbortError`.
    pub(crate) fn options(&self, options: &JsValue, extra: &[&str]) -> Result<CallOptions, Error> {
        let options = CallOptions::from_js(options, extra)?;
        self.check_open(&options)?;
        Ok(options)
    }

    /// Step 2 (see the module docs): queues `parts` — an op and its range of `input` each — now,
    /// or, while earlier calls are still being prepared or when the input must first be copied in
    /// slices, once its turn comes. A copy within this task's budget is made now either way, so
    /// only large inputs are read after the call.
    ///
    /// The result resolves when the call is queued; it fails — with nothing queued — with
    /// `QueueFullError`, `TerminatedError` or `AbortError` (the caller aborted while the call
    /// waited or its input was copied).
    pub(crate) fn queue(
        self: &Rc<Self>,
        options: CallOptions,
        parts: Vec<(Op, Range<u64>)>,
        input: Taken,
        output: OutputKind,
    ) -> Queued {
        let call = Call::new(options, parts, input, output);
        match call.input.pieces_now(&call.ranges) {
            Some(pieces) if self.staging.is_idle() => {
                let len = call.len();
                let parts = call.ops.into_iter().zip(pieces).collect();
                Box::pin(std::future::ready(self.submit_parts(&call.options, parts, call.output, len)))
            }
            now => self.queue_staged(self.staging.join(), call, now),
        }
    }

    /// A place in line for a call that can only be planned later (`decryptFile` of a `Blob`:
    /// its parts depend on the stream's header, read asynchronously); queue it with
    /// [`Bridge::queue_in_turn`].
    pub(crate) fn join_line(&self) -> Turn {
        self.staging.join()
    }

    /// [`Bridge::queue`] for a call that already holds its place in line.
    pub(crate) fn queue_in_turn(
        self: &Rc<Self>,
        turn: Turn,
        options: CallOptions,
        parts: Vec<(Op, Range<u64>)>,
        input: Taken,
        output: OutputKind,
    ) -> Queued {
        let call = Call::new(options, parts, input, output);
        let now = call.input.pieces_now(&call.ranges);
        self.queue_staged(turn, call, now)
    }

    /// Waits for `turn`, makes in slices the copies not made at once (`now`), and queues.
    fn queue_staged(self: &Rc<Self>, mut turn: Turn, call: Call, now: Option<Vec<Input>>) -> Queued {
        let bridge = self.clone();
        Box::pin(async move {
            turn.wait().await;
            let staged = async {
                bridge.check_open(&call.options)?;
                match now {
                    Some(pieces) => Ok(pieces),
                    None => call.input.pieces_sliced(&call.ranges, &|| bridge.check_open(&call.options)).await,
                }
            };
            // A call aborted (or cut short by `terminate()`) while it waited for its turn or its
            // copy never reached the queue (not `submitted`), but its end is counted: every
            // call its caller aborted is in `cancelled`.
            let pieces = staged.await.inspect_err(|e| bridge.counters.stopped_while_staged(e))?;
            let len = call.len();
            let parts = call.ops.into_iter().zip(pieces).collect();
            let submitted = bridge.submit_parts(&call.options, parts, call.output, len);
            // The next call in line is queued after this one.
            drop(turn);
            submitted
        })
    }

    /// Queues a call whose parts hold inputs the bridge owns: in one part or split, of
    /// `call_len` bytes in all (see `Task::call_len`).
    fn submit_parts(
        self: &Rc<Self>,
        options: &CallOptions,
        mut parts: Vec<(Op, Input)>,
        output: OutputKind,
        call_len: u64,
    ) -> Result<Outputs, Error> {
        if parts.len() == 1 {
            let (op, input) = parts.pop().expect("one part");
            let result = self.submit(options, op, input, output)?;
            return Ok(Box::pin(async move { Ok(vec![result.await?]) }));
        }
        Ok(Box::pin(self.submit_split(options, parts, output, call_len)?))
    }

    /// Queues a call in one part, its input owned.
    ///
    /// # Errors
    /// `QueueFullError` or `TerminatedError`.
    fn submit(
        self: &Rc<Self>,
        options: &CallOptions,
        op: Op,
        input: Input,
        output: OutputKind,
    ) -> Result<impl Future<Output = Output>, Error> {
        let sink = self.sink_for(options, 1);
        self.submit_part(options, op, input, output, Part { sink, index: 0, count: 1, call_len: None }, None)
            .map(|(_, result)| result)
    }

    /// Step 2 for a call split into `parts` (an op and its piece of the input each): queues
    /// every part now and returns the future of their outputs, in order. When one part fails the
    /// parts still running are cancelled and that failure is the result, so no partial output
    /// escapes; progress reaches 100 only when every part is done.
    ///
    /// # Errors
    /// `QueueFullError` or `TerminatedError` (the parts already queued are cancelled).
    fn submit_split(
        self: &Rc<Self>,
        options: &CallOptions,
        parts: Vec<(Op, Input)>,
        output: OutputKind,
        call_len: u64,
    ) -> Result<impl Future<Output = Result<Vec<JsValue>, Error>>, Error> {
        let (sink, count, call_len) = (self.sink_for(options, parts.len()), parts.len(), Some(call_len));
        let mut queued = Vec::with_capacity(count);
        for (k, (op, piece)) in parts.into_iter().enumerate() {
            let part = Part { sink: sink.clone(), index: k, count, call_len };
            match self.submit_part(options, op, piece, output, part, None) {
                Ok(part) => queued.push(part),
                Err(e) => {
                    for (id, _) in &queued {
                        self.executor.cancel(*id);
                    }
                    return Err(e);
                }
            }
        }
        let bridge = self.clone();
        Ok(async move {
            let ids: Vec<RequestId> = queued.iter().map(|(id, _)| *id).collect();
            let mut outputs = Vec::with_capacity(queued.len());
            for (k, (_, part)) in queued.into_iter().enumerate() {
                match part.await {
                    Ok(out) => outputs.push(out),
                    Err(e) => {
                        for id in &ids[k + 1..] {
                            bridge.executor.cancel(*id);
                        }
                        return Err(e);
                    }
                }
            }
            if let Some(sink) = sink {
                ProgressSink::finish(&sink);
            }
            Ok(outputs)
        })
    }

    /// A split call's parts, `head` first, as the one output its caller asked for: a `Blob`
    /// joined by an idle worker where there is one (`Executor::join`: building it on the page
    /// could block it for over a frame), or bytes joined on the page in slices. A lone `Blob`
    /// part is the output as it is.
    ///
    /// # Errors
    /// `ValidationError` when the browser refuses to build the `Blob`; `LimitExceededError` for
    /// a `Uint8Array` beyond 4 GiB.
    pub(crate) async fn assemble(&self, head: Option<&[u8]>, parts: Vec<JsValue>, output: OutputKind) -> Output {
        let all = output::with_head(head, parts);
        match output {
            OutputKind::Blob if all.length() == 1 && all.get(0).is_instance_of::<web_sys::Blob>() => Ok(all.get(0)),
            OutputKind::Blob => self.executor.join(all).await.map(JsValue::from),
            OutputKind::Bytes | OutputKind::Value | OutputKind::Stream => {
                output::concat_parts(&all).await.map(JsValue::from)
            }
        }
    }

    /// How many parts a splittable call may run in: the pool's workers, or 1 on the main thread.
    pub(crate) fn parallelism(&self) -> usize {
        self.executor.parallelism()
    }

    /// Records an encryption's (key, nonce) pair, refusing one used before.
    ///
    /// # Errors
    /// `NonceReuseError`.
    pub(crate) fn record_nonce(&self, key: &[u8], nonce: &[u8]) -> Result<(), Error> {
        self.nonces.borrow_mut().check_and_record(key, nonce)
    }

    /// Forgets a pair recorded for an encryption that could not be queued.
    pub(crate) fn forget_nonce(&self, key: &[u8], nonce: &[u8]) {
        self.nonces.borrow_mut().forget(key, nonce);
    }

    /// Rejects a call on a terminated bridge or with an already-aborted signal.
    ///
    /// # Errors
    /// `TerminatedError`, `AbortError`, `TimeoutError` (its `deadline` has passed).
    pub(crate) fn check_open(&self, options: &CallOptions) -> Result<(), Error> {
        if self.executor.is_terminated() {
            return Err(terminated());
        }
        if options.signal.as_ref().is_some_and(|s| s.aborted())
            || options.cancel.as_ref().is_some_and(|c| c.is_cancelled())
        {
            return Err(aborted());
        }
        if options.deadline.is_some_and(|deadline| deadline <= js_sys::Date::now()) {
            return Err(Stop::Deadline.error());
        }
        Ok(())
    }

    /// The progress sink for a call run in `parts` parts, if the caller watches progress.
    fn sink_for(&self, options: &CallOptions, parts: usize) -> Option<SharedSink> {
        if options.on_progress.is_none() && options.progress.is_none() {
            return None;
        }
        Some(match (&options.progress, parts) {
            (Some(block), 1) => ProgressSink::new(block.clone(), options.on_progress.clone()),
            (None, 1) => ProgressSink::new(ProgressBlock::new(true), options.on_progress.clone()),
            // A SharedProgress is one block: a split call's parts write their own, and their sum
            // is copied into it.
            (block, n) => ProgressSink::with_parts(n, options.on_progress.clone(), block.clone()),
        })
    }

    /// Queues one call (or one part of a split call); returns its id and its result.
    fn submit_part(
        self: &Rc<Self>,
        options: &CallOptions,
        op: Op,
        input: Input,
        output: OutputKind,
        part: Part,
        direct: Option<PromiseReply>,
    ) -> Result<(RequestId, impl Future<Output = Output>), Error> {
        let Part { sink: progress, index: progress_part, count: parts, call_len } = part;
        let id = RequestId::next();
        // A caller's SharedCancellation is watched, never written: the bridge's own cancels
        // (a sibling part failed) must not cancel the caller's other calls on the same token. So
        // a part of a split call gets a flag of its own, which the bridge can raise when a
        // sibling fails (a worker in shared-memory mode reads only its flag, not messages); the
        // caller's token still reaches it through the token's AbortSignal, watched below.
        let split = parts > 1;
        let (cancel, owns_cancel) = match (&options.cancel, &options.signal) {
            _ if split => (Some(CancelBlock::new(true)), true),
            (Some(block), _) => (Some(block.clone()), false),
            (None, Some(_)) => (Some(CancelBlock::new(true)), true),
            (None, None) => (None, false),
        };
        let watch = options.signal.clone().map(|signal| {
            let bridge: Weak<Bridge> = Rc::downgrade(self);
            AbortWatch::new(signal, move || {
                if let Some(bridge) = bridge.upgrade() {
                    bridge.executor.cancel(id);
                }
            })
        });
        // A call over streams waits on their other ends as long as they take: no default limit.
        let streamed = input.is_stream() || options.sink.is_some();
        let timeout_ms = options.timeout_ms.unwrap_or(if streamed { 0 } else { self.timeout_ms });
        let timeout_from = options.timeout_from.unwrap_or(self.timeout_from);
        let now = js_sys::Date::now();
        // A call that must start by its deadline, or finish within `timeoutMs` of now, is
        // stopped when that time comes (see `Stop`).
        let mut expiry = Vec::new();
        if let Some(deadline) = options.deadline {
            if deadline <= now {
                return Err(Stop::Deadline.error());
            }
            expiry.push(self.stop_after(deadline - now, id, Stop::Deadline));
        }
        if timeout_from == TimeoutFrom::Submit && timeout_ms > 0 {
            expiry.push(self.stop_after(f64::from(timeout_ms), id, Stop::Timeout(timeout_ms)));
        }
        let output = match &options.sink {
            Some(_) if op.is_task() => {
                return Err(Error::validation("a task's output is a value: it cannot be written to a stream"))
            }
            Some(_) if parts > 1 => {
                return Err(Error::validation("a call split across workers cannot write to a stream"))
            }
            Some(_) => OutputKind::Stream,
            None => options.output.unwrap_or(output),
        };
        if output == OutputKind::Value && !op.is_task() {
            return Err(value_output());
        }
        // An output stream is taken now, through a pipe of the bridge's (see `OutputEnd`).
        let output_end = options.sink.as_ref().and_then(OutputEnd::take);
        let sink = match &output_end {
            Some(end) => Some(end.writable()),
            None => options.sink.clone(),
        };
        let input_len = input.len();
        let task = Task {
            op,
            input_len,
            call_len: call_len.unwrap_or(input_len),
            input,
            output,
            sink,
            engine: self.engine,
            priority: options.priority,
            deadline: options.deadline,
            timeout_ms: (timeout_ms > 0).then_some(timeout_ms),
            timeout_from,
            submitted_at: now,
            retries: options.retries.unwrap_or(self.retries),
            transferred: options.transfer,
        };
        let (reply, result) = match direct {
            Some(promise) => (Reply::Promise(promise), None),
            None => {
                let (sender, receiver) = oneshot::channel();
                (Reply::Channel(sender), Some(receiver))
            }
        };
        // A call split into parts sends its one 100 when all parts are done, not per part.
        let finish = progress.clone().filter(|s| !s.borrow().is_split());
        let pending = Pending {
            id,
            task,
            reply,
            progress,
            progress_part,
            cancel,
            owns_cancel,
            _watch: watch,
            _expiry: expiry,
            attempts: 0,
            requeued: false,
        };
        let submitted = self.executor.submit(pending);
        if let (Err(e), Some(end)) = (&submitted, &output_end) {
            end.fail(e);
        }
        submitted?;
        Ok((id, async move {
            let Some(result) = result else { return Err(terminated()) };
            let result = result.await.unwrap_or_else(|_| Err(terminated()));
            if let (Ok(_), Some(sink)) = (&result, finish) {
                ProgressSink::finish(&sink);
            }
            match output_end {
                Some(end) => end.settle(result).await,
                None => result,
            }
        }))
    }

    /// A timer that stops call `id` for `why` after `ms`.
    fn stop_after(self: &Rc<Self>, ms: f64, id: RequestId, why: Stop) -> Timer {
        let bridge: Weak<Bridge> = Rc::downgrade(self);
        Timer::new(ms.ceil().clamp(0.0, f64::from(u32::MAX)) as u32, move || {
            if let Some(bridge) = bridge.upgrade() {
                bridge.executor.stop(id, why);
            }
        })
    }
}

/// `output: 'value'` asked of an op.
fn value_output() -> Error {
    Error::validation("output 'value' is for tasks.run; an op's output is 'bytes' or 'blob'")
}
