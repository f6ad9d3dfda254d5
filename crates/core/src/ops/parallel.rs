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
}
