//! The wire enums, named by direction as in gloo-worker: [`ToWorker`] and [`FromWorker`].

use serde::{Deserialize, Serialize};

use super::{RequestId, PROTOCOL_VERSION};
use crate::error::{Error, ErrorKind};
use crate::ops::engine::EngineChoice;
use crate::ops::Op;

/// `{ v, msg }`: the version travels outside the message so a peer can reject a foreign one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The protocol version; see [`PROTOCOL_VERSION`].
    pub v: u32,
    /// The message itself.
    pub msg: T,
}

impl<T> Envelope<T> {
    /// Wraps `msg` with the current protocol version.
    pub fn new(msg: T) -> Self {
        Envelope { v: PROTOCOL_VERSION, msg }
    }
}

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToWorker {
    /// Run `op` over the bytes that travel in the message's `body`.
    Request {
        /// Echoed in the response.
        id: RequestId,
        /// What to do.
        op: Op,
        /// The caller watches progress: report it (into the shared `progress` block sent beside
        /// the body, or as `Progress` messages).
        #[serde(default)]
        progress: bool,
        /// The container for the output.
        #[serde(default)]
        output: OutputKind,
        /// Which engine may run it (`auto` is left off the wire).
        #[serde(default, skip_serializing_if = "EngineChoice::is_auto")]
        engine: EngineChoice,
    },
    /// Stop request `id` at its next step (it answers `Failed` with `AbortError`). A cancel for
    /// a request the worker is not running is ignored: it finished while the cancel was in flight.
    Cancel {
        /// The request to stop.
        id: RequestId,
    },
    /// Are you alive? Answered with [`FromWorker::Pong`] carrying the same `seq`.
    Ping {
        /// Echoed back.
        seq: u32,
    },
    /// Join the parts in the message's `value` attachment (an array of `Blob`s and
    /// `Uint8Array`s, in order) into one `Blob`, answered with [`FromWorker::Joined`] carrying
    /// the same `id`. A worker does it because building a `Blob` of other `Blob`s is a
    /// synchronous call to the browser that waits while the browser still takes in those
    /// `Blob`s: up to 23.5 ms on the page's thread after a split `encryptFile`.
    Join {
        /// Echoed back.
        id: u32,
    },
    /// Test builds only: block the worker's thread for `ms` milliseconds, answering nothing (a
    /// worker that hangs while idle, for the health checks).
    #[cfg(feature = "test-ops")]
    Stall {
        /// How long (at most `ops::TEST_OP_LIMIT`).
        ms: u32,
    },
    /// Test builds only: read `Blob`s in slices (`on`), as a worker does where Blob streams have
    /// no BYOB reader (WebKit), or through their streams where they have one (`off`).
    #[cfg(feature = "test-ops")]
    BlobSlices {
        /// Slices from now on.
        on: bool,
    },
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromWorker {
    /// The worker has instantiated the wasm module and takes requests.
    Ready {
        /// The slot id the page gave the worker at spawn.
        worker: u32,
        /// What the worker can do.
        caps: Caps,
    },
    /// The request succeeded; its output travels in the message's `body`.
    Response {
        /// The request's id.
        id: RequestId,
        /// For a fetch: the response's status, headers and (if asked) the body's digest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http: Option<HttpMeta>,
        /// For an app's task: how long it ran in the worker, in milliseconds — the page learns
        /// from it which tasks are short enough to send ahead ([`crate::tasks::TaskCosts`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<f64>,
    },
    /// The request (or, with no id, an undecodable message) failed.
    Failed {
        /// The request's id, when the message was readable enough to have one.
        id: Option<RequestId>,
        /// What went wrong.
        error: WireError,
        /// For an app's task: how long it ran before it failed, in milliseconds (see `Response`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<f64>,
    },
    /// How far request `id` has got, when progress cannot be shared through memory.
    Progress {
        /// The request's id.
        id: RequestId,
        /// Units done.
        done: f64,
        /// Units in all (0 = unknown).
        total: f64,
    },
    /// The worker's instance is dying (a panic or trap): replace the worker.
    Crashed {
        /// What happened.
        message: String,
    },
    /// Answer to [`ToWorker::Ping`].
    Pong {
        /// The ping's `seq`.
        seq: u32,
        /// The size of the worker's wasm memory in bytes (it grows, never shrinks: the high-water
        /// mark of the worker's heap).
        #[serde(default)]
        memory: f64,
    },
    /// Answer to [`ToWorker::Join`]: the joined `Blob` travels as this message's body; no body
    /// when the browser refused to build it (the page then joins the parts itself).
    Joined {
        /// The join's `id`.
        id: u32,
    },
    /// The buffer a request's body came in (at least [`crate::spares::MIN_BYTES`]), which the
    /// worker no longer reads: the request was answered just before. It travels as this
    /// message's body; the page may copy a later call's input into it (`spares`).
    Spare,
    /// The bootstrap script could not load the wasm module (sent by `worker/worker.js`).
    BootFailed {
        /// The loader's error message.
        message: String,
    },
}

/// The container a caller wants an op's output in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// One `Uint8Array`.
    #[default]
    Bytes,
    /// A `Blob` of the output's pieces (a large output needs no contiguous copy).
    Blob,
    /// An app's task's result as its function returned it (the default of `tasks.run`; its
    /// `bytes` and `blob` shape a result that is bytes).
    Value,
    /// Written to a `WritableStream` as it is produced (the `sink` beside the body); the call
    /// itself resolves with nothing.
    Stream,
}

/// What a fetch returns besides its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMeta {
    /// The HTTP status.
    pub status: u16,
    /// The status text.
    pub status_text: String,
    /// The final URL (after redirects).
    pub url: String,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// SHA-256 of the body, when asked for.
    #[serde(default, with = "serde_bytes", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Vec<u8>>,
}

/// What a worker reports it can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Caps {
    /// The worker can use `SharedArrayBuffer` (its global is cross-origin isolated).
    pub shared_memory: bool,
    /// The crate version the worker runs, to catch a stale cached worker script.
    pub version: String,
    /// Threads one of its jobs may use, itself included (more than 1 only in the threaded build).
    #[serde(default = "one")]
    pub threads: u32,
}

fn one() -> u32 {
    1
}

/// An error as data, rebuilt into a typed [`Error`] on the other side (as Comlink does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    /// An [`ErrorKind::name`].
    pub name: String,
    /// The error's message.
    pub message: String,
    /// An HTTP status, for a `NetworkError` from a non-2xx response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The JavaScript stack of what a service's handler or a task threw, for the `Error` its
    /// caller gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// With `name` `TaskError`: the name of the error the task's code threw (`RangeError`, an
    /// app's own name), which the caller's `Error` carries (see [`Error::thrown`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thrown: Option<String>,
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> Self {
        WireError {
            name: e.kind().name().to_owned(),
            message: e.message().to_owned(),
            status: e.status(),
            stack: e.stack().map(str::to_owned),
            thrown: e.thrown_name().map(str::to_owned),
        }
    }
}

impl From<WireError> for Error {
    /// An unknown name means the worker is not ours or not our version: treat it as a crash.
    fn from(w: WireError) -> Self {
        match ErrorKind::from_name(&w.name) {
            Some(ErrorKind::Task) if w.thrown.is_some() => {
                Error::thrown(w.thrown.unwrap_or_default(), w.message, w.stack)
            }
            Some(kind) => {
                let e = Error::new(kind, w.message);
                match w.status {
                    Some(status) => e.with_status(status),
                    None => e,
                }
            }
            None => Error::new(
                ErrorKind::WorkerCrashed,
                format!("worker reported an unknown error {}: {}", w.name, w.message),
            ),
        }
    }
}
