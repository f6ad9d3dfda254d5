// Stream plumbing for tests/web_streams.rs: sources that hand out bytes in uneven chunks (and
// count how far they were pulled), sinks that collect, and the platform's Compression Streams as
// the reference.

/**
 * A ReadableStream of `bytes` in chunks of uneven sizes (1 byte up to `max`), each a fresh copy.
 * @param {Uint8Array} bytes
 * @param {number} max
 */
export function chunked(bytes, max) {
  let at = 0;
  let x = 7;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      x = (x * 1103515245 + 12345) >>> 0;
      const size = 1 + (x % max);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/**
 * A ReadableStream of `total` bytes made as they are pulled (`chunk` at a time), which counts
 * how many it has handed out: `{ stream, pulled() }`.
 * @param {number} total
 * @param {number} chunk
 */
export function counted(total, chunk) {
  let made = 0;
  const stream = new ReadableStream(
    {
      pull(controller) {
        if (made >= total) {
          controller.close();
          return;
        }
        const size = Math.min(chunk, total - made);
        const piece = new Uint8Array(size);
        for (let i = 0; i < size; i += 4096) piece[i] = (made + i) & 0xff;
        made += size;
        controller.enqueue(piece);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => made };
}

/**
 * A ReadableStream of `count` chunks of 1 KiB, each handed out `ms` after it is asked for.
 * @param {number} count
 * @param {number} ms
 */
export function slow(count, ms) {
  let made = 0;
  return new ReadableStream(
    {
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        if (made++ < count) controller.enqueue(new Uint8Array(1024).fill(made));
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Blocks the page's thread for `ms`: a long task of the app's own. @param {number} ms */
export function blockPage(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/**
 * A ReadableStream that hands out `chunks` as they are (any values), then ends.
 * @param {unknown[]} chunks
 */
export function of(chunks) {
  const queue = [...chunks];
  return new ReadableStream({
    pull(controller) {
      if (queue.length === 0) controller.close();
      else controller.enqueue(queue.shift());
    },
  });
}

/**
 * A stream that gives one chunk, then errors with `name` (a `DOMException` of that name, as a
 * file that could not be read errors its stream; an `Error` when `name` is `Error`).
 * @param {string} name
 */
export function failing(name) {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new Uint8Array(1000).fill(7));
      } else {
        controller.error(name === 'Error' ? new Error('it broke') : new DOMException('it broke', name));
      }
    },
  });
}

/**
 * Everything `readable` gives, joined.
 * @param {ReadableStream<Uint8Array>} readable
 */
export async function collect(readable) {
  const parts = [];
  const reader = readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) throw new TypeError('a chunk that is not a Uint8Array');
    parts.push(value);
  }
  return join(parts);
}

/** @param {Uint8Array[]} parts */
function join(parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** A WritableStream that keeps what it is given: `{ writable, bytes() }`. */
export function sink() {
  const parts = [];
  const writable = new WritableStream({
    write(chunk) {
      parts.push(chunk.slice());
    },
  });
  return {
    writable,
    bytes() {
      return join(parts);
    },
  };
}

/**
 * `bytes` through the transform `{ writable, readable }`, fed in uneven chunks; the output.
 * @param {{ writable: WritableStream, readable: ReadableStream }} transform
 * @param {Uint8Array} bytes
 */
export function through(transform, bytes) {
  return collect(chunked(bytes, 100_000).pipeThrough(transform));
}

/**
 * `bytes` through the platform's CompressionStream (`compress`) or DecompressionStream.
 * @param {'gzip' | 'deflate' | 'deflate-raw'} format
 * @param {Uint8Array} bytes
 * @param {boolean} compress
 */
export function platform(format, bytes, compress) {
  const transform = compress ? new CompressionStream(format) : new DecompressionStream(format);
  return collect(new Blob([bytes]).stream().pipeThrough(transform));
}

/**
 * How `promise` rejects: `{ name, message }`, or null when it resolves.
 * @param {Promise<unknown>} promise
 */
export async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { name: error?.name ?? String(error), message: error?.message ?? '' };
  }
}

/**
 * Feeds `bytes` into `transform.writable` and reads `transform.readable` at once; how each side
 * ends: `{ readable, writable }`, each a `failure()` result (null: it ended well).
 * @param {{ writable: WritableStream, readable: ReadableStream }} transform
 * @param {Uint8Array} bytes
 */
export async function bothSides(transform, bytes) {
  const [writable, readable] = await Promise.all([
    failure(chunked(bytes, 50_000).pipeTo(transform.writable)),
    failure(collect(transform.readable)),
  ]);
  return { readable, writable };
}

/** A file in the origin's private file system (removed first if it exists), or null without one. */
export async function opfsFile(name) {
  if (!navigator.storage?.getDirectory) return null;
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(name).catch(() => {});
  return root.getFileHandle(name, { create: true });
}

/** The bytes of a file handle's file. @param {FileSystemFileHandle} handle */
export async function fileBytes(handle) {
  const file = await handle.getFile();
  return new Uint8Array(await file.arrayBuffer());
}

/** A stream of a file handle's file. @param {FileSystemFileHandle} handle */
export async function fileStream(handle) {
  return (await handle.getFile()).stream();
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A WritableStream whose sink takes its first chunk and then stalls until `release()`:
 * `{ writable, firstWrite, release(), events }` (`events`: 'write', 'close', 'abort' as the sink
 * saw them).
 */
export function stalled() {
  const events = [];
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let first;
  const firstWrite = new Promise((resolve) => { first = resolve; });
  const writable = new WritableStream({
    async write() {
      events.push('write');
      first();
      await released;
    },
    close() {
      events.push('close');
    },
    abort() {
      events.push('abort');
    },
  });
  return { writable, firstWrite, release, events };
}

/**
 * A stream of one chunk of `bytes`, and an `onProgress` for the call reading it that detaches the
 * chunk's buffer once the call has read some of it (as a caller that reuses its buffer might).
 * @param {Uint8Array} bytes
 */
export function detachedWhileRead(bytes) {
  const chunk = bytes.slice();
  const stream = of([chunk]);
  /** @param {{ done: number }} e */
  const onProgress = (e) => {
    if (e.done > 0 && chunk.byteLength > 0) structuredClone(chunk.buffer, { transfer: [chunk.buffer] });
  };
  return { stream, onProgress };
}

/**
 * A stream of one chunk that follows a resizable buffer (a length-tracking view), holding
 * `bytes`, and an `onProgress` that grows that buffer once the call has read some of it but not
 * all; `grownAt()` says how many bytes had been read then (`undefined`: it never grew).
 * @param {Uint8Array} bytes
 */
export function grownWhileRead(bytes) {
  const buffer = new ArrayBuffer(bytes.length, { maxByteLength: 2 * bytes.length });
  const chunk = new Uint8Array(buffer);
  chunk.set(bytes);
  const stream = of([chunk]);
  /** @type {number | undefined} */
  let grownAt;
  /** @param {{ done: number }} e */
  const onProgress = (e) => {
    if (grownAt === undefined && e.done > 0 && e.done < bytes.length) {
      buffer.resize(2 * bytes.length);
      grownAt = e.done;
    }
  };
  return { stream, onProgress, grownAt: () => grownAt };
}
