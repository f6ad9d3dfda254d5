//! Messages between the registry (page) and a service host (`worker/service-host.js`, in the
//! service's own worker or, for main-thread placement, on a `MessageChannel` in the page). The
//! host is JavaScript and builds its replies with `worker/protocol.js`; the fixtures in
//! `tests/fixtures/protocol/` are replayed by both languages (`tests/protocol_fixtures.rs`,
//! `tests/node/protocol.test.mjs`), so the two cannot drift apart. A message's data travels beside
//! the envelope as `payload` (structured clone), never through serde.

use serde::{Deserialize, Serialize};

use super::WireError;

/// Registry → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToService {
    /// Import the handler module.
    Load {
        /// The module's absolute URL.
        url: String,
    },
    /// Instantiate this wasm module (the compiled module travels as `payload`) and create the
    /// Rust service registered as `service` in it.
    LoadRust {
        /// The Rust service's registered name.
        service: String,
        /// The glue's URL, for hosts where the bundler-relative import of the glue fails.
        glue_url: String,
    },
    /// Call `onStart(ctx)` with a fresh context.
    Start,
    /// Queue a message for `onMessage(payload, ctx)`; replies come back in order.
    Message {
        /// Echoed in the reply.
        seq: u32,
    },
    /// Call `onStop(ctx)`, after every message queued before it.
    Stop,
    /// Call `health(ctx)` now: the host answers it beside a running message, never queued
    /// behind messages (a busy service is not an unhealthy one).
    Health,
}

/// Host → registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromService {
    /// The module loaded.
    Loaded,
    /// `onStart` resolved.
    Started,
    /// `onStop` resolved.
    Stopped,
    /// `onMessage` resolved; the value travels as `payload`.
    Reply {
        /// The message's `seq`.
        seq: u32,
    },
    /// `onMessage` threw: that message fails, the service carries on.
    ReplyFailed {
        /// The message's `seq`.
        seq: u32,
        /// What it threw.
        error: WireError,
    },
    /// Loading, `onStart` or `onStop` failed: the service fails.
    Failed {
        /// What went wrong.
        error: WireError,
    },
    /// The service's wasm instance trapped (a Rust panic) or an exception escaped it mid-call (a
    /// stack overflow): the host takes nothing more, the service fails (and restarts on failure).
    /// The message being handled has been answered with `ReplyFailed` first.
    Crashed {
        /// The panic.
        error: WireError,
    },
    /// The answer to `Health`.
    Health {
        /// Whether the service says it is healthy.
        healthy: bool,
        /// Its explanation.
        detail: String,
    },
}
