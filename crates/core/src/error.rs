//! One error type for the whole crate: an [`ErrorKind`] that says what happened and a message
//! that says why. At the JavaScript boundary it becomes an `Error` whose `name` is the kind's
//! name (`TimeoutError`, `AbortError`, ...), so callers can `catch` by name.

use std::fmt;

/// What went wrong, in the terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A call ran past its deadline.
    Timeout,
    /// A call was cancelled by its caller.
    Abort,
    /// The worker running a call crashed (an exception, a trap or a broken message channel).
    WorkerCrashed,
    /// An argument, an option or a message was malformed.
    Validation,
    /// An authentication tag did not verify.
    Authentication,
    /// A (key, nonce) pair was about to be used twice.
    NonceReuse,
    /// The queue of waiting calls is full.
    QueueFull,
    /// The bridge was terminated before the call finished.
    Terminated,
    /// Compressed input was corrupt or truncated.
    Decompression,
    /// An output would have exceeded its configured limit.
    LimitExceeded,
    /// A network request failed.
    Network,
    /// Workers could not be started and fallback to the main thread was not allowed.
    Unsupported,
    /// A service was asked to do something its state does not allow.
    ServiceState,
    /// A task of the app's own (`tasks.run`) failed: its name is not registered, its module
    /// did not import or lacks the export, or its function threw (then the JavaScript `Error`
    /// carries the thrown error's own `name`, see [`Error::thrown_name`]).
    Task,
    /// A `Blob` or `File` input could not be read: the file changed or was removed after it was
    /// picked, or the browser's Blob storage is full. Not the caller's argument at fault, so
    /// not a [`Validation`](Self::Validation) error: retrying may succeed once the file is
    /// picked again or memory is freed.
    NotReadable,
}

impl ErrorKind {
    /// Every kind, for exhaustive round-trip tests and name lookups.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::Timeout,
        ErrorKind::Abort,
        ErrorKind::WorkerCrashed,
        ErrorKind::Validation,
        ErrorKind::Authentication,
        ErrorKind::NonceReuse,
        ErrorKind::QueueFull,
        ErrorKind::Terminated,
        ErrorKind::Decompression,
        ErrorKind::LimitExceeded,
        ErrorKind::Network,
        ErrorKind::Unsupported,
        ErrorKind::ServiceState,
        ErrorKind::Task,
        ErrorKind::NotReadable,
    ];

    /// The `name` the JavaScript `Error` carries.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "TimeoutError",
            ErrorKind::Abort => "AbortError",
            ErrorKind::WorkerCrashed => "WorkerCrashedError",
            ErrorKind::Validation => "ValidationError",
            ErrorKind::Authentication => "AuthenticationError",
            ErrorKind::NonceReuse => "NonceReuseError",
            ErrorKind::QueueFull => "QueueFullError",
            ErrorKind::Terminated => "TerminatedError",
            ErrorKind::Decompression => "DecompressionError",
            ErrorKind::LimitExceeded => "LimitExceededError",
            ErrorKind::Network => "NetworkError",
            ErrorKind::Unsupported => "NotSupportedError",
            ErrorKind::ServiceState => "ServiceStateError",
            ErrorKind::Task => "TaskError",
            ErrorKind::NotReadable => "NotReadableError",
        }
    }

    /// The kind whose [`name`](Self::name) is `name`, if any.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The crate's error: a kind and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    /// What a task's own code threw: its `name` and `stack` (boxed: rare, and errors travel by
    /// value everywhere).
    thrown: Option<Box<Thrown>>,
}

/// The `name` and `stack` of an error a task's code threw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Thrown {
    name: String,
    stack: Option<String>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), status: None, thrown: None }
    }

    /// What a task's code threw — an error named `name` (`RangeError`, or an app's own
    /// `QuotaError`) saying `message` — as an [`ErrorKind::Task`] error that keeps the name and
    /// the stack for the caller's JavaScript `Error`.
    pub fn thrown(name: impl Into<String>, message: impl Into<String>, stack: Option<String>) -> Self {
        let mut e = Error::new(ErrorKind::Task, message);
        e.thrown = Some(Box::new(Thrown { name: name.into(), stack }));
        e
    }

    /// The name of what a task's code threw, for an error made by [`Error::thrown`].
    pub fn thrown_name(&self) -> Option<&str> {
        self.thrown.as_ref().map(|t| t.name.as_str())
    }

    /// The JavaScript stack of what a task's code threw, when it had one.
    pub fn stack(&self) -> Option<&str> {
        self.thrown.as_ref().and_then(|t| t.stack.as_deref())
    }

    /// The `name` the caller's JavaScript `Error` carries: what a task threw keeps its own name,
    /// anything else is named for its kind.
    pub fn js_name(&self) -> &str {
        self.thrown_name().unwrap_or(self.kind.name())
    }

    /// Attaches an HTTP status (a `NetworkError` for a non-2xx response carries it).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Shorthand for a [`ErrorKind::Validation`] error.
    pub fn validation(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Validation, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Why, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.js_name(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.name()), "duplicate name {}", kind.name());
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ErrorKind::from_name("Error"), None);
    }

    #[test]
    fn a_thrown_error_keeps_its_name_and_stack_but_is_a_task_error() {
        let e = Error::thrown("RangeError", "too big", Some("RangeError: too big\n    at f".into()));
        assert_eq!(e.kind(), ErrorKind::Task);
        assert_eq!(e.js_name(), "RangeError");
        assert_eq!(e.stack(), Some("RangeError: too big\n    at f"));
        let plain = Error::new(ErrorKind::Task, "no task");
        assert_eq!((plain.js_name(), plain.thrown_name(), plain.stack()), ("TaskError", None, None));
    }

    #[test]
    fn display_names_the_kind() {
        let e = Error::new(ErrorKind::Timeout, "took 5 s");
        assert_eq!(e.to_string(), "TimeoutError: took 5 s");
    }
}
