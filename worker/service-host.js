// Hosts one service: imports its handler module ({ onStart, onMessage, onStop, health, and for
// `persist: true` onSnapshot and onRestore }) — or,
// for a Rust service, instantiates the wasm module and adapts the object that
// `__workerBridgeRustService` returns to the same four methods — keeps its context across
// messages, and handles its queue strictly in FIFO order. Health checks are answered at once,
// beside a running message: a busy service is not an unhealthy one.
// The registry (Rust, on the page) talks to it over a port: the service's own worker (`self`),
// or, for main-thread placement, one end of a MessageChannel in the page — the same code either
// way, so both placements behave alike. Messages are the `ToService` / `FromService` enums of
// src/protocol/service.rs; the ones sent from here are built by worker/protocol.js.
// A service's own sends (`ctx.send`) go on the route the registry gives for each name
// (core::services::peers): through the page, or over a MessageChannel straight to the receiver's
// worker — whose host takes messages on that port too, queued with the page's, and answers there.

import { Awake } from './awake.js';
import { MAX_BATCH, PROTOCOL_VERSION, envelope, fromService, seqBatch, seqsOf, serviceBatch, toService } from './protocol.js';
import { ServiceLink } from './service-link.js';

/** @typedef {typeof import('../../../worker_bridge.js')} Glue The wasm-bindgen glue module. */
/** @typedef {import('../../../worker_bridge.js').RustServiceInstance} RustServiceInstance */
/** @typedef {import('../../../worker_bridge.js').RustOutcome} RustOutcome */
/** @typedef {import('./protocol.js').WireError} WireError */
/**
 * A service: a JavaScript handler module, or the object a Rust service is wrapped in.
 * @typedef {{
 *   onStart?(ctx: object | null): unknown,
 *   onMessage(message: unknown, ctx: object | null): unknown,
 *   onStop?(ctx: object | null): unknown,
 *   health?(ctx: object | null): any,
 *   onSnapshot?(ctx: object | null): unknown,
 *   onRestore?(ctx: object | null, snapshot: unknown): unknown,
 *   takeSends?(): RustSend[],
 *   onReply?(ticket: number, json: string | undefined, name: string, message: string): unknown,
 *   free?(): void,
 * }} ServiceModule
 */
/**
 * A message a Rust service's hook put in its outbox (core::services::Outbox), to send once the
 * hook has returned; its reply goes back to `onReply` with the same ticket.
 * @typedef {{ ticket: number, to: string, message: unknown, timeoutMs?: number }} RustSend
 */
/**
 * The reply to a Rust service's send — its JSON text, or (`json` undefined) the error's name and
 * message — queued with the messages; `start` is the start that sent it (a reply to an earlier
 * start is dropped).
 * @typedef {{ ticket: number, json: string | undefined, error: WireError, start: number }} OwnReply
 */
/**
 * A `ToService` message as it arrives, with its payload (`handle` ignores a `msg` it does not know).
 * A message from a direct route's port (`from`) is answered on that port. A Rust service's reply
 * to its own send comes as `own` (never from a port).
 * @typedef {{ msg: any, payload?: unknown, from?: MessagePort, own?: undefined }
 *   | { msg?: undefined, own: OwnReply }} Incoming
 */
/**
 * Where the registry's messages arrive and replies go: a worker's global or a MessagePort.
 * @typedef {{
 *   postMessage(message: unknown): void,
 *   addEventListener(type: 'message', listener: (event: MessageEvent) => void): void,
 *   start?(): void,
 * }} Port
 */

/**
 * Something escaped a call into a Rust service's wasm instance: a trap, or any exception that
 * unwound through it mid-call (V8 reports a stack overflow as a `RangeError`). Unlike an error the
 * service returns, it leaves the instance unusable — its Rust object still borrowed ("recursive
 * use of an object detected"), its stack pointer wherever the unwinding left it — so the instance
 * is retired as after a trap.
 */
export class InstanceFault extends Error {
  /** @param {unknown} cause what escaped */
  constructor(cause) {
    super('the call into the wasm instance did not complete', { cause });
    this.name = 'InstanceFault';
  }
}

/**
 * `raw` with the methods of a JavaScript service module: an error the service returned is thrown
 * as the handler's own, anything thrown by the call itself becomes an `InstanceFault`.
 * @param {RustServiceInstance} raw
 * @returns {ServiceModule}
 */
function rustModule(raw) {
  /**
   * @template T
   * @param {() => T} call
   * @returns {T}
   */
  const guarded = (call) => {
    try {
      return call();
    } catch (e) {
      throw new InstanceFault(e);
    }
  };
  /** @param {() => RustOutcome} call */
  const settle = (call) => {
    const outcome = guarded(call);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
  return {
    onStart: () => settle(() => raw.onStart()),
    onMessage: (message) => settle(() => raw.onMessage(message)),
    onStop: () => settle(() => raw.onStop()),
    health: () => guarded(() => raw.health()),
    // The snapshot crosses as JSON text (serde_json on the Rust side).
    onSnapshot: () => JSON.parse(/** @type {string} */ (settle(() => raw.onSnapshot()))),
    onRestore: (_ctx, snapshot) => settle(() => raw.onRestore(JSON.stringify(snapshot))),
    takeSends: () => guarded(() => /** @type {RustSend[]} */ (raw.takeSends())),
    onReply: (ticket, json, name, message) => settle(() => raw.onReply(ticket, json, name, message)),
    free: () => raw.free(),
  };
}

/**
 * A wasm instance that Rust services run in — never the page's own, so a panic cannot trap the
 * bridge. `loadGlue(glueUrl)` returns a glue module of its own (module-level state: one instance
 * per glue module); it is initialised with the page's compiled `WebAssembly.Module` (no download,
 * no compile). Every service on one instance shares its fate: a trap ends them all, and the next
 * service started on it gets a fresh instance (the panic hook — or, after a trap no panic
 * announced, the host — asks wasm-bindgen's glue to re-instantiate the module at the next call).
 */
export class RustInstance {
  /** @param {(glueUrl: string) => Promise<Glue>} loadGlue */
  constructor(loadGlue) {
    this.loadGlue = loadGlue;
    /** @type {Promise<Glue> | null} */
    this.ready = null;
    /** @type {Glue | null} */
    this.glue = null;
    /** Bumped at every trap: a service whose generation is older lived in a dead instance. */
    this.generation = 0;
    /**
     * The text of the last panic, reported by the instance's panic hook before it traps.
     * @type {string | null}
     */
    this.panic = null;
    /**
     * Told (with what happened: the panic text) when the instance traps.
     * @type {Set<(what: string) => void>}
     */
    this.onTrap = new Set();
    /** @param {string} panic */
    this.onPanic = (panic) => {
      this.panic = panic;
    };
  }

  /**
   * Creates the Rust service `name` here, from its config's JSON text: `{ service, generation }`.
   * @param {string} name
   * @param {string | undefined} config
   * @param {string} glueUrl
   * @param {WebAssembly.Module} module
   */
  async create(name, config, glueUrl, module) {
    this.ready ??= (async () => {
      const glue = await this.loadGlue(glueUrl);
      await glue.default({ module_or_path: module });
      return glue;
    })();
    try {
      this.glue = await this.ready;
    } catch (e) {
      this.ready = null; // the next service tries again
      throw e;
    }
    const generation = this.generation;
    // After a panic, the glue swaps in a fresh instance at this call (no arguments to copy).
    this.glue.__workerBridgeFreshInstance();
    const service = rustModule(this.glue.__workerBridgeRustService(name, config, this.onPanic));
    return { service, generation };
  }

  /**
   * After `e` was thrown by a service of this instance: if it is an `InstanceFault` (a trap, or
   * an exception mid-call), retires the instance (every service on it is told) and returns the
   * error that fails the call; otherwise (an error the service returned) null.
   * @param {unknown} e
   * @param {number} generation
   * @param {string} name
   * @returns {WireError | null}
   */
  trapped(e, generation, name) {
    if (!(e instanceof InstanceFault)) return null;
    const cause = /** @type {any} */ (e.cause);
    const what = this.panic !== null ? `panicked: ${this.panic}`
      : cause instanceof WebAssembly.RuntimeError ? `trapped (${cause.message})`
        : `failed mid-call: ${cause && cause.name ? `${cause.name}: ${cause.message}` : String(cause)}`;
    if (generation === this.generation) {
      console.error(`worker-bridge: the Rust service ${JSON.stringify(name)} ${what}`);
      if (this.panic === null) {
        // A trap no panic announced (an allocation failure, an abort) or an exception mid-call:
        // the hook scheduled no fresh instance, so ask for one. The export only calls a glue
        // import (no memory use).
        try {
          /** @type {Glue} */ (this.glue).__workerBridgeScheduleFresh();
        } catch {
          // Then this instance stays dead: services placed on it fail to load.
        }
      }
      this.generation += 1;
      this.panic = null;
      const told = [...this.onTrap];
      queueMicrotask(() => told.forEach((f) => f(what)));
    }
    return { name: 'WorkerCrashedError', message: `the service ${what}` };
  }
}

/**
 * What was thrown, as data: its name, message and (where it has one) stack, which the caller's
 * `Error` gets back.
 * @param {any} e anything thrown
 * @returns {WireError}
 */
function wire(e) {
  if (e && typeof e === 'object' && 'message' in e) {
    const error = { name: String(e.name || 'Error'), message: String(e.message) };
    return typeof e.stack === 'string' ? { ...error, stack: e.stack } : error;
  }
  return { name: 'Error', message: String(e) };
}

/**
 * A bridge error, as the page makes them: an `Error` whose `name` says what happened.
 * @param {string} name
 * @param {string} message
 */
function bridgeError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * An error that came as data (`WireError`), rebuilt: its name, message and (where sent) stack.
 * @param {any} data
 */
function rebuild(data) {
  const error = bridgeError(String(data?.name ?? 'Error'), String(data?.message ?? ''));
  if (typeof data?.stack === 'string') error.stack = data.stack;
  return error;
}

/**
 * The sending end of a direct route to another service's worker: its number, its link and port.
 * @typedef {{ id: number, link: ServiceLink, port: MessagePort }} DirectLink
 */

/**
 * A route of the service's own sends to one name: `waiting` (the sends made while the page
 * decides; null once it has), then `direct` (null: through the page); `link` is its number.
 * @typedef {{
 *   link: number,
 *   direct: DirectLink | null,
 *   waiting: { seq: number, message: unknown }[] | null,
 * }} PeerRoute
 */

/**
 * One of the service's own `ctx.send`s awaiting its answer.
 * @typedef {{
 *   resolve: (value: unknown) => void,
 *   reject: (error: unknown) => void,
 *   timer: ReturnType<typeof setTimeout> | undefined,
 *   signal: AbortSignal | undefined,
 *   onAbort: (() => void) | undefined,
 * }} Sent
 */

/**
 * Whether `value` is a thenable (what `onMessage` returns when it is async). Reading `then` may
 * throw (a getter): that is the handler's error.
 * @param {unknown} value
 * @returns {value is PromiseLike<unknown>}
 */
function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function')
    && typeof (/** @type {any} */ (value).then) === 'function';
}

/**
 * A batch for the page or a direct route's sender: replies alone (the common batch) in the fast
 * form, anything else as a `serviceBatch`.
 * @param {{ type: string, seq?: number }[]} msgs
 * @param {unknown[]} payloads
 */
function hostBatch(msgs, payloads) {
  return msgs.every((msg) => msg.type === 'reply')
    ? seqBatch('r', msgs.map((msg) => /** @type {number} */ (msg.seq)), payloads)
    : serviceBatch(msgs, payloads);
}

/**
 * Serves the service protocol on `port` (a worker global or a MessagePort); Rust services run in
 * `rustInstance`; `inline` is the handler object of an inline service (main placement: it is
 * used as it is, never cloned). Returns the function that closes the host.
 *
 * Messages arrive in batches (`seqBatch`, or a `serviceBatch` for anything but messages): everything
 * the page sent in one task turn. They are
 * queued and handled strictly in order, one at a time; a handler that answers synchronously (a
 * Rust service, or a JavaScript one that returns a value rather than a promise) is followed by
 * the next at once, without a trip through the microtask queue. Replies wait in an outbox and go
 * back as one batch when the queue is drained — or, when a handler awaits something, at the end
 * of the current task (`soon`), so a slow message never holds back the replies before it.
 * @param {Port} port
 * @param {RustInstance} [rustInstance]
 * @param {ServiceModule} [inline]
 * @returns {() => void}
 */
export function hostService(port, rustInstance, inline) {
  /** @type {ServiceModule | null} */
  let module = null;
  /** @type {object | null} */
  let ctx = null;
  // The service's `config` (JSON, from the load): each start's `ctx.config` is a fresh copy.
  /** @type {unknown} */
  let config;
  // The FIFO queue: `queue[head]` is next (an index, not `shift()`: a long queue stays cheap).
  /** @type {(Incoming | undefined)[]} */
  let queue = [];
  let head = 0;
  let draining = false;
  // For a Rust service: its generation in `rustInstance`, its name and its trap listener. Once the
  // instance trapped, or the host was closed (`dead`), nothing more is handled.
  /** @type {{ generation: number, name: string, onTrap: (what: string) => void } | null} */
  let rust = null;
  let dead = false;
  // What goes back to the page: messages and, at the same index, their payloads.
  /** @type {{ type: string, seq?: number }[]} */
  let out = [];
  /** @type {unknown[]} */
  let outPayloads = [];
  // A channel to this thread's own next task (made when first needed): `soon` posts the outbox
  // there. Unlike a timer, it is not throttled in a background tab (main placement).
  /** @type {MessageChannel | null} */
  let tick = null;
  let ticking = false;
  // The service's own messages to others (`ctx.send`), awaiting their answers, by seq.
  /** @type {Map<number, Sent>} */
  const sent = new Map();
  let nextSent = 0;
  // Its routes to them, by name (core::services::peers): asked for at the first send to a name
  // (`waiting` holds the sends made meanwhile), then through the page or `direct`.
  /** @type {Map<string, PeerRoute>} */
  const routes = new Map();
  // Direct links let go of, by number: closed once their last reply has come.
  /** @type {Map<number, DirectLink>} */
  const retiring = new Map();
  // The ends of direct routes from other services' workers, by number: messages arrive there
  // too, and their replies go back there.
  /** @type {Map<number, MessagePort>} */
  const accepted = new Map();
  // Whether messages from direct routes are taken: from a `start` until a `stop` (after that,
  // they are refused as the page refuses a send to a stopped service).
  let accepting = false;
  // Counts the starts: a Rust service's reply to a send of an earlier start is dropped.
  let starts = 0;
  // Polls this thread's event loop for the page's next message once the queue is drained (a
  // worker-placed host whose load asked for it: `busyPollUs`, worker/awake.js).
  /** @type {Awake | null} */
  let awake = null;
  // Queued messages handled since the queue was last empty: the page awaits as many replies, and
  // sends its next messages once they come (a health check alone, which skips the queue, neither
  // ends the polling nor starts it).
  let drained = 0;
  // Only a host given a `rustInstance` ever sets `rust`.
  const instance = () => /** @type {RustInstance} */ (rustInstance);
  // The registry sends `start`, `message`, `stop` and `health` only after the service `loaded`.
  const loaded = () => /** @type {ServiceModule} */ (module);
  // False once the host is closed or the service's wasm instance trapped (its service is retired
  // at the next microtask, when `onTrap` runs): nothing more is handled.
  const alive = () => !dead && (!rust || rust.generation === instance().generation);
  const release = () => {
    dead = true;
    awake?.stop();
    queue = [];
    head = 0;
    answerSent(undefined, false, bridgeError('TerminatedError', 'the service\'s host is gone'));
    for (const route of routes.values()) route.direct?.port.close();
    for (const direct of retiring.values()) direct.port.close();
    for (const end of accepted.values()) end.close();
    routes.clear();
    retiring.clear();
    accepted.clear();
    tick?.port1.close();
    tick = null;
    if (!rust) return;
    instance().onTrap.delete(rust.onTrap);
    // Frees the service's state in a live instance (a trapped one is gone with its memory).
    if (rust.generation === instance().generation) module?.free?.();
    rust = null;
  };
  /** @param {unknown} e */
  const failure = (e) => (rust && instance().trapped(e, rust.generation, rust.name)) ?? wire(e);

  /** Posts the outbox: one message per `MAX_BATCH` replies. */
  const flush = () => {
    while (out.length) {
      const msgs = out.length <= MAX_BATCH ? out : out.slice(0, MAX_BATCH);
      const payloads = out.length <= MAX_BATCH ? outPayloads : outPayloads.slice(0, MAX_BATCH);
      if (msgs === out) {
        out = [];
        outPayloads = [];
      } else {
        out = out.slice(MAX_BATCH);
        outPayloads = outPayloads.slice(MAX_BATCH);
      }
      try {
        port.postMessage(hostBatch(msgs, payloads));
      } catch {
        // A reply could not be cloned (a function, a DOM node…): post them one by one, and fail
        // that message, not the others nor the service.
        msgs.forEach((msg, i) => {
          try {
            port.postMessage(hostBatch([msg], [payloads[i]]));
          } catch (e) {
            if (msg.type === 'send') {
              // The service's own `ctx.send` of something the browser cannot clone: that send fails.
              const why = `${/** @type {any} */ (e)?.name}: ${/** @type {any} */ (e)?.message}`;
              const error = bridgeError('ValidationError', `the message cannot be sent to a service (it must be structured-cloneable): ${why}`);
              answerSent(/** @type {number} */ (msg.seq), false, error);
              return;
            }
            if (msg.type !== 'reply') throw e;
            port.postMessage(serviceBatch([fromService.replyFailed(/** @type {number} */ (msg.seq), wire(e))]));
          }
        });
      }
    }
  };
  /** Posts the outbox at the start of this thread's next task, unless it is posted before. */
  const soon = () => {
    if (ticking || dead) return;
    if (!tick) {
      tick = new MessageChannel();
      tick.port1.onmessage = () => {
        ticking = false;
        flush();
      };
    }
    ticking = true;
    tick.port2.postMessage(null);
  };
  /**
   * Queues `msg` for the page; a full batch goes at once.
   * @param {{ type: string, seq?: number }} msg
   * @param {unknown} [payload]
   */
  const send = (msg, payload) => {
    out.push(msg);
    outPayloads.push(payload);
    if (out.length >= MAX_BATCH) flush();
  };
  /**
   * Sends `msg` now, after the replies before it (lifecycle confirmations, health answers).
   * @param {{ type: string }} msg
   */
  const tell = (msg) => {
    send(msg);
    flush();
  };

  /**
   * Settles the service's own send `seq` (every one still waiting when `seq` is undefined) with
   * `value` (`ok`) or the error `value`.
   * @param {number | undefined} seq
   * @param {boolean} ok
   * @param {unknown} value
   */
  function answerSent(seq, ok, value) {
    const keys = seq === undefined ? [...sent.keys()] : [seq];
    for (const key of keys) {
      const pending = sent.get(key);
      if (pending === undefined) continue;
      sent.delete(key);
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
      if (ok) pending.resolve(value);
      else pending.reject(value);
    }
  }
  /**
   * `ctx.send(to, message, { timeoutMs, signal })`: a message from this service to the service
   * `to`, routed by the page's registry as `services.send` (same ordering, same errors); resolves
   * with the reply. Awaiting a reply from a service that awaits this one back never ends: give
   * such sends a `timeoutMs`.
   * @param {string} to
   * @param {unknown} message
   * @param {{ timeoutMs?: number, signal?: AbortSignal }} [options]
   * @returns {Promise<unknown>}
   */
  function sendTo(to, message, options) {
    if (typeof to !== 'string' || to === '') {
      return Promise.reject(bridgeError('ValidationError', 'ctx.send(name, message): name must be a service name'));
    }
    const { timeoutMs, signal } = options ?? {};
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(bridgeError('ValidationError', `timeoutMs must be a number of milliseconds, got ${timeoutMs}`));
    }
    if (signal?.aborted) return Promise.reject(bridgeError('AbortError', 'the call was aborted'));
    if (dead) return Promise.reject(bridgeError('TerminatedError', 'the service\'s host is gone'));
    const seq = nextSent;
    nextSent = (seq + 1) >>> 0;
    const promise = new Promise((resolve, reject) => {
      /** @type {Sent} */
      const pending = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs) {
        pending.timer = setTimeout(() => answerSent(seq, false, bridgeError('TimeoutError', `no reply within ${timeoutMs} ms`)), timeoutMs);
      }
      if (signal) {
        pending.onAbort = () => answerSent(seq, false, bridgeError('AbortError', 'the call was aborted'));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      sent.set(seq, pending);
    });
    let route = routes.get(to);
    if (route === undefined) {
      // The first send to `to`: ask the page for a route; nothing goes to `to` meanwhile.
      route = { link: 0, direct: null, waiting: [] };
      routes.set(to, route);
      send(fromService.connect(to));
    }
    if (route.waiting) route.waiting.push({ seq, message });
    else dispatch(route, to, seq, message);
    soon();
    return promise;
  }
  /**
   * Sends `message` (the service's send `seq`) on `route`: over its channel, or through the page.
   * @param {PeerRoute} route
   * @param {string} to
   * @param {number} seq
   * @param {unknown} message
   */
  function dispatch(route, to, seq, message) {
    const direct = route.direct;
    if (direct === null) {
      send(fromService.send(seq, to), message);
      return;
    }
    direct.link.send(message).then(
      (value) => answerSent(seq, true, value),
      (e) => answerSent(seq, false, e),
    ).finally(() => {
      if (retiring.get(direct.id) === direct && direct.link.waiting === 0) goodbye(direct);
    });
  }
  /**
   * The page's answer to a `connect`: the route to `to`; the sends that waited for it go now, in
   * order.
   * @param {string} to
   * @param {number} link
   * @param {boolean} direct
   * @param {unknown} port this end of the channel, when direct
   */
  function onRoute(to, link, direct, port) {
    const route = routes.get(to);
    if (route === undefined || route.waiting === null) {
      if (port instanceof MessagePort) port.close(); // not asked for (any more)
      return;
    }
    route.link = link;
    if (direct && port instanceof MessagePort) route.direct = directLink(link, port);
    const waiting = route.waiting;
    route.waiting = null;
    for (const { seq, message } of waiting) dispatch(route, to, seq, message);
    soon();
  }
  /**
   * The sending end of a direct route: a `ServiceLink` (worker/service-link.js) on `port`, which
   * settles replies itself; a failed reply (what the receiver threw) settles here.
   * @param {number} id
   * @param {MessagePort} port
   * @returns {DirectLink}
   */
  function directLink(id, port) {
    const link = new ServiceLink(port, (text) => {
      /** @type {unknown} */
      let entries;
      try {
        entries = JSON.parse(text ?? '');
      } catch {
        return;
      }
      if (!Array.isArray(entries)) return;
      for (const entry of entries) {
        const msg = entry?.v === PROTOCOL_VERSION ? entry.msg : undefined;
        if (msg?.type === 'reply_failed') link.settle(msg.seq, false, rebuild(msg.error), true);
      }
    });
    return { id, link, port };
  }
  /**
   * Closes a direct link whose replies have all come, telling the receiver on the channel itself
   * (after everything sent on it), which closes its end.
   * @param {DirectLink} direct
   */
  function goodbye(direct) {
    retiring.delete(direct.id);
    try {
      direct.link.post(JSON.stringify([envelope(toService.disconnect(direct.id, false))]), []);
    } catch {
      // The receiver is gone: nothing to tell.
    }
    direct.link.close('WorkerCrashedError', 'the route to the service was closed');
    direct.port.close();
  }
  /**
   * Route `link` is dropped (the page's `disconnect`). As its sender: forget the route (the next
   * send asks again) and let a direct link drain — or, when the other end is `gone`, fail what
   * still awaits a reply on it. As its receiver: close this end when the sender is `gone` (a
   * sender that is not says goodbye on the channel once its replies have come, which closes it).
   * @param {number} link
   * @param {boolean} gone
   */
  function onDisconnect(link, gone) {
    if (gone) closeAccepted(link);
    const draining = retiring.get(link);
    if (gone && draining !== undefined) {
      // Let go of already, and its receiver's host is gone too: what it awaits fails now.
      retiring.delete(link);
      draining.link.close('WorkerCrashedError', 'the receiving service\'s host is gone');
      draining.port.close();
    }
    for (const [to, route] of routes) {
      if (route.waiting !== null || route.link !== link) continue;
      routes.delete(to);
      const direct = route.direct;
      if (direct === null) continue;
      if (gone) {
        direct.link.close('WorkerCrashedError', 'the receiving service\'s host is gone');
        direct.port.close();
      } else if (direct.link.waiting === 0) {
        goodbye(direct);
      } else {
        retiring.set(direct.id, direct);
      }
    }
  }
  /** @param {number} link a direct route whose receiving end is here */
  function closeAccepted(link) {
    const end = accepted.get(link);
    if (end === undefined) return;
    accepted.delete(link);
    end.close();
  }
  /**
   * Route `link` from another service's worker: its messages join the queue, their replies go
   * back on `port`.
   * @param {number} link
   * @param {unknown} port
   */
  function onAccept(link, port) {
    if (!(port instanceof MessagePort)) return;
    accepted.set(link, port);
    port.onmessage = (event) => receive(event.data, port, link);
  }
  /**
   * Posts `msg` (a reply, with `value`) on a direct route's `port` at once; a reply the browser
   * cannot clone fails that message.
   * @param {MessagePort} port
   * @param {{ type: string, seq?: number }} msg
   * @param {unknown} [value]
   */
  function answerOn(port, msg, value) {
    try {
      port.postMessage(hostBatch([msg], [value]));
    } catch (e) {
      if (msg.type === 'reply') port.postMessage(serviceBatch([fromService.replyFailed(/** @type {number} */ (msg.seq), wire(e))]));
    }
  }
  /**
   * `onMessage(payload, ctx)`: answered now when it returns a value, or when its promise settles
   * — to the page, or on the direct route's port it came `from`.
   * @param {number} seq
   * @param {unknown} payload
   * @param {MessagePort} [from]
   * @returns {Promise<void> | undefined}
   */
  function message(seq, payload, from) {
    /** @type {(msg: { type: string, seq?: number }, value?: unknown) => void} */
    const answer = from ? (msg, value) => answerOn(from, msg, value) : send;
    try {
      const result = loaded().onMessage(payload, ctx);
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          (value) => answer(fromService.reply(seq), value),
          (e) => answer(fromService.replyFailed(seq, failure(e))),
        );
      }
      answer(fromService.reply(seq), result);
    } catch (e) {
      answer(fromService.replyFailed(seq, failure(e)));
    }
    return undefined;
  }
  /**
   * Sends what a Rust service's last hook put in its outbox, as `ctx.send` does; each reply (or
   * error) is queued for `onReply`, in turn with the messages.
   */
  function forwardSends() {
    if (!rust || !alive()) return;
    /** @type {RustSend[]} */
    let sends;
    try {
      sends = /** @type {NonNullable<ServiceModule['takeSends']>} */ (loaded().takeSends)();
    } catch (e) {
      failure(e); // an InstanceFault: the instance is retired, and this service with it
      return;
    }
    const start = starts;
    for (const { ticket, to, message, timeoutMs } of sends) {
      /** @param {string | undefined} json @param {WireError} error */
      const back = (json, error) => {
        if (dead || start !== starts) return;
        queue.push({ own: { ticket, json, error, start } });
        if (!draining) drain();
      };
      const none = { name: '', message: '' };
      sendTo(to, message, timeoutMs === undefined ? undefined : { timeoutMs }).then(
        (value) => {
          // As JSON, the way snapshots cross: what the service reads is what JSON.stringify made.
          let json;
          try {
            json = JSON.stringify(value) ?? 'null';
          } catch (e) {
            back(undefined, { name: 'ValidationError', message: `the reply has no JSON form: ${wire(e).message}` });
            return;
          }
          back(json, none);
        },
        (e) => back(undefined, wire(e)),
      );
    }
  }
  /**
   * A Rust service's reply to its own send, for its `on_reply` (unless a new start began since).
   * @param {OwnReply} own
   */
  function ownReply({ ticket, json, error, start }) {
    if (start !== starts) return;
    try {
      /** @type {NonNullable<ServiceModule['onReply']>} */ (loaded().onReply)(ticket, json, error.name, error.message);
    } catch (e) {
      failure(e); // only an InstanceFault: on_reply itself returns nothing
    }
  }
  /**
   * Polls between the page's messages from now on, for at most `busyPollUs` at a time (a load for
   * a worker-placed service carries it; the page checked its range).
   * @param {number | undefined} busyPollUs
   */
  function pollFor(busyPollUs) {
    if (busyPollUs !== undefined && busyPollUs > 0 && !awake && !dead) awake = new Awake(busyPollUs);
  }
  /**
   * @param {string} url
   * @param {unknown} given the service's config (undefined: none)
   * @param {number} [busyPollUs]
   */
  async function load(url, given, busyPollUs) {
    config = given;
    pollFor(busyPollUs);
    try {
      // The registry accepted this URL (an http(s) URL of an allowed origin) at registration.
      module = /** @type {ServiceModule} */ (await import(/* webpackIgnore: true */ /* @vite-ignore */ url));
      if (typeof module.onMessage !== 'function') throw new TypeError('the service module exports no onMessage');
      tell(fromService.loaded());
    } catch (e) {
      tell(fromService.failed(wire(e)));
    }
  }
  /** @param {unknown} given the service's config (undefined: none) */
  function loadInline(given) {
    config = given;
    if (inline && typeof inline.onMessage === 'function') {
      module = inline;
      tell(fromService.loaded());
    } else {
      tell(fromService.failed(wire(new TypeError('this host was given no inline handler with an onMessage'))));
    }
  }
  /**
   * @param {{ service: string, glue_url: string, config?: unknown, busy_poll_us?: number }} msg
   * @param {unknown} payload the page's compiled module
   */
  async function loadRust(msg, payload) {
    pollFor(msg.busy_poll_us);
    try {
      if (!rustInstance) throw new Error('this host cannot run Rust services');
      const compiled = /** @type {WebAssembly.Module} */ (payload);
      const json = msg.config === undefined ? undefined : JSON.stringify(msg.config);
      const { service, generation } = await rustInstance.create(msg.service, json, msg.glue_url, compiled);
      /** @param {string} what */
      const onTrap = (what) => {
        if (dead || generation === rustInstance.generation) return;
        release();
        tell(fromService.crashed({ name: 'WorkerCrashedError', message: `a Rust service in its wasm instance ${what}` }));
      };
      module = service;
      rust = { generation, name: msg.service, onTrap };
      rustInstance.onTrap.add(onTrap);
      tell(fromService.loaded());
    } catch (e) {
      tell(fromService.failed(wire(e)));
    }
  }
  async function start() {
    starts += 1;
    try {
      ctx = config === undefined ? {} : { config: structuredClone(config) };
      // Not enumerable: a snapshot or a log of the context leaves it out.
      Object.defineProperty(ctx, 'send', { value: sendTo, writable: true, configurable: true });
      await loaded().onStart?.(ctx);
      tell(fromService.started());
    } catch (e) {
      tell(fromService.failed(failure(e)));
    }
  }
  async function stop() {
    try {
      await loaded().onStop?.(ctx);
      ctx = null;
      tell(fromService.stopped());
    } catch (e) {
      tell(fromService.failed(failure(e)));
    }
  }
  /**
   * `persist: true`, right after `start`: the service must have both hooks; `onRestore(ctx,
   * snapshot)` runs when a snapshot is stored. Its failure fails the start.
   * @param {unknown} snapshot undefined: none stored
   */
  async function restore(snapshot) {
    try {
      const service = loaded();
      if (typeof service.onSnapshot !== 'function' || typeof service.onRestore !== 'function') {
        throw new TypeError('persist: true needs the service to export onSnapshot(ctx) and onRestore(ctx, snapshot)');
      }
      if (rust) {
        // A Rust service always has both methods; one whose `Service` does not implement
        // on_snapshot says so now, not at its first stop.
        try {
          service.onSnapshot(ctx);
        } catch (e) {
          if (e instanceof InstanceFault || /** @type {any} */ (e)?.name === 'NotSupportedError') throw e;
        }
      }
      if (snapshot !== undefined) await service.onRestore(ctx, snapshot);
      tell(fromService.restored());
    } catch (e) {
      tell(fromService.failed(failure(e)));
    }
  }
  /**
   * `onSnapshot(ctx)`, sent back as JSON (what `JSON.stringify` makes of it). Its failure fails
   * the stop (or, on the interval, the service).
   * @param {boolean} stop taken at stop
   */
  async function snapshot(stop) {
    try {
      const value = await /** @type {NonNullable<ServiceModule['onSnapshot']>} */ (loaded().onSnapshot)(ctx);
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`onSnapshot must return JSON, not ${typeof value}`);
      tell(fromService.snapshot(JSON.parse(text), stop));
    } catch (e) {
      tell(fromService.failed(failure(e)));
    }
  }
  /**
   * @param {Incoming} item
   * @returns {Promise<void> | undefined} a promise while the message is still being handled
   */
  function handle(item) {
    if (item.own) {
      ownReply(item.own);
      return undefined;
    }
    const { msg, payload, from } = item;
    switch (msg.type) {
      case 'message': return message(msg.seq, payload, from);
      case 'load': return load(msg.url, msg.config, msg.busy_poll_us);
      case 'load_rust': return loadRust(msg, payload);
      case 'load_inline': loadInline(msg.config); return undefined;
      case 'start': return start();
      case 'stop': return stop();
      case 'restore': return restore(msg.snapshot);
      case 'snapshot': return snapshot(msg.stop);
      default: return undefined; // Not ours: ignore (the registry never sends anything else).
    }
  }
  // Handles the queue in order, one message at a time, then posts the replies: synchronously
  // until a handler returns a promise, and again once it settles.
  function drain() {
    draining = true;
    while (head < queue.length && alive()) {
      const item = /** @type {Incoming} */ (queue[head]);
      queue[head++] = undefined;
      drained++;
      const pending = handle(item);
      // A Rust hook has run to its end (they are synchronous): what it sent goes now.
      if (rust) forwardSends();
      if (pending) {
        // The replies so far go at the end of this task, whatever this handler awaits.
        if (out.length) soon();
        pending.then(drain, drain); // (every handler catches what it throws)
        return;
      }
    }
    queue = [];
    head = 0;
    draining = false;
    flush();
    if (!dead) awake?.idle(drained, 1);
    drained = 0;
  }
  // Answers a health check now, whatever the queue holds: `health(ctx)` may run while an
  // `onMessage` awaits (a slow message must not make a healthy service miss its checks).
  async function health() {
    try {
      const service = loaded();
      const h = service.health ? await service.health(ctx) : true;
      const healthy = typeof h === 'object' && h !== null ? Boolean(h.healthy) : Boolean(h);
      const detail = typeof h === 'object' && h !== null && h.detail !== undefined ? String(h.detail) : '';
      tell(fromService.health(healthy, detail));
    } catch (e) {
      const error = failure(e);
      tell(fromService.health(false, `${error.name}: ${error.message}`));
    }
  }
  // A batch is queued whole and drained in order without waiting for the page between messages.
  // Health checks and what concerns the service's own sends skip the queue (a handler may be
  // awaiting them). From a direct route's port (`from`, route `link`), only messages and the
  // sender's goodbye count. An entry that is not an envelope of our version is ignored.
  /**
   * @param {any} data
   * @param {MessagePort} [from]
   * @param {number} [link]
   */
  function receive(data, from, link) {
    if (dead) return;
    // The fast form is messages only; a JSON batch's entries count when they are envelopes of
    // this version.
    const seqs = seqsOf(data, 's');
    /** @type {any[]} */
    let msgs;
    if (seqs !== null) {
      msgs = seqs.map((seq) => toService.message(seq));
    } else {
      /** @type {unknown} */
      let entries;
      try {
        entries = JSON.parse(data?.m);
      } catch {
        return;
      }
      if (!Array.isArray(entries)) return;
      msgs = entries.map((entry) => (entry?.v === PROTOCOL_VERSION ? entry.msg : undefined));
    }
    const p = data?.p;
    for (let i = 0; i < msgs.length; i++) {
      const msg = msgs[i];
      if (typeof msg?.type !== 'string') continue;
      if (from) {
        if (msg.type === 'message' && accepting) queue.push({ msg, payload: p?.[i], from });
        else if (msg.type === 'message') {
          const refused = { name: 'ServiceStateError', message: 'cannot send to a service that is stopping or stopped (start it first)' };
          answerOn(from, fromService.replyFailed(msg.seq, refused));
        } else if (msg.type === 'disconnect') closeAccepted(/** @type {number} */ (link));
        continue;
      }
      switch (msg.type) {
        case 'health': health(); break;
        case 'send_reply': answerSent(msg.seq, true, p?.[i]); break;
        case 'send_failed': answerSent(msg.seq, false, rebuild(msg.error)); break;
        case 'route': onRoute(msg.to, msg.link, msg.direct, p?.[i]); break;
        case 'accept': onAccept(msg.link, p?.[i]); break;
        case 'disconnect': onDisconnect(msg.link, msg.gone); break;
        default:
          if (msg.type === 'start') accepting = true;
          if (msg.type === 'stop') accepting = false;
          queue.push({ msg, payload: p?.[i] });
      }
    }
    if (!draining) {
      // What was polled for came.
      if (head < queue.length) awake?.woke();
      drain();
    }
  }
  port.addEventListener('message', (event) => receive(event.data));
  if (typeof port.start === 'function') port.start();
  // Called when the registry drops this host: stop handling, release the service's state.
  return release;
}

// In a service worker spawned by spawn.js (named "worker-bridge-service:…"), serve `self`. The
// name check keeps this module inert when the wasm glue imports it elsewhere.
if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope
    && typeof self.name === 'string' && self.name.startsWith('worker-bridge-service:')) {
  hostService(self);
}
