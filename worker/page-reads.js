// A large Blob read on the page for the worker that works on it (src/io/source.rs,
// `BlobAheadSource`). Reading a Blob costs its reader's thread: the browser copies the bytes into
// each `arrayBuffer()` there, a piece of fresh memory at a time. Read in the worker, those copies
// take turns with the work itself on one thread; read on the page — in small tasks, the page
// staying free — and moved, they overlap with it (a 64 MiB Blob hashed in a worker, scratch page:
// 165 MB/s reading there, 192 with the page reading). Imported by the wasm glue.
//
// The page's end answers `{ seq, start, end }` with `{ seq, buffer }` (moved) or
// `{ seq, error }`, in whatever order the reads finish, until `{ close: true }`.

// This page's ends still open, and the reads they answered (`pageReadsStats`, for tests).
let open = 0;
let served = 0;

/** Test builds: the page's ends still open and the reads they answered. */
export function pageReadsStats() {
  return { open, served };
}

/**
 * The page's end: answers the worker's reads of `blob`. Returns the port the worker reads through
 * (moved to it with the call).
 * @param {Blob} blob
 * @returns {MessagePort}
 */
export function pageReads(blob) {
  const { port1, port2 } = new MessageChannel();
  open += 1;
  port1.onmessage = ({ data }) => {
    const { seq, start, end } = data ?? {};
    if (!Number.isInteger(seq) || !Number.isFinite(start) || !Number.isFinite(end)) {
      port1.onmessage = null;
      port1.close(); // `close`, or anything else: this call is done with the Blob
      open -= 1;
      return;
    }
    served += 1;
    blob.slice(start, end).arrayBuffer().then(
      (buffer) => port1.postMessage({ seq, buffer }, [buffer]),
      (/** @type {unknown} */ error) => port1.postMessage({ seq, error: error instanceof Error ? error.message : String(error) }),
    );
  };
  return port2;
}

/** The worker's end: reads of the page's Blob, each a promise of its bytes. */
export class PageReader {
  /** @param {MessagePort} port */
  constructor(port) {
    this.port = port;
    this.next = 0;
    /** @type {Map<number, { resolve: (buffer: ArrayBuffer) => void, reject: (error: Error) => void }>} */
    this.waiting = new Map();
    port.onmessage = ({ data }) => {
      const waiter = this.waiting.get(data?.seq);
      if (waiter === undefined) return;
      this.waiting.delete(data.seq);
      if (data.buffer instanceof ArrayBuffer) waiter.resolve(data.buffer);
      else waiter.reject(new Error(String(data.error ?? 'the page sent no bytes')));
    };
  }

  /**
   * The bytes `start..end` of the Blob.
   * @param {number} start
   * @param {number} end
   * @returns {Promise<ArrayBuffer>}
   */
  read(start, end) {
    return new Promise((resolve, reject) => {
      const seq = this.next++;
      this.waiting.set(seq, { resolve, reject });
      this.port.postMessage({ seq, start, end });
    });
  }

  /**
   * Lets the page's end go. Reads still on their way are dropped, never settled: nobody awaits
   * them any more, and a rejection nobody handles would reach the worker's `unhandledrejection`.
   */
  close() {
    this.waiting.clear();
    this.port.postMessage({ close: true });
    this.port.close();
  }
}
