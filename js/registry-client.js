// The other side of `bridge.services.serve(transport)`: drives a page's service registry over a
// BroadcastChannel (another tab of the same origin, a devtools panel) or a WebSocket (a
// dashboard's server, in Node with the `ws` package). Plain JavaScript with no WebAssembly, so it
// runs wherever the peer does. Wire format: ARCHITECTURE.md / src/bridge/remote.rs.

/**
 * An `Error` whose `name` is the one the registry answered with.
 * @param {string} name
 * @param {string} message
 */
function named(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** The largest request `serve` reads by default (`maxMessageBytes`, 64 KiB). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Sends remote-control requests to a page that serves its registry (`services.serve`), and
 * receives the events it subscribes to.
 */
export class RegistryClient {
  /**
   * @param {BroadcastChannel | WebSocket | { channel: string }} transport where the page serves
   *   (`{ channel }` opens a BroadcastChannel of that name, closed with the client)
   * @param {{ token?: string, timeoutMs?: number, maxMessageBytes?: number }} [options]
   *   `token`: sent with every request when the server wants one; `timeoutMs` (10,000): a request
   *   unanswered by then rejects with `TimeoutError`; `maxMessageBytes`: the server's limit
   *   (64 KiB by default), checked here so a request over it rejects at once.
   */
  constructor(transport, options = {}) {
    const { token, timeoutMs = 10_000, maxMessageBytes = MAX_MESSAGE_BYTES } = options;
    /** @type {any} */
    const t = transport;
    /** @type {{ addEventListener(type: 'message', f: (e: MessageEvent) => void): void, removeEventListener(type: 'message', f: (e: MessageEvent) => void): void }} */
    this.port = t;
    /** @type {(text: string) => void} */
    this.post = () => {};
    /** @type {(() => void) | null} what close() also closes: a channel opened here */
    this.closeTransport = null;
    if (t && typeof t === 'object' && typeof t.channel === 'string') {
      const channel = new BroadcastChannel(t.channel);
      this.port = channel;
      this.post = (text) => channel.postMessage(text);
      this.closeTransport = () => channel.close();
    } else if (t && typeof t.addEventListener === 'function' && typeof t.send === 'function') {
      this.post = (text) => t.send(text);
    } else if (t && typeof t.addEventListener === 'function' && typeof t.postMessage === 'function') {
      this.post = (text) => t.postMessage(text);
    } else {
      throw named('ValidationError', 'a transport is a BroadcastChannel, { channel: name } or a WebSocket');
    }
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.maxMessageBytes = maxMessageBytes;
    /** @type {Map<string, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout> }>} */
    this.pending = new Map();
    /** @type {Set<{ events: Set<string>, listener: (event: { type: 'event', event: string, data: unknown }) => void }>} */
    this.listeners = new Set();
    this.prefix = Math.random().toString(36).slice(2, 10);
    this.counter = 0;
    this.closed = false;
    this.onMessage = (/** @type {MessageEvent} */ e) => this.receive(e.data);
    this.port.addEventListener('message', this.onMessage);
  }

  /** @param {unknown} data */
  receive(data) {
    let message;
    try {
      message = typeof data === 'string' ? JSON.parse(data) : null;
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') return;
    const call = message.type === 'response' && typeof message.id === 'string' ? this.pending.get(message.id) : undefined;
    if (call) {
      this.pending.delete(message.id);
      clearTimeout(call.timer);
      if (message.error) call.reject(named(String(message.error.name), String(message.error.message)));
      else call.resolve(message.data);
    } else if (message.type === 'event' && typeof message.event === 'string') {
      for (const { events, listener } of this.listeners) {
        if (events.has(message.event)) {
          try {
            listener(message);
          } catch (error) {
            console.error(`worker-bridge: a '${message.event}' listener threw`, error);
          }
        }
      }
    }
  }

  /**
   * Sends `{ action, params }` and resolves with the response's `data`, or rejects with an
   * `Error` named as the server answered (`ValidationError`, `LimitExceededError`,
   * `AuthenticationError`, `ServiceStateError`, …), `TimeoutError` or `TerminatedError` (closed).
   * @param {string} action
   * @param {object} [params]
   * @returns {Promise<unknown>}
   */
  request(action, params = {}) {
    if (this.closed) return Promise.reject(named('TerminatedError', 'the client is closed'));
    const id = `${this.prefix}-${++this.counter}`;
    /** @type {{ id: string, type: 'request', action: string, params: object, token?: string }} */
    const request = { id, type: 'request', action, params };
    if (this.token !== undefined) request.token = this.token;
    const text = JSON.stringify(request);
    if (new TextEncoder().encode(text).length > this.maxMessageBytes) {
      return Promise.reject(named('LimitExceededError', `the request is over maxMessageBytes (${this.maxMessageBytes})`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(named('TimeoutError', `no answer to ${action} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.post(text);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(named('NetworkError', `cannot send: ${error instanceof Error ? error.message : String(error)}`));
      }
    });
  }

  /** Every service's status. */
  listServices() {
    return this.request('list_services');
  }

  /** @param {string} name */
  getService(name) {
    return this.request('get_service', { name });
  }

  /** Starts `name` (its dependencies first); resolves with its status. @param {string} name */
  start(name) {
    return this.request('service_action', { name, action: 'start' });
  }

  /** Stops `name` (its dependents first); resolves with its status. @param {string} name */
  stop(name) {
    return this.request('service_action', { name, action: 'stop' });
  }

  /** @param {string} name */
  restart(name) {
    return this.request('service_action', { name, action: 'restart' });
  }

  /**
   * Calls `listener({ type: 'event', event, data })` for each of `events` the page emits; with
   * `registry_loaded` among them, the registry as it is now arrives first (`data.initial`).
   * Resolves, once the page confirmed, with the function that unsubscribes. On a
   * BroadcastChannel the server's subscriptions are shared by every client on it: unsubscribing
   * here ends those events for the other clients too.
   * @param {string[]} events
   * @param {(event: { type: 'event', event: string, data: any }) => void} listener
   * @returns {Promise<() => Promise<void>>}
   */
  async subscribe(events, listener) {
    const entry = { events: new Set(events), listener };
    // Listening before the request: the snapshot may follow the response in the same task.
    this.listeners.add(entry);
    try {
      await this.request('subscribe', { events });
    } catch (error) {
      this.listeners.delete(entry);
      throw error;
    }
    return async () => {
      if (!this.listeners.delete(entry)) return;
      const still = new Set([...this.listeners].flatMap((l) => [...l.events]));
      const gone = events.filter((e) => !still.has(e));
      if (gone.length && !this.closed) await this.request('unsubscribe', { events: gone });
    };
  }

  /** Stops listening; what is still unanswered rejects with `TerminatedError`. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.port.removeEventListener('message', this.onMessage);
    for (const [, call] of this.pending) {
      clearTimeout(call.timer);
      call.reject(named('TerminatedError', 'the client was closed'));
    }
    this.pending.clear();
    this.listeners.clear();
    this.closeTransport?.();
  }
}
