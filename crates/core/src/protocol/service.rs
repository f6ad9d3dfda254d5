//! Messages between the registry (page) and a service host (`worker/service-host.js`, in the
//! service's own worker or, for main-thread placement, on a `MessageChannel` in the page). Both
//! ends of the hot path are JavaScript: the host builds its replies with `worker/protocol.js`, and
//! the page's end of the link (`worker/service-link.js`) builds `Message` and settles a plain
//! `Reply` itself; Rust encodes every other `ToService` and decodes every other `FromService`. The
//! fixtures in `tests/fixtures/protocol/` are replayed by both languages
//! (`tests/protocol_fixtures.rs`, `tests/node/protocol.test.mjs`), so the two cannot drift apart.
//!
//! `Message`s and plain `Reply`s, nearly all the traffic, travel in a fast form that only
//! JavaScript reads and writes (`seqBatch` in `worker/protocol.js`, tested by
//! `tests/node/service-*.test.mjs`): their sequence numbers beside their data,
//! `{ v: 2, s: [7, …], p: [{ op: 'get' }, …] }` (`r` for replies), no JSON at all. The rest:
//!
//! Both ways, messages travel as the pool's do: a **batch** — the JSON text of an array of
//! envelopes ([`encode_batch`](super::encode_batch)) in `m` — in one `postMessage`, so what the
//! page sends in one task turn, and the replies the host sends back to back, cost one message
//! each way, not one per message. A message's data (what `send` was given, what `onMessage`
//! returned, the compiled module of `LoadRust`) never goes through serde: it travels beside the
//! text, structured-cloned, at the same index of the parallel array `p`:
//! `{ m: '[{"v":2,"msg":{"type":"message","seq":7}}, …]', p: [{ op: 'get' }, …] }`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{decode_batch, WireError};
use crate::error::Error;

/// Registry → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToService {
    /// Import the handler module.
    Load {
        /// The module's absolute URL.
        url: String,
        /// The service's `config` (absent: none), which every hook sees as `ctx.config`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<Value>,
        /// The longest the host polls for the page's next message (`busyPollUs`; absent: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        busy_poll_us: Option<u32>,
    },
    /// Instantiate this wasm module (the compiled module travels as `payload`) and create the
    /// Rust service registered as `service` in it.
    LoadRust {
        /// The Rust service's registered name.
        service: String,
        /// The glue's URL, for hosts where the bundler-relative import of the glue fails.
        glue_url: String,
        /// The service's `config` (absent: none), handed to the service's factory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<Value>,
        /// The longest the host polls for the page's next message (`busyPollUs`; absent: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        busy_poll_us: Option<u32>,
    },
    /// Use the handler object the host was made with (an inline handler: main placement only,
    /// where the object needs no cloning).
    LoadInline {
        /// The service's `config` (absent: none), which every hook sees as `ctx.config`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<Value>,
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
    /// `persist: true`, right after `Start`: check the service has `onSnapshot` and `onRestore`,
    /// and call `onRestore(ctx, snapshot)` when a snapshot is stored.
    Restore {
        /// The stored snapshot (absent: none stored).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Value>,
    },
    /// `persist: true`: call `onSnapshot(ctx)` (queued, after the messages before it).
    Snapshot {
        /// Taken at stop (the stop waits for it to be stored), not on the interval.
        stop: bool,
    },
    /// The reply to the service's own `ctx.send` number `seq` (`FromService::Send`), its value
    /// beside it as payload. Handled at once, never queued: the handler that sent it may be
    /// awaiting it.
    SendReply {
        /// The `seq` of the `FromService::Send`.
        seq: u32,
    },
    /// The service's `ctx.send` number `seq` failed: what the receiver threw, or the bridge's
    /// typed error (an unknown service, one that is not running, …). Handled at once.
    SendFailed {
        /// The `seq` of the `FromService::Send`.
        seq: u32,
        /// Why.
        error: WireError,
    },
    /// The answer to `FromService::Connect`: how this host's sends to `to` go from now on
    /// (`core::services::peers::route`). Direct: the payload is this end of a `MessageChannel`
    /// whose far end the receiver got with `Accept`. Handled at once.
    Route {
        /// The receiving service's name.
        to: String,
        /// The route's number, which `Disconnect` names.
        link: u32,
        /// Over the channel beside it; otherwise through the page (`FromService::Send`).
        direct: bool,
    },
    /// Take messages on the `MessageChannel` port beside this (a direct route from another
    /// service's worker); reply on that port. Handled at once.
    Accept {
        /// The route's number.
        link: u32,
    },
    /// Drop route `link`: the sender asks again at its next send; a direct link is closed, once
    /// the replies it awaits have come unless `gone` (then they fail). The receiver closes its end
    /// of a direct link — told by the page, or by the sender on the channel itself once it let go.
    /// Handled at once.
    Disconnect {
        /// The route's number.
        link: u32,
        /// The other end's host is gone: nothing more will be answered.
        gone: bool,
    },
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
    /// `Restore` done (`onRestore` resolved, or no snapshot to restore).
    Restored,
    /// The answer to `Snapshot`: what `onSnapshot` returned, as JSON.
    Snapshot {
        /// The snapshot.
        snapshot: Value,
        /// Echoes `ToService::Snapshot`'s.
        stop: bool,
    },
    /// `ctx.send(to, message)` from inside the service, routed through the page: the registry
    /// sends the payload (beside) to `to` as `services.send` would, and answers with
    /// `ToService::SendReply` or `ToService::SendFailed`.
    Send {
        /// Numbers this service's sends (its own sequence, echoed in the answer).
        seq: u32,
        /// The receiving service's name.
        to: String,
    },
    /// The first `ctx.send` to `to` (or the first since its route was dropped): which route?
    /// Answered with `ToService::Route`; the host sends nothing to `to` meanwhile.
    Connect {
        /// The receiving service's name.
        to: String,
    },
    /// The answer to `Health`.
    Health {
        /// Whether the service says it is healthy.
        healthy: bool,
        /// Its explanation.
        detail: String,
    },
}

impl FromService {
    /// Decodes a batch from a service host, every entry on its own: an entry that does not decode
    /// comes back as the error and the `seq` it names, when it names a well-formed one (so that
    /// message alone can fail, and the rest of the batch still counts).
    ///
    /// # Errors
    /// [`ErrorKind::Validation`](crate::ErrorKind::Validation) when `text` is not a JSON array of
    /// at most [`MAX_BATCH`](super::MAX_BATCH) entries.
    #[allow(clippy::type_complexity)] // spelled out: the pair is what a caller needs, and it is used once
    pub fn decode_batch(text: &str) -> Result<Vec<Result<FromService, (Option<u32>, Error)>>, Error> {
        // The envelope and its version first, as for pool batches; then the message, typed.
        Ok(decode_batch::<Value>(text)?
            .into_iter()
            .map(|entry| {
                let msg = entry.map_err(|r| (None, r.error))?;
                let seq = msg.get("seq").and_then(Value::as_u64).and_then(|s| u32::try_from(s).ok());
                FromService::deserialize(msg).map_err(|e| (seq, Error::validation(format!("malformed message: {e}"))))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::protocol::{encode_batch, PROTOCOL_VERSION};

    #[test]
    fn a_batch_of_replies_round_trips_in_order() {
        let error =
            WireError { name: "RangeError".into(), message: "m".into(), status: None, stack: None, thrown: None };
        let msgs = [
            FromService::Reply { seq: 1 },
            FromService::ReplyFailed { seq: 2, error },
            FromService::Health { healthy: true, detail: "ok".into() },
            FromService::Stopped,
        ];
        let text = encode_batch(&msgs).unwrap();
        let back: Vec<FromService> =
            FromService::decode_batch(&text).unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(back, msgs);
    }

    #[test]
    fn a_malformed_entry_fails_alone_with_its_seq() {
        let v = PROTOCOL_VERSION;
        let text = format!(
            r#"[{{"v":{v},"msg":{{"type":"reply","seq":1}}}},
                {{"v":{v},"msg":{{"type":"reply","seq":2,"extra":true}}}},
                {{"v":{v},"msg":{{"type":"reply_failed","seq":3}}}},
                {{"v":{v},"msg":{{"type":"reply","seq":-4}}}},
                {{"v":99,"msg":{{"type":"reply","seq":5}}}},
                {{"v":{v},"msg":{{"type":"started"}}}}, "reply", null]"#
        );
        let out = FromService::decode_batch(&text).unwrap();
        assert_eq!(out.len(), 8);
        assert_eq!(out[0].as_ref().unwrap(), &FromService::Reply { seq: 1 });
        assert_eq!(out[5].as_ref().unwrap(), &FromService::Started);
        let rejected = [1, 2, 3, 4, 6, 7].map(|i| out[i].as_ref().unwrap_err());
        let seqs: Vec<Option<u32>> = rejected.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [Some(2), Some(3), None, None, None, None]);
        assert!(rejected.iter().all(|(_, e)| e.kind() == ErrorKind::Validation));
        assert!(rejected[3].1.message().contains("version"), "{}", rejected[3].1);
    }

    #[test]
    fn what_is_not_a_bounded_array_is_refused_whole() {
        for text in ["", "{}", "[", "null", r#"{"v":2,"msg":{"type":"reply","seq":1}}"#] {
            assert_eq!(FromService::decode_batch(text).unwrap_err().kind(), ErrorKind::Validation, "{text:?}");
        }
    }
}
