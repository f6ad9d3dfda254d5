// Web Streams for worker-bridge calls: a call's input may be a `ReadableStream` and its output a
// `WritableStream` (`src/io/stream.rs` reads and writes them through `ChunkReader` and
// `ChunkWriter`). To reach a pool worker a stream is relayed chunk by chunk over a `MessagePort`,
// each chunk's buffer moved (the page copies the caller's input chunks once; the worker's output
// chunks are its own): `portable` on the page, `readableOf` / `writableOf` in the worker. A
// transferred stream (Chromium, Firefox) clones every chunk on both sides, and measured slower
// (`npm run bench:streams -- --transfer`: encryptStream 0.62× against 0.72× `encryptFile` relayed,
// gunzipStream 0.87× against 1.08× `gunzip`); test builds can still ask for it. The stream
// factories (`bridge.compression.gzipStream()`, `bridge.crypto.encryptStream()`, …) are one call
// each, wrapped by `through`, which errors both sides with the call's own typed error.

/** @type {boolean | null} */
let transferable = null;
let transfer = false;

/**
 * Test builds: transfer streams where the browser can, instead of relaying them.
 * @param {boolean} on
 */
export function setTransferStreams(on) {
  transfer = on;
}

/** Whether streams are transferred: asked for, and the browser can (checked once). */
function transfers() {
  if (!transfer) return false;
  if (transferable === null) {
    try {
      const probe = new ReadableStream();
      const channel = new MessageChannel();
      channel.port1.postMessage(probe, [probe]);
      channel.port1.close();
      channel.port2.close();
      transferable = true;
    } catch {
      transferable = false;
    }
  }
  return transferable;
}

/**
 * @param {unknown} value
 * @returns {value is ReadableStream}
 */
export function isReadable(value) {
  return typeof ReadableStream === 'function' && value instanceof ReadableStream;
}

/**
 * @param {unknown} value
 * @returns {value is WritableStream}
 */
export function isWritable(value) {
  return typeof WritableStream === 'function' && value instanceof WritableStream;
}

/**
 * What travels to a worker in place of `stream` (which goes in the transfer list): the stream
 * itself, or a `MessagePort` that relays it.
 * @param {ReadableStream | WritableStream} stream
 * @returns {ReadableStream | WritableStream | MessagePort}
 */
export function portable(stream) {
  if (transfers()) return stream;
  const { port1, port2 } = new MessageChannel();
  if (isReadable(stream)) relayReadable(stream, port1);
  else relayWritable(stream, port1);
  return port2;
}

/**
 * The input stream a worker got: transferred, or rebuilt from its relay.
 * @param {unknown} value
 * @returns {ReadableStream | null}
 */
export function readableOf(value) {
  if (isReadable(value)) return value;
  if (value instanceof MessagePort) return readableFromPort(value);
  return null;
}

/**
 * The output stream a worker got: transferred, or rebuilt from its relay.
 * @param {unknown} value
 * @returns {WritableStream | null}
 */
export function writableOf(value) {
  if (isWritable(value)) return value;
  if (value instanceof MessagePort) return writableToPort(value);
  return null;
}

// ---- the relay: input one chunk per request, output within a window of bytes, so backpressure crosses the port ----

/**
 * The page's end of a relayed input: reads `stream` one chunk per `pull` from the worker.
 * @param {ReadableStream} stream
 * @param {MessagePort} port
 */
function relayReadable(stream, port) {
  const reader = stream.getReader();
  port.onmessage = async ({ data }) => {
    if (data?.cancel !== undefined) {
      reader.cancel(data.cancel).catch(() => {});
      port.close();
      return;
    }
    try {
      const { done, value } = await reader.read();
      if (done) {
        port.postMessage({ done: true });
        port.close();
      } else {
        // Copied here and the copy moved: the caller's buffer stays the caller's, and the
        // worker, the busier side, makes no second copy (posting would clone: one copy on each
        // side). A view of part of a buffer gives just its bytes.
        const bytes = ArrayBuffer.isView(value)
          ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice()
          : value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)
            ? new Uint8Array(value).slice()
            : null;
        if (bytes) port.postMessage({ chunk: bytes }, [bytes.buffer]);
        else port.postMessage({ chunk: value }); // not bytes: refused where it is read
      }
    } catch (error) {
      // Its name travels too: a file that could not be read (`NotReadableError`) is told apart.
      port.postMessage({ error: describe(error), name: error instanceof Error ? error.name : undefined });
      port.close();
    }
  };
}

/**
 * A worker's end of a relayed input.
 * @param {MessagePort} port
 */
function readableFromPort(port) {
  /** @type {((data: any) => void) | null} */
  let answer = null;
  port.onmessage = ({ data }) => answer?.(data);
  return new ReadableStream(
    {
      pull(controller) {
        return new Promise((resolve) => {
          answer = (data) => {
            answer = null;
            // A chunk still on its way when the stream was cancelled finds it closed: dropped
            // (thrown here, it would take the worker down as an uncaught error).
            try {
              if (data?.done) {
                controller.close();
                port.close();
              } else if (data?.error !== undefined) {
                const error = new Error(data.error);
                if (typeof data.name === 'string') error.name = data.name;
                controller.error(error);
                port.close();
              } else {
                controller.enqueue(data?.chunk);
              }
            } catch {
              port.close();
            }
            resolve(undefined);
          };
          port.postMessage({ pull: true });
        });
      },
      cancel(reason) {
        answer = null;
        port.postMessage({ cancel: describe(reason) });
        port.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The page's end of a relayed output: writes what the worker sends into `stream`, answering
 * each chunk once the stream can take another.
 * @param {WritableStream} stream
 * @param {MessagePort} port
 */
function relayWritable(stream, port) {
  const writer = stream.getWriter();
  let chain = Promise.resolve();
  port.onmessage = ({ data }) => {
    chain = chain.then(async () => {
      try {
        if (data?.abort !== undefined) {
          await writer.abort(new Error(data.abort)).catch(() => {});
          port.close();
        } else if (data?.close) {
          await writer.close();
          port.postMessage({ closed: true });
          port.close();
        } else {
          writer.write(data?.chunk).catch(() => {}); // a failure shows in `ready`
          await writer.ready;
          port.postMessage({ ack: true });
        }
      } catch (error) {
        port.postMessage({ error: describe(error) });
        port.close();
      }
    });
  };
}

/**
 * Bytes a worker's relayed output sends ahead of the page's acknowledgements. One chunk per
 * round trip held `encryptStream` to 216–236 MB/s with 512 KiB chunks (284 with 1 MiB ones);
 * the page still acknowledges a chunk only once its stream can take another, so backpressure
 * crosses the port, a window late.
 */
const RELAY_WINDOW = 4 << 20;

/**
 * Relayed outputs' "everything sent was acknowledged" (rejects with the output's failure), so
 * that waiting for it stays cancellable (`ChunkWriter.close`): a stalled consumer must not
 * hold a cancelled call.
 * @type {WeakMap<WritableStream, () => Promise<void>>}
 */
const drains = new WeakMap();

/**
 * A worker's end of a relayed output: chunks go out while fewer than `RELAY_WINDOW` bytes wait
 * for their acknowledgement.
 * @param {MessagePort} port
 */
function writableToPort(port) {
  /** @type {number[]} sizes of the chunks sent and not yet acknowledged, oldest first */
  const sizes = [];
  let unacknowledged = 0;
  /** @type {Error | null} the output's failure, once it reported one */
  let failure = null;
  let closed = false;
  /** @type {(() => void) | null} wakes whoever waits for room, the close, or a failure */
  let wake = null;
  port.onmessage = ({ data }) => {
    if (data?.error !== undefined) failure ??= new Error(`the output stream failed: ${data.error}`);
    else if (data?.closed) closed = true;
    else if (data?.ack) unacknowledged -= sizes.shift() ?? 0;
    wake?.();
  };
  const until = async (/** @type {() => boolean} */ done) => {
    while (!done() && !failure) await new Promise((resolve) => { wake = () => { wake = null; resolve(undefined); }; });
    if (failure) throw failure;
  };
  const stream = new WritableStream(
    {
      async write(chunk) {
        if (failure) throw failure;
        // The worker's chunks are its own copies: moved, not copied again.
        const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
        const size = chunk.byteLength;
        port.postMessage({ chunk }, whole && chunk.buffer instanceof ArrayBuffer ? [chunk.buffer] : []);
        sizes.push(size);
        unacknowledged += size;
        await until(() => unacknowledged < RELAY_WINDOW);
      },
      async close() {
        await until(() => sizes.length === 0);
        port.postMessage({ close: true });
        await until(() => closed);
      },
      abort(reason) {
        port.postMessage({ abort: describe(reason) });
        port.close();
      },
    },
    { highWaterMark: 1 },
  );
  drains.set(stream, () => until(() => sizes.length === 0));
  return stream;
}

// ---- reading and writing for the driver (src/io/stream.rs) ----

/** The rejection `ChunkReader` and `ChunkWriter` give when their call was cancelled. */
export const CANCELLED = Symbol('worker-bridge: cancelled');

/**
 * `promise`, or a rejection with `CANCELLED` as soon as `signal` aborts.
 * @template T
 * @param {Promise<T>} promise
 * @param {AbortSignal} signal
 * @returns {Promise<T>}
 */
function unlessAborted(promise, signal) {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(CANCELLED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(CANCELLED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** @param {unknown} value */
export function isCancelled(value) {
  return value === CANCELLED;
}

/** A call's input stream, read a chunk at a time (each chunk as a `Uint8Array` view). */
export class ChunkReader {
  /**
   * @param {ReadableStream} stream
   * @param {AbortSignal} signal the call's cancellation: a pending read gives up at once
   */
  constructor(stream, signal) {
    // Read ahead into a buffer of a few MiB, so that the producer — across the relay, one
    // chunk per hand-over — makes the next chunks while these are worked on (reading a chunk
    // only when the last was used up held encryptStream to 0.58× the one-shot encryptFile,
    // half its time spent waiting for input). Cancelling the reader cancels the stream through
    // the pipe; the stream's error reaches the reader through it.
    this.reader = stream.pipeThrough(new TransformStream({}, ahead())).getReader();
    this.signal = signal;
  }

  /**
   * The next chunk, or `null` at the end. Rejects with a `TypeError` for a chunk that is not
   * bytes, with the stream's own error, or with `CANCELLED`.
   * @returns {Promise<Uint8Array | null>}
   */
  async next() {
    const { done, value } = await unlessAborted(this.reader.read(), this.signal);
    if (done) return null;
    if (value instanceof Uint8Array) return value;
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
      return new Uint8Array(value);
    }
    throw new TypeError(`a chunk of the input stream is not bytes (${value === null ? 'null' : typeof value})`);
  }

  /** Stops the stream's producer (the call failed or was cancelled). @param {unknown} reason */
  cancel(reason) {
    this.reader.cancel(reason).catch(() => {});
  }
}

/** A call's output stream, written a chunk at a time as its consumer takes them. */
export class ChunkWriter {
  /**
   * @param {WritableStream} stream
   * @param {AbortSignal} signal the call's cancellation: a write waiting for room gives up at once
   */
  constructor(stream, signal) {
    // Written through a buffer of a few MiB piped into the stream, so that the call goes on
    // while its consumer — across the relay, one chunk per hand-over — takes what came before.
    // The stream's error (its reader cancelled it) comes back through the pipe, as the
    // buffer's. The pipe never closes the stream: `close` does, once the pipe is done, so a
    // failure up to then aborts it instead (a file is left as it was).
    const buffer = new TransformStream({}, ahead());
    this.stream = stream;
    this.stop = new AbortController();
    this.piped = buffer.readable.pipeTo(stream, { preventClose: true, signal: this.stop.signal });
    this.piped.catch(() => {});
    this.writer = buffer.writable.getWriter();
    this.signal = signal;
  }

  /**
   * Writes `chunk` once the buffer has room for it. Rejects with the stream's error (its
   * reader cancelled it) or `CANCELLED`.
   * @param {Uint8Array} chunk
   */
  async write(chunk) {
    await unlessAborted(this.writer.ready, this.signal);
    this.writer.write(chunk).catch(() => {}); // a failure shows in the next `ready`
  }

  /**
   * Closes the stream once everything written has been taken (and its sink has closed). Once
   * the stream is closing, a cancel no longer stops it (a file is being committed): the call
   * reports how the close ended.
   */
  async close() {
    this.writer.close().catch(() => {});
    await unlessAborted(this.piped, this.signal);
    // A relayed output's chunks still on their way are waited for while a cancel still counts.
    const drained = drains.get(this.stream);
    if (drained) await unlessAborted(drained(), this.signal);
    await this.stream.close();
  }

  /**
   * Errors the stream (the call failed); resolves once its sink has let go (a file written
   * through `createWritable()` is released, and left as it was).
   * @param {unknown} reason
   */
  async abort(reason) {
    this.writer.abort(reason).catch(() => {});
    // The pipe aborts the stream; once the pipe is done, the stream is aborted here.
    this.stop.abort(reason);
    const released = this.piped.then(
      () => (this.stream.locked ? undefined : this.stream.abort(reason)),
      () => {},
    );
    // A write its consumer never takes holds the abort back (the spec waits for it): wait a
    // little for the sink to let go, never for ever.
    await Promise.race([released.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 500))]);
  }
}

/**
 * The page's end of a call's output stream: the call writes into `writable` (moved to a worker,
 * or written on the page), which is piped into the caller's `stream`; `done` settles once the
 * caller's stream has taken everything (a transferred stream's last chunks can arrive after the
 * worker's answer, which travels on another port), and `fail` errors it when the call fails
 * before it could.
 * @param {WritableStream} stream
 */
export function pageEnd(stream) {
  const pipe = new TransformStream();
  const done = pipe.readable.pipeTo(stream);
  done.catch(() => {});
  return {
    writable: pipe.writable,
    done,
    /** @param {unknown} reason */
    fail(reason) {
      if (!pipe.writable.locked) pipe.writable.abort(reason).catch(() => {});
    },
  };
}

/**
 * How much `ChunkReader` reads ahead and `ChunkWriter` holds for the consumer: a few chunks.
 * Counted in bytes; a chunk that is not bytes counts as one (and is refused where it is read).
 * @returns {QueuingStrategy<any>}
 */
function ahead() {
  return { highWaterMark: AHEAD_BYTES, size: (chunk) => (typeof chunk?.byteLength === 'number' ? chunk.byteLength : 1) };
}

const AHEAD_BYTES = 4 << 20;

// ---- the stream factories ----

/**
 * A `TransformStream`-shaped pair `{ writable, readable }` whose work is one call:
 * `start(input, options)` makes it, with `input` the stream of what is written to `.writable`
 * and `options` the caller's with `output` (the stream `.readable` reads) and `signal` (aborted
 * when either side is aborted or cancelled) put in. The call's error, typed, errors both sides.
 * @param {(input: ReadableStream, options: object) => Promise<unknown>} start
 * @param {any} options
 * @returns {{ readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array> }}
 */
export function through(start, options) {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError('options must be an object');
  }
  const input = new TransformStream();
  const output = new TransformStream();
  const controller = new AbortController();
  const given = options?.signal;
  const callerSignal = typeof given?.toAbortSignal === 'function' ? given.toAbortSignal() : given;
  const onAbort = () => controller.abort(callerSignal.reason);
  if (callerSignal instanceof AbortSignal) {
    if (callerSignal.aborted) controller.abort(callerSignal.reason);
    else callerSignal.addEventListener('abort', onAbort, { once: true });
  }
  const call = Promise.resolve(start(input.readable, { ...options, output: output.writable, signal: controller.signal }));
  const forget = () => callerSignal?.removeEventListener?.('abort', onAbort);
  call.then(forget, forget);
  /** @type {Promise<never>} */
  const failed = call.then(
    () => new Promise(() => {}),
    (error) => {
      throw error;
    },
  );
  failed.catch(() => {});
  const writer = input.writable.getWriter();
  const reader = output.readable.getReader();
  /** Whichever settles first of `promise` and the call's failure; a stream error waits for the call's typed one. */
  const orFailure = (/** @type {Promise<any>} */ promise) =>
    Promise.race([promise, failed]).catch(async (error) => {
      throw await call.then(
        () => error,
        (typed) => typed,
      );
    });
  const writable = new WritableStream({
    start(c) {
      failed.catch((error) => c.error(error));
    },
    async write(chunk) {
      await orFailure(writer.ready);
      writer.write(chunk).catch(() => {});
    },
    async close() {
      await orFailure(writer.close());
    },
    abort(reason) {
      controller.abort(reason);
      writer.abort(reason).catch(() => {});
    },
  });
  const readable = new ReadableStream(
    {
      start(c) {
        failed.catch((error) => {
          try {
            c.error(error);
          } catch {
            // already closed or errored
          }
        });
      },
      async pull(c) {
        const { done, value } = await orFailure(reader.read());
        if (done) c.close();
        else c.enqueue(value);
      },
      cancel(reason) {
        controller.abort(reason);
        reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return { readable, writable };
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}
