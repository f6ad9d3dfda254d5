// Busy polling: a thread that expects a message soon keeps its event loop turning — tiny tasks
// of the lowest priority — instead of sleeping, so the message finds it running.
//
// A thread that sleeps between messages is woken by the next one, and that wake is most of a
// short call's round trip: the operating system (on a virtual machine, the hypervisor too) has
// to schedule the sleeping thread again, which costs tens of µs and grows the longer it slept
// (`npm run bench:ipc` on a 2-vCPU VM: a 16-byte echo went from 149 to 70 µs per sequential
// call with both ends polling). Polling costs CPU, so the window adapts as the Linux kernel's
// halt-polling does: it stays while messages arrive inside it, grows when one arrived just
// after it, and closes when the thread's waits are long — a page that calls now and then pays
// a few short polls in all, then none.
//
// Used by the page while pool calls or service messages are out, and by a pool worker or a
// service's worker between messages (`busyPollUs`). Imported by the wasm glue (wasm-bindgen
// snippet) and by the service scripts.

/**
 * The next window, in µs, after a wait of `waitedUs` with a window of `windowUs` (at most
 * `maxUs`): kept when the message came inside it, doubled (to at least an eighth of the most)
 * when a longer one would have caught it, else halved — and closed below an eighth of the most.
 * @param {number} windowUs
 * @param {number} maxUs
 * @param {number} waitedUs
 * @returns {number}
 */
export function nextWindow(windowUs, maxUs, waitedUs) {
  const floor = maxUs / 8;
  if (!(waitedUs > windowUs)) return windowUs; // caught while polling (or a clock that stepped back)
  if (waitedUs <= maxUs) return Math.min(maxUs, Math.max(windowUs * 2, floor));
  const halved = windowUs / 2;
  return halved < floor ? 0 : halved;
}

/**
 * One thread's busy polling: `idle(due, senders)` when it starts waiting for messages, `woke()`
 * when one came.
 */
export class Awake {
  /** @param {number} maxUs the longest window (the `busyPollUs` option); 0: never poll */
  constructor(maxUs) {
    /** The longest window, µs. */
    this.maxUs = maxUs > 0 ? maxUs : 0;
    /** The current window, µs: it starts full. */
    this.windowUs = this.maxUs;
    /** @type {number | null} when the thread began to wait (`performance.now()`), if it waits */
    this.idleSince = null;
    /** Polls until this `performance.now()`. */
    this.until = 0;
    /** A turn is queued. */
    this.running = false;
    /** Turns taken so far (tests read it). */
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
    if (!this.maxUs) {
      // never polls
    } else if (scheduler && typeof scheduler.postTask === 'function') {
      // 'background': any other task the thread has — a message, input, a frame — goes first.
      const options = { priority: 'background' };
      post = () => void scheduler.postTask(turn, options);
    } else if (typeof MessageChannel === 'function') {
      // Safari: a message to itself, queued behind the thread's earlier messages, never clamped
      // as a zero-delay timer is. Unref'd where it can be (Node), so it keeps nothing alive.
      const channel = new MessageChannel();
      channel.port1.onmessage = turn;
      /** @type {any} */ (channel.port1).unref?.();
      post = () => channel.port2.postMessage(null);
    }
    /** @type {(() => void) | null} */
    this.post = post;
  }

  /**
   * The thread waits for `due` messages now, from `senders` threads: poll for the window if some
   * are due but no more than one a sender. With more out, they come back to back and the thread
   * seldom sleeps, while polling would take CPU from the work (`bench:ipc`, 64 calls in flight on
   * one worker: 10–15% fewer calls/s with polling).
   * @param {number} due
   * @param {number} senders
   */
  idle(due, senders) {
    if (!this.post || !(due > 0 && due <= senders)) return;
    const now = performance.now();
    this.idleSince = now;
    if (this.windowUs > 0) {
      this.until = Math.max(this.until, now + this.windowUs / 1000);
      if (!this.running) {
        this.running = true;
        this.post();
      }
    }
  }

  /** A message came: stop polling, and let the window learn how long the wait was. */
  woke() {
    if (this.idleSince !== null) {
      this.windowUs = nextWindow(this.windowUs, this.maxUs, (performance.now() - this.idleSince) * 1000);
      this.idleSince = null;
    }
    this.until = 0;
  }

  /** For good (its bridge, link or host is gone): the queued turn, if any, is the last. */
  stop() {
    this.idleSince = null;
    this.until = 0;
    this.post = null;
  }
}
