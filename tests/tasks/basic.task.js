// Tasks for tests/web_tasks.rs: each export is one task, run in a pool worker or on the page.

let calls = 0;

/** This module's URL, for the tests to register it. */
export function basicTaskUrl() {
  return new URL(import.meta.url).href;
}

export default function echo(input) {
  return input;
}

export function double(n) {
  return n * 2;
}

/** Counts its calls in this module instance: the module is imported once per realm. */
export function count() {
  calls += 1;
  return calls;
}

export function where() {
  return typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope ? 'worker' : 'page';
}

export async function steps(n, ctx) {
  for (let i = 1; i <= n; i += 1) {
    ctx.progress(i, n);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return n;
}

export function fail(message) {
  throw new RangeError(message);
}

export async function failCustom() {
  const e = new Error('over quota');
  e.name = 'QuotaError';
  throw e;
}

export function throwString() {
  throw 'plain string';
}

/** Settles only when its signal aborts, rejecting with the signal's reason. */
export function untilAborted(_input, ctx) {
  return new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
}

/** Never settles and ignores its signal. */
export function forever() {
  return new Promise(() => {});
}

/** Synchronous CPU work for `ms` milliseconds. */
export function spin(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += 1;
  return x > 0 ? ms : 0;
}

/** `n` bytes of 7, moved back to the caller. */
export function bytes(n, ctx) {
  const out = new Uint8Array(n).fill(7);
  ctx.transfer(out.buffer);
  return out;
}

/** The input buffer's length as the task sees it. */
export function byteLength(buffer) {
  return buffer.byteLength;
}

export const notAFunction = 42;

/** Returns a buffer it has already moved away: shaping it as bytes throws. */
export function detached() {
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
  return buffer;
}
