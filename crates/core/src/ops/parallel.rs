//! Work split across threads, when there are any: rayon's pool in the threaded build (one per
//! pool worker, see the root crate's `runtime::threads`), nothing otherwise.
//!
//! Ops that can split (per-chunk hashes, gzip's blocks) call `map`, which runs on rayon's
//! threads when [`threads`] is more than 1 and in order on the calling thread otherwise. The
//! output never depends on which: each item is computed alone and the results come back in
//! order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads jobs may use, the caller's included. A process-wide value because rayon's pool is
/// process-wide too (one per wasm instance).
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets how many threads jobs may use (1: none but the caller's). Set once the thread pool runs;
/// without the `parallel` feature anything above 1 is ignored.
pub fn set_threads(n: usize) {
    // Relaxed: a plain setting, read by the same thread that runs the jobs it affects.
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads jobs may use (1 without the `parallel` feature).
pub fn threads() -> usize {
    if cfg!(feature = "parallel") {
        THREADS.load(Ordering::Relaxed)
    } else {
        1
    }
}

/// Most input bytes an op gathers to split across threads at once.
pub const GATHER_BYTES: usize = 64 << 20;

/// How many `piece`-byte pieces an op gathers before splitting them across threads: one per
/// thread, within [`GATHER_BYTES`] (at least one).
pub fn batch(piece: usize) -> usize {
    threads().min(GATHER_BYTES / piece.max(1)).max(1)
}

/// `f` over every item, results in order: on rayon's threads when there are several.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "parallel")]
    if threads() > 1 && items.len() > 1 {
        use rayon::prelude::*;
        return items.par_iter().map(f).collect();
    }
    items.iter().map(f).collect()
}

/// Jobs handed to rayon's threads while the caller goes on (reading the next input, say), their
/// results taken back in the order they were pushed. With one thread a job runs at once, on the
/// caller's thread. The caller bounds how many it keeps running ([`Ahead::len`]).
#[derive(Debug)]
pub(crate) struct Ahead<R> {
    jobs: std::collections::VecDeque<Job<R>>,
}

#[derive(Debug)]
enum Job<R> {
    Done(R),
    #[cfg(feature = "parallel")]
    Running(std::sync::mpsc::Receiver<R>),
}

impl<R: Send + 'static> Ahead<R> {
    pub(crate) fn new() -> Self {
        Ahead { jobs: std::collections::VecDeque::new() }
    }

    /// Jobs pushed and not yet taken back.
    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Starts `job`: on another thread when there are several, else now.
    pub(crate) fn push(&mut self, job: impl FnOnce() -> R + Send + 'static) {
        #[cfg(feature = "parallel")]
        if threads() > 1 {
            let (done, result) = std::sync::mpsc::sync_channel(1);
            // A dropped `Ahead` (a cancelled call) leaves nobody to receive: the result is dropped.
            rayon::spawn(move || drop(done.send(job())));
            self.jobs.push_back(Job::Running(result));
            return;
        }
        self.jobs.push_back(Job::Done(job()));
    }

    /// The oldest job's result if it is done.
    pub(crate) fn next_done(&mut self) -> Option<R> {
        match self.jobs.pop_front()? {
            Job::Done(result) => Some(result),
            #[cfg(feature = "parallel")]
            Job::Running(result) => match result.try_recv() {
                Ok(result) => Some(result),
                Err(_) => {
                    self.jobs.push_front(Job::Running(result));
                    None
                }
            },
        }
    }

    /// Waits for the oldest job's result, running queued jobs meanwhile (the caller's thread is
    /// one of rayon's in a pool worker), and blocks only when none is left to run.
    pub(crate) fn wait_oldest(&mut self) -> Option<R> {
        match self.jobs.pop_front()? {
            Job::Done(result) => Some(result),
            #[cfg(feature = "parallel")]
            Job::Running(result) => loop {
                match result.try_recv() {
                    Ok(result) => return Some(result),
                    // The sender lives until the job has run; it cannot be gone unsent (jobs
                    // do not unwind: a panic aborts rayon's pool).
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        unreachable!("a parallel job ended without its result")
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        if rayon::yield_now() != Some(rayon::Yield::Executed) {
                            return Some(result.recv().expect("a parallel job ended without its result"));
                        }
                    }
                }
            },
        }
    }
}

/// Runs `f` with `n` threads set, one such test at a time (the setting is process-wide and
/// tests run in parallel): every test that sets threads, or relies on there being one, uses it.
#[cfg(test)]
pub(crate) fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    set_threads(n);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    set_threads(1);
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_order_whatever_the_threads() {
        let items: Vec<u32> = (0..1000).collect();
        let serial = with_threads(1, || map(&items, |n| n * 3));
        let split = with_threads(4, || map(&items, |n| n * 3));
        assert_eq!(serial, split);
        assert_eq!(serial[999], 2997);
    }

    #[test]
    fn jobs_ahead_come_back_in_order_whatever_the_threads() {
        for n in [1, 4] {
            let results = with_threads(n, || {
                let mut ahead = Ahead::new();
                let mut results = Vec::new();
                for i in 0..100u64 {
                    ahead.push(move || (0..(100 - i) * 1000).fold(i, |acc, x| acc.wrapping_add(x % 7)));
                    while ahead.len() > 3 {
                        results.push(ahead.wait_oldest().unwrap());
                    }
                    while let Some(done) = ahead.next_done() {
                        results.push(done);
                    }
                }
                while let Some(done) = ahead.wait_oldest() {
                    results.push(done);
                }
                results
            });
            let expected: Vec<u64> =
                (0..100u64).map(|i| (0..(100 - i) * 1000).fold(i, |acc, x| acc.wrapping_add(x % 7))).collect();
            assert_eq!(results, expected, "{n} threads");
        }
    }
}
