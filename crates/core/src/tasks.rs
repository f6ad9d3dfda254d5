//! The app's own tasks, the pure part: what a registration names (a function exported by a
//! JavaScript module, or a Rust task registered with `register_task`), which names and exports
//! are accepted, and the [`Op`] a call of it becomes. The registry itself lives on the page
//! (`worker-bridge`'s `bridge::tasks`): every call carries its module's URL and export, so a
//! worker needs no registration step — one spawned later, or replacing a crashed one, runs any
//! registered task — and imports each module once, at its first call.
//!
//! Module URLs follow the services' rule ([`origin`](crate::services::origin)): the page's origin
//! and the origins listed in `serviceOrigins`.
//!
//! ```
//! # use worker_bridge_core::tasks::{check_export, check_name, Definition};
//! assert!(check_name("resize").is_ok() && check_name("").is_err());
//! assert!(check_export("default").is_ok() && check_export("not an identifier").is_err());
//! let def = Definition::Module { url: "https://app.example/resize.task.js".into(), export: "resize".into() };
//! assert!(def.op("resize").is_task());
//! ```

use crate::error::Error;
use crate::ops::Op;

/// Longest task name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// What a task name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// The function `export` of the JavaScript module at `url` (absolute, origin checked).
    Module {
        /// The module's absolute URL.
        url: String,
        /// The exported function (`default` for the default export).
        export: String,
    },
    /// A Rust task registered under this name with `register_task`.
    Rust(String),
}

impl Definition {
    /// The op a call of task `name` runs.
    pub fn op(&self, name: &str) -> Op {
        match self {
            Definition::Module { url, export } => {
                Op::Task { name: name.to_owned(), module: url.clone(), export: export.clone() }
            }
            Definition::Rust(rust) => Op::RustTask { name: rust.clone() },
        }
    }
}

/// What a Rust task returns when it fails: an error `name` (`Error` unless said otherwise) and
/// a message, which its caller's JavaScript `Error` carries as a thrown error's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    /// The `name` of the caller's `Error`.
    pub name: String,
    /// Its message.
    pub message: String,
}

impl TaskError {
    /// A failure named `Error`.
    pub fn new(message: impl Into<String>) -> Self {
        TaskError::named("Error", message)
    }

    /// A failure with a name of your own (`RangeError`, `QuotaError`).
    pub fn named(name: impl Into<String>, message: impl Into<String>) -> Self {
        TaskError { name: name.into(), message: message.into() }
    }
}

impl From<TaskError> for Error {
    fn from(e: TaskError) -> Self {
        Error::thrown(e.name, e.message, None)
    }
}

/// A task name: 1 to [`MAX_NAME_LEN`] characters, no control characters.
///
/// # Errors
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) saying why.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "a task name is 1 to {MAX_NAME_LEN} characters without control characters, got {name:?}"
        )));
    }
    Ok(())
}

/// An export name: a JavaScript identifier (ASCII letters, digits, `_`, `$`; not starting with a
/// digit), or `default`.
///
/// # Errors
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) saying why.
pub fn check_export(export: &str) -> Result<(), Error> {
    let mut chars = export.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
        return Err(Error::validation(format!(
            "export must name an exported function (an identifier), got {export:?}"
        )));
    }
    Ok(())
}

/// How long one worker-millisecond of an app's task weighs for pipelining, in input bytes: a
/// worker holds at most 2 ms of task time ahead, as it holds at most
/// [`PIPELINE_BYTES`](crate::defaults::PIPELINE_BYTES) of input (what the Rust code hashes in
/// about a millisecond; the margin covers clocks as coarse as 1 ms, outside cross-origin
/// isolation in Firefox).
pub const WEIGHT_PER_MS: f64 = crate::defaults::PIPELINE_BYTES as f64 / 2.0;

/// Runs of a task seen before it may be sent ahead.
pub const RUNS_BEFORE_AHEAD: u32 = 3;

/// What the pool has learned of how long each of the app's tasks runs in a worker, so that the
/// short ones are sent ahead like short built-in ops (a task's cost cannot be told from its
/// input). The page keeps it, per bridge, to decide what a call of a task weighs
/// ([`weight`](Self::weight)). (A worker never lets an answer wait for a task, nor a task's
/// answer for anything: however long a task the page took for short turns out to be, the page
/// knows which call runs.)
///
/// The estimate moves a quarter of the way to each run, except that a run too long to be sent
/// ahead itself raises it at once: one long run stops a task being sent ahead and only a run of
/// short ones starts it again, while short runs that a coarse clock reads as 0 or 1 ms average
/// out. Runs are timed in the worker (its first run there, which imports the module, and a run
/// its caller aborted are not counted); a run its worker died in or was stopped in counts for as long as the page saw it
/// run. Kept per bridge, never persisted: a page that reloads learns again.
#[derive(Debug, Default, Clone)]
pub struct TaskCosts {
    seen: std::collections::HashMap<String, Estimate>,
}

#[derive(Debug, Clone, Copy)]
struct Estimate {
    ms: f64,
    runs: u32,
}

/// What `ms` of a task's time weighs (at least 1).
fn weigh(ms: f64) -> u64 {
    let bytes = (ms * WEIGHT_PER_MS).ceil();
    if bytes < u64::MAX as f64 {
        (bytes as u64).max(1)
    } else {
        u64::MAX
    }
}

/// Most tasks remembered: past it the one seen least is forgotten (a page that makes task
/// names up as it goes must not grow this for ever).
pub const MAX_TASKS_REMEMBERED: usize = 1024;

impl TaskCosts {
    /// The key a task is learned under, if `op` is one of the app's tasks.
    pub fn key(op: &Op) -> Option<String> {
        match op {
            Op::Task { module, export, .. } => Some(format!("{module}#{export}")),
            Op::RustTask { name } => Some(format!("rust:{name}")),
            _ => None,
        }
    }

    /// One run of the task under `key` took `ms` in its worker (a failed run too: its time was
    /// spent). Not-finite and negative figures are ignored.
    pub fn observe(&mut self, key: &str, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        if let Some(e) = self.seen.get_mut(key) {
            let long = !crate::pool::is_short(weigh(ms));
            e.ms = if long && ms > e.ms { ms } else { e.ms + (ms - e.ms) / 4.0 };
            e.runs = e.runs.saturating_add(1);
            return;
        }
        if self.seen.len() >= MAX_TASKS_REMEMBERED {
            if let Some(least) = self.seen.iter().min_by_key(|(_, e)| e.runs).map(|(k, _)| k.clone()) {
                self.seen.remove(&least);
            }
        }
        self.seen.insert(key.to_owned(), Estimate { ms, runs: 1 });
    }

    /// What a call of the task under `key` weighs for pipelining (see
    /// [`pool::pipeline_weight`](crate::pool::pipeline_weight)): `u64::MAX` — never sent ahead —
    /// until it has run [`RUNS_BEFORE_AHEAD`] times, then its estimate in input bytes.
    pub fn weight(&self, key: &str) -> u64 {
        match self.seen.get(key) {
            Some(e) if e.runs >= RUNS_BEFORE_AHEAD => weigh(e.ms),
            _ => u64::MAX,
        }
    }

    /// Whether a call of the task under `key` is short (see [`pool::is_short`](crate::pool::is_short)).
    pub fn is_short(&self, key: &str) -> bool {
        crate::pool::is_short(self.weight(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_task_is_sent_ahead_once_it_has_run_short_a_few_times_and_not_after_one_long_run() {
        let op = Definition::Module { url: "https://app.example/t.js".into(), export: "echo".into() }.op("echo");
        let key = TaskCosts::key(&op).unwrap();
        assert_eq!(TaskCosts::key(&Op::Sha256), None);
        assert_ne!(TaskCosts::key(&Definition::Rust("echo".into()).op("echo")), Some(key.clone()));
        let mut costs = TaskCosts::default();
        assert_eq!(costs.weight(&key), u64::MAX, "never seen");
        for run in 1..=RUNS_BEFORE_AHEAD {
            assert!(!costs.is_short(&key), "only {} runs seen", run - 1);
            costs.observe(&key, 0.05);
        }
        assert!(costs.is_short(&key));
        assert_eq!(costs.weight(&key), (0.05 * WEIGHT_PER_MS).ceil() as u64);
        // A clock as coarse as a millisecond reads some of those runs as 1 ms: they average out.
        for run in 0..40 {
            costs.observe(&key, if run % 5 == 0 { 1.0 } else { 0.0 });
            assert!(costs.is_short(&key), "run {run}");
        }
        // One long run: at once no longer short; short runs bring it back slowly.
        costs.observe(&key, 40.0);
        assert!(!costs.is_short(&key));
        let mut back = 0;
        while !costs.is_short(&key) {
            costs.observe(&key, 0.05);
            back += 1;
            assert!(back < 100, "short runs never brought it back");
        }
        assert!(back > 5, "came back after {back} short runs");
        // Figures that are not times are ignored; a task that takes no time still weighs.
        costs.observe(&key, f64::NAN);
        costs.observe(&key, -1.0);
        costs.observe(&key, f64::INFINITY);
        assert!(costs.is_short(&key));
        let instant = "rust:instant";
        for _ in 0..RUNS_BEFORE_AHEAD {
            costs.observe(instant, 0.0);
        }
        assert_eq!(costs.weight(instant), 1);
    }

    #[test]
    fn task_costs_remember_a_bounded_number_of_tasks() {
        let mut costs = TaskCosts::default();
        for _ in 0..RUNS_BEFORE_AHEAD {
            costs.observe("kept", 0.1);
        }
        for i in 0..MAX_TASKS_REMEMBERED * 2 {
            costs.observe(&format!("once {i}"), 0.1);
        }
        assert!(costs.seen.len() <= MAX_TASKS_REMEMBERED);
        assert!(costs.is_short("kept"), "the task seen most is kept");
    }

    #[test]
    fn names_and_exports_are_checked() {
        for good in ["resize", "images/resize", "a b", &"x".repeat(MAX_NAME_LEN)] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        for bad in ["", "a\nb", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert_eq!(check_name(bad).unwrap_err().kind(), ErrorKind::Validation, "{bad:?}");
        }
        for good in ["default", "resize", "_x", "$y", "f2"] {
            assert!(check_export(good).is_ok(), "{good:?}");
        }
        for bad in ["", "2f", "a-b", "a.b", "a b"] {
            assert!(check_export(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_rust_task_failure_is_a_thrown_error() {
        let e = Error::from(TaskError::named("RangeError", "too big"));
        assert_eq!((e.kind(), e.js_name(), e.message()), (ErrorKind::Task, "RangeError", "too big"));
        assert_eq!(Error::from(TaskError::new("no")).js_name(), "Error");
    }

    #[test]
    fn a_definition_becomes_the_op_every_call_carries() {
        let module = Definition::Module { url: "https://a.example/t.js".into(), export: "default".into() };
        assert_eq!(
            module.op("t"),
            Op::Task { name: "t".into(), module: "https://a.example/t.js".into(), export: "default".into() }
        );
        assert_eq!(Definition::Rust("sum".into()).op("total"), Op::RustTask { name: "sum".into() });
        assert!(module.op("t").is_task() && !module.op("t").cost_follows_input());
    }
}
