//! Ops that exist only with the `test-ops` feature (never in the release package): they make
//! faults reproducible — a slow call, a hung worker, a trap, a stream of progress.

use super::{ChunkSource, Env, Job, JobKind, Op, Progress, Sink, Step, Stream, TEST_OP_LIMIT};
use crate::error::Error;

/// Longest single wait inside `sleep`, so cancellation is seen promptly even where the driver's
/// wait cannot be interrupted.
const SLEEP_SLICE_MS: f64 = 5.0;

pub(super) fn start(op: &Op) -> Result<Job, Error> {
    let bounded = |what: &str, n: u32| {
        if n > TEST_OP_LIMIT {
            Err(Error::validation(format!("{what} {n} exceeds the limit {TEST_OP_LIMIT}")))
        } else {
            Ok(f64::from(n))
        }
    };
    let job = match *op {
        Op::Echo => return Ok(Job::stream(Box::<Echo>::default())),
        Op::Sleep { ms, .. } => TestJob::Sleep { ms: bounded("sleep ms", ms)?, start: None, then_panic: false },
        Op::Spin { ms, .. } => TestJob::Spin { ms: bounded("spin ms", ms)? },
        Op::Panic { after_ms, .. } => {
            TestJob::Sleep { ms: bounded("panic after_ms", after_ms)?, start: None, then_panic: true }
        }
        Op::Progress { steps } => TestJob::Progress { steps: bounded("progress steps", steps)? as u64, done: 0 },
        _ => unreachable!("invariant: Op::start handles the production ops"),
    };
    Ok(Job { kind: JobKind::Test(job) })
}

#[derive(Debug, Default)]
struct Echo;

impl Stream for Echo {
    fn update(&mut self, chunk: &[u8], out: &mut dyn Sink) -> Result<(), Error> {
        out.write(chunk)
    }

    fn finish(self: Box<Self>, _out: &mut dyn Sink) -> Result<(), Error> {
        Ok(())
    }
}

#[derive(Debug)]
pub(super) enum TestJob {
    /// Waits `ms`, then finishes — or panics (the `panic` op).
    Sleep {
        ms: f64,
        start: Option<f64>,
        then_panic: bool,
    },
    Spin {
        ms: f64,
    },
    Progress {
        steps: u64,
        done: u64,
    },
}

impl TestJob {
    pub(super) fn step(
        &mut self,
        _input: &mut dyn ChunkSource,
        env: &dyn Env,
        progress: &mut dyn Progress,
    ) -> Result<Step, Error> {
        match self {
            TestJob::Sleep { ms, start, then_panic } => {
                let now = env.now_ms();
                let begun = *start.get_or_insert(now);
                let elapsed = now - begun;
                progress.report(elapsed.min(*ms) as u64, *ms as u64);
                if elapsed >= *ms {
                    assert!(!*then_panic, "the test-ops `panic` op panicked, as asked");
                    return Ok(Step::Done);
                }
                Ok(Step::Wait((*ms - elapsed).min(SLEEP_SLICE_MS)))
            }
            TestJob::Spin { ms } => {
                let start = env.now_ms();
                while env.now_ms() - start < *ms {
                    std::hint::spin_loop();
                }
                Ok(Step::Done)
            }
            TestJob::Progress { steps, done } => {
                if *done >= *steps {
                    return Ok(Step::Done);
                }
                *done += 1;
                progress.report(*done, *steps);
                Ok(Step::Wait(5.0))
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::ops::{drive_blocking, NeverCancel, SliceSource, StdEnv};

    #[derive(Default)]
    struct Recorder(Vec<(u64, u64)>);
    impl Progress for Recorder {
        fn report(&mut self, done: u64, total: u64) {
            self.0.push((done, total));
        }
    }

    fn run(op: Op, input: &[u8], rec: &mut Recorder) -> Result<Vec<u8>, Error> {
        drive_blocking(op.start()?, &mut SliceSource::new(input, 4), &StdEnv::default(), rec, &NeverCancel)
    }

    #[test]
    fn echo_returns_its_input() {
        assert_eq!(run(Op::Echo, b"hello, world", &mut Recorder::default()).unwrap(), b"hello, world");
    }

    #[test]
    fn sleep_waits_and_reports_progress() {
        let env = StdEnv::default();
        let mut rec = Recorder::default();
        let t0 = env.now_ms();
        run(Op::Sleep { ms: 30, short: false }, b"", &mut rec).unwrap();
        assert!(env.now_ms() - t0 >= 30.0);
        assert_eq!(rec.0.last(), Some(&(30, 30)));
        assert!(rec.0.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic: {:?}", rec.0);
    }

    #[test]
    fn progress_reports_every_step() {
        let mut rec = Recorder::default();
        run(Op::Progress { steps: 4 }, b"", &mut rec).unwrap();
        assert_eq!(rec.0, vec![(0, 0), (1, 4), (2, 4), (3, 4), (4, 4)]);
    }

    #[test]
    fn limits_are_enforced() {
        let err = Op::Sleep { ms: TEST_OP_LIMIT + 1, short: false }.start().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Validation);
    }

    #[test]
    #[should_panic(expected = "as asked")]
    fn panic_panics() {
        let _ = run(Op::Panic { after_ms: 0, short: false }, b"", &mut Recorder::default());
    }
}
