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
}

impl ErrorKind {
    /// Every kind, for exhaustive round-trip tests and name lookups.
    pub const ALL: [ErrorKind; 13] = [
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
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), status: None }
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
        write!(f, "{}: {}", self.kind.name(), self.message)
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
    fn display_names_the_kind() {
        let e = Error::new(ErrorKind::Timeout, "took 5 s");
        assert_eq!(e.to_string(), "TimeoutError: took 5 s");
    }
}
