// Keeps a thread awake for a short while — polling its event loop with tiny tasks of the lowest
// priority — when a message is due soon, so the message finds the thread running instead of
// having to wake it (see `worker_bridge_core::busy_poll`, which decides for how long). Used by
// the page while a pool call is out and by a pool worker between calls. Imported by the wasm
// glue (wasm-bindgen snippet).

/** Keeps this thread's event loop turning until a time, or until stopped. */
export class Awake {
  constructor() {
    /** Polls until this `performance.now()`. */
    this.until = 0;
    /** A turn is queued. */
    this.running = false;
    /** Turns taken since this began (tests read it). */
    this.turns = 0;
    const turn = () => {
      this.turns++;
      if (performance.now() < this.until) post?.();
      else this.running = false;
    };
    /**
     * Queues one turn; null where the thread has no way to (then it never polls).
     * @type {(() => void) | null}
     */
    let post = null;
    const scheduler = /** @type {any} */ (globalThis).scheduler;
    if (scheduler && typeof scheduler.postTask === 'function') {
      // 'background': any other task the thread has — a message, input, a frame — goes first.
      const options = { priority: 'background' };
      post = () => void scheduler.postTask(turn, options);
    } else if (typeof MessageChannel === 'function') {
      // Safari: a message to itself, queued behind the thread's earlier messages, never clamped
      // as a zero-delay timer is.
      const channel = new MessageChannel();
      channel.port1.onmessage = turn;
      post = () => channel.port2.postMessage(null);
    }
    /** @type {(() => void) | null} */
    this.post = post;
  }

  /**
   * Keeps the thread awake for `us` µs from now (or as long as it already was, if longer).
   * @param {number} us
   */
  keep(us) {
    if (!this.post || !(us > 0)) return;
    this.until = Math.max(this.until, performance.now() + us / 1000);
    if (!this.running) {
      this.running = true;
      this.post();
    }
  }

  /** Lets the thread sleep: the queued turn, if any, is the last. */
  stop() {
    this.until = 0;
  }
}

/** The thread's clock, in ms with a fraction: `performance.now()`. @returns {number} */
export function now() {
  return performance.now();
}
