//! Tasks written in Rust: [`register_task`] puts a function in this instance's table, and the
//! driver runs it — in a pool worker's instance of the module, or on the page — with its input
//! and output converted by serde. Register in your crate's `#[wasm_bindgen(start)]` function, so
//! that every instance (the page's and each worker's) knows the name.

use std::cell::RefCell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;
use worker_bridge_core::tasks::TaskError;

use crate::error::Error;
use crate::ops::{Cancel, Progress};

/// What a Rust task gets besides its input: where to report progress (`onProgress` of the
/// call), and whether the call was cancelled (seen while the task runs only where the page and
/// the worker share memory; a task that checks it can stop early).
pub struct TaskContext<'a> {
    progress: &'a mut dyn Progress,
    cancel: &'a dyn Cancel,
}

impl std::fmt::Debug for TaskContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext").finish_non_exhaustive()
    }
}

impl TaskContext<'_> {
    /// `done` of `total` units are finished (0 = total unknown).
    pub fn progress(&mut self, done: u64, total: u64) {
        self.progress.report(done, total);
    }

    /// Whether the caller cancelled the call.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

type Runner = Rc<dyn Fn(JsValue, &mut TaskContext<'_>) -> Result<JsValue, Error>>;

thread_local! {
    static TASKS: RefCell<Vec<(String, Runner)>> = const { RefCell::new(Vec::new()) };
}

/// Makes a Rust function available as `{ rust: name }` to `bridge.tasks.register`. Its input
/// is the call's input read by serde as `I`, its result goes back as JavaScript through serde
/// (`serde_bytes::ByteBuf` for bytes); a [`TaskError`] reaches the caller as an `Error` with its
/// name. It runs synchronously in the wasm of a pool worker (or of the page, on the main-thread
/// fallback, where it blocks the page while it computes). Call it in your crate's
/// `#[wasm_bindgen(start)]` function; a later registration of the same name replaces the earlier.
///
/// ```no_run
/// # use worker_bridge::tasks::{register_task, TaskContext, TaskError};
/// register_task("sum", |numbers: Vec<f64>, ctx: &mut TaskContext<'_>| {
///     ctx.progress(1, 1);
///     if numbers.is_empty() {
///         return Err(TaskError::named("RangeError", "nothing to sum"));
///     }
///     Ok(numbers.iter().sum::<f64>())
/// });
/// ```
pub fn register_task<I, O>(name: &str, task: impl Fn(I, &mut TaskContext<'_>) -> Result<O, TaskError> + 'static)
where
    I: DeserializeOwned,
    O: Serialize,
{
    let runner = runner_of(task);
    TASKS.with(|t| {
        let mut t = t.borrow_mut();
        t.retain(|(n, _)| n != name);
        t.push((name.to_owned(), runner));
    });
}

/// `task` with its input and output converted by serde.
fn runner_of<I: DeserializeOwned, O: Serialize>(
    task: impl Fn(I, &mut TaskContext<'_>) -> Result<O, TaskError> + 'static,
) -> Runner {
    Rc::new(move |input, ctx| {
        let input: I = serde_wasm_bindgen::from_value(input)
            .map_err(|e| Error::validation(format!("the task cannot read this input: {e}")))?;
        let output = task(input, ctx)?;
        output
            .serialize(
                &serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true).serialize_missing_as_null(true),
            )
            .map_err(|e| Error::validation(format!("the task's result cannot be sent: {e}")))
    })
}

fn runner(name: &str) -> Option<Runner> {
    let registered = TASKS.with(|t| t.borrow().iter().find(|(n, _)| n == name).map(|(_, r)| r.clone()));
    registered.or_else(|| builtin(name))
}

/// Test builds only: `test-sum` (adds numbers, reporting progress after each) and `test-fail`
/// (fails with a `RangeError`).
#[cfg(feature = "test-ops")]
fn builtin(name: &str) -> Option<Runner> {
    match name {
        "test-sum" => Some(runner_of(|numbers: Vec<f64>, ctx: &mut TaskContext<'_>| {
            let total = numbers.len() as u64;
            let mut sum = 0.0;
            for (i, n) in numbers.iter().enumerate() {
                sum += n;
                ctx.progress(i as u64 + 1, total);
            }
            Ok(sum)
        })),
        "test-fail" => Some(runner_of(|_: serde::de::IgnoredAny, _: &mut TaskContext<'_>| {
            Err::<(), _>(TaskError::named("RangeError", "test-fail fails"))
        })),
        _ => None,
    }
}

#[cfg(not(feature = "test-ops"))]
fn builtin(_name: &str) -> Option<Runner> {
    None
}

/// Whether this instance knows a Rust task called `name`.
pub(crate) fn is_known(name: &str) -> bool {
    runner(name).is_some()
}

/// Runs the Rust task `name` over `input`.
///
/// # Errors
/// `TaskError` when no task is registered as `name` here, or what the task returned.
pub(crate) fn run_rust(
    name: &str,
    input: JsValue,
    progress: &mut dyn Progress,
    cancel: &dyn Cancel,
) -> Result<JsValue, Error> {
    let task = runner(name).ok_or_else(|| {
        Error::new(
            crate::error::ErrorKind::Task,
            format!(
                "no Rust task is registered as {name:?} in this instance (call register_task in your \
                 #[wasm_bindgen(start)] function, so that every instance knows it)"
            ),
        )
    })?;
    task(input, &mut TaskContext { progress, cancel })
}
