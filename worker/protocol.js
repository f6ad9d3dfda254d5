// The wire protocol, for the messages the JavaScript side builds by hand: the `{ v, msg }` envelope
// (pool messages travel in a `batch` of them, as JSON text; service messages in a `serviceBatch`,
// their payloads beside the text), the variants of `FromWorker` (src/protocol/messages.rs) and
// `FromService` (src/protocol/service.rs) that the worker scripts send, and `ToService::Message`,
// which the page's end of a service link sends (worker/service-link.js). Every other message is
// built by Rust.
// tests/fixtures/protocol/ holds what both sides agree the wire looks like; the Rust tests
// (tests/protocol_fixtures.rs) and tests/node/protocol.test.mjs check each side against them.

/** `PROTOCOL_VERSION` in src/protocol/mod.rs: every envelope carries it. */
export const PROTOCOL_VERSION = 2;

/** `protocol::MAX_BATCH` in Rust: the most messages one batch carries (the page refuses more). */
export const MAX_BATCH = 256;

/**
 * @typedef {{ name: string, message: string, stack?: string }} WireError
 * An error as data (`WireError` in Rust); the page rebuilds a typed error from it (with the
 * thrower's stack, when there is one).
 */

/**
 * `{ v, msg }`, with `payload` (structured-cloned data beside the message) when there is one.
 * @template {{ type: string }} M
 * @param {M} msg
 * @param {unknown} [payload]
 * @returns {{ v: number, msg: M, payload?: unknown }}
 */
export function envelope(msg, payload) {
  return payload === undefined ? { v: PROTOCOL_VERSION, msg } : { v: PROTOCOL_VERSION, msg, payload };
}

/**
 * A pool message as it travels (`io::wire` and `protocol::decode_batch` in Rust): an array whose
 * first item is the UTF-8 JSON of an array of envelopes; the attachments that may follow are
 * sent by Rust only. Pool messages carry no `payload`.
 * @param {...{ type: string }} msgs
 * @returns {[Uint8Array]}
 */
export function batch(...msgs) {
  return [new TextEncoder().encode(JSON.stringify(msgs.map((msg) => envelope(msg))))];
}

/**
 * Service messages as they travel both ways, but for the fast form (`seqBatch`) of messages and
 * of replies alone (`FromService::decode_batch` in Rust): the JSON text
 * of an array of envelopes in `m`, and each message's payload (structured-cloned, never JSON) at
 * the same index of `p`, when there are payloads.
 * @param {{ type: string }[]} msgs at most `MAX_BATCH`
 * @param {unknown[]} [payloads]
 * @returns {{ m: string, p?: unknown[] }}
 */
export function serviceBatch(msgs, payloads) {
  const m = JSON.stringify(msgs.map((msg) => envelope(msg)));
  return payloads === undefined ? { m } : { m, p: payloads };
}

/**
 * Service messages' fast form, both ways, for the two kinds nearly all traffic is: a batch of
 * `ToService::Message`s only (`{ v, s, p }`, their seqs in `s`) or of `FromService::Reply`s only
 * (`{ v, r, p }`), each payload at the same index of `p`. They are the messages a
 * `serviceBatch` of `toService.message(seq)` / `fromService.reply(seq)` envelopes would carry,
 * without the JSON to write and parse: a MessageChannel echo on the page measured 1.25× the raw
 * floor with that JSON, 1.04× without. Everything else travels as a `serviceBatch`.
 * @param {'s' | 'r'} kind `s`: messages, to a host; `r`: replies, from one
 * @param {number[]} seqs at most `MAX_BATCH`
 * @param {unknown[]} payloads
 * @returns {{ v: number, s?: number[], r?: number[], p: unknown[] }}
 */
export function seqBatch(kind, seqs, payloads) {
  return kind === 's' ? { v: PROTOCOL_VERSION, s: seqs, p: payloads } : { v: PROTOCOL_VERSION, r: seqs, p: payloads };
}

/**
 * The seqs of `data` when it is a well-formed fast-form batch of `kind` (see `seqBatch`): this
 * protocol's version, at most `MAX_BATCH` seqs, each a u32, and as many payloads. Else null.
 * @param {any} data
 * @param {'s' | 'r'} kind
 * @returns {number[] | null}
 */
export function seqsOf(data, kind) {
  if (data === null || typeof data !== 'object' || data.v !== PROTOCOL_VERSION) return null;
  const seqs = data[kind];
  if (!Array.isArray(seqs) || !Array.isArray(data.p) || seqs.length !== data.p.length || seqs.length > MAX_BATCH) {
    return null;
  }
  for (const seq of seqs) if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff_ffff) return null;
  return seqs;
}

/** Worker → page, from worker/worker.js (sent with `batch`). */
export const fromWorker = {
  /**
   * The bootstrap could not load the wasm module.
   * @param {string} message
   */
  bootFailed: (message) => ({ type: 'boot_failed', message }),
  /**
   * The instance trapped inside an async task.
   * @param {string} message
   */
  crashed: (message) => ({ type: 'crashed', message }),
};

/**
 * To a service host, from worker/service-link.js (`message`) and from another service's host on a
 * direct route (`message`, `disconnect`); the rest of `ToService` is built by Rust.
 */
export const toService = {
  /**
   * A message for `onMessage`; its data travels as the message's payload.
   * @param {number} seq
   */
  message: (seq) => ({ type: 'message', seq }),
  /**
   * Sent by a service's host on a direct route's channel (not from the page) once it let the
   * route go: the receiver closes its end.
   * @param {number} link
   * @param {boolean} gone
   */
  disconnect: (link, gone) => ({ type: 'disconnect', link, gone }),
};

/** Host → registry, from worker/service-host.js (sent with `serviceBatch`; replies alone with `seqBatch`). */
export const fromService = {
  loaded: () => ({ type: 'loaded' }),
  started: () => ({ type: 'started' }),
  stopped: () => ({ type: 'stopped' }),
  /**
   * `onMessage` resolved; its value travels as the message's payload.
   * @param {number} seq
   */
  reply: (seq) => ({ type: 'reply', seq }),
  /**
   * @param {number} seq
   * @param {WireError} error
   */
  replyFailed: (seq, error) => ({ type: 'reply_failed', seq, error }),
  /** @param {WireError} error */
  failed: (error) => ({ type: 'failed', error }),
  /** @param {WireError} error */
  crashed: (error) => ({ type: 'crashed', error }),
  /**
   * @param {boolean} healthy
   * @param {string} detail
   */
  health: (healthy, detail) => ({ type: 'health', healthy, detail }),
  restored: () => ({ type: 'restored' }),
  /**
   * What `onSnapshot` returned (JSON), and whether it was asked for at stop.
   * @param {unknown} snapshot
   * @param {boolean} stop
   */
  snapshot: (snapshot, stop) => ({ type: 'snapshot', snapshot, stop }),
  /**
   * `ctx.send(to, message)` through the page; the message travels as the payload.
   * @param {number} seq
   * @param {string} to
   */
  send: (seq, to) => ({ type: 'send', seq, to }),
  /**
   * The first `ctx.send` to `to`: which route?
   * @param {string} to
   */
  connect: (to) => ({ type: 'connect', to }),
};
