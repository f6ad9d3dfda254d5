// The page's end of the link to one service host (worker/service-host.js, in the service's own
// worker or on a MessageChannel in the page): the hot path of `services.send`. A service host uses
// it too, as the sending end of a direct route to another service's worker (`ctx.send`). Imported by the
// wasm glue (src/services/host.rs); the registry (Rust) decides everything else — lifecycle,
// health checks, failures — and hands this link what it encodes.
//
// Why JavaScript: a message's bookkeeping (its sequence number, the promise and who settles it,
// its batch) done in wasm cost several crossings of the wasm boundary, a string through
// `TextDecoder` and a task of wasm-bindgen-futures per message — together more than the
// `postMessage` itself. Here a reply settles its caller without entering wasm at all.
//
// Both ways, messages travel in batches: what is sent in one task turn goes in one
// `postMessage`, flushed by a microtask — except a message sent while nothing is queued or
// awaited, which goes at once. Messages go in the fast form (`seqBatch`: seqs beside payloads,
// no JSON); from the host, a batch of replies in the fast form settles its callers here, and so
// does a well-formed `reply` in a `serviceBatch` (`FromService::decode_batch` in Rust); every
// other entry — a reply that failed, a lifecycle confirmation, a health answer, anything
// malformed — goes to the registry in order, as a batch of its own, for Rust to decode (typed
// and strict) and decide on.

import { Awake } from './awake.js';
import { MAX_BATCH, PROTOCOL_VERSION, seqBatch, seqsOf } from './protocol.js';

/**
 * A bridge error, as `runtime::js_error::to_js` makes them: an `Error` whose `name` says what
 * happened (`TimeoutError`, `AbortError`, …; one of `ErrorKind::ALL`'s names).
 * @param {string} name
 * @param {string} message
 */
function bridgeError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * A caller waiting for its reply, with its time limit and abort watch while it waits.
 * @typedef {{
 *   resolve: (value: unknown) => void,
 *   reject: (error: unknown) => void,
 *   timer: ReturnType<typeof setTimeout> | undefined,
 *   signal: AbortSignal | undefined,
 *   onAbort: (() => void) | undefined,
 * }} Pending
 */

/**
 * What the page posts to: the service's worker, or its end of the MessageChannel.
 * @typedef {{
 *   postMessage(message: unknown, transfer?: Transferable[]): void,
 *   onmessage: ((event: MessageEvent) => void) | null,
 *   close?(): void,
 * }} Endpoint
 */

/**
 * Whether `msg` is exactly a `FromService::Reply` (`{ type: 'reply', seq }`, `seq` a u32): what
 * this link settles itself. Anything else, Rust decodes.
 * @param {any} msg
 */
function isReply(msg) {
  if (msg === null || typeof msg !== 'object' || msg.type !== 'reply') return false;
  const { seq } = msg;
  return Number.isInteger(seq) && seq >= 0 && seq <= 0xffff_ffff && Object.keys(msg).length === 2;
}

export class ServiceLink {
  /**
   * Listens on `endpoint` (its `onmessage`) until `close()`.
   * @param {Endpoint} endpoint
   * @param {(text: string | undefined, payloads: unknown[]) => void} onBatch the registry: a
   *   batch of what it decides on, with the payloads beside it (`text` is undefined when what
   *   arrived was no batch at all)
   * @param {number} [busyPollUs] the longest this thread polls for replies instead of sleeping
   *   (worker/awake.js; 0 or absent: never — a host on this same thread has nothing to wake)
   */
  constructor(endpoint, onBatch, busyPollUs = 0) {
    this.endpoint = endpoint;
    this.onBatch = onBatch;
    this.awake = busyPollUs > 0 ? new Awake(busyPollUs) : null;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    this.nextSeq = 0;
    /** Replies received, settled or not (`messagesHandled`). */
    this.handled = 0;
    // Messages waiting for the end of the task turn: their seqs and payloads.
    /** @type {number[]} */
    this.out = [];
    /** @type {unknown[]} */
    this.outPayloads = [];
    this.scheduled = false;
    this.closed = false;
    this.flushLater = () => this.flush();
    endpoint.onmessage = (event) => this.receive(event.data);
  }

  /** Messages whose reply is awaited (`queueLength`). */
  get waiting() {
    return this.pending.size;
  }

  /**
   * Queues `payload` for `onMessage`, posted with everything else sent in this task turn; the
   * promise settles with the reply — or rejects with `TimeoutError` after `timeoutMs` (when
   * given), with `AbortError` when `signal` aborts (the message itself still runs), with
   * `ValidationError` when the browser cannot clone `payload`, or as the registry says when the
   * service fails or the bridge is terminated.
   * @param {unknown} payload
   * @param {number} [timeoutMs]
   * @param {AbortSignal} [signal]
   * @returns {Promise<unknown>}
   */
  send(payload, timeoutMs, signal) {
    if (this.closed) return Promise.reject(bridgeError('TerminatedError', 'the service\'s host is gone'));
    const seq = this.nextSeq;
    this.nextSeq = (seq + 1) >>> 0;
    // With nothing queued and no reply awaited, the message goes at once (a caller that awaits
    // each reply pays for no microtask); otherwise it joins the batch of this task turn.
    const now = this.pending.size === 0 && this.out.length === 0;
    this.out.push(seq);
    this.outPayloads.push(payload);
    if (!now && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushLater);
    }
    const promise = new Promise((resolve, reject) => {
      /** @type {Pending} */
      const pending = { resolve, reject, timer: undefined, signal: undefined, onAbort: undefined };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(
          () => this.settle(seq, false, bridgeError('TimeoutError', `no reply within ${timeoutMs} ms`), false),
          timeoutMs,
        );
      }
      if (signal !== undefined) {
        pending.signal = signal;
        pending.onAbort = () => this.settle(seq, false, bridgeError('AbortError', 'the call was aborted'), false);
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.pending.set(seq, pending);
    });
    if (now) this.flush();
    return promise;
  }

  /**
   * Posts `text` — a batch the registry encoded (a lifecycle step, a health check) — with
   * `payloads` beside it, now, after the messages queued before it. Throws what `postMessage`
   * threw when it cannot be sent.
   * @param {string} text
   * @param {unknown[]} payloads
   * @param {Transferable[]} [transfer] moved, not cloned (a `MessagePort` among the payloads)
   */
  post(text, payloads, transfer) {
    this.flush();
    this.endpoint.postMessage(payloads.length ? { m: text, p: payloads } : { m: text }, transfer ?? []);
  }

  /**
   * Settles the caller of message `seq`, if it still waits: with `value` (`ok`) or the error
   * `value`. `handled`: a reply arrived (counted even when its caller stopped waiting).
   * @param {number} seq
   * @param {boolean} ok
   * @param {unknown} value
   * @param {boolean} handled
   */
  settle(seq, ok, value, handled) {
    if (handled) this.handled += 1;
    const pending = this.pending.get(seq);
    if (pending === undefined) return;
    this.pending.delete(seq);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (ok) pending.resolve(value);
    else pending.reject(value);
  }

  /**
   * Rejects every caller still waiting, each with a new `Error` named `name` (the service
   * failed, the bridge was terminated).
   * @param {string} name
   * @param {string} message
   */
  failAll(name, message) {
    for (const seq of [...this.pending.keys()]) this.settle(seq, false, bridgeError(name, message), false);
  }

  /**
   * Stops listening and drops what was not sent yet; rejects whoever still waits (see
   * `failAll`): nothing waits on a closed link.
   * @param {string} name
   * @param {string} message
   */
  close(name, message) {
    this.closed = true;
    this.awake?.stop();
    this.endpoint.onmessage = null;
    this.out = [];
    this.outPayloads = [];
    this.failAll(name, message);
  }

  /**
   * Posts the queued messages, one `postMessage` per `MAX_BATCH`. A batch the browser refuses (a
   * payload it cannot clone) is posted again one message at a time, and only the refused
   * message fails, with `ValidationError`.
   */
  flush() {
    this.scheduled = false;
    if (this.closed) return;
    // Replies are due: poll for them (a refused post below leaves nothing due, and the next
    // wait teaches the window so).
    if (this.out.length) this.awake?.idle(this.pending.size, 1);
    while (this.out.length) {
      const whole = this.out.length <= MAX_BATCH;
      const seqs = whole ? this.out : this.out.slice(0, MAX_BATCH);
      const payloads = whole ? this.outPayloads : this.outPayloads.slice(0, MAX_BATCH);
      this.out = whole ? [] : this.out.slice(MAX_BATCH);
      this.outPayloads = whole ? [] : this.outPayloads.slice(MAX_BATCH);
      try {
        this.endpoint.postMessage(seqBatch('s', seqs, payloads));
      } catch {
        seqs.forEach((seq, i) => {
          try {
            this.endpoint.postMessage(seqBatch('s', [seq], [payloads[i]]));
          } catch (/** @type {any} */ e) {
            const why = e && e.message ? `${e.name}: ${e.message}` : String(e);
            const error = bridgeError(
              'ValidationError',
              `the message cannot be sent to a service (it must be structured-cloneable): ${why}`,
            );
            this.settle(seq, false, error, false);
          }
        });
      }
    }
  }

  /**
   * A batch from the host: well-formed replies settle their callers here; the other entries go
   * to the registry, in order, each run of them as a batch of its own.
   * @param {any} data
   */
  receive(data) {
    if (this.closed) return;
    this.awake?.woke();
    this.take(data);
    // More replies are due: poll for them too.
    if (!this.closed) this.awake?.idle(this.pending.size, 1);
  }

  /**
   * `receive`'s work.
   * @param {any} data
   */
  take(data) {
    const replies = seqsOf(data, 'r');
    if (replies !== null) {
      for (let i = 0; i < replies.length && !this.closed; i++) this.settle(replies[i], true, data.p[i], true);
      return;
    }
    const text = data !== null && typeof data === 'object' ? data.m : undefined;
    /** @type {unknown} */
    let entries;
    try {
      entries = typeof text === 'string' ? JSON.parse(text) : undefined;
    } catch {
      entries = undefined;
    }
    const payloads = Array.isArray(data?.p) ? data.p : [];
    if (!Array.isArray(entries) || entries.length > MAX_BATCH) {
      // Not a batch: the registry says how it broke the protocol.
      this.onBatch(typeof text === 'string' ? text : undefined, payloads);
      return;
    }
    /** @type {unknown[]} */
    let others = [];
    /** @type {unknown[]} */
    let otherPayloads = [];
    const handOver = () => {
      const [batch, beside] = [others, otherPayloads];
      others = [];
      otherPayloads = [];
      this.onBatch(JSON.stringify(batch), beside);
    };
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry !== null && typeof entry === 'object' && entry.v === PROTOCOL_VERSION && isReply(entry.msg)) {
        if (others.length) handOver();
        this.settle(entry.msg.seq, true, payloads[i], true);
      } else {
        others.push(entry);
        otherPayloads.push(payloads[i]);
      }
      if (this.closed) return; // the registry dropped this host while deciding
    }
    if (others.length) handOver();
  }
}
