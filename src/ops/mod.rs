//! The work itself, in pure Rust: no `JsValue`, no `web_sys`, testable with `cargo test`.
//!
//! An [`Op`] names what to do. [`Op::start`] gives a [`Job`] that is fed the input chunk by chunk
//! and then finished. Feeding in chunks is what lets one implementation serve both placements: a
//! worker drives a job in a tight loop ([`drive`]), the main-thread fallback drives the same job a
//! few chunks at a time and yields to the page in between. Between chunks the driver reports
//! [`Progress`] and checks [`Cancel`].

mod crypto;
mod drive;

pub use crypto::Sha256Job;
pub use drive::{drive, ChunkSource, SliceSource, DEFAULT_CHUNK};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What to do with the input bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Op {
    /// SHA-256 digest (32 bytes) of the input.
    Sha256,
}

impl Op {
    /// A fresh job for this op.
    ///
    /// # Errors
    /// [`ErrorKind::Validation`](crate::ErrorKind::Validation) when the op's parameters are invalid.
    pub fn start(&self) -> Result<Box<dyn Job>, Error> {
        match self {
            Op::Sha256 => Ok(Box::new(Sha256Job::default())),
        }
    }

    /// Whether running the op twice on the same input is harmless (so a crashed call may be retried).
    pub fn is_idempotent(&self) -> bool {
        match self {
            Op::Sha256 => true,
        }
    }
}

/// An op in progress: fed the input in order, then finished once.
pub trait Job {
    /// Consumes the next chunk of input.
    ///
    /// # Errors
    /// The op's own failures (bad input, a limit exceeded).
    fn update(&mut self, chunk: &[u8]) -> Result<(), Error>;

    /// Ends the input and returns the output.
    ///
    /// # Errors
    /// The op's own failures (e.g. truncated input).
    fn finish(self: Box<Self>) -> Result<Vec<u8>, Error>;
}

/// Where a job reports how far it has got; `done` never decreases, `total` may be 0 (unknown).
pub trait Progress {
    /// `done` of `total` input bytes are consumed.
    fn report(&mut self, done: u64, total: u64);
}

/// Asked between chunks: should the job stop?
pub trait Cancel {
    /// True once the caller has cancelled.
    fn is_cancelled(&self) -> bool;
}

/// A [`Progress`] that discards reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&mut self, _done: u64, _total: u64) {}
}

/// A [`Cancel`] that never cancels.
#[derive(Debug, Default, Clone, Copy)]
pub struct NeverCancel;

impl Cancel for NeverCancel {
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Runs `op` over an in-memory input: the whole pipeline, synchronously.
///
/// # Errors
/// The op's failures, or [`ErrorKind::Abort`](crate::ErrorKind::Abort) when `cancel` fires.
pub fn run(op: &Op, input: &[u8], progress: &mut dyn Progress, cancel: &dyn Cancel) -> Result<Vec<u8>, Error> {
    drive(op.start()?, &mut SliceSource::new(input, DEFAULT_CHUNK), progress, cancel)
}
