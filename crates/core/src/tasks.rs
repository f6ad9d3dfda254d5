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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

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
