//! The one driver: runs a call's op to its end in whichever placement it is in. The step loop
//! itself is `worker_bridge_core::ops::drive`; what differs between placements is only its
//! [`Pace`] — how time is spent between steps — and where input comes from:
//!
//! - [`WorkerPace`]: a pool worker runs flat out. With a shared cancel flag it never yields and
//!   parks on the flag through waits (a cancel wakes it); in message mode it gives its event loop
//!   a turn every [`YIELD_EVERY_MS`] so a `Cancel` message can arrive (not by a zero-delay timer:
//!   see [`yield_to_event_loop`]).
//! - [`PagePace`]: the main-thread fallback yields to the page every
//!   [`SLICE_MS`](crate::runtime::yielding::SLICE_MS), so the page stays responsive, and also
//!   stops for termination and the call's time limit. Its steps are small (64 KiB of input), and
//!   it builds the output in slices too.
//!
//! A fetch is not stepped (it is asynchronous anyway): [`run`] hands it to `io::network`; nor is
//! a job the platform's WebCrypto runs whole (`ops::engine` decides): it goes to `io::webcrypto`;
//! nor an app's own task (`crate::tasks`): a JavaScript one runs as the browser schedules it
//! while the driver polls its progress and the pace's stops every [`TASK_POLL_MS`], aborting its
//! `ctx.signal` when the call is stopped — on the page the call settles then, in a worker when the
//! task does (a task that ignores its signal is ended with its worker by the pool's grace timer).
//! A Rust task, or a JavaScript one that computes synchronously, holds its thread until it
//! returns: on the page that blocks the page.

use std::future::Future;

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::call::{aborted, terminated, timed_out};
use crate::error::Error;
use crate::io::output::{JsOutput, JsSink};
use crate::io::source::{Input, JsFeed, PageSource, TaskValue, WorkerSource};
use crate::io::stream::{cancel_signal, open_sink, Flushing, StreamSource, StreamWriter};
use crate::io::{network, webcrypto};
use crate::ops::engine::{platform_job, platform_stream, EngineChoice};
use crate::ops::stream_format::Cutter;
use crate::ops::{drive, Cancel, Env, Op, Pace, Progress, DEFAULT_CHUNK};
use crate::protocol::{HttpMeta, OutputKind};
use crate::runtime::cancel::LocalCancel;
use crate::runtime::yielding::{yield_to_event_loop, Slices};
use crate::shared::{CancelBlock, Heartbeat};
use crate::tasks::{run_rust, shape, ModuleCall};

/// Worker, message mode: how often a running op lets `Cancel` messages in. Each turn is taken with
/// [`yield_to_event_loop`], never a zero-delay timer: from the fifth nested timer on, the browser makes
/// it wait at least 4 ms, and a long op's turns came one inside another — up to 4 ms idle per
/// 16 ms of work (`crypto.sha256` of 64 MiB with the Rust engine 297 → 324 MB/s, gzip 33 → 38
/// MB/s, A/B in one page, Chromium 156).
pub(crate) const YIELD_EVERY_MS: f64 = 16.0;
/// Page: chunk size, small enough that one step stays far below a slice even for the slowest op
/// (AES-GCM in wasm, ~25 MB/s here: ~2.5 ms; a 256 KiB step took ~10 ms, past the slice).
const PAGE_CHUNK: usize = 64 * 1024;
/// How often a running JavaScript task's progress and the call's stops are looked at.
pub(crate) const TASK_POLL_MS: u32 = 16;

/// What a call produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The op's output, in the container the call asked for.
    Body(JsValue),
    /// A fetch: the response's metadata and body.
    Http(HttpMeta, JsValue),
    /// An app's task's result, and the buffers it moves back (`ctx.transfer`).
    Value(JsValue, Array),
}

/// A call's cancel flags: the executor's own, and the caller's shared one if it has one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flags<'a> {
    pub(crate) local: &'a LocalCancel,
    pub(crate) shared: Option<&'a CancelBlock>,
}

impl Cancel for Flags<'_> {
    fn is_cancelled(&self) -> bool {
        self.local.is_cancelled() || self.shared.is_some_and(CancelBlock::is_cancelled)
    }
}

/// A placement: its pace, and how it reads a call's input.
pub(crate) trait Placement: Pace {
    /// Whether this is the page's own thread (which one WebCrypto call must not block for long).
    const ON_PAGE: bool;

    /// The placement's reader of `input`.
    type Source: JsFeed;

    /// How many bytes of input one step takes.
    const CHUNK: usize;

    /// # Errors
    /// The input cannot be read here.
    fn source(&self, input: &Input) -> Result<Self::Source, Error>;

    /// The call's cancel flags.
    fn flags(&self) -> Flags<'_>;

    /// Builds the output in the container the call asked for: at once, unless the placement
    /// must not block (the page builds it in slices).
    ///
    /// # Errors
    /// The browser refuses to build the container, or it would be too large.
    fn finish(&mut self, out: JsOutput, kind: OutputKind) -> impl Future<Output = Result<JsValue, Error>> {
        std::future::ready(out.finish(kind))
    }
}

/// Runs `op` over `input` to the end, in `placement`'s pace. With a `sink` (output
/// [`OutputKind::Stream`]) the output is written there as it is produced and the call resolves
/// with nothing.
///
/// # Errors
/// The op's, the input's or the network's failures, or whatever the pace stops the call with.
pub(crate) async fn run<P: Placement>(
    op: &Op,
    input: &Input,
    output: OutputKind,
    sink: Option<&JsValue>,
    engine: EngineChoice,
    placement: &mut P,
    progress: &mut dyn Progress,
) -> Result<Outcome, Error> {
    if op.is_task() {
        let Input::Value(input) = input else { return Err(Error::validation("a task's input travels as a value")) };
        return run_task(op, input, output, placement, progress).await;
    }
    let streamed = input.is_stream() || sink.is_some();
    if let Op::Fetch(spec) = op {
        if streamed {
            return Err(Error::validation("a fetch takes no stream: its body is bytes or a Blob, its output bytes"));
        }
        let flags = placement.flags();
        let (meta, body) = network::fetch(spec, input, progress, flags.local, flags.shared).await?;
        return Ok(Outcome::Http(meta, body.into()));
    }
    if (output == OutputKind::Stream) != sink.is_some() {
        return Err(Error::validation("output 'stream' comes with the stream to write to"));
    }
    // The platform's WebCrypto takes whole inputs and gives whole outputs: streams take the Rust
    // code, which works chunk by chunk.
    let blob = matches!(input, Input::Blob(_));
    if !streamed {
        if let Some(job) = platform_job(op, engine, webcrypto::available(), input.len(), blob, P::ON_PAGE)? {
            let parts = webcrypto::run(job, input, P::ON_PAGE, placement, progress).await?;
            return placement.finish(JsOutput::of_parts(parts), output).await.map(Outcome::Body);
        }
    }
    // The stream format written or read as it comes: WebCrypto one chunk at a time where it
    // runs the format's chunks; everything else steps the Rust code.
    let work = match streamed.then(|| platform_stream(op, engine, webcrypto::available(), P::ON_PAGE)).transpose() {
        Ok(Some(Some(job))) => Ok(Work::Platform(job.cutter, job.header)),
        Ok(_) => op.start().map(Work::Steps),
        Err(e) => Err(e),
    };
    let signal = streamed.then(|| cancel_signal(placement.flags().local));
    // The input stream is taken first, so that whatever fails from here on releases both ends.
    let mut stream_source = match (input, &signal) {
        (Input::Stream(stream), Some(signal)) => match StreamSource::new(stream, P::CHUNK, signal, P::ON_PAGE) {
            Ok(source) => Some(source),
            Err(e) => return Err(release(None, sink, e)),
        },
        _ => None,
    };
    let work = match work {
        Ok(work) => work,
        Err(e) => return Err(release(stream_source.as_ref(), sink, e)),
    };
    let writer = match (sink, &signal) {
        (Some(sink), Some(signal)) => match open_sink(sink).await.and_then(|stream| StreamWriter::new(&stream, signal))
        {
            Ok(writer) => Some(writer),
            Err(e) => return Err(release(stream_source.as_ref(), Some(sink), e)),
        },
        _ => None,
    };
    let result = match &mut stream_source {
        Some(source) => {
            let result = drive_out(work, source, output, writer.as_ref(), placement, progress).await;
            if let Err(e) = &result {
                source.cancel(e);
            }
            result
        }
        None => match placement.source(input) {
            Ok(mut source) => drive_out(work, &mut source, output, writer.as_ref(), placement, progress).await,
            Err(e) => Err(e),
        },
    };
    if let (Err(e), Some(writer)) = (&result, &writer) {
        writer.abort(e).await;
    }
    result
}

/// A call over streams that fails before it starts: its input stream is cancelled and its
/// output stream (one given as such, not yet locked) aborted, so neither end waits for ever.
fn release(source: Option<&StreamSource>, sink: Option<&JsValue>, why: Error) -> Error {
    if let Some(source) = source {
        source.cancel(&why);
    }
    if let Some(stream) = sink.and_then(|s| s.dyn_ref::<web_sys::WritableStream>()).filter(|s| !s.locked()) {
        let _ = stream.abort_with_reason(&crate::runtime::js_error::to_js(&why));
    }
    why
}

/// How a call's bytes are worked through: the op's steps (the Rust code), or the stream format
/// one WebCrypto call per chunk.
enum Work {
    Steps(crate::ops::Job),
    Platform(Cutter, Option<Vec<u8>>),
}

impl Work {
    async fn run<S: JsFeed, P: Placement>(
        self,
        source: &mut S,
        placement: &mut P,
        progress: &mut dyn Progress,
        out: &mut dyn JsSink,
    ) -> Result<(), Error> {
        match self {
            Work::Steps(job) => drive(job, source, &Clock, placement, progress, out.as_sink()).await,
            Work::Platform(cutter, header) => {
                webcrypto::stream_format(cutter, header, source, placement, progress, out).await
            }
        }
    }
}

/// The work over `source`, its output collected for the call's result or, with a `writer`,
/// written to the output stream step by step (and the stream closed at the end).
async fn drive_out<S: JsFeed, P: Placement>(
    work: Work,
    source: &mut S,
    output: OutputKind,
    writer: Option<&StreamWriter>,
    placement: &mut P,
    progress: &mut dyn Progress,
) -> Result<Outcome, Error> {
    match writer {
        None => {
            let mut out = JsOutput::default();
            work.run(source, placement, progress, &mut out).await?;
            placement.finish(out, output).await.map(Outcome::Body)
        }
        Some(writer) => {
            let mut out = writer.sink();
            work.run(&mut Flushing { inner: source, writer }, placement, progress, &mut out).await?;
            writer.close().await?;
            Ok(Outcome::Value(JsValue::UNDEFINED, Array::new()))
        }
    }
}

/// Runs an app's own task (see the module docs).
async fn run_task<P: Placement>(
    op: &Op,
    input: &TaskValue,
    output: OutputKind,
    placement: &mut P,
    progress: &mut dyn Progress,
) -> Result<Outcome, Error> {
    placement.check()?;
    let (name, module, export) = match op {
        Op::Task { name, module, export } => (name, module, export),
        Op::RustTask { name } => {
            let flags = placement.flags();
            let value = run_rust(name, input.value.clone(), progress, &flags)?;
            let (value, transfer) = shape(name, &value, output)?;
            return Ok(Outcome::Value(value, transfer));
        }
        _ => return Err(Error::validation("not a task")),
    };
    // In a worker a task that returns a value is answered in the same task; on the page it is
    // called from a microtask, never inside the bridge's own code.
    let mut call = ModuleCall::start(name, module, export, &input.value, output, !P::ON_PAGE)?;
    let mut stopped: Option<Error> = None;
    loop {
        let settled = call.settled_within(TASK_POLL_MS).await;
        if let Some((done, total)) = call.progress() {
            progress.report(done, total);
        }
        if let Some(result) = settled {
            return match stopped {
                Some(why) => Err(why),
                None => result.map(|(value, transfer)| Outcome::Value(value, transfer)),
            };
        }
        if stopped.is_none() {
            if let Err(why) = placement.check() {
                call.abort(&why);
                if P::ON_PAGE {
                    return Err(why);
                }
                stopped = Some(why);
            }
        }
    }
}

/// The page's or the worker's clock.
struct Clock;

impl Env for Clock {
    fn now_ms(&self) -> f64 {
        now_ms()
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn sleep(ms: f64) -> impl Future<Output = ()> {
    gloo_timers::future::TimeoutFuture::new(ms.ceil() as u32)
}

/// A pool worker's pace (see the module docs).
pub(crate) struct WorkerPace<'a> {
    flags: Flags<'a>,
    /// Bumped at every step: the page's health check sees a busy worker move.
    beat: Option<&'a Heartbeat>,
    /// Called at every step but the first (the drain looked at the outbox as it started the
    /// call): the worker posts the answers that waited for this call once they have waited long
    /// enough (a call weighed short that runs long).
    on_step: &'a dyn Fn(),
    stepped: bool,
    last_yield: f64,
}

impl std::fmt::Debug for WorkerPace<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPace").field("flags", &self.flags).field("beat", &self.beat).finish_non_exhaustive()
    }
}

impl<'a> WorkerPace<'a> {
    pub(crate) fn new(
        local: &'a LocalCancel,
        shared: Option<&'a CancelBlock>,
        beat: Option<&'a Heartbeat>,
        on_step: &'a dyn Fn(),
        started: f64,
    ) -> Self {
        WorkerPace { flags: Flags { local, shared }, beat, on_step, stepped: false, last_yield: started }
    }
}

impl Pace for WorkerPace<'_> {
    fn check(&mut self) -> Result<(), Error> {
        if let Some(beat) = self.beat {
            beat.bump();
        }
        if self.stepped {
            (self.on_step)();
        }
        self.stepped = true;
        if self.flags.is_cancelled() {
            return Err(aborted());
        }
        Ok(())
    }

    async fn after_step(&mut self) {
        if self.flags.shared.is_none() && now_ms() - self.last_yield >= YIELD_EVERY_MS {
            yield_to_event_loop().await;
            self.last_yield = now_ms();
        }
    }

    async fn wait(&mut self, ms: f64) {
        // Park on the shared cancel flag (a cancel wakes it); in message mode await a timer,
        // which also lets a `Cancel` message in.
        if !self.flags.shared.is_some_and(|block| block.wait(ms)) {
            sleep(ms).await;
            self.last_yield = now_ms();
        }
    }
}

impl Placement for WorkerPace<'_> {
    const ON_PAGE: bool = false;
    type Source = WorkerSource;
    const CHUNK: usize = DEFAULT_CHUNK;

    fn source(&self, input: &Input) -> Result<WorkerSource, Error> {
        WorkerSource::new(input, Self::CHUNK)
    }

    fn flags(&self) -> Flags<'_> {
        self.flags
    }
}

/// The page's pace (see the module docs).
pub(crate) struct PagePace<'a> {
    flags: Flags<'a>,
    /// Whether the executor was terminated.
    terminated: &'a dyn Fn() -> bool,
    /// The call's time limit and when it started.
    limit: Option<(u32, f64)>,
    slices: Slices,
}

impl std::fmt::Debug for PagePace<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagePace").field("limit", &self.limit).finish_non_exhaustive()
    }
}

impl<'a> PagePace<'a> {
    /// `limit`: the call's time limit and when it started counting.
    pub(crate) fn new(flags: Flags<'a>, terminated: &'a dyn Fn() -> bool, limit: Option<(u32, f64)>) -> Self {
        PagePace { flags, terminated, limit, slices: Slices::default() }
    }
}

impl Pace for PagePace<'_> {
    fn check(&mut self) -> Result<(), Error> {
        if (self.terminated)() {
            return Err(terminated());
        }
        if self.flags.is_cancelled() {
            return Err(aborted());
        }
        match self.limit {
            Some((limit, started)) if now_ms() - started >= f64::from(limit) => Err(timed_out(limit)),
            _ => Ok(()),
        }
    }

    async fn after_step(&mut self) {
        self.slices.pace().await;
    }

    async fn wait(&mut self, ms: f64) {
        // Waiting costs the page nothing: await a timer, then start a fresh slice.
        sleep(ms).await;
        self.slices.restart();
    }
}

impl Placement for PagePace<'_> {
    const ON_PAGE: bool = true;
    type Source = PageSource;
    const CHUNK: usize = PAGE_CHUNK;

    fn source(&self, input: &Input) -> Result<PageSource, Error> {
        PageSource::new(input, Self::CHUNK)
    }

    fn flags(&self) -> Flags<'_> {
        self.flags
    }

    async fn finish(&mut self, out: JsOutput, kind: OutputKind) -> Result<JsValue, Error> {
        out.finish_sliced(kind).await
    }
}
