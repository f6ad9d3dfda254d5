// The runner of an app's own tasks (`bridge.tasks.run`), the same in a pool worker and on the
// page (the main-thread fallback): import the task's module once per realm, call its export with
// `(input, ctx)`, shape the result as the call's `output` asked. Rust drives it (src/driver.rs):
// it polls `state` for progress and aborts `signal` when the call is cancelled or runs out of
// time; this file never decides anything about the call.

/** @type {Map<string, Promise<Record<string, unknown>>>} url → the module, imported once */
const modules = new Map();

/**
 * The module at `url`, imported at its first use in this realm and then cached. A failed import
 * is not cached: a later call tries again.
 * @param {string} url
 */
function importOnce(url) {
  let module = modules.get(url);
  if (!module) {
    module = import(/* webpackIgnore: true */ /* @vite-ignore */ url);
    modules.set(url, module);
    module.catch(() => modules.delete(url));
  }
  return module;
}

/**
 * What a call ended with: `{ value, transfer }`, `{ failed: message }` (the task could not be
 * loaded or its result shaped: a `TaskError`), or `{ thrown }` (what the task's code threw).
 * @typedef {{ value: unknown, transfer: Transferable[] } | { failed: string } | { thrown: unknown }} Outcome
 */

/** @type {Map<string, Record<string, unknown>>} url → the module, once its import settled */
const loaded = new Map();

/**
 * A new call's progress, written by `ctx.progress` and polled by Rust.
 * @returns {{ done: number, total: number, seq: number }}
 */
export function newState() {
  return { done: 0, total: 0, seq: 0 };
}

/**
 * Runs one call of a task.
 *
 * With `now` (a pool worker, where the bridge holds no borrow of its state while a task runs), a task
 * whose module is loaded is called at once and, when it returns a value rather than a promise,
 * its outcome is returned as is, not as a promise: no microtask, no timer, no future between the
 * call and its answer. Otherwise the task is called from a microtask and the outcome is a promise.
 * @param {string} name the task's registered name (for messages)
 * @param {string} url the module's absolute URL
 * @param {string} exportName the exported function (`default` for the default export)
 * @param {unknown} input
 * @param {'value' | 'bytes' | 'blob'} output
 * @param {AbortSignal} signal aborted when the call is cancelled or times out
 * @param {{ done: number, total: number, seq: number }} state progress, polled by Rust
 * @param {boolean} now whether the task may be called at once
 * @returns {Outcome | Promise<Outcome>}
 */
export function runTask(name, url, exportName, input, output, signal, state, now) {
  const module = loaded.get(url);
  if (now && module) {
    try {
      return call(name, module, url, exportName, input, output, signal, state);
    } catch (e) {
      // What the async path reports as a rejection (shaping a detached buffer throws).
      return Promise.reject(e);
    }
  }
  return (async () => {
    let imported;
    try {
      imported = await importOnce(url);
    } catch (/** @type {any} */ e) {
      return { failed: `task ${name}: its module ${url} did not import (${describe(e)})` };
    }
    loaded.set(url, imported);
    return call(name, imported, url, exportName, input, output, signal, state);
  })();
}

/**
 * Calls the task's function; its outcome at once when it returns a value, else a promise of it.
 * @param {string} name
 * @param {Record<string, unknown>} module
 * @param {string} url
 * @param {string} exportName
 * @param {unknown} input
 * @param {string} output
 * @param {AbortSignal} signal
 * @param {{ done: number, total: number, seq: number }} state
 * @returns {Outcome | Promise<Outcome>}
 */
function call(name, module, url, exportName, input, output, signal, state) {
  const fn = module[exportName];
  if (typeof fn !== 'function') {
    return { failed: `task ${name}: the module ${url} exports no function ${exportName}` };
  }
  /** @type {Transferable[]} */
  const transfer = [];
  const ctx = {
    signal,
    /** @param {number} done @param {number} [total] */
    progress(done, total = 0) {
      state.done = Number(done) || 0;
      state.total = Number(total) || 0;
      state.seq += 1;
    },
    /** Moves these buffers with the result instead of copying them. @param {Transferable[]} list */
    transfer(...list) {
      transfer.push(...list.flat());
    },
  };
  let value;
  let thenable;
  try {
    value = fn(input, ctx);
    thenable = value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
  } catch (e) {
    return { thrown: e };
  }
  if (thenable) {
    return Promise.resolve(value).then(
      (settled) => shape(name, settled, output, transfer),
      (e) => ({ thrown: e }),
    );
  }
  return shape(name, value, output, transfer);
}

/**
 * The result as the call's `output` asked (also for a Rust task's result): as returned (`value`), or its bytes as a
 * `Uint8Array` (`bytes`) or a `Blob` (`blob`).
 * @param {string} name
 * @param {unknown} value
 * @param {string} output
 * @param {Transferable[]} transfer
 * @returns {Outcome}
 */
export function shape(name, value, output, transfer) {
  if (output === 'value') return { value, transfer };
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : ArrayBuffer.isView(value)
        ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
        : null;
  if (output === 'blob' && (value instanceof Blob || bytes)) {
    const part = /** @type {BlobPart} */ (bytes);
    return { value: value instanceof Blob ? value : new Blob([part]), transfer: [] };
  }
  if (output === 'bytes' && bytes) return { value: bytes, transfer };
  return { failed: `task ${name}: output '${output}' needs the task to return bytes (an ArrayBuffer or a view)` };
}

/** @param {any} e */
function describe(e) {
  return e && e.message ? `${e.name}: ${e.message}` : String(e);
}
