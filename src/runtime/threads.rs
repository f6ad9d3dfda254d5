//! The threaded build's thread pool: rayon inside one pool worker, over that worker's own shared
//! memory (every worker has its own instance and memory; the page never runs one).
//!
//! [`start`] starts nested workers (`worker/threads.js`, from worker.js in its thread mode) that
//! instantiate the module over this worker's memory and wait on a channel (`thread_main`), then
//! builds rayon's global pool with the calling worker as thread 0 (`use_current_thread`),
//! handing the other threads' `ThreadBuilder`s to the channel. A large job then splits across
//! all of them, the pool worker included, so a worker with `n` threads occupies `n` cores, not
//! `n + 1`. This is what wasm-bindgen-rayon does, with two differences we need: the caller's
//! thread works too, and the helpers are started from a literal URL and find the glue the way
//! our workers do, so bundlers, static servers and a strict CSP all work.
//!
//! The single-threaded build has no threads: [`start`] answers 1 without doing anything.

#[cfg(feature = "threads")]
mod pool {
    use std::sync::mpsc::{channel, Receiver};
    use std::sync::Mutex;

    use js_sys::Promise;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;

    use crate::runtime::glue::glue_url;
    use crate::runtime::js_error::describe;

    #[wasm_bindgen(module = "/worker/threads.js")]
    extern "C" {
        #[wasm_bindgen(js_name = startThreads)]
        fn start_threads(module: JsValue, memory: JsValue, glue_url: &str, count: u32) -> Promise;
    }

    /// The builders of the threads not yet started. Shared memory: the helper threads read it.
    static WAITING: Mutex<Option<Receiver<rayon::ThreadBuilder>>> = Mutex::new(None);

    pub(crate) async fn start(threads: u32) -> Result<u32, String> {
        if threads < 2 {
            return Ok(1);
        }
        let (sender, receiver) = channel();
        *WAITING.lock().map_err(|_| "the thread pool's lock is poisoned")? = Some(receiver);
        // The helpers first: each waits for its builder in `thread_main`. Building the pool
        // then hands them out and returns once every thread runs (rayon waits for that, so
        // the helpers must already be there: nothing else would start them meanwhile).
        let started = start_threads(wasm_bindgen::module(), wasm_bindgen::memory(), &glue_url(), threads - 1);
        JsFuture::from(started).await.map_err(|e| describe(&e))?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .use_current_thread()
            .thread_name(|i| format!("worker-bridge-thread-{i}"))
            .spawn_handler(move |thread| sender.send(thread).map_err(|e| std::io::Error::other(e.to_string())))
            .build_global()
            .map_err(|e| format!("cannot build the thread pool: {e}"))?;
        Ok(threads)
    }

    /// A helper thread's life: waits for its builder (the pool is built once every helper is
    /// ready), then runs rayon's loop on it, which returns only if the pool ends (a global
    /// pool never does). One helper at a time holds the lock while it waits: every builder
    /// is sent at once, so each wait is short.
    #[wasm_bindgen(js_name = __workerBridgeThread)]
    #[doc(hidden)]
    pub fn thread_main() {
        let builder = WAITING.lock().ok().and_then(|waiting| waiting.as_ref().and_then(|r| r.recv().ok()));
        if let Some(builder) = builder {
            builder.run();
        }
    }
}

/// Starts `threads` threads for this worker's jobs (itself included) and tells the core how many
/// it may use; returns that number. The single-threaded build, or `threads` ≤ 1, gives 1.
///
/// # Errors
/// Why the helpers could not start (the caller runs with one thread then).
pub(crate) async fn start(threads: u32) -> Result<u32, String> {
    #[cfg(feature = "threads")]
    let started = pool::start(threads).await?;
    #[cfg(not(feature = "threads"))]
    let started = {
        let _ = threads;
        1
    };
    worker_bridge_core::ops::parallel::set_threads(started as usize);
    Ok(started)
}

/// Which build this is: `"threads"` or `"single"`.
pub(crate) const BUILD: &str = if cfg!(feature = "threads") { "threads" } else { "single" };

/// Whether this build uses WebAssembly SIMD (`simd.toml`, and the threaded build's flags).
pub(crate) const SIMD: bool = cfg!(target_feature = "simd128");
