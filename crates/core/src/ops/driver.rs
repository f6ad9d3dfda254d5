//! Driving a [`Job`] to the end: the one step loop ([`drive`]), with the pacing between steps
//! left to the placement ([`Pace`]), and a blocking driver for native use ([`drive_blocking`]).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use super::{Cancel, Env, Job, Progress, Sink, Step};
use crate::error::{Error, ErrorKind};

/// Chunk size for copying input into the job: large enough to amortise the per-chunk work
/// (a copy out of JS memory, a progress report, a cancel check), small enough to keep memory flat.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// A source of input bytes read in order, one chunk at a time.
pub trait ChunkSource {
    /// Total input length in bytes.
    fn total(&self) -> u64;

    /// Fills `buf` with the next chunk (replacing its contents); returns `false` at the end.
    ///
    /// # Errors
    /// A read failure of the underlying source.
    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error>;
}

/// A [`ChunkSource`] over bytes already in memory.
#[derive(Debug)]
pub struct SliceSource<'a> {
    data: &'a [u8],
    chunk: usize,
    pos: usize,
}

impl<'a> SliceSource<'a> {
    /// Reads `data` in pieces of `chunk` bytes (at least 1).
    pub fn new(data: &'a [u8], chunk: usize) -> Self {
        SliceSource { data, chunk: chunk.max(1), pos: 0 }
    }
}

impl ChunkSource for SliceSource<'_> {
    fn total(&self) -> u64 {
        self.data.len() as u64
    }

    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        if self.pos >= self.data.len() {
            return Ok(false);
        }
        let end = (self.pos + self.chunk).min(self.data.len());
        buf.clear();
        buf.extend_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(true)
    }
}

/// A [`ChunkSource`] that may need to wait before its next chunk is readable (a `Blob` read
/// asynchronously on the page). Sources in memory or read synchronously are always ready.
pub trait Feed: ChunkSource {
    /// Makes the next chunk available to [`ChunkSource::next_chunk`].
    ///
    /// # Errors
    /// A read failure of the underlying source.
    fn ready(&mut self) -> impl Future<Output = Result<(), Error>> {
        std::future::ready(Ok(()))
    }
}

impl Feed for SliceSource<'_> {}

/// How a driver spends time between steps: the one thing that differs between a worker (run
/// flat out, let a `Cancel` message in now and then, park on a shared flag), the page (yield
/// every few milliseconds so it stays responsive) and a native thread (block).
pub trait Pace {
    /// Called before every step; an error stops the job (cancelled, timed out, terminated).
    ///
    /// # Errors
    /// Why the job must stop.
    fn check(&mut self) -> Result<(), Error>;

    /// Called after a step that did work: may give the host's event loop a turn.
    fn after_step(&mut self) -> impl Future<Output = ()>;

    /// The job has nothing to do for up to `ms` milliseconds ([`Step::Wait`]).
    fn wait(&mut self, ms: f64) -> impl Future<Output = ()>;
}

/// The one step loop: runs `job` over `source` to the end, writing its output to `out`, asking
/// `pace` before every step whether to go on and after every step whether to yield. Every
/// placement — a pool worker, the page, a native thread — drives jobs through this function.
///
/// # Errors
/// The job's or the source's failures, or whatever [`Pace::check`] returns.
pub async fn drive<S: Feed, P: Pace>(
    mut job: Job,
    source: &mut S,
    env: &dyn Env,
    pace: &mut P,
    progress: &mut dyn Progress,
    out: &mut dyn Sink,
) -> Result<(), Error> {
    loop {
        pace.check()?;
        source.ready().await?;
        match job.step(source, env, progress, out)? {
            Step::Done => return Ok(()),
            Step::Wait(ms) => pace.wait(ms).await,
            Step::Continue => pace.after_step().await,
        }
    }
}

/// The native pace: checks `cancel`, never yields, sleeps through waits.
struct Blocking<'a> {
    cancel: &'a dyn Cancel,
    env: &'a dyn Env,
}

impl Pace for Blocking<'_> {
    fn check(&mut self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(Error::new(ErrorKind::Abort, "cancelled"));
        }
        Ok(())
    }

    fn after_step(&mut self) -> impl Future<Output = ()> {
        std::future::ready(())
    }

    fn wait(&mut self, ms: f64) -> impl Future<Output = ()> {
        block_for(self.env, ms);
        std::future::ready(())
    }
}

/// Drives `job` to completion on this thread, blocking through its waits: [`drive`] with a pace
/// that never suspends. For native tools and tests; the browser paces live at the edge.
///
/// # Errors
/// The job's or the source's failures, or [`ErrorKind::Abort`] when `cancel` fires.
pub fn drive_blocking<S: Feed>(
    job: Job,
    source: &mut S,
    env: &dyn Env,
    progress: &mut dyn Progress,
    cancel: &dyn Cancel,
) -> Result<Vec<u8>, Error> {
    progress.report(0, source.total());
    let mut out = Vec::new();
    let mut pace = Blocking { cancel, env };
    let polled = {
        let run = std::pin::pin!(drive(job, source, env, &mut pace, progress, &mut out));
        run.poll(&mut Context::from_waker(Waker::noop()))
    };
    match polled {
        Poll::Ready(result) => result.map(|()| out),
        Poll::Pending => unreachable!("invariant: a blocking pace and a ready source never suspend"),
    }
}

/// Blocks for `ms`: a real sleep natively; on wasm32 (no `thread::sleep`) a spin on `env`'s clock.
fn block_for(env: &dyn Env, ms: f64) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = env;
        std::thread::sleep(std::time::Duration::from_secs_f64(ms.max(0.0) / 1e3));
    }
    #[cfg(target_arch = "wasm32")]
    {
        let until = env.now_ms() + ms;
        while env.now_ms() < until {
            std::hint::spin_loop();
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::{NeverCancel, NoProgress, Op, StdEnv};

    #[derive(Default)]
    struct Recorder(Vec<(u64, u64)>);
    impl Progress for Recorder {
        fn report(&mut self, done: u64, total: u64) {
            self.0.push((done, total));
        }
    }

    struct CancelAfter(std::cell::Cell<u32>);
    impl Cancel for CancelAfter {
        fn is_cancelled(&self) -> bool {
            let left = self.0.get();
            self.0.set(left.saturating_sub(1));
            left == 0
        }
    }

    #[test]
    fn progress_is_monotonic_and_ends_at_total() {
        let data = vec![7u8; 10_000];
        let mut rec = Recorder::default();
        let job = Op::Sha256.start().unwrap();
        drive_blocking(job, &mut SliceSource::new(&data, 3_000), &StdEnv::default(), &mut rec, &NeverCancel).unwrap();
        assert_eq!(rec.0, vec![(0, 10_000), (3_000, 10_000), (6_000, 10_000), (9_000, 10_000), (10_000, 10_000)]);
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = crate::ops::run(&Op::Sha256, &data, &StdEnv::default(), &mut NoProgress, &NeverCancel).unwrap();
        for chunk in [1, 63, 64, 65, 4096, 99_999] {
            let job = Op::Sha256.start().unwrap();
            let out = drive_blocking(
                job,
                &mut SliceSource::new(&data, chunk),
                &StdEnv::default(),
                &mut NoProgress,
                &NeverCancel,
            )
            .unwrap();
            assert_eq!(out, whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn cancel_between_chunks_aborts() {
        let data = vec![0u8; 10_000];
        let job = Op::Sha256.start().unwrap();
        let cancel = CancelAfter(std::cell::Cell::new(2));
        let err =
            drive_blocking(job, &mut SliceSource::new(&data, 1_000), &StdEnv::default(), &mut NoProgress, &cancel)
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Abort);
    }
}
