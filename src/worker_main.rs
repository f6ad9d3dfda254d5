//! The Rust side of a pool worker. `worker/worker.js` instantiates the page's wasm module inside
//! the worker and calls [`worker_main`], which answers `Ready` and then serves requests: decode
//! the batch, run each op over its transferred body, post the outputs back transferred.
//!
//! The page sends several requests ahead (pipelining): they wait in [`QUEUE`] and run one at a
//! time, in order. Answers go back in batches: the answers of short calls that ran back to back
//! share one message, and anything that may run long (a large input, a fetch, a decompression)
//! first sends what is waiting, so no answer waits behind a long call.
//!
//! Cancellation and progress take one of two routes, chosen per request by what the page sent:
//! shared memory (`Int32Array`s over `SharedArrayBuffer` beside the body: the worker reads the
//! cancel flag and writes progress directly, in a tight synchronous loop), or messages (the worker
//! posts `Progress` at most every [`PROGRESS_EVERY_MS`] and yields to its event loop every
//! `driver::YIELD_EVERY_MS` so a `Cancel` message can arrive). The op runs through the one
//! driver (`crate::driver`) in the worker's pace.
//!
//! A malformed message is answered with a `Failed` (carrying the request id when one can be read);
//! it never takes the worker down. A panic is reported as `Crashed` before the instance traps.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};
use worker_bridge_core::pool::{is_short, pipeline_weight};
use worker_bridge_core::tasks::{TaskCosts, MAX_TASKS_REMEMBERED};

use crate::driver::{self, Outcome, WorkerPace};
use crate::error::Error;
use crate::io::copy;
use crate::io::source::{Input, TaskValue};
use crate::io::stream::{readable_of, writable_of};
use crate::io::wire::{self, Attached, Incoming};
use crate::ops::engine::EngineChoice;
use crate::ops::{Op, Progress};
use crate::protocol::{self, Caps, FromWorker, HttpMeta, OutputKind, RequestId, ToWorker, WireError};
use crate::runtime::awake::Awake;
use crate::runtime::cancel::LocalCancel;
use crate::runtime::js_error::describe;
use crate::runtime::threads;
use crate::shared::{CancelBlock, Heartbeat, ProgressBlock};

/// Message mode: how often a running op posts `Progress`.
const PROGRESS_EVERY_MS: f64 = 16.0;

/// How long an answer may wait in the outbox for the next ones.
const ANSWER_WAIT_MS: f64 = 1.0;

type Listener = Closure<dyn FnMut(MessageEvent)>;

/// What travels back beside an answer.
enum Carried {
    /// An op's output: a `Uint8Array` (moved) or a `Blob`.
    Body(JsValue),
    /// An app's task's result and the buffers it moves (`ctx.transfer`).
    Value(JsValue, Array),
}

/// A request waiting for its turn.
struct Job {
    id: RequestId,
    op: Op,
    progress: bool,
    output: OutputKind,
    engine: EngineChoice,
    /// Its attachment: body, shared blocks.
    attached: Attached,
    flag: Rc<LocalCancel>,
}

impl Job {
    /// Short enough that the answers waiting in the outbox may wait for it (the rule by which
    /// the page sends calls ahead: `worker_bridge_core::pool::is_short`).
    fn is_short(&self) -> bool {
        // An app's task is never: no answer waits for one (nor for anything after one, see
        // `drain`), so the first call the page has not heard back about is always the one
        // running — which its time limits, the health check and a crash's retries rely on —
        // however long a task the page took for short turns out to be.
        if self.op.is_task() {
            return false;
        }
        // A stream's length is unknown and an output stream may wait on its reader: never short.
        let len =
            self.attached.body().filter(|_| self.attached.sink().is_none()).and_then(Input::from_js).map(|i| i.len());
        len.is_some_and(|n| is_short(pipeline_weight(self.op.cost_follows_input(), n)))
    }
}

thread_local! {
    /// The worker's message listener, kept for the worker's whole life.
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
    /// Requests sent ahead, in the order they run.
    static QUEUE: RefCell<VecDeque<Job>> = const { RefCell::new(VecDeque::new()) };
    /// The request being run and its cancel flag (message mode).
    static CURRENT: RefCell<Option<(RequestId, Rc<LocalCancel>)>> = const { RefCell::new(None) };
    /// Calls over streams, running beside `QUEUE` (they wait on their streams' other ends, which
    /// may be calls queued behind them), and their cancel flags.
    static SIDE: RefCell<Vec<(RequestId, Rc<LocalCancel>)>> = const { RefCell::new(Vec::new()) };
    /// A task is working through `QUEUE`.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// The heartbeat the page gave this worker (shared memory only), bumped at every step.
    static BEAT: RefCell<Option<Heartbeat>> = const { RefCell::new(None) };
    /// Answers not yet posted.
    static OUTBOX: RefCell<Vec<(FromWorker, Option<Carried>)>> = const { RefCell::new(Vec::new()) };
    /// When the oldest answer in `OUTBOX` was put there.
    static OUTBOX_SINCE: Cell<f64> = const { Cell::new(0.0) };
    /// Polls the event loop between calls, so the page's next call finds this thread running
    /// (`busyPollUs`; set at start).
    static AWAKE: RefCell<Option<Awake>> = const { RefCell::new(None) };
    /// The app's tasks that ran here (their modules imported).
    static RAN: RefCell<std::collections::HashSet<String>> = RefCell::default();
}

/// Whether the task under `key` ran in this worker before; it has now.
fn ran_before(key: &str) -> bool {
    RAN.with(|ran| {
        let mut ran = ran.borrow_mut();
        if ran.contains(key) {
            return true;
        }
        // Bounded like `TaskCosts`: past it, a task's next run is taken for a first one.
        if ran.len() >= MAX_TASKS_REMEMBERED {
            ran.clear();
        }
        ran.insert(key.to_owned());
        false
    })
}

/// Entry point of a pool worker, called by `worker/worker.js` once the module is instantiated.
#[doc(hidden)]
#[wasm_bindgen(js_name = __workerBridgeWorkerMain)]
pub fn worker_main(worker_id: u32, threads: u32, busy_poll_us: u32) -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global()
        .dyn_into()
        .map_err(|_| JsValue::from_str("worker-bridge: worker_main must run in a dedicated worker"))?;
    std::panic::set_hook(Box::new(|info| {
        // The instance traps right after this hook; tell the page why, so the call fails fast —
        // after the answers still in the outbox, or the page would take the first of those
        // calls, done already, for the one that crashed.
        if let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() {
            let mut answers =
                OUTBOX.with(|o| o.try_borrow_mut().map(|mut o| std::mem::take(&mut *o)).unwrap_or_default());
            answers.push((FromWorker::Crashed { message: format!("panic: {info}") }, None));
            post(&scope, answers);
        }
    }));
    let listener = Closure::<dyn FnMut(MessageEvent)>::new({
        let scope = scope.clone();
        move |ev: MessageEvent| serve(&scope, &ev.data())
    });
    scope.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    LISTENER.with(|l| *l.borrow_mut() = Some(listener));
    AWAKE.with(|a| *a.borrow_mut() = Some(Awake::new(busy_poll_us)));

    let shared_memory = crate::shared::shared_memory_available();
    // The threaded build's helper threads start before `Ready`: the page then knows how many
    // threads this worker's jobs get.
    wasm_bindgen_futures::spawn_local(async move {
        let threads = match threads::start(threads).await {
            Ok(n) => n,
            Err(reason) => {
                web_sys::console::warn_1(&format!("worker-bridge: running with one thread: {reason}").into());
                1
            }
        };
        let caps = Caps { shared_memory, version: env!("CARGO_PKG_VERSION").to_owned(), threads };
        post(&scope, vec![(FromWorker::Ready { worker: worker_id, caps }, None)]);
    });
    Ok(())
}

/// Handles one message from the page: a batch, each entry on its own.
fn serve(scope: &DedicatedWorkerGlobalScope, data: &JsValue) {
    let batch = Incoming::read(data)
        .and_then(|incoming| Ok((protocol::decode_batch::<ToWorker>(&*incoming.envelopes)?, incoming)));
    let (entries, incoming) = match batch {
        Ok(batch) => batch,
        Err(error) => {
            return post(scope, vec![(FromWorker::Failed { id: None, error: WireError::from(&error), ms: None }, None)])
        }
    };
    let mut refused = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let attached = incoming.attachment(i);
        match entry {
            Ok(msg) => handle(scope, msg, attached),
            Err(rejected) => refused.push((
                FromWorker::Failed { id: rejected.id, error: WireError::from(&rejected.error), ms: None },
                None,
            )),
        }
    }
    if !refused.is_empty() {
        post(scope, refused);
    }
    if !DRAINING.get() && QUEUE.with(|q| !q.borrow().is_empty()) {
        // The calls polled for came (a ping or a cancel alone does not end the polling).
        awake(Awake::woke);
        DRAINING.set(true);
        let scope = scope.clone();
        // Started here, in this task: a short call that waits on nothing answers before this
        // handler returns, with no microtask between (the executor's queueMicrotask was ~7 µs
        // of a 16-byte echo's worker time). Whatever waits is polled on by the executor.
        let mut draining: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> =
            Box::pin(async move { drain(&scope).await });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if draining.as_mut().poll(&mut cx).is_pending() {
            wasm_bindgen_futures::spawn_local(draining);
        }
    }
}

/// Tells this thread's poller it waits for a message now, or that one came.
fn awake(what: impl FnOnce(&Awake)) {
    AWAKE.with(|a| {
        if let Some(a) = a.borrow().as_ref() {
            what(a);
        }
    });
}

/// One message of a batch.
fn handle(scope: &DedicatedWorkerGlobalScope, msg: ToWorker, attached: Attached) {
    match msg {
        ToWorker::Ping { seq } => {
            let memory = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>().buffer();
            let memory = Reflect::get(&memory, &"byteLength".into()).ok().and_then(|n| n.as_f64()).unwrap_or(0.0);
            post(scope, vec![(FromWorker::Pong { seq, memory }, None)]);
        }
        ToWorker::Join { id } => {
            // Blocks this thread, not the page's, while the browser takes the parts in.
            let joined = attached.value().and_then(|parts| crate::io::output::join_here(parts.unchecked_ref()).ok());
            post(scope, vec![(FromWorker::Joined { id }, joined.map(|blob| Carried::Body(blob.into())))]);
        }
        #[cfg(feature = "test-ops")]
        ToWorker::Stall { ms } => {
            // Busy on purpose: the thread answers nothing, not even pings, until `ms` passed.
            let until = js_sys::Date::now() + f64::from(ms.min(crate::ops::TEST_OP_LIMIT));
            while js_sys::Date::now() < until {
                std::hint::spin_loop();
            }
        }
        #[cfg(feature = "test-ops")]
        ToWorker::BlobSlices { on } => crate::io::source::force_slices(on),
        ToWorker::Cancel { id } => {
            // Not started yet: drop it. Running: stop it at its next step. Else it is done.
            let queued = QUEUE.with(|q| {
                let mut q = q.borrow_mut();
                q.iter().position(|j| j.id == id).and_then(|i| q.remove(i))
            });
            if queued.is_some() {
                let error = WireError::from(&crate::call::aborted());
                return post(scope, vec![(FromWorker::Failed { id: Some(id), error, ms: None }, None)]);
            }
            CURRENT.with(|c| {
                if let Some((current, flag)) = &*c.borrow() {
                    if *current == id {
                        flag.cancel();
                    }
                }
            });
            SIDE.with(|side| {
                if let Some((_, flag)) = side.borrow().iter().find(|(side_id, _)| *side_id == id) {
                    flag.cancel();
                }
            });
        }
        ToWorker::Request { id, op, progress, output, engine } => {
            // The page attaches the worker's heartbeat to its first request.
            if let Some(beat) = attached.block("beat").and_then(Heartbeat::from_words) {
                BEAT.with(|b| *b.borrow_mut() = Some(beat));
            }
            let flag = Rc::new(LocalCancel::default());
            let job = Job { id, op, progress, output, engine, attached, flag };
            if job.attached.stream().is_some() || job.attached.sink().is_some() {
                run_beside(scope, job);
            } else {
                QUEUE.with(|q| q.borrow_mut().push_back(job));
            }
        }
    }
}

/// Runs a call over streams at once, beside the queue: it spends its time waiting on its
/// streams, whose other ends may be calls this worker has not run yet (a chain of
/// `pipeThrough`s on a pool of one), so it must not hold the queue.
fn run_beside(scope: &DedicatedWorkerGlobalScope, job: Job) {
    SIDE.with(|side| side.borrow_mut().push((job.id, job.flag.clone())));
    let scope = scope.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let result = run(&scope, &job, js_sys::Date::now()).await;
        SIDE.with(|side| side.borrow_mut().retain(|(id, _)| *id != job.id));
        let answer = match result {
            Ok((carried, http)) => (FromWorker::Response { id: job.id, http, ms: None }, Some(carried)),
            Err(error) => (FromWorker::Failed { id: Some(job.id), error: WireError::from(&error), ms: None }, None),
        };
        post(&scope, vec![answer]);
    });
}

/// Runs the queued requests one after the other, then sends what is left in the outbox.
async fn drain(scope: &DedicatedWorkerGlobalScope) {
    let mut ran = 0u32;
    while let Some(job) = QUEUE.with(|q| q.borrow_mut().pop_front()) {
        ran += 1;
        // An answer waits for the next call's only while that call is short and the answer
        // young: the page takes the first call it has not heard back about for the running one
        // (its time limit, a cancel's grace period), so it must hear back soon.
        let now = js_sys::Date::now();
        let stale = now - OUTBOX_SINCE.get() >= ANSWER_WAIT_MS;
        if !job.is_short() || stale {
            flush(scope);
        }
        CURRENT.with(|c| *c.borrow_mut() = Some((job.id, job.flag.clone())));
        // Only an app's task is timed: the clock costs two calls into JavaScript a job.
        let task = TaskCosts::key(&job.op);
        let clock = task.as_ref().and_then(|_| scope.performance());
        let started = clock.as_ref().map(web_sys::Performance::now);
        let result = run(scope, &job, now).await;
        // An app's task's run time, reported to the page (`TaskCosts`) — but not its first here,
        // which imported its module too.
        let is_task = task.is_some();
        // Nor a run stopped by its caller: its length is the abort's, not the task's.
        let aborted = matches!(&result, Err(e) if e.kind() == crate::error::ErrorKind::Abort);
        let ms = task
            .filter(|key| ran_before(key) && !aborted)
            .zip(clock.zip(started))
            .map(|(_, (clock, started))| clock.now() - started);
        CURRENT.with(|c| c.borrow_mut().take());
        // The buffer the body came in goes back to the page, for a later copy (`io::copy`).
        let output = match &result {
            Ok((Carried::Body(body), _)) => Some(body),
            _ => None,
        };
        let spare = job.attached.body().and_then(|input| copy::spare_of(&input, output)).filter(|b| !queued_in(b));
        let answer = match result {
            Ok((carried, http)) => (FromWorker::Response { id: job.id, http, ms }, Some(carried)),
            Err(error) => (FromWorker::Failed { id: Some(job.id), error: WireError::from(&error), ms }, None),
        };
        let spare = spare.map(|buffer| (FromWorker::Spare, Some(Carried::Body(Uint8Array::new(&buffer).into()))));
        for entry in std::iter::once(answer).chain(spare) {
            let full = OUTBOX.with(|o| {
                let mut o = o.borrow_mut();
                if o.is_empty() {
                    OUTBOX_SINCE.set(js_sys::Date::now());
                }
                o.push(entry);
                o.len() >= worker_bridge_core::pool::ANSWER_BATCH
            });
            if full {
                flush(scope);
            }
        }
        // A task's answer goes at once: nothing runs while the page knows no more than that the
        // task ran (see `Job::is_short`).
        if is_task {
            flush(scope);
        }
    }
    flush(scope);
    DRAINING.set(false);
    // A caller awaiting each answer sends its next call now: poll for it. Calls that came
    // several at a time come from a page with many out, which keeps this worker fed without.
    awake(|a| a.idle(ran, 1));
}

/// Whether a request still queued has its body in `buffer` (views of one buffer moved together):
/// then the buffer is not given back yet.
fn queued_in(buffer: &js_sys::ArrayBuffer) -> bool {
    let holds = |job: &Job| {
        (job.attached.body().and_then(|b| b.dyn_into::<Uint8Array>().ok()))
            .is_some_and(|body| js_sys::Object::is(&body.buffer(), buffer))
    };
    QUEUE.with(|q| q.borrow().iter().any(holds))
}

/// Posts the answers waiting in the outbox, in one message.
fn flush(scope: &DedicatedWorkerGlobalScope) {
    let answers = OUTBOX.with(|o| std::mem::take(&mut *o.borrow_mut()));
    if !answers.is_empty() {
        post(scope, answers);
    }
}

/// Publishes progress: straight into shared memory, or as throttled `Progress` messages.
struct WorkerProgress<'a> {
    scope: &'a DedicatedWorkerGlobalScope,
    id: RequestId,
    block: Option<ProgressBlock>,
    last_post: f64,
}

impl Progress for WorkerProgress<'_> {
    fn report(&mut self, done: u64, total: u64) {
        match &self.block {
            Some(block) => block.write(done, total),
            None => {
                let now = js_sys::Date::now();
                if now - self.last_post >= PROGRESS_EVERY_MS {
                    self.last_post = now;
                    let msg = FromWorker::Progress { id: self.id, done: done as f64, total: total as f64 };
                    post(self.scope, vec![(msg, None)]);
                }
            }
        }
    }
}

/// Runs one request through the driver in the worker's pace, from `started` (`Date.now()`, when
/// the drain looked at the outbox for it; a call beside the queue looks at it from its second
/// step).
async fn run(
    scope: &DedicatedWorkerGlobalScope,
    job: &Job,
    started: f64,
) -> Result<(Carried, Option<HttpMeta>), Error> {
    let body = if job.op.is_task() {
        let value = job.attached.value().ok_or_else(|| Error::validation("the task request has no value"))?;
        Input::Value(TaskValue { value, transfer: Array::new() })
    } else if let Some(stream) = job.attached.stream() {
        Input::Stream(readable_of(&stream).ok_or_else(|| Error::validation("the request's stream is not readable"))?)
    } else {
        job.attached
            .body()
            .and_then(Input::from_js)
            .ok_or_else(|| Error::validation("the request has no Uint8Array or Blob body"))?
    };
    // Output written as it is produced: to a stream (moved here, or relayed), or a file.
    let sink = job.attached.sink().map(|sink| writable_of(&sink).map(JsValue::from).unwrap_or(sink));
    // Shared blocks count only when they really are shared; plain ones would be copies.
    let cancel = job.attached.block("cancel").and_then(CancelBlock::from_words).filter(CancelBlock::is_shared);
    let progress_block =
        job.attached.block("progress").and_then(ProgressBlock::from_words).filter(ProgressBlock::is_shared);

    let mut progress = WorkerProgress { scope, id: job.id, block: progress_block, last_post: f64::NEG_INFINITY };
    let mut silent = crate::ops::NoProgress;
    let progress_sink: &mut dyn Progress = if job.progress { &mut progress } else { &mut silent };
    let beat = BEAT.with(|b| b.borrow().clone());
    let flush_stale = || {
        if !OUTBOX.with(|o| o.borrow().is_empty()) && js_sys::Date::now() - OUTBOX_SINCE.get() >= ANSWER_WAIT_MS {
            flush(scope);
        }
    };
    let mut pace = WorkerPace::new(&job.flag, cancel.as_ref(), beat.as_ref(), &flush_stale, started);
    match driver::run(&job.op, &body, job.output, sink.as_ref(), job.engine, &mut pace, progress_sink).await? {
        Outcome::Body(body) => Ok((Carried::Body(body), None)),
        Outcome::Http(meta, body) => Ok((Carried::Body(body), Some(meta))),
        Outcome::Value(value, transfer) => Ok((Carried::Value(value, transfer), None)),
    }
}

/// Posts `answers` in one message (the wire: `io::wire`); a body is a `Uint8Array`, transferred,
/// or a `Blob`, by reference; a task's value is cloned, the buffers it names moved.
fn post(scope: &DedicatedWorkerGlobalScope, answers: Vec<(FromWorker, Option<Carried>)>) {
    let (msgs, bodies): (Vec<FromWorker>, Vec<Option<Carried>>) = answers.into_iter().unzip();
    let text = match protocol::encode_batch(&msgs) {
        Ok(text) => text,
        Err(e) => {
            web_sys::console::error_1(&format!("worker-bridge: cannot encode a reply: {e}").into());
            return;
        }
    };
    let mut wire = wire::Outgoing::new(text.into_bytes());
    for carried in &bodies {
        wire.attach(match carried {
            Some(Carried::Value(value, transfer)) => {
                wire::Attachment { value: Some(value), transfer: Some(transfer), ..wire::Attachment::default() }
            }
            Some(Carried::Body(body)) => {
                wire::Attachment { body: Some(body), transfer_body: true, ..Default::default() }
            }
            None => wire::Attachment::default(),
        });
    }
    let (message, transfer) = wire.finish();
    if let Err(e) = scope.post_message_with_transfer(&message, &transfer) {
        if msgs.len() > 1 {
            // One answer the browser cannot clone must not take the batch down: one at a time.
            for (msg, body) in msgs.into_iter().zip(bodies) {
                post(scope, vec![(msg, body)]);
            }
        } else if let Some(FromWorker::Response { id, .. }) = msgs.first() {
            let error = Error::validation(format!("the worker could not send the result: {}", describe(&e)));
            post(scope, vec![(FromWorker::Failed { id: Some(*id), error: WireError::from(&error), ms: None }, None)]);
        } else {
            web_sys::console::error_2(&"worker-bridge: cannot post a reply".into(), &e);
        }
    }
}
